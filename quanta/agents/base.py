"""The agent contract: the interaction loop, evaluation, saving and exact resume, written once.

An agent is an estimator (:mod:`quanta.estimators`) that learns from an
environment's parts (:class:`quanta.agents.environment.Episodes`)::

    agent.fit(train, valid, task=task, directory=folder, callbacks=[...], resume=False, label="dqn")
    agent.predict(part)        # the return of each of the part's episodes, greedy policy
    agent.save(folder); Agent.load(folder)
    agent.history              # one record per evaluation ("epoch")

:meth:`Agent.fit` plays training episodes (episode ``i`` reset with the train
part's seed ``i``) until ``steps`` environment steps are done, finishing the
episode it is in. Every ``eval_every`` steps, at the end of an episode, it
plays the valid part's episodes with the greedy policy and appends a record:
``epoch``, ``steps``, ``episodes``, ``train_return`` (the mean return of the
training episodes since the last record) and ``returns`` (each of them),
``valid_mean_return`` and the subclass's own :meth:`Agent.logs`; the callbacks
get ``on_epoch_end(agent, epoch, record)`` as a network's trainer's would.
With ``keep_best`` the weights of the best evaluation are restored at the end
(a DQN's policy may get worse after it was best); with ``target_return``
training stops once the valid mean return reaches it.

After each record the whole state is checkpointed (``checkpoint.safetensors``
in the method folder: weights, the subclass's training state such as a replay
buffer and optimisers, the counters, the history and every random generator),
so that ``resume`` continues exactly: the episodes are functions of their seeds
and the agent's actions. A pre-emption signal stops training at the end of the
episode it arrives in, after a checkpoint.

A subclass writes the lecture's equations only:

- :meth:`setup` builds the policy (tables, networks, optimisers) for the spaces;
- :meth:`act` chooses an action (``explore``: the behaviour policy, else greedy);
- :meth:`record` takes one transition and learns when it has what it needs
  (a replay batch, a rollout, a finished episode);
- :meth:`weights` / :meth:`load_weights`: what acting needs (saved as the model);
- :meth:`training_state` / :meth:`load_training_state`: the rest (checkpoint only).

Random numbers come from ``self.rng`` (NumPy) and ``self.generator`` (torch),
both seeded by ``seed``; the torch global generator is seeded too (network
initialisation) and checkpointed.
"""

from __future__ import annotations

import inspect
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from quanta.agents.environment import describe_space, space_from
from quanta.errors import UserError

MODEL_FILE = "agent.safetensors"  # the fitted agent: weights and what rebuilds it
CHECKPOINT_FILE = "checkpoint.safetensors"  # everything needed to continue training exactly


class Agent:
    """Base class of agents; subclasses set ``name`` and implement the hooks listed above."""

    name = "agent"
    #: a subclass that cannot take a kind of action space says so ("discrete", "box")
    action_kinds: tuple[str, ...] = ("discrete", "box")
    observation_kinds: tuple[str, ...] = ("discrete", "box")

    def __init__(self, steps: int = 50_000, eval_every: int = 5_000, keep_best: bool = True,
                 target_return: float | None = None, seed: int = 1):
        self.steps, self.eval_every, self.keep_best = steps, eval_every, keep_best
        self.target_return, self.seed = target_return, seed
        self.history: list[dict[str, Any]] = []
        self.steps_done = 0
        self.episodes_done = 0
        self._recent: list[float] = []  # training returns since the last record
        self._best = (-math.inf, None)  # (valid mean return, weights) of the best evaluation
        self.observation_space = self.action_space = None

    # -- the hooks of a subclass -------------------------------------------------------------
    def setup(self, observation_space: Any, action_space: Any) -> None:
        """Build the policy for these (Gymnasium) spaces; called before training and on load."""
        raise NotImplementedError

    def act(self, observation: Any, explore: bool) -> Any:
        """The action for ``observation``: the behaviour policy while training, else the greedy one."""
        raise NotImplementedError

    def record(self, observation: Any, action: Any, reward: float, next_observation: Any,
               terminated: bool, truncated: bool) -> None:
        """Take one transition; learn when enough are gathered (the default learns nothing)."""

    def logs(self) -> dict[str, float]:
        """The subclass's numbers for the next history record (a loss, epsilon); reset them."""
        return {}

    def weights(self) -> dict[str, torch.Tensor]:
        """What acting needs: tables or network weights, by name."""
        return {}

    def load_weights(self, tensors: dict[str, torch.Tensor]) -> None:
        """Put back :meth:`weights`."""

    def training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The rest of the training state (replay buffer, optimisers, counters): tensors and JSON."""
        return {}, {}

    def load_training_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Put back :meth:`training_state`."""

    # -- the estimator surface ---------------------------------------------------------------
    @property
    def params(self) -> dict[str, Any]:
        """The constructor's arguments, as given (saved with the agent, to rebuild it)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    @classmethod
    def check_spaces(cls, observation_space: Any, action_space: Any, where: str | None = None,
                     environment: str = "this environment") -> None:
        """Refuse, in one line, an environment whose spaces this agent cannot take."""
        for space, kinds, what in ((observation_space, cls.observation_kinds, "observations"),
                                   (action_space, cls.action_kinds, "actions")):
            kind = describe_space(space)["kind"]
            if kind not in kinds:
                raise UserError(f"{where + ': ' if where else ''}agent {cls.name} takes {' or '.join(kinds)} {what}, "
                                f"and {environment} has {kind} {what}; choose an agent for {kind} "
                                f"{what} (quanta agents lists them)")

    def _start(self, observation_space: Any, action_space: Any) -> None:
        self.check_spaces(observation_space, action_space)
        self.observation_space, self.action_space = observation_space, action_space
        torch.manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.setup(observation_space, action_space)

    def fit(self, train: Any, valid: Any = None, task: Any = None, directory: str | Path | None = None,
            callbacks: list | None = None, resume: bool = False, label: str | None = None,
            **context: Any) -> Agent:
        """Train on ``train``'s episodes, evaluating on ``valid``'s (see the module docstring)."""
        from quanta.methods.base import Method
        from quanta.train import preemption

        if not getattr(train, "episodic", False):
            raise UserError(f"{label or self.name}: agent {self.name} learns from an environment "
                            "(data.source gymnasium or beam_steering), not from a data set")
        env = train.make()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # an agent's networks are tiny: a second thread only contends
        try:
            self._start(env.observation_space, env.action_space)
            folder = None if directory is None else Path(directory)
            if resume and folder is not None and (folder / CHECKPOINT_FILE).exists():
                self._load_checkpoint(folder / CHECKPOINT_FILE)
            Method.notify(callbacks, "on_fit_start", self)
            next_record = (len(self.history) + 1) * self.eval_every
            while self.steps_done < self.steps and not self._reached_target():
                self._recent.append(self._play(env, train.seed_of(self.episodes_done), explore=True))
                self.episodes_done += 1
                if self.steps_done >= min(next_record, self.steps):
                    self._evaluate_period(valid, callbacks)
                    next_record = (len(self.history) + 1) * self.eval_every
                    if folder is not None:
                        self._save_checkpoint(folder / CHECKPOINT_FILE)
                signal = preemption.requested()
                if signal is not None:
                    if folder is not None:
                        self._save_checkpoint(folder / CHECKPOINT_FILE)
                    preemption.stopping()
                    raise preemption.Preempted(signal)
            if self._recent or not self.history:  # the episodes since the last record
                self._evaluate_period(valid, callbacks)
            if self.keep_best and self._best[1] is not None:
                self.load_weights(self._best[1])
            Method.notify(callbacks, "on_fit_end", self)
        finally:
            env.close()
            torch.set_num_threads(threads)
        return self

    def _reached_target(self) -> bool:
        return (self.target_return is not None and bool(self.history)
                and self.history[-1].get("valid_mean_return", -math.inf) >= self.target_return)

    def _play(self, env: Any, seed: int, explore: bool) -> float:
        """One episode from ``env.reset(seed=seed)``; returns its (undiscounted) return."""
        observation, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action = self.act(observation, explore)
            following, reward, terminated, truncated, _ = env.step(action)
            if explore:
                self.record(observation, action, float(reward), following, terminated, truncated)
                self.steps_done += 1
            total += float(reward)
            observation, done = following, terminated or truncated
        return total

    def _evaluate_period(self, valid: Any, callbacks: list | None) -> None:
        from quanta.methods.base import Method

        start = time.perf_counter()
        record: dict[str, Any] = {"epoch": len(self.history) + 1, "steps": self.steps_done,
                                  "episodes": self.episodes_done,
                                  "train_return": float(np.mean(self._recent)) if self._recent else math.nan,
                                  "returns": [float(r) for r in self._recent]}
        record.update(self.logs())
        if valid is not None and len(valid):
            returns = self.evaluate(valid)
            record["valid_mean_return"] = float(np.mean(returns))
            record["valid_std_return"] = float(np.std(returns))
            if record["valid_mean_return"] > self._best[0]:
                self._best = (record["valid_mean_return"],
                              {k: v.detach().clone() for k, v in self.weights().items()})
        record["seconds"] = time.perf_counter() - start
        self._recent = []
        self.history.append(record)
        Method.notify(callbacks, "on_epoch_end", self, record["epoch"], record)

    def evaluate(self, part: Any) -> np.ndarray:
        """The return of each of ``part``'s episodes under the greedy policy."""
        env = part.make()
        try:
            return np.array([self._play(env, seed, explore=False) for seed in part.seeds()],
                            dtype=np.float64)
        finally:
            env.close()

    def predict(self, part: Any) -> np.ndarray:
        """Scores of a part: the greedy policy's return of each of its episodes."""
        if not getattr(part, "episodic", False):
            raise UserError(f"agent {self.name}: predicts the returns of an environment's episodes, "
                            "not scores of a data set")
        return self.evaluate(part).astype(np.float32)

    # -- files -------------------------------------------------------------------------------
    def _description(self) -> dict[str, Any]:
        return {"agent": self.name, "params": self.params,
                "observation": describe_space(self.observation_space),
                "action": describe_space(self.action_space)}

    def save(self, directory: str | Path) -> Path:
        """Write the fitted agent (``agent.safetensors``: weights, parameters, spaces, history)."""
        from quanta.train.checkpoint import save_checkpoint

        path = Path(directory) / MODEL_FILE
        save_checkpoint(path, self.weights(), {**self._description(), "history": self.history,
                                               "steps_done": self.steps_done,
                                               "episodes_done": self.episodes_done})
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Agent:
        """The agent :meth:`save` wrote in ``directory`` (of whichever registered agent it is)."""
        from quanta.agents import AGENTS
        from quanta.train.checkpoint import load_checkpoint

        path = Path(directory) / MODEL_FILE
        if not path.is_file():
            raise UserError(f"{directory}: no saved agent here (was the method trained to the end?)")
        tensors, meta = load_checkpoint(path)
        agent = AGENTS.create(meta["agent"], where=str(path), **meta["params"])
        agent._start(space_from(meta["observation"]), space_from(meta["action"]))
        agent.load_weights(tensors)
        agent.history = meta["history"]
        agent.steps_done, agent.episodes_done = meta["steps_done"], meta["episodes_done"]
        return agent

    def _save_checkpoint(self, path: Path) -> None:
        from quanta.train.checkpoint import capture_rng, save_checkpoint

        state_tensors, state_meta = self.training_state()
        rng_tensors, rng_meta = capture_rng()
        tensors = {f"weights.{k}": v for k, v in self.weights().items()}
        tensors.update({f"state.{k}": v for k, v in state_tensors.items()})
        tensors.update({f"rng.{k}": v for k, v in rng_tensors.items()})
        tensors["generator"] = self.generator.get_state()
        best_value, best_weights = self._best
        if best_weights is not None:
            tensors.update({f"best.{k}": v for k, v in best_weights.items()})
        meta = {**self._description(), "history": self.history, "steps_done": self.steps_done,
                "episodes_done": self.episodes_done, "recent": self._recent,
                "best": best_value if best_weights is not None else None,
                "state": state_meta, "rng": rng_meta,
                "numpy": json.loads(json.dumps(self.rng.bit_generator.state))}
        save_checkpoint(path, tensors, meta)

    def _load_checkpoint(self, path: Path) -> None:
        from quanta.train.checkpoint import load_checkpoint, restore_rng

        tensors, meta = load_checkpoint(path)
        if meta["agent"] != self.name or meta["params"] != json.loads(json.dumps(self.params)):
            raise UserError(f"{path}: a checkpoint of agent {meta['agent']} with other parameters; "
                            "resume with the experiment that wrote it")

        def part(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}

        self.load_weights(part("weights."))
        self.load_training_state(part("state."), meta["state"])
        restore_rng(part("rng."), meta["rng"])
        self.generator.set_state(tensors["generator"])
        self.rng.bit_generator.state = meta["numpy"]
        self.history, self.steps_done = meta["history"], meta["steps_done"]
        self.episodes_done, self._recent = meta["episodes_done"], meta["recent"]
        best = part("best.")
        self._best = (meta["best"], best) if meta["best"] is not None else (-math.inf, None)


def linear_epsilon(step: int, start: float, end: float, duration: float) -> float:
    """An exploration rate going linearly from ``start`` to ``end`` over ``duration`` steps, then flat."""
    if duration <= 0 or step >= duration:
        return end
    return start + (end - start) * step / duration


def module_weights(modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    """The weights of named networks as one flat dict (``"<name>.<parameter>"``), for :meth:`Agent.weights`."""
    return {f"{name}.{key}": value for name, module in modules.items()
            for key, value in module.state_dict().items()}


def load_module_weights(modules: dict[str, torch.nn.Module], tensors: dict[str, torch.Tensor]) -> None:
    """Put back what :func:`module_weights` gave."""
    for name, module in modules.items():
        prefix = f"{name}."
        module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})


def observation_size(space: Any) -> int:
    """The length of an observation as a network reads it (a Discrete state one-hot)."""
    from gymnasium import spaces

    return int(space.n) if isinstance(space, spaces.Discrete) else int(np.prod(space.shape))


class ObservationReader:
    """Observations as a network reads them: ``float32[size]`` rows, one-hot for a Discrete space."""

    def __init__(self, space: Any):
        from gymnasium import spaces

        self.discrete = isinstance(space, spaces.Discrete)
        self.start = int(space.start) if self.discrete else 0
        self.size = observation_size(space)
        self.input = torch.zeros(1, self.size)  # the one-row input of act()
        self._row = self.input.numpy()[0]

    def write(self, observation: Any, row: np.ndarray) -> None:
        """Write ``observation`` into ``row`` (a NumPy view of a tensor's row)."""
        if self.discrete:
            row[:] = 0.0
            row[int(observation) - self.start] = 1.0
        else:
            row[:] = np.asarray(observation, dtype=np.float32).reshape(-1)

    def one(self, observation: Any) -> torch.Tensor:
        """``float32[1, size]`` of one observation (the same tensor every call, overwritten)."""
        self.write(observation, self._row)
        return self.input


__all__ = ["CHECKPOINT_FILE", "MODEL_FILE", "Agent", "load_module_weights", "module_weights", "linear_epsilon", "observation_size",
           "ObservationReader"]
