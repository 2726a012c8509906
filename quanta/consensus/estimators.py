"""Quick radius estimators: named functions of a curve, and a network trained with quanta.

An :class:`Estimator` wraps ``function(q, I, dI) -> radius`` or ``(radius, sigma)``;
the Guinier law and the first minimum are built in by name
(:mod:`quanta.inference.size_estimates`); :class:`NetworkEstimator` reads the
radius from a quanta run's network, and :func:`train_network` trains one on the
``saxs`` source through :func:`quanta.fit`, which is why this room sits above
the front doors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quanta.consensus.curves import CurvePrior, CurveSet, grid_text
from quanta.errors import UserError, first_line, shown, unknown_name
from quanta.inference.size_estimates import first_minimum_radius, guinier_radius

NETWORK_POLYDISPERSITIES = 5  # saxs data sets spanning the prior's polydispersity range ...
NETWORK_FLUXES = 3  # ... times its flux range: the network's training set


class Estimator:
    """A named quick radius estimate: ``function(q, I, dI) -> radius`` or ``(radius, sigma)`` (A).

    ``sigma`` is the estimator's own uncertainty (a fit's standard error), used
    only by the naive combination. A curve that does not allow the estimate
    raises :class:`UserError` (a missing value). ``estimate_many`` loops over
    the curves; a batched estimator overrides it.
    """

    kind = "custom"

    def __init__(self, name: str, function: Callable[..., Any], kind: str | None = None) -> None:
        self.name, self.function = str(name), function
        self.kind = kind or self.kind

    def estimate(self, q: np.ndarray, intensity: np.ndarray,
                 sigma: np.ndarray) -> tuple[float, float | None]:
        """Radius and own sigma (None if it has none) in A for one curve (float64[n] each)."""
        value = self.function(q, intensity, sigma)
        radius, own = value if isinstance(value, tuple) else (value, None)
        return float(radius), (None if own is None else float(own))

    def estimate_many(self, curves: CurveSet) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        """Radii and own sigmas float64[N] (NaN where missing) and the failures {row: message}."""
        radius, own = np.full(len(curves), np.nan), np.full(len(curves), np.nan)
        failures: dict[int, str] = {}
        for i in range(len(curves)):
            try:
                radius[i], sigma = self.estimate(curves.q, curves.intensity[i], curves.sigma[i])
            except UserError as error:
                failures[i] = first_line(error)
                continue
            own[i] = np.nan if sigma is None else sigma
            if not (radius[i] > 0 and np.isfinite(radius[i])):
                failures[i] = f"{self.name}: gave no positive finite radius ({radius[i]})"
                radius[i] = np.nan
        return radius, own, failures

    def to_json(self, path: Path) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind}


BUILT_IN: dict[str, Callable[..., Any]] = {"guinier": guinier_radius,
                                           "first_minimum": first_minimum_radius}


def estimator(name: str) -> Estimator:
    """A built-in estimator by name: ``guinier`` or ``first_minimum`` (networks: train_network)."""
    if name == "network":
        raise UserError("estimators: 'network' needs a trained network; pass train_network(prior) "
                        "or NetworkEstimator(run, q), or use Consensus.simulated, which trains one")
    if name not in BUILT_IN:
        raise unknown_name("estimator", name, [*BUILT_IN, "network"])
    return Estimator(name, BUILT_IN[name], kind=name)


class NetworkEstimator(Estimator):
    """The radius a quanta run's network reads from a curve's log10 intensities on its own grid.

    Args:
        run: a :class:`quanta.api.Run`, or a saved run directory (``quanta.load_run``), whose
            regression predicts ``target`` from ``x = log10 I`` float32[N, n] (a zero-count bin at
            half a count, ``0.5 dI``), as the ``saxs`` source's curve view gives it.
        q: float[n], the grid it was trained on (1/A); other grids are refused.
        target: ``log_radius`` (ln R) or ``radius`` (R in A, the saxs source's ``radius`` target).
        temporary: the run lives in a temporary folder; :meth:`Consensus.save` copies it.
    """

    kind = "network"

    def __init__(self, run: Any, q: np.ndarray, target: str = "log_radius",
                 name: str = "network", temporary: bool = False) -> None:
        if target not in ("log_radius", "radius"):
            raise UserError(f"target: must be 'log_radius' or 'radius'; received {shown(target)}")
        if isinstance(run, (str, Path)):
            from quanta.api import load_run

            run = load_run(run)
        super().__init__(name, self.estimate)
        self.run, self.q = run, np.asarray(q, dtype=np.float64)
        self.target, self.temporary = target, temporary

    def estimate(self, q: np.ndarray, intensity: np.ndarray,
                 sigma: np.ndarray) -> tuple[float, float | None]:
        curves = CurveSet(q, np.atleast_2d(intensity), np.atleast_2d(sigma))
        radius, own, failures = self.estimate_many(curves)
        if failures:
            raise UserError(failures[0])
        return float(radius[0]), (None if np.isnan(own[0]) else float(own[0]))

    def estimate_many(self, curves: CurveSet) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        from quanta.data.dataset import from_arrays
        from quanta.estimators import predict_with_uncertainty

        if len(curves.q) != len(self.q) or not np.allclose(curves.q, self.q, rtol=1e-4, atol=0):
            raise UserError(f"q: the network '{self.name}' was trained on {grid_text(self.q)}; "
                            f"the curve has {grid_text(curves.q)}")
        x = np.log10(np.where(curves.intensity > 0, curves.intensity, 0.5 * curves.sigma))
        scores, spread = predict_with_uncertainty(self.run.estimator, from_arrays(x))
        scores = np.asarray(scores, dtype=np.float64).reshape(len(curves))
        spread = (np.full(len(curves), np.nan) if spread is None
                  else np.asarray(spread, dtype=np.float64).reshape(len(curves)))
        if self.target == "log_radius":
            scores, spread = np.exp(scores), np.exp(scores) * spread
        bad = ~(scores > 0) | ~np.isfinite(scores)
        failures = {int(i): f"{self.name}: no positive radius" for i in np.flatnonzero(bad)}
        return np.where(bad, np.nan, scores), spread, failures

    def to_json(self, path: Path) -> dict[str, Any]:
        folder = Path(self.run.directory)
        if self.temporary:  # trained on the fly, in a temporary folder: keep a copy by the file
            folder = path.with_name(f"{path.stem}-{self.name}-run")
            self.run.save(folder)
            self.temporary = False
        where = folder.resolve()
        if where.is_relative_to(path.parent.resolve()):
            where = where.relative_to(path.parent.resolve())
        return {"name": self.name, "kind": self.kind, "run": str(where), "target": self.target}


def train_network(prior: CurvePrior | None = None, size: int = 4500, seed: int = 1,
                  epochs: int = 40, hidden: Sequence[int] = (64, 64),
                  name: str = "network") -> NetworkEstimator:
    """An MLP trained by ``quanta.fit`` on ``saxs`` sphere curves across ``prior``: ln R from log I.

    The ``saxs`` source has one polydispersity and one flux per data set, so the
    training set joins :data:`NETWORK_POLYDISPERSITIES` x :data:`NETWORK_FLUXES`
    of them across the prior's ranges (``size`` curves in all). A Gaussian head
    gives the network's own sigma. About 4 s on one core at the defaults.
    """
    from quanta.api import fit
    from quanta.simulators.saxs import saxs

    prior = prior or CurvePrior()
    per_set = max(2, size // (NETWORK_POLYDISPERSITIES * NETWORK_FLUXES))
    grid = {"q_min": prior.q_min, "q_max": prior.q_max, "n_q": prior.n_q,
            "dq_over_q": prior.dq_over_q, "background": prior.background,
            "radius_min": prior.radius[0], "radius_max": prior.radius[1]}
    inputs, targets = [], []
    for i, spread in enumerate(np.linspace(*prior.polydispersity, NETWORK_POLYDISPERSITIES)):
        for j, flux in enumerate(np.geomspace(*prior.flux, NETWORK_FLUXES)):
            data = saxs(view="curve", target="radius", size=per_set, shapes=("sphere",),
                        seed=int(seed) * 1000 + 10 * i + j, polydispersity=float(spread),
                        flux=float(flux), workers=1, progress=False, **grid)
            inputs.append(data.x)
            targets.append(np.log(data.y.astype(np.float64)).astype(np.float32))
    run = fit("mlp", (np.concatenate(inputs), np.concatenate(targets)), task="regression",
              task_params={"likelihood": "gaussian"}, params={"hidden": list(hidden)}, name=name,
              seed=seed, epochs=epochs, batch_size=128, lr=3e-3)
    return NetworkEstimator(run, prior.q, "log_radius", name=name, temporary=True)


def chosen_estimators(estimators: Sequence[Estimator | str]) -> list[Estimator]:
    """The estimators of a list of objects and built-in names, checked."""
    if isinstance(estimators, (str, Estimator)) or not len(estimators):
        raise UserError(f"estimators: must be a non-empty list of estimators or names "
                        f"({', '.join([*BUILT_IN, 'network'])}); received {shown(estimators)}")
    chosen = [estimator(e) if isinstance(e, str) else e for e in estimators]
    for one in chosen:
        if not isinstance(one, Estimator):
            raise UserError(f"estimators: must be Estimator objects or names; "
                            f"received {shown(one)}")
    names = [e.name for e in chosen]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"estimators: names must differ; {twice[0]!r} appears more than once")
    return chosen
