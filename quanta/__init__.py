"""quanta: train, compare, tune and deploy the methods of physics ML lectures.

    import quanta as qt
    data = qt.data.load("jets", view="features", size=20_000, seed=1)
    run = qt.fit("mlp", data, task="binary", epochs=20)
    run.metrics["test"]["auc"]; run.save("results/mlp")
    run = qt.load_run("results/mlp"); run.report()

Heavy libraries (torch, Pythia, matplotlib) are imported only when needed.
"""

from __future__ import annotations

__version__ = "0.1.0"

from quanta import data, tune  # noqa: E402  (light: registries; tune is callable, its search lazy)


def fit(model, data, task: str = "binary", **options):
    """Train a model (registered name or ``torch.nn.Module``) or method on data; returns a Run."""
    from quanta.api import fit as _fit

    return _fit(model, data, task=task, **options)


def load_run(directory, method=None):
    """Reopen a finished run directory: metrics, history, predict, report (see quanta.api.load_run)."""
    from quanta.api import load_run as _load

    return _load(directory, method)


def run_experiment(experiment, **overrides):
    """Run an experiment file (path) or dict; returns the finished ExperimentRun."""
    from quanta.experiment import run_experiment as _run

    return _run(experiment, **overrides)


def optimise(function, bounds, **options):
    """Bayesian optimisation of an expensive function of a few parameters (quanta.bayesopt.optimise)."""
    from quanta.bayesopt import optimise as _optimise

    return _optimise(function, bounds, **options)


__all__ = ["__version__", "data", "fit", "load_run", "optimise", "run_experiment", "tune"]
