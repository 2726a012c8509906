"""Agents: reinforcement learning behind the estimator contract (``agent:`` entries of ``methods:``).

An agent learns from an environment instead of a data set. The environment is
the experiment's data (``data: {source: gymnasium, env: CartPole-v1}`` or
``source: beam_steering``, :mod:`quanta.agents.environment`): its training
episodes are the train part, fixed-seed evaluation episodes the valid and test
parts. An agent (:class:`quanta.agents.base.Agent`) is fitted, saved, resumed,
scored and reported as every estimator is: its scores are the returns of its
greedy policy on a part's episodes, its history one record per evaluation.
``quanta agents`` lists them.
"""

from __future__ import annotations

from quanta.registry import Registry

AGENTS = Registry("agent", listing="quanta agents")
AGENTS.declare("tabular_q", "quanta.agents.tabular_q:TabularQ",
               "Tabular Q-learning: a table of action values over discrete (or binned) states, "
               "epsilon-greedy")
AGENTS.declare("dqn", "quanta.agents.dqn:DQN",
               "Deep Q-network: action values by an MLP, experience replay, a target network, "
               "an epsilon schedule")
AGENTS.declare("reinforce", "quanta.agents.reinforce:Reinforce",
               "REINFORCE: the Monte Carlo policy gradient, with a learned value baseline")
AGENTS.declare("ppo", "quanta.agents.ppo:PPO",
               "Proximal policy optimisation: clipped policy ratio, generalised advantage estimates, "
               "actor and critic")
AGENTS.declare("random", "quanta.agents.baselines:RandomPolicy",
               "The random policy: actions drawn uniformly, the floor every agent must beat")
AGENTS.declare("scripted", "quanta.agents.baselines:ScriptedPolicy",
               "The environment's own hand-written policy (e.g. a beamline's one-to-one steering)")


def register(name: str, description: str | None = None):
    """Decorator registering a user agent (a subclass of :class:`quanta.agents.base.Agent`)."""
    return AGENTS.register(name, description)


__all__ = ["AGENTS", "register"]
