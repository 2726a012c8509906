"""Decision trees (Breiman et al. 1984, CART): cut one feature at a time where it best separates.

Besides the learner, :meth:`DecisionTree.save` writes the top levels of the
fitted tree as plain JSON (:data:`TREE_FILE`), with every cut in the
features' own units (``jet mass <= 143.2``), for the report's figure of the
tree (:func:`quanta.evaluate.tree_figure.decision_tree_figure`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.errors import UserError
from quanta.evaluate.tree_figure import TREE_FILE
from quanta.methods.sklearn import ScikitLearnMethod

CLASSIFICATION = ("gini", "entropy")
REGRESSION = ("squared_error", "absolute_error", "friedman_mse")
#: The deepest level of the tree written to :data:`TREE_FILE` (the root is level 0).
FIGURE_DEPTH = 4
#: Steps that may stand before the tree: each rescales every feature by itself, increasingly,
#: so a cut on the scaled feature is the same cut in the feature's own units.
PER_FEATURE_SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler")


class DecisionTree(ScikitLearnMethod):
    """Decision tree (scikit-learn, CART): nested cuts on one feature at a time; one readable model

    From the root, each node cuts one feature at the threshold that most
    lowers the impurity of its two children (``gini`` or ``entropy`` of the
    classes; ``squared_error``, ``absolute_error`` or ``friedman_mse`` of the
    values), until ``max_depth`` or ``min_samples_leaf`` stops it. A leaf
    predicts its training rows' class fractions (or mean value). One tree is
    readable and unstable; forests and boosting average many.

    Args:
        max_depth: maximum depth (0: grown until leaves are pure).
        min_samples_leaf: minimum number of training rows in a leaf.
        criterion: the impurity; ``auto``: gini for classes, squared_error for values.
        seed: random seed of the order in which features are tried (it breaks ties).
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier",
                "values": "regressor"}
    fitted = ("feature_names_", "class_names_")  # for the figure of the tree (TREE_FILE)
    #: names of the learner's input columns and of the classes, where the data names them
    feature_names_: list[str] | None = None
    class_names_: list[str] | None = None

    def __init__(self, max_depth: Annotated[int, Field(ge=0)] = 8,
                 min_samples_leaf: Annotated[int, Field(ge=1)] = 5,
                 criterion: Literal["auto", "gini", "entropy", "squared_error", "absolute_error",
                                    "friedman_mse"] = "auto",
                 seed: int = 1):
        super().__init__()
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.criterion = criterion
        self.seed = seed

    def fit(self, train, valid, task, **context: Any) -> DecisionTree:
        fits = REGRESSION if task.evaluation.output == "values" else CLASSIFICATION
        if self.criterion not in ("auto", *fits):
            raise UserError(f"{self.label()}: criterion '{self.criterion}' does not fit task "
                            f"'{task.name}'; allowed: auto, {', '.join(fits)}")
        super().fit(train, valid, task, **context)
        self.feature_names_ = self.column_names(train)
        self.class_names_ = [str(n) for n in train.classes] if train.classes else None
        return self

    def save(self, directory: str | Path) -> Path:
        """Save the learner (:class:`ScikitLearnMethod`) and the top of the tree (:data:`TREE_FILE`)."""
        path = super().save(directory)
        record = tree_record(self.learner_, self.output_, self.feature_names_, self.class_names_)
        (Path(directory) / TREE_FILE).write_text(json.dumps(record, indent=1, allow_nan=False))
        return path

    def _options(self, default: str) -> dict:
        return {"max_depth": self.max_depth or None, "min_samples_leaf": self.min_samples_leaf,
                "criterion": default if self.criterion == "auto" else self.criterion,
                "random_state": self.seed}

    def classifier(self):
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(**self._options("gini"))

    def regressor(self):
        from sklearn.tree import DecisionTreeRegressor

        return DecisionTreeRegressor(**self._options("squared_error"))


def tree_record(learner: Any, output: str, feature_names: list[str] | None = None,
                class_names: list[str] | None = None, depth: int = FIGURE_DEPTH) -> dict[str, Any]:
    """The top ``depth`` levels of a fitted tree as JSON-ready data, cuts in the inputs' units.

    ``learner`` is a fitted scikit-learn tree, or a ``Pipeline`` of per-feature
    scalers (:data:`PER_FEATURE_SCALERS`) ending in one; a scaler's cut is
    mapped back through its ``inverse_transform``. Each node holds
    ``samples`` (training rows), ``weighted_samples``, ``impurity`` and its
    value: ``signal_fraction`` (binary), ``majority_class`` and
    ``majority_fraction`` (multiclass, by label value), or ``mean`` (one per
    target); a node that cuts holds ``feature`` (column index), ``threshold``
    (the rows with ``x[feature] <= threshold`` go ``left``) and ``left`` and
    ``right``, or ``truncated: true`` below ``depth``.
    """
    from sklearn.pipeline import Pipeline

    steps = [step for _, step in learner.steps] if isinstance(learner, Pipeline) else [learner]
    *scalers, tree = steps
    for scaler in scalers:
        if type(scaler).__name__ not in PER_FEATURE_SCALERS:
            raise TypeError(f"a {type(scaler).__name__} before the tree mixes features: its cuts "
                            "have no threshold in the inputs' units")
    nodes = tree.tree_
    thresholds = nodes.threshold.copy()
    cuts = np.flatnonzero(nodes.feature >= 0)
    if scalers and cuts.size:
        points = np.zeros((cuts.size, tree.n_features_in_))  # one row per cut, its value on its feature
        points[np.arange(cuts.size), nodes.feature[cuts]] = thresholds[cuts]
        for scaler in reversed(scalers):
            points = scaler.inverse_transform(points)
        thresholds[cuts] = points[np.arange(cuts.size), nodes.feature[cuts]]
    classes = getattr(tree, "classes_", None)

    def node(i: int, level: int) -> dict[str, Any]:
        value = nodes.value[i]  # [targets, classes] of fractions, or [targets, 1] of means
        record: dict[str, Any] = {"samples": int(nodes.n_node_samples[i]),
                                  "weighted_samples": float(nodes.weighted_n_node_samples[i]),
                                  "impurity": float(nodes.impurity[i])}
        if output == "values":
            record["mean"] = [float(v) for v in value[:, 0]]
        else:
            fractions = value[0] / value[0].sum()
            if output == "signal_probability":
                signal = np.flatnonzero(classes == 1)
                record["signal_fraction"] = float(fractions[signal[0]]) if signal.size else 0.0
            else:
                best = int(np.argmax(fractions))
                record["majority_class"] = int(classes[best])
                record["majority_fraction"] = float(fractions[best])
        if nodes.feature[i] >= 0:
            if level >= depth:
                record["truncated"] = True
            else:
                record.update(feature=int(nodes.feature[i]), threshold=float(thresholds[i]),
                              left=node(int(nodes.children_left[i]), level + 1),
                              right=node(int(nodes.children_right[i]), level + 1))
        return record

    return {"output": output, "criterion": str(tree.criterion), "depth": int(tree.get_depth()),
            "leaves": int(tree.get_n_leaves()), "shown_depth": min(int(tree.get_depth()), depth),
            "features": int(tree.n_features_in_), "feature_names": feature_names,
            "class_names": class_names, "root": node(0, 0)}
