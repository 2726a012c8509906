"""Decision trees (Breiman et al. 1984, CART): cut one feature at a time where it best separates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from quanta.errors import UserError
from quanta.methods.sklearn import ScikitLearnMethod

CLASSIFICATION = ("gini", "entropy")
REGRESSION = ("squared_error", "absolute_error", "friedman_mse")


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
        return super().fit(train, valid, task, **context)

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
