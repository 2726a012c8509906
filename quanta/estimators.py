"""The estimator contract: everything an experiment can list, built by one factory.

An *estimator* is what one entry of ``methods:`` becomes: a network
(``model:``, :class:`quanta.train.network.Network`), a classical method
(``method:``, :class:`quanta.methods.base.Method`) or a reinforcement-learning
agent (``agent:``, :class:`quanta.agents.base.Agent`, on an environment's episodes). The runner knows only this surface::

    estimator.fit(train, valid, task=task, directory=method_dir, callbacks=[...],
                  resume=False, label="mlp")   # parts are Datasets or streamed parts
    estimator.predict(part)                    # task scores, NumPy, row-aligned
    estimator.save(method_dir); Kind.load(method_dir)
    estimator.history                          # per-epoch (or per-round) records
    estimator.predict_with_uncertainty(part)   # optional: (scores, their standard deviations)

Each kind of entry is one :class:`EstimatorKind`: how to build it from the
entry, what to say when it starts, how to load it back. :func:`build` and
:func:`load` are the only places that tell the kinds apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from quanta.errors import UserError


class Estimator(Protocol):
    """The surface every estimator offers (see the module docstring)."""

    history: list[dict[str, Any]]

    def fit(self, train: Any, valid: Any, **context: Any) -> Estimator: ...

    def predict(self, data: Any) -> np.ndarray: ...

    def save(self, directory: str | Path) -> Path: ...


@dataclass(frozen=True)
class EstimatorKind:
    """One kind of ``methods:`` entry: the key that names it and how to build, announce, resume and load it."""

    key: str  # the entry's key: "model", "method" or "agent"
    build: Callable[..., Any]
    announce: Callable[[Any, Any, bool], str]
    load: Callable[[Any, Path], Any]
    can_resume: Callable[[Path], bool]  # whether a method folder holds a checkpoint to continue from
    check_data: Callable[[Any, Any], None]  # refuse a training part the entry cannot learn from


def _entry_value(entry: Any, key: str) -> Any:
    return entry.get(key) if isinstance(entry, dict) else getattr(entry, key, None)


# -- networks ------------------------------------------------------------------------------
def _build_network(entry, task, train, standardize: bool, module: Any = None):
    from quanta.config import MODULE
    from quanta.models import MODELS
    from quanta.train.config import TrainConfig
    from quanta.train.network import Network, build_model

    if entry.model == MODULE:
        if module is None:
            raise UserError(f"{entry.name}: model 'module' is a torch.nn.Module passed from Python (quanta.fit)")
        return Network(module, task, TrainConfig(**entry.train), standardize=standardize, spec=None)
    import torch

    out_features = task.out_features(train.y if "y" in train else None)
    if out_features == 0 and not hasattr(MODELS.get(entry.model), "encode"):  # the task rebuilds x
        raise UserError(f"{entry.name}: task '{task.name}' rebuilds its inputs, which model '{entry.model}' "
                        "does not do; use an autoencoder (autoencoder, conv_autoencoder)")
    torch.manual_seed(entry.train["seed"])  # initial weights depend on the seed alone
    shapes = {name: list(shape) for name, shape in train.shapes.items()}
    model = build_model(entry.model, entry.params, shapes, out_features, where=f"{entry.name}.params")
    spec = {"model": entry.model, "params": entry.params, "shapes": shapes, "out_features": out_features}
    return Network(model, task, TrainConfig(**entry.train), standardize=standardize, spec=spec)


def _announce_network(entry, network, resume: bool) -> str:
    count = sum(p.numel() for p in network.model.parameters() if p.requires_grad)
    return (f"{entry.name}: training {entry.model} ({count:,} parameters)"
            + (" — resuming from its checkpoint" if resume else ""))


def _network_checkpoint(directory: Path) -> bool:
    from quanta.train.network import CHECKPOINT_FILE

    return (directory / CHECKPOINT_FILE).exists()


def _load_network(entry, directory: Path):
    from quanta.train.network import MODEL_FILE, Network

    if not (directory / MODEL_FILE).exists():
        raise UserError(f"{directory}: no saved network here (was the method trained to the end?)")
    return Network.load(directory)


# -- classical methods -----------------------------------------------------------------------
def _build_method(entry, task, train, standardize: bool, module: Any = None):
    from quanta.methods import METHODS

    return METHODS.create(_entry_value(entry, "method"), where=f"{_entry_value(entry, 'name')}.params",
                          **(_entry_value(entry, "params") or {}))


def _announce_method(entry, method, resume: bool) -> str:
    return f"{entry.name}: fitting {entry.method}"


def _never(directory: Path) -> bool:  # a classical method is fitted again from the start
    return False


def _check_method_data(entry, train) -> None:
    from quanta.methods import METHODS

    _refuse_environment(entry, train, f"method {_entry_value(entry, 'method')}")
    METHODS.get(_entry_value(entry, "method")).check_data(train)


def _any_data(entry, train) -> None:  # a network learns from memory and from a stream alike
    _refuse_environment(entry, train, f"model {_entry_value(entry, 'model')}")


def _refuse_environment(entry, train, what: str) -> None:
    if getattr(train, "episodic", False):
        raise UserError(f"{_entry_value(entry, 'name')}: {what} learns from a data set; an "
                        "environment's experiment takes agents (agent: dqn, ppo, reinforce, "
                        "tabular_q, random, scripted)")


def _load_method(entry, directory: Path):
    from quanta.methods import METHODS

    return METHODS.get(_entry_value(entry, "method")).load(directory)


# -- reinforcement-learning agents -----------------------------------------------------------
def _build_agent(entry, task, train, standardize: bool, module: Any = None):
    from quanta.agents import AGENTS

    return AGENTS.create(_entry_value(entry, "agent"), where=f"{_entry_value(entry, 'name')}.params",
                         **(_entry_value(entry, "params") or {}))


def _announce_agent(entry, agent, resume: bool) -> str:
    if agent.steps == 0:  # a baseline policy, evaluated as it is
        return f"{entry.name}: agent {entry.agent}, evaluated without training"
    return (f"{entry.name}: training agent {entry.agent} for {agent.steps:,} environment steps"
            + (" — resuming from its checkpoint" if resume else ""))


def _agent_checkpoint(directory: Path) -> bool:
    from quanta.agents.base import CHECKPOINT_FILE

    return (directory / CHECKPOINT_FILE).exists()


def _check_agent_data(entry, train) -> None:
    if not getattr(train, "episodic", False):
        raise UserError(f"{_entry_value(entry, 'name')}: agent {_entry_value(entry, 'agent')} learns "
                        "from an environment (data.source gymnasium or beam_steering), not from a "
                        "data set")
    from quanta.agents import AGENTS

    environment = train.environment  # its spaces, before any agent trains
    AGENTS.get(_entry_value(entry, "agent")).check_spaces(
        environment.observation_space, environment.action_space,
        _entry_value(entry, "name"), f"environment '{environment.name}'")


def _load_agent(entry, directory: Path):
    from quanta.agents.base import Agent

    return Agent.load(directory)


KINDS = (
    EstimatorKind("model", _build_network, _announce_network, _load_network, _network_checkpoint,
                  _any_data),
    EstimatorKind("method", _build_method, _announce_method, _load_method, _never,
                  _check_method_data),
    EstimatorKind("agent", _build_agent, _announce_agent, _load_agent, _agent_checkpoint,
                  _check_agent_data),
)


def kind_of(entry: Any) -> EstimatorKind:
    """The kind of a ``methods:`` entry (a resolved config entry or its dict)."""
    for kind in KINDS:
        if _entry_value(entry, kind.key) is not None:
            return kind
    raise UserError(f"{_entry_value(entry, 'name')}: give one of {', '.join(k.key for k in KINDS)}")


def build(entry: Any, task: Any, train: Any, standardize: bool = True, module: Any = None) -> Any:
    """The unfitted estimator of ``entry`` for ``task``, sized for the training part ``train``."""
    return kind_of(entry).build(entry, task, train, standardize, module)


def predict_with_uncertainty(estimator: Any, part: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores and the standard deviation of each, where the estimator gives one (else None).

    A network's come from a Gaussian head or Monte Carlo dropout, an
    ensemble's from the spread of its members (deep ensembles).
    """
    own = getattr(estimator, "predict_with_uncertainty", None)
    return own(part) if own is not None else (estimator.predict(part), None)


def load(entry: Any, directory: str | Path) -> Any:
    """The fitted estimator of ``entry`` saved in ``directory`` (its files checked against the manifest)."""
    from quanta.rundir import MethodDirectory

    MethodDirectory(directory).verify()
    return kind_of(entry).load(entry, Path(directory))


__all__ = ["KINDS", "Estimator", "EstimatorKind", "build", "kind_of", "load", "predict_with_uncertainty"]
