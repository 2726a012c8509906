"""Explicit kernel feature maps (Williams & Seeger 2001, Rahimi & Recht 2007) and a linear model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from quanta.methods.sklearn import ScikitLearnMethod

GAMMA = "a number >= 0 (0: 1 / features)"


class KernelMap(ScikitLearnMethod):
    """Kernel feature map (Nystroem or random Fourier) before a linear model: kernels for 10^6 rows

    A kernel method's boundary is linear in the kernel's feature space. This
    method maps the standardised inputs into an explicit approximation of
    the RBF kernel's space, exp(-gamma |x - x'|^2), with ``n_components``
    features, and fits a linear model there: logistic regression for
    classes, ridge regression for values (penalty 1/C). The cost is linear
    in the rows (a kernel SVM's is quadratic to cubic), and memory is
    rows x n_components x 8 bytes.

    Maps: ``nystroem`` - the kernel against ``n_components`` training rows
    drawn at random, whitened (Williams & Seeger 2001; accurate where the
    data are); ``fourier`` - random Fourier features cos(w.x + b), w drawn from
    the kernel's spectrum (Rahimi & Recht 2007; independent of the data).

    Args:
        map: the feature map, ``nystroem`` or ``fourier``.
        n_components: number of features of the map.
        gamma: the RBF kernel's scale; 0: 1 / features.
        C: inverse strength of the linear model's L2 penalty.
        max_iter: iterations of the logistic regression's solver.
        seed: random seed of the rows (nystroem) or frequencies (fourier) drawn.
    """

    learners = {"signal_probability": "classifier", "class_probabilities": "classifier",
                "values": "regressor"}
    scaled = True

    def __init__(self, map: Literal["nystroem", "fourier"] = "nystroem",
                 n_components: Annotated[int, Field(ge=1)] = 300,
                 gamma: Annotated[float, Field(ge=0, description=GAMMA)] = 0.0,
                 C: Annotated[float, Field(gt=0)] = 1.0,
                 max_iter: Annotated[int, Field(ge=1)] = 1000, seed: int = 1):
        super().__init__()
        self.map = map
        self.n_components = n_components
        self.gamma = gamma
        self.C = C
        self.max_iter = max_iter
        self.seed = seed

    def _feature_map(self):
        from sklearn.kernel_approximation import Nystroem, RBFSampler

        if self.map == "nystroem":
            return Nystroem(kernel="rbf", gamma=self.gamma or None, n_components=self.n_components,
                            random_state=self.seed)
        return RBFSampler(gamma=self.gamma or "scale", n_components=self.n_components,
                          random_state=self.seed)

    def classifier(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        linear = LogisticRegression(C=self.C, max_iter=self.max_iter)
        return make_pipeline(self._feature_map(), linear)

    def regressor(self):
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline

        return make_pipeline(self._feature_map(), Ridge(alpha=1.0 / self.C))
