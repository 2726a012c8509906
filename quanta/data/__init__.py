"""Data: the source registry, datasets, readers, splits, transforms and batching.

``quanta.data.load(name, **params)`` creates a registered source; ``quanta
datasets`` lists them. ``SOURCES`` declares every built-in source lazily by
import path: the physicist's own files (``quanta.data.files``) and the
simulated or bundled sources, which live in :mod:`quanta.simulators`. Besides
these declarations this package never imports ``quanta.simulators`` (the
simulators import from here), nor ``quanta.models``.

Here: :mod:`~quanta.data.dataset` (``Dataset``), :mod:`~quanta.data.split`,
:mod:`~quanta.data.transforms`, :mod:`~quanta.data.batching`,
:mod:`~quanta.data.reweight`, the file readers
(:mod:`~quanta.data.files`), streaming from disk (:mod:`~quanta.data.stream`)
and ``quanta datasets show`` (:mod:`~quanta.data.display`).
"""

from __future__ import annotations

from typing import Any

from quanta.registry import Registry

SOURCES = Registry("data source", listing="quanta datasets")
for _name, _description in {
    "jets": "Top-quark vs QCD jets from Pythia 8 + FastJet (anti-kt R=0.8); views features, constituents, image, tree",
    "calorimeter": "Particle showers in a sampling calorimeter (GFlash-style): e, gamma, pi; views image2d, image3d, features",
    "pulses": "Digitised scintillator pulses: neutron vs gamma pulse-shape discrimination, arrival time and amplitude",
    "saxs": "Small-angle scattering curves I(q) from sasmodels (sphere, cylinder, core-shell, ellipsoid) and 2D detector images",
    "tracks": "Charged-particle tracks in a solenoid barrel detector: hits, hit graphs with edge labels, track parameters",
    "sequences": "Toy sequence tasks for recurrent networks: palindrome recognition, copy and sum",
    "hzz": "H -> ZZ* -> 4 leptons vs q qbar -> ZZ -> 4 leptons from Pythia 8, with acceptance and smearing",
    "files": "The physicist's own files: NumPy, CSV, Parquet, HDF5, ROOT, with selections, derived variables and padding",
    "digits": "Handwritten digits, 8x8 (scikit-learn's bundled set), optionally upsampled to 32x32 for LeNet-5",
    "energy_calibration": "Calorimeter energy calibration in barrel and endcaps: a different response law in each detector region",
    "dynamics": "Hamiltonian dynamics: mass-spring, pendulum, two-body orbits; derivatives or trajectories",
}.items():
    _package = "quanta.data" if _name == "files" else "quanta.simulators"
    SOURCES.declare(_name, f"{_package}.{_name}:{_name}", _description)
# environments: an agent's data (quanta.agents)
SOURCES.declare("gymnasium", "quanta.agents.environment:gymnasium",
                "A Gymnasium environment by its id (CartPole-v1, Acrobot-v1, FrozenLake-v1, ...): episodes as data")
SOURCES.declare("beam_steering", "quanta.agents.beam_steering:beam_steering",
                "Steering a beam through quadrupoles and correctors onto a target, read by noisy beam-position monitors")


def load(name: str, **params: Any):
    """Load registered source ``name`` with its parameters; returns a :class:`Dataset`."""
    return SOURCES.create(name, **params)


def register(name: str, description: str | None = None):
    """Decorator registering a user source: a function of keyword parameters returning a Dataset."""
    return SOURCES.register(name, description)


__all__ = ["SOURCES", "load", "register"]
