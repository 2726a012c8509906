"""Gaussian-process regression (kriging) on GPyTorch, with per-point measurement noise.

A Gaussian process is a prior over functions f(x) with covariance k(x, x')
(the kernel, :mod:`quanta.methods.kernels`); conditioned on the measured
points it gives, at any new x, a Gaussian for f(x): a mean and a variance that
grows away from the data (Rasmussen & Williams 2006, *Gaussian Processes for
Machine Learning*, ch. 2). The kernel's amplitudes and length scales (and the
noise, if learned) are chosen by maximising the exact marginal likelihood of
the training targets (``gpytorch.mlls.ExactMarginalLogLikelihood``).

Measurements of a scan rarely share one error: counting statistics give each
point sigma_i = sqrt(counts_i) / exposure_i. ``noise:`` names an array of the
data set holding each point's standard deviation; the likelihood then takes
those variances as known (``FixedNoiseGaussianLikelihood``), optionally plus
one learned extra variance (``learn_noise``). Without ``noise:`` one
homoscedastic noise variance is learned.

The uncertainty the method reports is that of a *measured* value, not of the
underlying function: sigma^2 = var f(x) + noise(x), because the report checks
it against measured targets (coverage, pulls) and only the sum is honest there.
noise(x) is the point's own variance where the scored part carries the
``noise`` array (valid and test splits of the same data do), plus the learned
extra variance; at new points without the array it is the learned variance
alone (zero with ``noise:`` and ``learn_noise: false``: then sigma is the
function's own uncertainty). Inputs are standardised on the training split and
targets standardised; the fit is in float64 (Cholesky factors of kernel
matrices lose too much in float32) and has no random draws (GPyTorch's fixed
initial hyperparameters, full-batch gradients), so it repeats exactly.

An exact GP costs rows^2 memory and rows^3 time: more than ``max_rows``
training rows are refused. It is saved without pickle: one safetensors file
(:mod:`quanta.train.checkpoint`, digest checked on load) holding the model's
``state_dict``, the standardised training inputs, targets and noise (an exact
GP predicts from them), and in its header the kernel formula and scalings from
which the model is rebuilt.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.errors import UserError
from quanta.methods.base import Method, table
from quanta.methods.kernels import build_kernel, parse_kernel

MODEL_FILE = "gaussian_process.safetensors"
FORMAT = "quanta.gaussian_process/1"
INSTALL = "pip install 'quanta[bayes]'"
_CHUNK = 2048  # test points per prediction call: a [chunk, train] cross-covariance at a time


def _gpytorch():
    """GPyTorch and torch, imported when a GP is used (``import quanta`` stays light)."""
    try:
        import gpytorch
        import torch
    except ImportError:
        raise UserError(f"gaussian_process: needs GPyTorch; {INSTALL}") from None
    return gpytorch, torch


def _exact_gp(x, y, likelihood, kernel):
    """A GPyTorch exact GP with a constant mean and ``kernel`` on the training points ``x [N, F]``, ``y [N]``."""
    gpytorch, _ = _gpytorch()

    class ExactGaussianProcess(gpytorch.models.ExactGP):
        def __init__(self):
            super().__init__(x, y, likelihood)
            self.mean_module = gpytorch.means.ConstantMean()
            self.covar_module = kernel

        def forward(self, inputs):
            return gpytorch.distributions.MultivariateNormal(self.mean_module(inputs),
                                                             self.covar_module(inputs))

    return ExactGaussianProcess()


def _draw_start(model, draws: np.random.Generator) -> None:
    """Starting length scales and periods of every base kernel, log-uniform in [0.1, 3]."""
    for kernel in model.covar_module.modules():
        for name in ("lengthscale", "period_length"):
            if getattr(kernel, f"raw_{name}", None) is not None:
                shape = getattr(kernel, name).shape
                kernel.initialize(**{name: np.exp(draws.uniform(np.log(0.1), np.log(3.0), shape))})


class GaussianProcess(Method):
    """Gaussian-process regression (GPyTorch): predictive mean and band; per-point measurement noise

    Args:
        kernel: a kernel formula, names ``rbf``, ``matern12``, ``matern32``,
            ``matern52``, ``periodic`` joined by ``+`` and ``*`` (``"rbf + periodic"``).
        noise: the name of an array of the data set holding each point's measurement
            standard deviation (in the targets' units); None: one noise level is learned.
        learn_noise: with ``noise``, also learn one extra noise variance shared by all points.
        iterations: optimiser steps on the negative marginal log-likelihood.
        optimizer: ``adam`` (steps of size ``lr``) or ``lbfgs`` (quasi-Newton, line search).
        lr: the Adam step size (on the log-scale hyperparameters), or L-BFGS's first step.
        restarts: fits from different starting hyperparameters, the one of highest marginal
            likelihood kept: the first from GPyTorch's defaults, the others with length scales
            and periods drawn log-uniformly in [0.1, 3] (standardised units); a periodic
            kernel needs several, its likelihood has a local maximum at every fraction of the period.
        seed: the seed of those draws.
        max_rows: the most training rows accepted (time grows as rows^3).

    The uncertainty is that of a measured value (see the module). Event weights
    (``weight``) do not enter the fit, only the metrics: give measurement errors as
    ``noise``. Several targets at once are refused (one entry per target).
    """

    def __init__(self, kernel: str = "rbf", noise: str | None = None, learn_noise: bool = False,
                 iterations: Annotated[int, Field(ge=1, le=100_000)] = 150,
                 optimizer: Literal["adam", "lbfgs"] = "adam",
                 lr: Annotated[float, Field(gt=0, le=10)] = 0.1,
                 restarts: Annotated[int, Field(ge=1, le=100)] = 1, seed: int = 0,
                 max_rows: Annotated[int, Field(ge=1)] = 5_000):
        self.kernel = kernel
        self.noise = noise
        self.learn_noise = learn_noise
        self.iterations = iterations
        self.optimizer = optimizer
        self.lr = lr
        self.restarts = restarts
        self.seed = seed
        self.max_rows = max_rows
        self.history = []

    @classmethod
    def check_entry(cls, params: dict[str, Any], where: str, entry: dict[str, Any],
                    earlier: list[dict[str, Any]]) -> None:
        parse_kernel(params.get("kernel", "rbf"), f"{where}.kernel")

    @classmethod
    def check_data(cls, train: Any) -> None:
        if train.streamed:
            from quanta.methods.sklearn import needs_memory

            raise needs_memory("gaussian_process", train)

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, train, valid, task, **context: Any) -> GaussianProcess:
        """Fit the kernel's hyperparameters by the exact marginal likelihood of the training targets."""
        if task.evaluation.output != "values":
            raise UserError(f"gaussian_process: task '{task.name}' is not supported; allowed: "
                            "regression")
        self.check_data(train)
        terms = parse_kernel(self.kernel, "gaussian_process.kernel")
        rows = len(train)
        if rows > self.max_rows:
            raise UserError(f"gaussian_process: {rows:,} training rows are more than "
                            f"max_rows={self.max_rows:,} (an exact GP costs rows^2 memory and "
                            "rows^3 time); subsample (data.size), raise max_rows, or use "
                            "kernel_map or boosted_trees")
        if rows < 2:
            raise UserError(f"gaussian_process: needs at least 2 training rows; received {rows}")
        y = np.asarray(train.y, dtype=np.float64)
        if y.ndim > 1 and y.reshape(len(y), -1).shape[1] > 1:
            raise UserError(f"gaussian_process: regression of {y.reshape(len(y), -1).shape[1]} "
                            "targets at once is not supported; fit one target per method entry")
        gpytorch, torch = _gpytorch()
        x = table(train).astype(np.float64)
        self.target_shape_ = list(y.shape[1:])
        y = y.reshape(len(y))
        self.x_mean_, self.x_scale_ = x.mean(axis=0), x.std(axis=0)
        self.x_scale_[self.x_scale_ == 0] = 1.0
        self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std()) or 1.0
        noise = None if self.noise is None else self._point_noise(train, required=True)
        self.inputs_ = x.shape[1]
        x = torch.from_numpy((x - self.x_mean_) / self.x_scale_)
        y = torch.from_numpy((y - self.y_mean_) / self.y_scale_)
        callbacks = context.get("callbacks")
        self.notify(callbacks, "on_fit_start", self)
        draws = np.random.default_rng(self.seed)
        best = None
        for restart in range(self.restarts):
            model = self._model(x, y, noise, terms)
            if restart:
                _draw_start(model, draws)
            history = self._maximise_likelihood(model, callbacks, restart * self.iterations)
            if best is None or history[-1]["train_loss"] < best[1][-1]["train_loss"]:
                best = model, history
        self.model_, self.history = best  # the history of the start that was kept
        self.notify(callbacks, "on_fit_end", self)
        return self

    def _point_noise(self, part, required: bool):
        """The part's measurement variances in standardised target units, float64 [N] (None if absent)."""
        _, torch = _gpytorch()
        if self.noise not in part:
            if required:
                arrays = ", ".join(sorted(part.arrays)) if hasattr(part, "arrays") else "none"
                raise UserError(f"gaussian_process.noise: the data set has no array '{self.noise}' "
                                f"of measurement errors; it has: {arrays}")
            return None
        sigma = np.asarray(part[self.noise], dtype=np.float64).reshape(len(part), -1)
        if sigma.shape[1] != 1:
            raise UserError(f"gaussian_process.noise: '{self.noise}' must hold one standard "
                            f"deviation per point; received shape {list(part[self.noise].shape)}")
        sigma = sigma[:, 0]
        bad = int(np.sum(~np.isfinite(sigma) | (sigma < 0)))
        if bad:
            raise UserError(f"gaussian_process.noise: '{self.noise}' must hold finite standard "
                            f"deviations >= 0; {bad} of {len(sigma)} are not")
        # a floor keeps the kernel matrix invertible where a point claims no error at all
        return torch.from_numpy(np.maximum((sigma / self.y_scale_) ** 2, 1e-8))

    def _model(self, x, y, noise, terms):
        gpytorch, _ = _gpytorch()
        if noise is None:
            likelihood = gpytorch.likelihoods.GaussianLikelihood()
        else:
            likelihood = gpytorch.likelihoods.FixedNoiseGaussianLikelihood(
                noise=noise, learn_additional_noise=self.learn_noise)
        return _exact_gp(x, y, likelihood, build_kernel(terms, x.shape[1])).double()

    def _maximise_likelihood(self, model, callbacks, done: int) -> list[dict[str, Any]]:
        """Optimise ``model``'s hyperparameters; its records, one per iteration (``done`` before it)."""
        gpytorch, torch = _gpytorch()
        model.train()
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
        x, y = model.train_inputs[0], model.train_targets

        def loss():
            return -mll(model(x), y)

        if self.optimizer == "adam":
            optimiser = torch.optim.Adam(model.parameters(), lr=self.lr)
        else:
            optimiser = torch.optim.LBFGS(model.parameters(), lr=self.lr, max_iter=1,
                                          line_search_fn="strong_wolfe")
        history = []
        for iteration in range(1, self.iterations + 1):
            def closure():
                optimiser.zero_grad()
                value = loss()
                value.backward()
                return value

            value = float(optimiser.step(closure).detach())
            if not math.isfinite(value):
                raise UserError(f"gaussian_process: the marginal likelihood became {value} at "
                                f"iteration {iteration}; lower lr or try another kernel")
            record = {"epoch": iteration, "train_loss": value}  # negative MLL per training point
            history.append(record)
            self.notify(callbacks, "on_epoch_end", self, done + iteration, record)
        model.eval()
        return history

    # -- prediction ---------------------------------------------------------------------------
    def predict_with_uncertainty(self, data) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation of a measured value at each row (see the module)."""
        self._check_fitted("model_")
        if data.streamed:  # new files read from disk: chunk by chunk, in the part's order
            pieces = [self.predict_with_uncertainty(chunk) for chunk in data.in_chunks()]
            if not pieces:
                empty = np.zeros((0, *self.target_shape_), np.float32)
                return empty, empty.copy()
            return tuple(np.concatenate(arrays) for arrays in zip(*pieces, strict=True))
        gpytorch, torch = _gpytorch()
        x = (table(data).astype(np.float64) - self.x_mean_) / self.x_scale_
        if x.shape[1] != self.inputs_:
            raise UserError(f"gaussian_process: fitted on {self.inputs_} inputs; received "
                            f"{x.shape[1]}")
        means, variances = [], []
        self.model_.eval()
        with torch.no_grad(), warnings.catch_warnings():
            # scoring the training split itself is intended, not a forgotten model.train()
            warnings.simplefilter("ignore", gpytorch.utils.warnings.GPInputWarning)
            for start in range(0, len(x), _CHUNK):
                latent = self.model_(torch.from_numpy(x[start:start + _CHUNK]))
                means.append(latent.mean.numpy())
                variances.append(latent.variance.clamp_min(0).numpy())
        mean = np.concatenate(means) if means else np.zeros(0)
        variance = (np.concatenate(variances) if variances else np.zeros(0)) + self._noise_at(data)
        shape = (len(mean), *self.target_shape_)
        prediction = (mean * self.y_scale_ + self.y_mean_).reshape(shape).astype(np.float32)
        sigma = (np.sqrt(variance) * self.y_scale_).reshape(shape).astype(np.float32)
        return prediction, sigma

    def _noise_at(self, data) -> np.ndarray | float:
        """The measurement variance at each row, standardised: the point's own and the learned one."""
        likelihood = self.model_.likelihood
        if self.noise is None:
            return float(likelihood.noise.detach().reshape(-1)[0])
        extra = float(likelihood.second_noise.detach().reshape(-1)[0]) if self.learn_noise else 0.0
        own = self._point_noise(data, required=False)
        return extra if own is None else own.numpy() + extra

    def predict(self, data) -> np.ndarray:
        return self.predict_with_uncertainty(data)[0]

    # -- persistence: safetensors + the JSON header, never pickle -----------------------------
    def _description(self) -> dict[str, Any]:
        return {"format": FORMAT, "kernel": self.kernel, "noise": self.noise,
                "learn_noise": self.learn_noise, "iterations": self.iterations,
                "optimizer": self.optimizer, "lr": self.lr, "restarts": self.restarts,
                "seed": self.seed, "max_rows": self.max_rows,
                "inputs": self.inputs_, "target_shape": self.target_shape_,
                "x_mean": self.x_mean_.tolist(), "x_scale": self.x_scale_.tolist(),
                "y_mean": self.y_mean_, "y_scale": self.y_scale_}

    def save(self, directory: str | Path) -> Path:
        self._check_fitted("model_")
        from quanta.train.checkpoint import save_checkpoint

        model = self.model_
        tensors = {f"state.{k}": v.detach().clone() for k, v in model.state_dict().items()}
        tensors["train_x"] = model.train_inputs[0].detach().clone()
        tensors["train_y"] = model.train_targets.detach().clone()
        if self.noise is not None:
            tensors["train_noise"] = model.likelihood.noise_covar.noise.detach().clone()
        path = Path(directory) / MODEL_FILE
        save_checkpoint(path, tensors, self._description())
        return path

    @classmethod
    def load(cls, directory: str | Path) -> GaussianProcess:
        from quanta.train.checkpoint import load_checkpoint

        path = Path(directory) / MODEL_FILE
        if not path.exists():
            raise UserError(f"{path}: no saved Gaussian process here")
        tensors, meta = load_checkpoint(path)  # refuses a file whose digest does not match
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise UserError(f"{path}: not a saved Gaussian process ({FORMAT})")
        try:
            method = cls(str(meta["kernel"]), meta["noise"], bool(meta["learn_noise"]),
                         int(meta["iterations"]), meta["optimizer"], float(meta["lr"]),
                         int(meta["restarts"]), int(meta["seed"]), int(meta["max_rows"]))
            if method.optimizer not in ("adam", "lbfgs") or not (
                    method.noise is None or isinstance(method.noise, str)):
                raise ValueError("unknown optimizer or noise name")
            terms = parse_kernel(method.kernel, f"{path}: kernel")
            method.inputs_ = int(meta["inputs"])
            method.target_shape_ = [int(n) for n in meta["target_shape"]]
            method.x_mean_ = np.asarray(meta["x_mean"], dtype=np.float64)
            method.x_scale_ = np.asarray(meta["x_scale"], dtype=np.float64)
            method.y_mean_, method.y_scale_ = float(meta["y_mean"]), float(meta["y_scale"])
            x, y = tensors["train_x"].double(), tensors["train_y"].double()
            if x.ndim != 2 or x.shape[1] != method.inputs_ or y.shape != (len(x),) or \
                    method.x_mean_.shape != (method.inputs_,):
                raise ValueError("training tensors do not match the description")
            noise = None if method.noise is None else tensors["train_noise"].double()
            method.model_ = method._model(x, y, noise, terms)
            state = {k[len("state."):]: v for k, v in tensors.items() if k.startswith("state.")}
            method.model_.load_state_dict(state, strict=True)
        except UserError:
            raise
        except KeyError as error:
            raise UserError(f"{path}: cannot rebuild the saved Gaussian process (it lacks "
                            f"{error})") from None
        except (ValueError, TypeError, RuntimeError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise UserError(f"{path}: cannot rebuild the saved Gaussian process ({reason})") from None
        method.model_.eval()
        return method


__all__ = ["GaussianProcess", "MODEL_FILE"]
