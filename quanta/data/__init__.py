"""Data: sources (readers, simulators), transforms, splits and batching.

``quanta.data.load(name, **params)`` creates a registered source; ``quanta
datasets`` lists them. This package never imports ``quanta.models``.
"""

from __future__ import annotations

from typing import Any

from quanta.registry import Registry

SOURCES = Registry("data source", listing="quanta datasets")
SOURCES.declare(
    "jets",
    "quanta.data.jets:jets",
    "Top-quark vs QCD jets from Pythia 8 + FastJet (anti-kt R=0.8); views features, constituents, image",
)


def load(name: str, **params: Any):
    """Load registered source ``name`` with its parameters; returns a :class:`Dataset`."""
    return SOURCES.create(name, **params)


def register(name: str, description: str | None = None):
    """Decorator registering a user source: a function of keyword parameters returning a Dataset."""
    return SOURCES.register(name, description)


__all__ = ["SOURCES", "load", "register"]
