"""Linear models trained by stochastic gradient descent, chunk by chunk: learning from streams.

References: T. Zhang, "Solving large scale linear prediction problems using
stochastic gradient descent algorithms", ICML 2004; L. Bottou, "Large-scale
machine learning with stochastic gradient descent", COMPSTAT 2010; A. Blum,
A. Kalai and J. Langford, "Beating the hold-out: bounds for k-fold and
progressive cross-validation", COLT 1999 (the progressive training loss).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.data.stream.prefetch import prefetched
from quanta.data.stream.shuffle import ShuffleBuffer
from quanta.errors import UserError
from quanta.methods.base import predict_in_chunks
from quanta.methods.sklearn import ScikitLearnMethod
from quanta.tasks.base import Task

#: the losses of each kind of task output, the first one the default (``loss: auto``)
LOSSES = {"signal_probability": ("log_loss", "hinge", "modified_huber"),
          "class_probabilities": ("log_loss", "hinge", "modified_huber"),
          "values": ("squared_error", "huber")}
#: the learning-rate schedule of ``learning_rate: auto``: scikit-learn's defaults
RATES = {"signal_probability": "optimal", "class_probabilities": "optimal", "values": "invscaling"}
#: rows per ``partial_fit`` call. SGD steps row by row, so the blocks do not change the model
#: (only where the progressive training loss is read). Measured on 10^6 rows of 20 features:
#: about 0.6, 1.3 and 0.7 million rows/s per epoch with blocks of 4,096, 16,384 and 65,536 rows.
BLOCK_ROWS = 16_384
#: the arrays a training block carries
BLOCK_ARRAYS = ("x", "y", "weight", "mask")


class SGD(ScikitLearnMethod):
    """Linear model trained by stochastic gradient descent (scikit-learn); learns from streamed data too

    A linear function f(x) = w.x + b of the standardised inputs, fitted by
    visiting the training rows one at a time and stepping against the
    gradient of that row's loss plus the penalty ``alpha`` R(w), where R is
    |w|^2 / 2 (``l2``), |w|_1 (``l1``: sparse weights) or ``l1_ratio`` |w|_1
    + (1 - ``l1_ratio``) |w|^2 / 2 (``elasticnet``). Losses for classes, one
    such model per class against the rest when there are several:
    ``log_loss`` (logistic regression), ``hinge`` (a linear SVM) and
    ``modified_huber`` (a smoothed hinge, quadratic near the margin); for
    values, on the targets standardised by their training mean and spread:
    ``squared_error`` (least squares) and ``huber`` (squared within
    ``epsilon`` standard deviations, linear beyond: robust to outliers).

    Each epoch reads the training part once. A part streamed from disk is
    read chunk by chunk, in an order drawn from (seed, epoch), and mixed in
    the stream's shuffle buffer, so that memory stays within the stream's
    budget; a part in memory is one chunk, shuffled whole. The rows reach
    scikit-learn's ``partial_fit`` in blocks, with their weights; as SGD
    steps row by row, the same rows in the same order give the same model
    from memory or from disk. The inputs are standardised by a
    ``StandardScaler`` fitted in a first pass, by ``partial_fit`` chunk by
    chunk; the classes are the task's, known before the first row.

    History, one record per epoch: ``train_loss``, the mean loss (penalty
    left out) of each block just before the model learned from it (the
    progressive validation loss, free of an extra pass), ``valid_loss`` and
    the task's validation metric. Scores: ``log_loss`` gives
    scikit-learn's probabilities; the margins f(x) of ``hinge`` and
    ``modified_huber`` pass through the logistic function (softmax for
    several classes): they rank events (AUC, rejection) but are not
    calibrated probabilities. (scikit-learn's modified_huber probabilities,
    clipped to 0 and 1, tie most events: measured AUC 0.84 where the margins
    give 0.90.)

    Args:
        loss: the loss; ``auto``: log_loss for classes, squared_error for values.
        penalty: ``l2``, ``l1`` or ``elasticnet``.
        alpha: strength of the penalty (also sets the ``optimal`` learning rate; scikit-learn's
            1e-4 leaves the steps noisy on 10^4 rows: measured accuracy 0.80 where 1e-3 gives
            logistic regression's 0.82).
        l1_ratio: the L1 share of the ``elasticnet`` penalty, in [0, 1].
        epochs: passes over the training rows.
        learning_rate: the step schedule, ``optimal`` 1 / (alpha (t + t0)),
            ``invscaling`` eta0 / t^power_t, ``constant`` eta0; ``auto``:
            optimal for classes, invscaling for values (scikit-learn's defaults).
        eta0: the initial step of the ``invscaling`` and ``constant`` schedules.
        epsilon: where the ``huber`` loss turns linear, in standard deviations of the target.
        average: predict with the average of the weights over the steps from the second epoch
            on (averaged SGD: the steps' noise averages out; measured as good as logistic
            regression in 10 epochs where plain SGD is not).
        seed: random seed of the order of the rows in each epoch.
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier",
                "values": "regressor"}
    scaled = True
    one_target = True
    fitted = ("scaler_", "target_scaler_", "loss_")
    streams = True

    def __init__(self, loss: Literal["auto", "log_loss", "hinge", "modified_huber", "squared_error",
                                     "huber"] = "auto",
                 penalty: Literal["l2", "l1", "elasticnet"] = "l2",
                 alpha: Annotated[float, Field(gt=0, description="a number > 0")] = 1e-3,
                 l1_ratio: Annotated[float, Field(ge=0, le=1,
                                                  description="a number in [0, 1]")] = 0.15,
                 epochs: Annotated[int, Field(ge=1, description="an integer >= 1")] = 10,
                 learning_rate: Literal["auto", "optimal", "invscaling", "constant"] = "auto",
                 eta0: Annotated[float, Field(gt=0, description="a number > 0")] = 0.01,
                 epsilon: Annotated[float, Field(gt=0, description="a number > 0")] = 0.1,
                 average: bool = True, seed: int = 1):
        super().__init__()
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.epsilon = epsilon
        self.average = average
        self.seed = seed

    # -- the learners ----------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        rate = RATES[self.output_] if self.learning_rate == "auto" else self.learning_rate
        return {"loss": self.loss_, "penalty": self.penalty, "alpha": self.alpha,
                "l1_ratio": self.l1_ratio, "learning_rate": rate, "eta0": self.eta0,
                "epsilon": self.epsilon,
                "shuffle": False, "random_state": self.seed}  # the rows come shuffled (_blocks)

    def classifier(self):
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(**self._options())

    def regressor(self):
        from sklearn.linear_model import SGDRegressor

        return SGDRegressor(**self._options())

    def _chosen_loss(self, task: Task) -> str:
        allowed = LOSSES.get(task.evaluation.output)
        if allowed is None or self.loss == "auto":
            return allowed[0] if allowed else self.loss
        if self.loss not in allowed:
            raise UserError(f"{self.label()}: loss '{self.loss}' does not fit task '{task.name}'; "
                            f"allowed: auto, {', '.join(allowed)}")
        return self.loss

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, train: Dataset, valid: Dataset | None, task: Task, **context: Any) -> SGD:
        """Fit epoch by epoch with ``partial_fit``, the training part read chunk by chunk."""
        from sklearn.preprocessing import StandardScaler

        self.output_ = task.evaluation.output
        self.loss_ = self._chosen_loss(task)
        self.learner_ = self._bare_learner(task)
        # averaging starts after the first epoch's rows
        self.learner_.set_params(average=len(train) if self.average else False)
        y = self._targets(train)  # a streamed part holds its targets in memory
        classes = None if self.output_ == "values" else np.arange(max(task.out_features(y), 2))
        self.inputs_ = self._encoding(train)
        self.scaler_ = StandardScaler()
        for chunk in train.in_chunks():  # the first pass
            self.scaler_.partial_fit(self._table(chunk))
        self.target_scaler_ = None
        if self.output_ == "values":
            self.target_scaler_ = StandardScaler().fit(y.reshape(len(y), -1))
        callbacks = context.get("callbacks")
        self.history = []
        self.notify(callbacks, "on_fit_start", self)
        for epoch in range(1, self.epochs + 1):
            record = self._epoch(train, epoch, classes)
            if valid is not None and len(valid):
                record.update(self._validation(valid, task))
            self.history.append(record)
            self.notify(callbacks, "on_epoch_end", self, epoch, record)
        self.notify(callbacks, "on_fit_end", self)
        return self

    def _epoch(self, train: Dataset, epoch: int, classes: np.ndarray | None) -> dict[str, Any]:
        """One pass over the training rows; its record (progressive training loss, speed)."""
        arguments = {} if classes is None else {"classes": classes}
        start = time.perf_counter()
        loss_sum = weight_sum = 0.0
        for block in _blocks(train, np.random.default_rng([self.seed, epoch])):
            x, target = self._scaled(block), self._learned(block.y)
            weight = block.arrays.get("weight")
            losses = self._row_loss(self._decision(x, classes), target)  # before it learns them
            loss_sum += float(losses.sum() if weight is None else np.dot(losses, weight))
            weight_sum += float(len(losses) if weight is None else weight.sum())
            try:
                self.learner_.partial_fit(x, target, sample_weight=weight, **arguments)
            except ValueError as error:  # scikit-learn's check of the weights after each block
                if "overflow" not in str(error):
                    raise
                raise self._diverged(epoch) from None
        seconds = time.perf_counter() - start
        loss = loss_sum / max(weight_sum, 1e-300)
        if not np.isfinite(loss):
            raise self._diverged(epoch)
        return {"epoch": epoch, "train_loss": loss, "train_seconds": seconds,
                "samples_per_second": len(train) / max(seconds, 1e-12)}

    def _diverged(self, epoch: int) -> UserError:
        return UserError(f"{self.label()}: the weights diverged in epoch {epoch} (floating-point "
                         "overflow); lower eta0 or use learning_rate: auto")

    def _validation(self, valid: Dataset, task: Task) -> dict[str, float]:
        """``valid_loss`` and the task's validation metric (``valid_auc``, ...) of the model now."""
        losses, scores, targets, weights = [], [], [], []
        for chunk in valid.in_chunks():
            x = self._scaled(chunk)
            decision = self._decision(x)
            losses.append(self._row_loss(decision, self._learned(chunk.y)))
            scores.append(self._scores(x, decision))
            targets.append(chunk.y)
            if "weight" in chunk:
                weights.append(chunk["weight"])
        loss, weight = np.concatenate(losses), np.concatenate(weights) if weights else None
        record = {"valid_loss": float(np.average(loss, weights=weight))}
        metrics = task.evaluation.metrics(np.concatenate(targets), np.concatenate(scores), weight)
        if task.monitor in metrics:
            record[f"valid_{task.monitor}"] = float(metrics[task.monitor])
        return record

    # -- the model's pieces ------------------------------------------------------------------
    def _scaled(self, data: Dataset) -> np.ndarray:
        return self.scaler_.transform(self._table(data))

    def _learned(self, y: np.ndarray) -> np.ndarray:
        """Targets as the learner sees them: class indices, or values standardised."""
        if self.target_scaler_ is None:
            return y.astype(np.int64)
        return self.target_scaler_.transform(y.reshape(len(y), -1)).ravel()

    def _decision(self, x: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
        """f(x): [N] (two classes, values) or [N, K]; zero before the first step."""
        if not hasattr(self.learner_, "coef_"):
            wide = classes is not None and len(classes) > 2
            return np.zeros((len(x), len(classes)) if wide else len(x))
        if self.output_ == "values":
            return self.learner_.predict(x)
        return self.learner_.decision_function(x)

    def _row_loss(self, decision: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The loss of every row (penalty left out), summed over one-vs-rest models of classes."""
        if self.output_ == "values":
            residual = target - decision
            if self.loss_ == "squared_error":
                return residual**2
            size = np.abs(residual)
            linear = self.epsilon * (size - 0.5 * self.epsilon)
            return np.where(size <= self.epsilon, 0.5 * residual**2, linear)
        if decision.ndim == 1:
            margin = np.where(target == 1, decision, -decision)
        else:
            margin = np.where(target[:, None] == np.arange(decision.shape[1]), decision, -decision)
        if self.loss_ == "log_loss":
            losses = np.logaddexp(0.0, -margin)
        elif self.loss_ == "hinge":
            losses = np.maximum(0.0, 1.0 - margin)
        else:  # modified_huber
            losses = np.where(margin >= -1.0, np.maximum(0.0, 1.0 - margin) ** 2, -4.0 * margin)
        return losses if losses.ndim == 1 else losses.sum(axis=1)

    def _scores(self, x: np.ndarray, decision: np.ndarray) -> np.ndarray:
        """The task's scores: probabilities (log_loss), squashed margins, or values in y's units."""
        if self.output_ == "values":
            return self.target_scaler_.inverse_transform(decision.reshape(-1, 1)).ravel()
        if self.loss_ == "log_loss":
            probabilities = self.learner_.predict_proba(x)
            return probabilities[:, 1] if self.output_ == "signal_probability" else probabilities
        from scipy.special import expit, softmax

        if decision.ndim == 1:  # two classes: one margin
            signal = expit(decision)
            if self.output_ == "signal_probability":
                return signal
            return np.stack([1 - signal, signal], axis=1)
        return softmax(decision, axis=1)

    def predict(self, data: Dataset) -> np.ndarray:
        """Signal probability [N], class probabilities [N, K] or values [N], as the task wants."""
        self._check_fitted("learner_")
        if data.streamed:
            return predict_in_chunks(data, self.predict)
        x = self._scaled(data)
        return np.asarray(self._scores(x, self._decision(x)), dtype=np.float32)


def _blocks(part: Any, rng: np.random.Generator) -> Iterator[Dataset]:
    """One epoch of ``part``'s rows in blocks of :data:`BLOCK_ROWS`, mixed as ``rng`` draws.

    A streamed part's chunks are read in a drawn order and mixed in a shuffle
    buffer of the stream's size; an in-memory part is one chunk, all of whose
    rows the buffer shuffles at once. A stream of one chunk therefore gives the
    in-memory order.
    """
    if part.streamed:
        settings = part.stream.settings
        order = [part.chunks[i] for i in rng.permutation(len(part.chunks))]
        chunks = prefetched(order, part.read, settings.workers, settings.depth)
        capacity = settings.buffer_rows
    else:
        rng.permutation(1)  # the order of the one chunk, drawn as a stream's order is
        chunks, capacity = iter([part.arrays]), len(part) + 1
    buffer = ShuffleBuffer(capacity, 1, rng, block_rows=BLOCK_ROWS)
    for arrays in chunks:
        for block in buffer.add({name: arrays[name] for name in BLOCK_ARRAYS if name in arrays}):
            yield Dataset(block)
    for block in buffer.flush():
        yield Dataset(block)
