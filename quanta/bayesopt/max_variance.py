"""Maximum-variance acquisition for a jointly chosen batch: the posterior entropy of the batch.

For one point this is ``2 log sigma`` (plus a constant), so it picks the same
point as BoTorch's ``PosteriorStandardDeviation``, which only takes ``q = 1``.
For ``q`` points it is the log-determinant of their ``q x q`` posterior
covariance: two points close together are strongly correlated, which shrinks
the determinant, so the batch spreads over the unknown regions instead of
piling up where the single largest variance is. (``qNegIntegratedPosteriorVariance``
is a different thing: the variance left over a whole region after measuring.)
This module imports BoTorch; :mod:`quanta.bayesopt.acquisition` imports it
only when asked for ``max_variance``.
"""

from __future__ import annotations

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models.model import Model
from botorch.utils.transforms import t_batch_mode_transform

#: relative diagonal jitter keeping the log-determinant finite at evaluated points
JITTER = 1e-9


class JointPosteriorEntropy(AcquisitionFunction):
    """``log det`` of the posterior covariance of the latent function at a batch of points.

    Shapes:
        X: ``(b, q, d)`` candidate batches; returns ``(b,)``.
    """

    def __init__(self, model: Model) -> None:
        super().__init__(model=model)

    @t_batch_mode_transform()
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        covariance = self.model.posterior(X).distribution.covariance_matrix  # (b, q, q)
        if covariance.dim() == X.dim() - 1:  # a single-point posterior may drop the q axis
            covariance = covariance.unsqueeze(-1)
        scale = covariance.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-30)  # (b,)
        eye = torch.eye(covariance.shape[-1], dtype=X.dtype, device=X.device)
        jitter = JITTER * scale[..., None, None] * eye
        return torch.linalg.slogdet(covariance + jitter).logabsdet
