"""Logistic regression: the linear classifier of the lectures, on standardised features."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from quanta.methods.sklearn import ScikitLearnMethod


class LogisticRegression(ScikitLearnMethod):
    """Logistic regression (scikit-learn; L2, L1 or elastic-net penalty); ridge or lasso for values

    The classifier models log(p / (1 - p)) as a linear function of the
    features; several classes share one softmax (multinomial). The penalty
    on the weights w has strength 1/C against the summed loss: ``l2``
    |w|^2 / 2 (L-BFGS), ``l1`` |w|_1 (sparse weights: feature selection) or
    ``elasticnet``, ``l1_ratio`` |w|_1 + (1 - ``l1_ratio``) |w|^2 / 2 (SAGA).
    For a regression task the same linear model is a ridge regression with
    penalty 1/C (``l2``), or scikit-learn's elastic net (``l1``: the lasso)
    with ``alpha`` = 1 / (C rows), which is that ridge regression at
    ``l1_ratio`` 0.

    Args:
        C: inverse strength of the penalty.
        penalty: ``l2``, ``l1`` or ``elasticnet``.
        l1_ratio: the L1 share of the ``elasticnet`` penalty, in [0, 1].
        max_iter: iterations of the solver.
        seed: random seed of the SAGA solver's sample order (``l1``, ``elasticnet``).
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier",
                "values": "regressor"}
    scaled = True

    def __init__(self, C: Annotated[float, Field(gt=0)] = 1.0,
                 penalty: Literal["l2", "l1", "elasticnet"] = "l2",
                 l1_ratio: Annotated[float, Field(ge=0, le=1)] = 0.5,
                 max_iter: Annotated[int, Field(ge=1)] = 1000, seed: int = 1):
        super().__init__()
        self.C = C
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, train, valid, task, **context: Any) -> LogisticRegression:
        self.rows_ = 1 if train.streamed else max(len(train), 1)  # the lasso's alpha is per row
        return super().fit(train, valid, task, **context)

    def _ratio(self) -> float:
        return {"l2": 0.0, "l1": 1.0, "elasticnet": self.l1_ratio}[self.penalty]

    def classifier(self):
        import sklearn
        from sklearn.linear_model import LogisticRegression as Learner
        from sklearn.utils.fixes import parse_version

        ratio = self._ratio()
        options = {"C": self.C, "max_iter": self.max_iter, "random_state": self.seed,
                   "solver": "lbfgs" if ratio == 0 else "saga"}
        if parse_version(sklearn.__version__).release >= (1, 8):  # 1.8: l1_ratio is the penalty
            return Learner(l1_ratio=ratio, **options)
        if self.penalty == "elasticnet":
            return Learner(penalty="elasticnet", l1_ratio=ratio, **options)
        return Learner(penalty=self.penalty, **options)

    def regressor(self):
        from sklearn.linear_model import ElasticNet, Ridge

        ratio = self._ratio()
        if ratio == 0:
            return Ridge(alpha=1.0 / self.C, max_iter=self.max_iter)
        return ElasticNet(alpha=1.0 / (self.C * self.rows_), l1_ratio=ratio, max_iter=self.max_iter)
