"""Gradient-boosted decision trees with XGBoost, the BDT of the HEP toolbox.

References: J. H. Friedman, "Greedy function approximation: a gradient
boosting machine", Ann. Statist. 29 (2001); T. Chen and C. Guestrin, "XGBoost:
a scalable tree boosting system", KDD 2016.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.errors import UserError, first_line
from quanta.methods.base import Method, predict_in_chunks, table
from quanta.tasks.base import Task

#: XGBoost's objective and evaluation metric for each kind of task output
OBJECTIVES = {
    "signal_probability": ("binary:logistic", "logloss"),
    "class_probabilities": ("multi:softprob", "mlogloss"),
    "values": ("reg:squarederror", "rmse"),
}
SUPPORTED = "binary, multiclass, regression"
MODEL_FILE = "boosted_trees.json"
META_FILE = "boosted_trees.meta.json"  # the task, the best round and the SHA-256 of both files
FRACTION = "a fraction in (0, 1]"


class BoostedTrees(Method):
    """Gradient-boosted decision trees (XGBoost, histogram algorithm) for tabular features

    Each round adds a depth-limited regression tree fitted to the gradient of
    the loss; the learning rate shrinks each tree's contribution. When a
    validation split is given, boosting stops after ``early_stopping_rounds``
    rounds without improvement of the validation loss and keeps the best round.

    Args:
        n_estimators: maximum number of boosting rounds (trees).
        max_depth: maximum depth of each tree.
        learning_rate: shrinkage of each tree's contribution.
        subsample: fraction of the training samples drawn for each tree.
        colsample_bytree: fraction of the features drawn for each tree.
        min_child_weight: minimum sum of Hessian weights in a leaf (regularises).
        reg_lambda: L2 penalty on leaf values.
        early_stopping_rounds: rounds without validation improvement before stopping (0: never).
        n_jobs: threads (0: all cores).
        seed: random seed for subsampling.
    """

    def __init__(self,
                 n_estimators: Annotated[int, Field(ge=1, description="an integer >= 1 (rounds)")] = 500,
                 max_depth: Annotated[int, Field(ge=1, description="an integer >= 1")] = 4,
                 learning_rate: Annotated[float, Field(gt=0, description="a number > 0")] = 0.1,
                 subsample: Annotated[float, Field(gt=0, le=1, description=FRACTION)] = 1.0,
                 colsample_bytree: Annotated[float, Field(gt=0, le=1, description=FRACTION)] = 1.0,
                 min_child_weight: Annotated[float, Field(ge=0, description="a number >= 0")] = 1.0,
                 reg_lambda: Annotated[float, Field(ge=0, description="a number >= 0")] = 1.0,
                 early_stopping_rounds: Annotated[int, Field(ge=0, description="an integer >= 0 (0: never)")] = 30,
                 n_jobs: Annotated[int, Field(ge=0, description="an integer >= 0 (0: all cores)")] = 0,
                 seed: int = 1):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.seed = seed
        self.history = []

    def fit(self, train: Dataset, valid: Dataset | None, task: Task, **context) -> BoostedTrees:
        import xgboost

        output = task.evaluation.output
        if output not in OBJECTIVES:
            raise UserError(f"boosted_trees: task '{task.name}' is not supported; allowed: {SUPPORTED}")
        objective, metric = OBJECTIVES[output]
        params = {
            "objective": objective, "eval_metric": metric, "tree_method": "hist",
            "max_depth": self.max_depth, "eta": self.learning_rate, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda, "seed": self.seed, "nthread": self.n_jobs or 0,
        }
        if output == "class_probabilities":
            params["num_class"] = int(train.y.max()) + 1
        if train.streamed:  # quantised on the fly: the matrix holds one byte per value
            matrix = xgboost.QuantileDMatrix(_chunks(train), max_bin=256)
        else:
            matrix = xgboost.DMatrix(table(train), label=train.y, weight=train.arrays.get("weight"))
        evals = [(matrix, "train")]
        if valid is not None and valid.streamed and len(valid):
            evals.append((xgboost.QuantileDMatrix(_chunks(valid), ref=matrix), "valid"))
        elif valid is not None and len(valid):
            evals.append((xgboost.DMatrix(table(valid), label=valid.y, weight=valid.arrays.get("weight")), "valid"))
        record: dict = {}
        stopping = self.early_stopping_rounds if len(evals) > 1 and self.early_stopping_rounds > 0 else None
        callbacks = context.get("callbacks")
        self.history = []
        self.notify(callbacks, "on_fit_start", self)
        self.booster_ = xgboost.train(params, matrix, num_boost_round=self.n_estimators, evals=evals,
                                      evals_result=record, early_stopping_rounds=stopping, verbose_eval=False,
                                      callbacks=[_rounds_callback()(self, metric, callbacks)])
        self.task_ = task.name
        self.best_round_ = int(self.booster_.best_iteration) if stopping else len(self.history) - 1
        self.notify(callbacks, "on_fit_end", self)
        return self

    def predict(self, data: Dataset) -> np.ndarray:
        import xgboost

        self._check_fitted("booster_")
        if data.streamed:
            return predict_in_chunks(data, self.predict)
        matrix = xgboost.DMatrix(table(data))
        score = self.booster_.predict(matrix, iteration_range=(0, self.best_round_ + 1))
        return score.astype(np.float32)

    def save(self, directory: str | Path) -> Path:
        self._check_fitted("booster_")
        path = Path(directory) / MODEL_FILE
        self.booster_.save_model(str(path))  # XGBoost's JSON format: data only, no code
        meta = {"task": self.task_, "best_round": self.best_round_}
        meta["sha256"] = _digest(path.read_bytes(), meta)
        (Path(directory) / META_FILE).write_text(json.dumps(meta))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> BoostedTrees:
        import xgboost

        path = Path(directory) / MODEL_FILE
        if not path.exists():
            raise UserError(f"{path}: no saved boosted trees here")
        meta_path = Path(directory) / META_FILE
        try:
            meta = json.loads(meta_path.read_bytes())
            task, best_round, digest = meta["task"], meta["best_round"], meta["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            problem = f"missing key {error}" if isinstance(error, KeyError) else first_line(error)
            raise UserError(f"{meta_path}: cannot read the saved boosted trees' record ({problem})") from None
        model = path.read_bytes()
        if digest != _digest(model, {"task": task, "best_round": best_round}):
            raise UserError(f"{path}: damaged: the trees or their record differ from what was written "
                            f"(SHA-256 mismatch with {META_FILE}); train again or restore the files")
        method = cls()
        method.booster_ = xgboost.Booster()
        try:
            method.booster_.load_model(bytearray(model))
        except xgboost.core.XGBoostError as error:
            raise UserError(f"{path}: cannot read saved boosted trees ({first_line(error)})") from None
        method.task_, method.best_round_ = task, best_round
        return method



def _digest(model: bytes, meta: dict) -> str:
    """SHA-256 of the saved trees and of their record (task, best round)."""
    return hashlib.sha256(model + json.dumps(meta, sort_keys=True).encode()).hexdigest()


def _chunks(part):
    """An XGBoost data iterator over a streamed part's chunks, one chunk in memory at a time."""
    import xgboost

    class Chunks(xgboost.DataIter):
        def __init__(self) -> None:
            super().__init__(release_data=True)
            self.position = 0

        def next(self, input_data) -> bool:
            if self.position >= len(part.chunks):
                return False
            arrays = part.read(part.chunks[self.position])
            self.position += 1
            x = arrays["x"]
            input_data(data=x.reshape(len(x), -1), label=arrays["y"], weight=arrays.get("weight"))
            return True

        def reset(self) -> None:
            self.position = 0

    return Chunks()


def _rounds_callback():
    import xgboost

    class Rounds(xgboost.callback.TrainingCallback):
        """Records each boosting round in the method's history and hands it to the training callbacks."""

        def __init__(self, method: BoostedTrees, metric: str, callbacks: list | None):
            self.method, self.metric, self.callbacks = method, metric, callbacks

        def after_iteration(self, model, epoch: int, evals_log) -> bool:
            logs = {"epoch": epoch + 1, "train_loss": evals_log["train"][self.metric][-1]}
            if "valid" in evals_log:
                logs["valid_loss"] = evals_log["valid"][self.metric][-1]
            self.method.history.append(logs)
            self.method.notify(self.callbacks, "on_epoch_end", self.method, epoch + 1, logs)
            return False  # never stops boosting; early stopping is XGBoost's own

    return Rounds
