"""Support-vector machines (Cortes & Vapnik 1995): the widest margin between classes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from quanta.errors import UserError
from quanta.methods.sklearn import ScikitLearnMethod

GAMMA = "a number >= 0 (0: 1 / features)"


class SVM(ScikitLearnMethod):
    """Support-vector machine (scikit-learn, libsvm): the widest-margin boundary in a kernel's space

    The classifier finds the boundary of widest margin between the classes in
    the space of a kernel k(x, x') (linear x.x', rbf exp(-gamma |x - x'|^2),
    poly (gamma x.x' + coef0)^degree, sigmoid tanh(gamma x.x' + coef0)),
    paying C per unit of margin violation; regression (SVR) fits a tube of
    half-width ``epsilon`` around the targets (standardised, so ``epsilon`` is
    in units of their spread). Inputs are standardised.

    Probabilities come from Platt scaling done as libsvm does it: a sigmoid of
    the decision value fitted on out-of-fold values of ``calibration_folds``
    folds, then one SVM fitted on all the training rows
    (``CalibratedClassifierCV(ensemble=False)``; scikit-learn 1.9 deprecates
    ``SVC(probability=True)`` for it). The folds are not shuffled, so the
    probabilities do not depend on a seed, and prediction costs one SVM.

    An exact kernel SVM costs rows^2 in memory and up to rows^3 in time, so
    training data above ``max_rows`` rows is refused: ``kernel_map``
    approximates the same kernels in time linear in the rows, and ``sgd``
    with ``loss: hinge`` is a linear SVM that also learns from streamed data.

    Args:
        kernel: the kernel, ``linear``, ``rbf``, ``poly`` or ``sigmoid``.
        C: cost of a margin violation (large C: a narrow margin, little regularisation).
        gamma: the kernel's scale (rbf, poly, sigmoid); 0: 1 / features.
        degree: degree of the ``poly`` kernel.
        coef0: constant term of the ``poly`` and ``sigmoid`` kernels.
        epsilon: half-width of the regression tube, in standard deviations of the target.
        calibration: ``sigmoid`` (Platt) or ``isotonic`` (needs thousands of rows).
        calibration_folds: folds of the out-of-fold calibration.
        max_rows: the most training rows accepted.
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier",
                "values": "regressor"}
    scaled = True
    one_target = True

    def __init__(self, kernel: Literal["linear", "rbf", "poly", "sigmoid"] = "rbf",
                 C: Annotated[float, Field(gt=0)] = 1.0,
                 gamma: Annotated[float, Field(ge=0, description=GAMMA)] = 0.0,
                 degree: Annotated[int, Field(ge=1)] = 3, coef0: float = 0.0,
                 epsilon: Annotated[float, Field(ge=0)] = 0.1,
                 calibration: Literal["sigmoid", "isotonic"] = "sigmoid",
                 calibration_folds: Annotated[int, Field(ge=2)] = 5,
                 max_rows: Annotated[int, Field(ge=1)] = 50_000):
        super().__init__()
        self.kernel = kernel
        self.C = C
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.epsilon = epsilon
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.max_rows = max_rows

    def fit(self, train, valid, task, **context: Any) -> SVM:
        rows = 0 if train.streamed else len(train)  # a streamed part is refused by the base
        if rows > self.max_rows:
            raise UserError(f"{self.label()}: {rows:,} training rows are more than "
                            f"max_rows={self.max_rows:,} (an exact kernel SVM costs rows^2 memory "
                            "and up to rows^3 time); use kernel_map (the kernel's feature map, "
                            "time linear in the rows), sgd with loss: hinge (a linear SVM, also "
                            "from streamed data), or raise max_rows")
        if task.evaluation.output != "values" and "y" in train:
            self._check_folds(train.y)
        return super().fit(train, valid, task, **context)

    def _check_folds(self, y) -> None:
        import numpy as np

        classes, counts = np.unique(y, return_counts=True)
        if counts.min() < self.calibration_folds:
            rarest = counts.argmin()
            raise UserError(f"{self.label()}: probability calibration needs every class "
                            f"{self.calibration_folds} times in the training rows; class "
                            f"{classes[rarest]} has {counts[rarest]}; lower calibration_folds")

    def _options(self) -> dict:
        return {"kernel": self.kernel, "C": self.C, "gamma": self.gamma or "scale",
                "degree": self.degree, "coef0": self.coef0}

    def classifier(self):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        return CalibratedClassifierCV(SVC(**self._options()), method=self.calibration,
                                      cv=self.calibration_folds, ensemble=False)

    def regressor(self):
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVR

        return TransformedTargetRegressor(SVR(**self._options(), epsilon=self.epsilon),
                                          transformer=StandardScaler())
