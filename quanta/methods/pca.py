"""Principal component analysis: the directions of largest variance, an unsupervised method."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from quanta.errors import UserError
from quanta.evaluate.embedding import EXPLAINED_VARIANCE_FILE
from quanta.methods.base import predict_in_chunks
from quanta.methods.codes import CodesFrom, CodesInput
from quanta.methods.sklearn import ScikitLearnMethod


class PCA(CodesInput, ScikitLearnMethod):
    """Principal component analysis (scikit-learn): the first directions of largest variance

    Projects the (by default standardised) inputs onto the ``components``
    orthogonal directions of largest variance on the training split, the
    eigenvectors of their covariance matrix with the largest eigenvalues.
    Predictions are the codes ``[N, components]``: each sample's coordinates
    along them. The variance each component explains, and its fraction of the
    inputs' total variance, are written to ``explained_variance.json`` in the
    method's folder and drawn in the report. Labels, when the data have them,
    are used only to evaluate.

    Args:
        components: number of principal components kept (the codes' width).
        whiten: scale each code to unit variance.
        standardize: standardise every input to unit variance first (inputs in
            different units); without it, the covariance of the inputs as they are.
        seed: random seed of the randomised solver scikit-learn picks for large data.
        codes_from: an earlier network of the run whose codes ``encode(x)`` are reduced
            instead of the inputs (:mod:`quanta.methods.codes`); or such a network's folder in another run.
    """

    learners = {"codes": "reducer"}

    def __init__(self, components: Annotated[int, Field(ge=1, description="an integer >= 1")] = 2,
                 whiten: bool = False, standardize: bool = True, seed: int = 1,
                 codes_from: CodesFrom = None):
        super().__init__()
        self.components = components
        self.whiten = whiten
        self.standardize = standardize
        self.scaled = standardize
        self.seed = seed
        self.codes_from = codes_from

    def reducer(self) -> Any:
        from sklearn.decomposition import PCA as Learner

        return Learner(n_components=self.components, whiten=self.whiten, random_state=self.seed)

    def _table(self, data: Any) -> np.ndarray:
        """The inputs (or codes); before fitting, more components than they allow are refused."""
        x = super()._table(data)
        if not hasattr(self.reduction, "components_") and self.components > min(x.shape):
            columns = (f"{x.shape[1]} codes of '{self.codes_from}'" if self.codes_from is not None
                       else f"{x.shape[1]} input columns")
            raise UserError(f"pca: components={self.components} is more than the {min(x.shape)} "
                            f"the training split allows ({columns}, {x.shape[0]} rows)")
        return x

    @property
    def reduction(self) -> Any:
        """The fitted scikit-learn ``PCA`` (the last step after any scaler)."""
        self._check_fitted("learner_")
        return self.learner_[-1] if hasattr(self.learner_, "steps") else self.learner_

    def predict(self, data: Any) -> np.ndarray:
        """The codes [N, components]: each sample's coordinates along the principal components."""
        self._check_fitted("learner_")
        if data.streamed:
            return predict_in_chunks(data, self.predict)
        return np.asarray(self.learner_.transform(self._table(data)), dtype=np.float32)

    def explained_variance(self) -> dict[str, list[float]]:
        """The variance each component explains and its fraction of the total (training split)."""
        reduction = self.reduction
        return {"variance": [float(v) for v in reduction.explained_variance_],
                "ratio": [float(r) for r in reduction.explained_variance_ratio_]}

    def save(self, directory: str | Path) -> Path:
        path = super().save(directory)
        record = {"method": "pca", "standardized": self.standardize, "codes_from": self.codes_from,
                  **self.explained_variance()}
        (Path(directory) / EXPLAINED_VARIANCE_FILE).write_text(json.dumps(record))
        return path


__all__ = ["PCA"]
