"""The autonomous scattering experiment: a Gaussian process decides where the beam measures next.

A simulated beamline (:mod:`~quanta.autonomous.beamline`) scans a 2D sample
whose particle radius and polydispersity vary smoothly in space
(:mod:`~quanta.autonomous.sample`). Each measurement is a counted SAXS curve
(the ``saxs`` source's sphere kernels, noise falling with exposure), from
which one feature is read with its standard error (:mod:`~quanta.autonomous.features`:
the Guinier radius by default). The ``gp`` strategy fits a Gaussian process to
the features (per-point noise) and measures next where the posterior variance
per second of beam time is largest; ``raster`` and ``random`` are what a user
would otherwise do (:mod:`~quanta.autonomous.strategies`). The loop, its
budget (measurements and/or seconds), its log and resuming live in
:mod:`~quanta.autonomous.campaign`; the map and its error in
:mod:`~quanta.autonomous.reconstruction`; all strategies over several seeds,
the figures and ``summary.json`` in :mod:`~quanta.autonomous.compare`;
``quanta autonomous CONFIG`` reads the YAML file of :mod:`~quanta.autonomous.config`.

Example (a small campaign and a comparison; a few seconds)::

    >>> from quanta.autonomous import compare_strategies, run_campaign
    >>> settings = {"budget": {"measurements": 24}, "error": {"grid": 20, "every": 8},
    ...             "gp": {"initial": 8, "batch": 8}, "seeds": [0, 1]}
    >>> campaign = run_campaign(settings, strategy="gp", seed=0)
    >>> len(campaign.measurements), campaign.errors[:, 0].tolist()
    (24, [8.0, 16.0, 24.0])
    >>> bool(campaign.errors[-1, 2] < campaign.errors[0, 2])  # the map improves as it measures
    True
    >>> comparison = compare_strategies(settings)  # out="folder/" writes logs, figures, summary
    >>> sorted(comparison.summary["strategies"])
    ['gp', 'random', 'raster']
"""

from __future__ import annotations

from quanta.autonomous.campaign import Campaign, Measurement, run_campaign
from quanta.autonomous.compare import Comparison, compare_strategies, summary_table
from quanta.autonomous.config import AutonomousConfig, autonomous_config, read_autonomous_config

__all__ = [
    "AutonomousConfig",
    "Campaign",
    "Comparison",
    "Measurement",
    "autonomous_config",
    "compare_strategies",
    "read_autonomous_config",
    "run_campaign",
    "summary_table",
]
