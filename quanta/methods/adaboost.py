"""AdaBoost (Freund & Schapire 1997): each new tree weights up the rows the others got wrong."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from quanta.methods.sklearn import ScikitLearnMethod


class AdaBoost(ScikitLearnMethod):
    """AdaBoost (scikit-learn, SAMME and AdaBoost.R2) over shallow decision trees

    Fits ``n_estimators`` trees of depth ``max_depth`` in turn, each on the
    training rows re-weighted towards those the trees so far misclassify (or
    predict worst), and combines them in a weighted vote (weighted median for
    values); ``learning_rate`` shrinks each tree's say. The boosted decision
    trees of MiniBooNE and TMVA's BDT.

    Args:
        n_estimators: number of boosting rounds (trees).
        learning_rate: shrinkage of each tree's weight.
        max_depth: depth of each tree (1: stumps).
        seed: random seed of the trees (and of the resampling of AdaBoost.R2).
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier",
                "values": "regressor"}
    one_target = True

    def __init__(self, n_estimators: Annotated[int, Field(ge=1)] = 100,
                 learning_rate: Annotated[float, Field(gt=0)] = 0.5,
                 max_depth: Annotated[int, Field(ge=1)] = 3, seed: int = 1):
        super().__init__()
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.seed = seed

    def classifier(self):
        from sklearn.ensemble import AdaBoostClassifier
        from sklearn.tree import DecisionTreeClassifier

        return AdaBoostClassifier(DecisionTreeClassifier(max_depth=self.max_depth),
                                  n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                  random_state=self.seed)

    def regressor(self):
        from sklearn.ensemble import AdaBoostRegressor
        from sklearn.tree import DecisionTreeRegressor

        return AdaBoostRegressor(DecisionTreeRegressor(max_depth=self.max_depth),
                                 n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                 random_state=self.seed)
