"""Logistic regression: the linear classifier of the lectures, on standardised features."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from quanta.methods.sklearn import ScikitLearnMethod


class LogisticRegression(ScikitLearnMethod):
    """Logistic regression (scikit-learn, L-BFGS) on standardised features; linear regression for values

    The classifier models log(p / (1 - p)) as a linear function of the
    features, with an L2 penalty of strength 1/C; several classes share one
    softmax (multinomial). For a regression task the same linear model is a
    ridge regression with penalty 1/C.

    Args:
        C: inverse strength of the L2 penalty.
        max_iter: iterations of the solver.
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier", "values": "regressor"}
    scaled = True

    def __init__(self, C: Annotated[float, Field(gt=0)] = 1.0, max_iter: Annotated[int, Field(ge=1)] = 1000):
        super().__init__()
        self.C = C
        self.max_iter = max_iter

    def classifier(self):
        from sklearn.linear_model import LogisticRegression as Learner

        return Learner(C=self.C, max_iter=self.max_iter)

    def regressor(self):
        from sklearn.linear_model import Ridge

        return Ridge(alpha=1.0 / self.C, max_iter=self.max_iter)
