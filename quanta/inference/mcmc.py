"""Markov chain Monte Carlo fits of a scattering curve with emcee, and their convergence diagnostics.

emcee's affine-invariant ensemble sampler (Goodman & Weare 2010;
Foreman-Mackey et al. 2013) moves ``walkers`` chains together, each proposing
a stretch along the line to another walker, so it needs no tuned step size
and copes with the strong correlations of scattering fits (radius with
polydispersity, scale with radius). Diagnostics, as emcee's documentation
advises: the mean acceptance fraction (0.2-0.5 is healthy), the integrated
autocorrelation time tau of each parameter (in steps), the effective sample
size walkers * kept steps / tau, and whether the kept chain is longer than
50 tau; a shorter one gets a warning.

References:
    J. Goodman, J. Weare, Commun. Appl. Math. Comput. Sci. 5 (2010) 65.
    D. Foreman-Mackey, D. W. Hogg, D. Lang, J. Goodman, PASP 125 (2013) 306 (emcee).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from quanta.errors import UserError
from quanta.inference.curve import check_curve
from quanta.inference.model import CurveModel

LONG_ENOUGH = 50  # kept steps per autocorrelation time for a trustworthy chain (emcee's advice)
BALL = 0.5  # walkers start within this many least-squares standard errors of the optimum


@dataclass
class Posterior:
    """The sampled posterior of a curve fit: chains, diagnostics and the data fitted.

    ``chain`` holds parameter values in their units, [steps, walkers, p];
    the first ``burn`` steps are burn-in and left out of ``samples``.
    """

    model: str
    names: tuple[str, ...]
    units: tuple[str, ...]
    priors: dict[str, tuple[float, float, bool]]  # name -> (low, high, sampled in log10)
    chain: np.ndarray  # float64[steps, walkers, p]
    log_probability: np.ndarray  # float64[steps, walkers]
    burn: int
    acceptance: np.ndarray  # float64[walkers]
    tau: np.ndarray  # float64[p] integrated autocorrelation time in steps (sampling coordinates)
    start: np.ndarray  # float64[p] the least-squares optimum the walkers started around
    q: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray
    sigma_assumed: bool  # True when dI was not given and counting errors were assumed
    dq_over_q: float
    seed: int
    curve_model: CurveModel = field(repr=False)

    @property
    def samples(self) -> np.ndarray:
        """Post-burn-in samples, float64[walkers * kept steps, p]."""
        return self.chain[self.burn:].reshape(-1, len(self.names))

    @property
    def kept_steps(self) -> int:
        return self.chain.shape[0] - self.burn

    @property
    def effective_samples(self) -> np.ndarray:
        """Effective sample size per parameter: walkers * kept steps / tau."""
        return self.chain.shape[1] * self.kept_steps / self.tau

    @property
    def long_enough(self) -> bool:
        """Whether the kept chain is longer than 50 autocorrelation times of every parameter."""
        return bool(self.kept_steps > LONG_ENOUGH * np.max(self.tau))

    def interval(self, level: float = 0.68) -> tuple[np.ndarray, np.ndarray]:
        """The central credible interval of each parameter (quantiles (1 -+ level) / 2)."""
        low, high = np.quantile(self.samples, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return low, high

    def median(self) -> np.ndarray:
        return np.median(self.samples, axis=0)

    def band(self, draws: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
        """The model curve's posterior band on the measured q: median and 68 % / 95 % limits.

        ``draws`` posterior samples are evaluated; the band is that of the
        model intensity (not of new noisy data).
        """
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(self.samples), size=min(draws, len(self.samples)), replace=False)
        theta = self.curve_model.sampling(self.samples[picks])
        curves = np.stack([self.curve_model.intensity_at(t) for t in theta])  # [draws, n]
        quantiles = np.quantile(curves, [0.025, 0.16, 0.5, 0.84, 0.975], axis=0)
        return dict(zip(("low95", "low68", "median", "high68", "high95"), quantiles, strict=True))

    def summary(self) -> dict:
        """Median, 16/84 % and 2.5/97.5 % quantiles per parameter and the diagnostics (JSON-ready)."""
        low68, high68 = self.interval(0.68)
        low95, high95 = self.interval(0.95)
        median = self.median()
        parameters = {name: {"unit": unit, "median": float(median[i]), "p16": float(low68[i]),
                             "p84": float(high68[i]), "p2.5": float(low95[i]), "p97.5": float(high95[i]),
                             "least_squares": float(self.start[i]),
                             "autocorrelation_time": _finite(self.tau[i]),
                             "effective_samples": _finite(self.effective_samples[i]),
                             "prior": {"low": self.priors[name][0], "high": self.priors[name][1],
                                       "log10": self.priors[name][2]}}
                      for i, (name, unit) in enumerate(zip(self.names, self.units, strict=True))}
        best = self.log_probability[self.burn:].max()
        return {"model": self.model, "parameters": parameters,
                "walkers": int(self.chain.shape[1]), "steps": int(self.chain.shape[0]), "burn": self.burn,
                "seed": self.seed, "acceptance_fraction": float(np.mean(self.acceptance)),
                "long_enough": self.long_enough,
                "long_enough_rule": f"kept steps > {LONG_ENOUGH} x max autocorrelation time",
                "points": int(len(self.q)), "chi2_min": float(-2 * best),
                "sigma": "assumed: Poisson counting errors, exposure from the least-squares scatter"
                         if self.sigma_assumed else "given (dI column)",
                "dq_over_q": self.dq_over_q}


def _finite(value: float) -> float | None:
    """A float for strict JSON: None where emcee could not estimate it."""
    return float(value) if np.isfinite(value) else None


def fit_curve(q: np.ndarray, intensity: np.ndarray, sigma: np.ndarray | None = None, model: str = "sphere", *,
              walkers: int = 32, steps: int = 3000, burn: int | None = None, seed: int = 1,
              priors: dict[str, tuple[float, float]] | None = None, dq_over_q: float = 0.0,
              progress: bool = False) -> Posterior:
    """Sample the posterior of a scattering model's parameters given a measured curve.

    Args:
        q: momentum transfer in 1/A, float[n] (> 0).
        intensity: measured I(q) in cm^-1, float[n].
        sigma: its standard uncertainty dI (> 0). If None, Poisson counting
            errors are assumed: dI proportional to sqrt(I), the exposure
            (counts per unit intensity) estimated from the scatter of the data
            about the least-squares fit, dI = sqrt(I_fit / exposure).
        model: ``sphere``, ``core_shell_sphere`` or ``cylinder``
            (:data:`quanta.inference.model.MODELS`, where the priors are stated).
        walkers: emcee walkers (>= 2 x the number of parameters).
        steps: steps per walker.
        burn: steps discarded as burn-in (default steps // 4).
        seed: seeds the start ball and the sampler.
        priors: ``{parameter: (low, high)}`` replacing the default bounds (parameter units).
        dq_over_q: pinhole resolution dq / q (1 sigma) of the instrument (0: none).
        progress: show emcee's progress bar.

    Returns:
        a :class:`Posterior`; a chain shorter than 50 autocorrelation times warns.
    """
    curve = check_curve(q, intensity, sigma, "curve")
    if not (np.isfinite(dq_over_q) and 0 <= dq_over_q <= 0.2):
        raise UserError(f"dq_over_q: must be a relative resolution in [0, 0.2]; received {dq_over_q}")
    counting = curve.sigma is None
    positive = curve.intensity[curve.intensity > 0].min()
    relative = np.sqrt(np.maximum(curve.intensity, positive)) if counting else curve.sigma
    target = CurveModel(model, curve.q, curve.intensity, relative, dq_over_q, priors)
    p = len(target.parameters)
    _check_sampler(walkers, steps, burn, p, model)
    burn = steps // 4 if burn is None else burn
    emcee = _emcee()

    from quanta.inference.start import least_squares_start

    theta0, errors = least_squares_start(target)
    if counting:  # the exposure from the scatter about the fit, then dI = sqrt(I_fit / exposure)
        fitted = target.intensity_at(theta0)
        fitted = np.maximum(fitted, 1e-12 * fitted.max())
        exposure = (len(curve.q) - p) / float(np.sum((curve.intensity - fitted) ** 2 / fitted))
        target.sigma = np.sqrt(fitted / exposure)
        theta0, errors = least_squares_start(target)

    rng = np.random.default_rng(np.random.SeedSequence([seed, 13]))
    span = target.high - target.low
    width = np.clip(BALL * errors, 1e-6 * span, 0.02 * span)
    start = theta0 + width * rng.standard_normal((walkers, p))
    start = np.clip(start, target.low + 1e-7 * span, target.high - 1e-7 * span)

    sampler = emcee.EnsembleSampler(walkers, p, target.log_probability)
    sampler.random_state = np.random.RandomState(seed % 2**32).get_state()
    sampler.run_mcmc(start, steps, progress=progress)
    tau = _autocorrelation(sampler, burn)
    posterior = Posterior(
        model=model, names=target.names, units=tuple(par.unit for par in target.parameters),
        priors={par.name: (par.low, par.high, par.log) for par in target.parameters},
        chain=target.physical(sampler.get_chain()), log_probability=sampler.get_log_prob(), burn=burn,
        acceptance=np.asarray(sampler.acceptance_fraction), tau=tau, start=target.physical(theta0),
        q=curve.q, intensity=curve.intensity, sigma=target.sigma, sigma_assumed=counting,
        dq_over_q=float(dq_over_q), seed=seed, curve_model=target)
    if not posterior.long_enough:
        warnings.warn(f"fit-curve: the kept chain ({posterior.kept_steps} steps) is shorter than "
                      f"{LONG_ENOUGH} autocorrelation times (max tau {np.max(tau):.0f} steps); "
                      "intervals may be unreliable: run more steps", UserWarning, stacklevel=2)
    return posterior


def _autocorrelation(sampler, burn: int) -> np.ndarray:
    """The integrated autocorrelation time per parameter (quanta warns itself when the chain is short)."""
    import logging

    import emcee

    logger = logging.getLogger("emcee.autocorr")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return np.asarray(emcee.autocorr.integrated_time(sampler.get_chain(discard=burn), quiet=True))
    finally:
        logger.setLevel(level)


def _check_sampler(walkers: int, steps: int, burn: int | None, parameters: int, model: str) -> None:
    if not isinstance(walkers, int | np.integer) or walkers < 2 * parameters:
        raise UserError(f"walkers: must be an integer >= {2 * parameters} (2 x the {parameters} parameters "
                        f"of {model}); received {walkers!r}")
    if not isinstance(steps, int | np.integer) or steps < 10:
        raise UserError(f"steps: must be an integer >= 10; received {steps!r}")
    if burn is not None and (not isinstance(burn, int | np.integer) or not 0 <= burn < steps):
        raise UserError(f"burn: must be an integer in [0, steps = {steps}); received {burn!r}")


def _emcee():
    try:
        import emcee
    except ImportError:
        raise UserError("fit-curve: MCMC needs emcee; install it with pip install 'quanta[bayes]'") from None
    return emcee
