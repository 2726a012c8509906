"""Ensembles of a run's trained methods: averaging (deep ensembles) and stacking.

An ``ensemble`` entry names earlier entries of its experiment as members,
networks and classical methods alike, and combines their scores:

- ``average``: the mean of the members' scores (probabilities, or values).
  Its uncertainty is the members' spread; for regression members that give
  their own sigma (a Gaussian head) the two add as the law of total variance
  says, ``sigma^2 = mean(sigma_m^2) + var(mu_m)``. Members that differ only
  in their seed (``train: {seed: ...}``) make a *deep ensemble*
  (Lakshminarayanan, Pritzel & Blundell 2017), the simplest honest
  uncertainty of a network.
- ``stacking``: a linear model fitted on the members' scores on the
  *validation* split (Wolpert 1992): logistic regression on their logits for
  classes, least squares for values. Networks that stopped early on the
  validation split have seen its loss, so prefer a classical member mix or
  ``average`` when the validation split is small.

The members are loaded from their folders beside the ensemble's own, so an
ensemble is fitted after them (it must come later in ``methods:``) and
``quanta predict`` scores new data through every member. Members must read
the same inputs as the ensemble (no ``data:`` view of their own).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.errors import UserError
from quanta.methods.base import Method

ENSEMBLE_FILE = "ensemble.json"
#: the task outputs an ensemble combines (quanta.tasks.evaluation.OUTPUTS)
COMBINED = {"signal_probability": "binary", "class_probabilities": "multiclass", "values": "regression"}
_EPSILON = 1e-7  # probabilities are clipped to [eps, 1 - eps] before their logarithm


class Ensemble(Method):
    """Ensemble of a run's methods: average of their scores (deep ensembles) or stacking

    Args:
        members: names of earlier entries of the experiment (at least two).
        combine: ``average`` (mean score, spread as uncertainty) or ``stacking``
            (a linear model on the members' validation scores).
        C: inverse strength of the L2 penalty of the stacking logistic regression.
    """

    def __init__(self, members: Annotated[tuple[str, ...], Field(
                     min_length=2, description="at least two names of earlier entries")] = (),
                 combine: Literal["average", "stacking"] = "average",
                 C: Annotated[float, Field(gt=0)] = 1.0):
        self.members = list(members)
        self.combine = combine
        self.C = C
        self.history = []

    @classmethod
    def check_entry(cls, params: dict[str, Any], where: str, entry: dict[str, Any],
                    earlier: list[dict[str, Any]]) -> None:
        names = {e["name"]: e for e in earlier}
        if len(params["members"]) < 2:
            raise UserError(f"{where}.members: name at least two earlier entries of methods "
                            f"(allowed: {', '.join(names) or 'none, the ensemble is the first entry'})")
        for member in params["members"]:
            if member == entry["name"]:
                raise UserError(f"{where}.members: '{member}' is the ensemble itself")
            if member not in names:
                allowed = ", ".join(names) or "none (the ensemble is the first entry)"
                raise UserError(f"{where}.members: '{member}' is not an earlier entry of methods; "
                                f"allowed: {allowed}")
            if (names[member].get("data") or {}) != (entry.get("data") or {}):
                raise UserError(f"{where}.members: '{member}' reads other inputs than the ensemble "
                                "(its own data:); members must read the ensemble's inputs")
        if len(set(params["members"])) != len(params["members"]):
            raise UserError(f"{where}.members: a member is named twice")

    # -- fitting -------------------------------------------------------------------------
    def fit(self, train, valid, task, **context: Any) -> Ensemble:
        output = task.evaluation.output
        if output not in COMBINED:
            raise UserError(f"ensemble: task '{task.name}' is not supported; allowed: "
                            + ", ".join(COMBINED.values()))
        directory = context.get("directory")
        if directory is None:
            raise UserError("ensemble: its members are read from the run directory; give one")
        self.output_ = output
        self.members_ = _load_members(Path(directory).parent, self.members)
        self.notify(context.get("callbacks"), "on_fit_start", self)
        if self.combine == "stacking":
            if valid is None or len(valid) == 0:
                raise UserError("ensemble: stacking is fitted on the validation split, which is "
                                "empty; give data.split a validation fraction or combine: average")
            self._fit_stacking(valid)
        self.notify(context.get("callbacks"), "on_fit_end", self)
        return self

    def _fit_stacking(self, valid) -> None:
        features = self._stacking_features(self._member_scores(valid)[0])
        y = valid.y
        if self.output_ == "values":
            targets = y.reshape(len(y), -1).astype(np.float64)
            design = np.concatenate([features, np.ones((*features.shape[:2], 1))], axis=2)  # [N, T, M+1]
            coefficients = [np.linalg.lstsq(design[:, t], targets[:, t], rcond=None)[0]
                            for t in range(targets.shape[1])]
            self.coef_ = np.stack([c[:-1] for c in coefficients])  # [T, M]
            self.intercept_ = np.array([c[-1] for c in coefficients])
            return
        from sklearn.linear_model import LogisticRegression

        learner = LogisticRegression(C=self.C, max_iter=1000).fit(features, y.astype(np.int64))
        self.coef_, self.intercept_ = learner.coef_, learner.intercept_

    # -- prediction -------------------------------------------------------------------------
    def _member_scores(self, data) -> tuple[np.ndarray, np.ndarray | None]:
        """Members' scores stacked on a new first axis, and their sigmas (zeros where none)."""
        from quanta.estimators import predict_with_uncertainty

        scores, sigmas = zip(*(predict_with_uncertainty(m, data) for m in self.members_), strict=True)
        scores = [np.asarray(s, dtype=np.float64) for s in scores]
        if any(s.shape != scores[0].shape for s in scores):
            raise UserError("ensemble: members' scores differ in shape ("
                            + ", ".join(f"{n} {s.shape}" for n, s in zip(self.members, scores,
                                                                          strict=True)) + ")")
        if all(s is None for s in sigmas):
            return np.stack(scores), None
        return np.stack(scores), np.stack([np.zeros_like(scores[0]) if s is None else s
                                           for s in sigmas])

    def _stacking_features(self, scores: np.ndarray) -> np.ndarray:
        """Members' scores [M, N, ...] as the stacking model's inputs."""
        if self.output_ == "values":
            return scores.reshape(len(scores), scores.shape[1], -1).transpose(1, 2, 0)  # [N, T, M]
        clipped = np.clip(scores, _EPSILON, 1 - _EPSILON)
        if self.output_ == "signal_probability":
            return np.log(clipped / (1 - clipped)).T  # logits, [N, M]
        return np.log(clipped).transpose(1, 0, 2).reshape(scores.shape[1], -1)  # [N, M K]

    def predict_with_uncertainty(self, data) -> tuple[np.ndarray, np.ndarray | None]:
        """The combined scores and, for ``average``, the members' spread as their uncertainty."""
        self._check_fitted("members_")
        scores, sigmas = self._member_scores(data)
        if self.combine == "average":
            variance = scores.var(axis=0)
            if sigmas is not None and self.output_ == "values":
                variance = variance + (sigmas**2).mean(axis=0)
            return scores.mean(axis=0).astype(np.float32), np.sqrt(variance).astype(np.float32)
        features = self._stacking_features(scores)
        if self.output_ == "values":
            combined = (features * self.coef_[None]).sum(axis=2) + self.intercept_
            return combined.reshape(scores.shape[1:]).astype(np.float32), None
        logits = features @ self.coef_.T + self.intercept_
        if self.output_ == "signal_probability":
            return (1 / (1 + np.exp(-logits[:, 0]))).astype(np.float32), None
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        return (probabilities / probabilities.sum(axis=1, keepdims=True)).astype(np.float32), None

    def predict(self, data) -> np.ndarray:
        return self.predict_with_uncertainty(data)[0]

    # -- persistence: JSON, the members stay in their own folders ---------------------------
    def save(self, directory: str | Path) -> Path:
        self._check_fitted("members_")
        state: dict[str, Any] = {"members": self.members, "combine": self.combine, "C": self.C,
                                 "output": self.output_}
        if self.combine == "stacking":
            state.update(coef=self.coef_.tolist(), intercept=self.intercept_.tolist())
        path = Path(directory) / ENSEMBLE_FILE
        path.write_text(json.dumps(state))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Ensemble:
        path = Path(directory) / ENSEMBLE_FILE
        if not path.exists():
            raise UserError(f"{path}: no saved ensemble here")
        try:
            state = json.loads(path.read_text())
            ensemble = cls(state["members"], state["combine"], state["C"])
            ensemble.output_ = state["output"]
            if ensemble.combine == "stacking":
                ensemble.coef_ = np.asarray(state["coef"], dtype=np.float64)
                ensemble.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise UserError(f"{path}: cannot read the saved ensemble ({error})") from None
        ensemble.members_ = _load_members(Path(directory).parent, ensemble.members)
        return ensemble


def _load_members(run_path: Path, names: list[str]) -> list[Any]:
    """The fitted members, loaded from their folders of the run directory at ``run_path``."""
    from quanta import estimators
    from quanta.rundir import RunDirectory

    run = RunDirectory.open(run_path)
    entries = {entry["name"]: entry for entry in run.read_config().get("methods", [])}
    members = []
    for name in names:
        folder = run.method(name)
        if name not in entries or not folder.finished:
            raise UserError(f"{folder.path}: ensemble member '{name}' has not finished training")
        members.append(estimators.load(entries[name], folder.path))
    return members


__all__ = ["Ensemble"]
