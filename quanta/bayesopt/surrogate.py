"""The Gaussian-process surrogate of the objective, on BoTorch.

``SingleTaskGP`` with its default Matérn-5/2 kernel (one length scale per
parameter), inputs normalised to the unit box by ``Normalize`` (bounds given,
not learned from the points, so that the length-scale priors mean the same on
every problem) and outputs standardised by ``Standardize``; hyperparameters
from the marginal likelihood (``fit_gpytorch_mll``). The surrogate always
models the objective to *maximise*: a minimisation hands it the negated values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from quanta.errors import UserError


def require_botorch() -> ModuleType:
    """Import BoTorch, or say in one line how to install it."""
    try:
        import botorch
        import gpytorch  # noqa: F401
    except ImportError as error:
        raise UserError(
            f"Bayesian optimisation needs BoTorch and GPyTorch ({error.name} is missing): "
            "pip install 'quanta[bayes]'"
        ) from None
    return botorch


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, restoring the setting after.

    A surrogate of a few hundred points is far too small for intra-op threads
    to help, and on a busy machine they cost much: fitting a 15-point GP took
    1.5 s on two threads and 0.2 s on one, on a loaded two-core machine.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_surrogate(
    points: np.ndarray,
    objective: np.ndarray,
    bounds: np.ndarray,
    noise: float | np.ndarray | None,
    seed: int,
) -> Any:
    """A fitted ``SingleTaskGP`` of ``objective`` (to maximise) at ``points``.

    Args:
        points: evaluated parameters, shape ``(n, d)``, in the user's units.
        objective: the values to maximise, shape ``(n,)``.
        bounds: the box, shape ``(d, 2)`` (low, high per parameter).
        noise: the standard deviation of a measurement in the user's units:
            one number for every point, an array of shape ``(n,)`` with one
            per point (e.g. each measurement's standard error from its own
            counting statistics), or None to learn one noise level from the data.
        seed: seeds the fit (its random restarts), so a step is reproducible.
    """
    require_botorch()
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.input import Normalize
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(seed)
    train_x = torch.as_tensor(points, dtype=torch.float64)
    train_y = torch.as_tensor(objective, dtype=torch.float64).reshape(-1, 1)
    if noise is None:
        train_yvar = None
    elif np.ndim(noise) == 0:
        train_yvar = torch.full_like(train_y, float(noise) ** 2)
    else:
        sd = torch.as_tensor(np.asarray(noise, dtype=float), dtype=torch.float64)
        train_yvar = sd.reshape(-1, 1) ** 2  # (n, 1), one variance per point
    box = torch.as_tensor(np.asarray(bounds).T, dtype=torch.float64)  # (2, d)
    model = SingleTaskGP(
        train_x,
        train_y,
        train_Yvar=train_yvar,
        input_transform=Normalize(d=train_x.shape[-1], bounds=box),
        outcome_transform=Standardize(m=1),
    )
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    model.eval()
    return model


def posterior_mean_sd(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The surrogate's mean and standard deviation of the objective at ``x`` (shape ``(m, d)``)."""
    import torch

    with torch.no_grad():
        posterior = model.posterior(torch.as_tensor(x, dtype=torch.float64))
        mean = posterior.mean.squeeze(-1).numpy()
        sd = posterior.variance.clamp_min(0).sqrt().squeeze(-1).numpy()
    return mean, sd
