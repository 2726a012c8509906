"""An environment as an experiment's data: its episodes are the parts.

A reinforcement-learning experiment names an environment where others name a
data set (``data: {source: gymnasium, env: CartPole-v1}``). What the runner asks
of a data set an :class:`Environment` answers: its name, its observation shape
and names, ``checked`` and ``parts``. Its parts are :class:`Episodes`: the train
part gives the training episodes' seeds (as many as an agent asks for), the
valid and test parts a fixed number of evaluation episodes with seeds of their
own, so that every agent is evaluated on the same episodes and the test episodes
are played once, at the end. ``data.split`` does not apply to an environment.

Episode ``i`` of a part is reset with seed :func:`episode_seed` (the
experiment's seed, the part, ``i``): an episode is then a function of its seed
and the agent's actions alone, which makes a resumed training exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from quanta.errors import UserError
from quanta.registry import checked

#: the parts of an environment, in the order of ``data.split.SPLITS``, and their seed streams
PARTS = ("train", "valid", "test")
EVALUATION_EPISODES = Annotated[int, Field(ge=1, le=100_000, description="an integer from 1 to 100000")]


def episode_seed(seed: int, part: str, episode: int) -> int:
    """The reset seed of episode ``episode`` of ``part`` in an experiment seeded ``seed``."""
    words = np.random.SeedSequence([seed % 2**63, PARTS.index(part), episode]).generate_state(1)
    return int(words[0])  # < 2**32, a valid Gymnasium seed


def describe_space(space: Any) -> dict[str, Any]:
    """A JSON description of a Gymnasium space (``Box`` or ``Discrete``), saved with an agent."""
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return {"kind": "discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"kind": "box", "shape": list(space.shape), "low": _finite(space.low),
                "high": _finite(space.high), "dtype": str(space.dtype)}
    raise UserError(f"environment: spaces of kind {type(space).__name__} are not supported; "
                    "quanta's agents take Box or Discrete observations and actions")


def _finite(bounds: np.ndarray) -> list[Any]:
    """Bounds as JSON allows them: an unbounded side (±inf) as None."""
    return [float(b) if np.isfinite(b) else None for b in np.asarray(bounds, np.float64).reshape(-1)]


def space_from(description: dict[str, Any]) -> Any:
    """The Gymnasium space :func:`describe_space` described."""
    from gymnasium import spaces

    if description["kind"] == "discrete":
        return spaces.Discrete(description["n"], start=description.get("start", 0))
    shape = tuple(description["shape"])
    low = np.array([-np.inf if b is None else b for b in description["low"]]).reshape(shape)
    high = np.array([np.inf if b is None else b for b in description["high"]]).reshape(shape)
    dtype = np.dtype(description["dtype"])
    return spaces.Box(low.astype(dtype), high.astype(dtype), dtype=dtype)


class Environment:
    """An environment source: a factory of Gymnasium environments and its evaluation episodes."""

    streamed = False
    classes = None
    episodic = True

    def __init__(self, name: str, make: Callable[[], Any], seed: int, valid_episodes: int,
                 test_episodes: int, feature_names: list[str] | None = None,
                 info: dict[str, Any] | None = None):
        self.name, self.make, self.seed = name, make, seed
        self.episodes = {"train": 0, "valid": valid_episodes, "test": test_episodes}
        probe = make()
        try:
            self.observation_space = probe.observation_space
            self.action_space = probe.action_space
            describe_space(self.observation_space)  # refuse what the agents cannot take, at once
            describe_space(self.action_space)
        finally:
            probe.close()
        shape = tuple(self.observation_space.shape or ())
        self.input_shape = shape
        self.feature_names = feature_names or [f"observation_{i}" for i in range(int(np.prod(shape)))]
        self.info = {"environment": name, **(info or {}),
                     "observation": describe_space(self.observation_space),
                     "action": describe_space(self.action_space)}

    def __len__(self) -> int:
        return sum(self.episodes.values())

    def checked(self, check_targets: Any = None, needs_targets: bool = True) -> Environment:
        if needs_targets:
            raise UserError(f"data.source: environment '{self.name}' gives rewards, not targets; "
                            "use task: reinforcement with agents (agent: dqn, ppo, ...)")
        return self

    def parts(self, fractions: Any = None, seed: int | None = None,
              check_targets: Any = None) -> dict[str, Episodes]:
        """Train, valid and test episodes (``fractions`` do not apply; ``seed`` the experiment's)."""
        seed = self.seed if seed is None else seed
        return {part: Episodes(self, part, self.episodes[part], seed) for part in PARTS}


class Episodes:
    """One part of an environment: how to make it and the seeds of the part's episodes.

    ``len`` is the number of evaluation episodes (0 for train, whose episodes an
    agent plays as long as it trains).
    """

    streamed = False
    episodic = True
    targets: dict[str, np.ndarray] = {}

    def __init__(self, environment: Environment, part: str, episodes: int, seed: int):
        self.environment, self.part, self.episodes, self.seed = environment, part, episodes, seed

    def __len__(self) -> int:
        return self.episodes

    def __contains__(self, key: object) -> bool:
        return False  # no arrays: no y, no weights

    @property
    def name(self) -> str:
        return self.environment.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.environment.input_shape

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {"x": self.environment.input_shape}

    @property
    def feature_names(self) -> list[str]:
        return self.environment.feature_names

    @property
    def classes(self) -> None:
        return None

    @property
    def info(self) -> dict[str, Any]:
        return self.environment.info

    def make(self) -> Any:
        """A new Gymnasium environment of this part (close it when done)."""
        return self.environment.make()

    def seed_of(self, episode: int) -> int:
        """The reset seed of the part's episode ``episode``."""
        return episode_seed(self.seed, self.part, episode)

    def seeds(self) -> list[int]:
        """The reset seeds of the part's evaluation episodes."""
        return [self.seed_of(i) for i in range(self.episodes)]


def _gymnasium_names() -> list[str]:
    from gymnasium.envs.registration import registry

    return sorted(registry)


@checked
def gymnasium(env: str = "CartPole-v1",
              max_episode_steps: Annotated[int, Field(ge=1, description="an integer >= 1")] | None = None,
              valid_episodes: EVALUATION_EPISODES = 10, test_episodes: EVALUATION_EPISODES = 100,
              seed: int = 1) -> Environment:
    """A Gymnasium environment by its id (CartPole-v1, Acrobot-v1, FrozenLake-v1, ...): episodes as data

    ``env`` is any environment registered with Gymnasium that needs no extra
    package (the classic-control and toy-text ones come with it);
    ``max_episode_steps`` overrides its time limit. ``valid_episodes`` are
    played at every evaluation during training, ``test_episodes`` once at the
    end; each episode is reset with its own seed (:func:`episode_seed`).
    """
    import gymnasium as gym
    from gymnasium.error import Error as GymnasiumError

    from quanta.errors import closest

    if env not in gym.envs.registration.registry:
        guess = closest(env, _gymnasium_names())
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise UserError(f"data.env: unknown Gymnasium environment '{env}'{hint} (registered: "
                        "CartPole-v1, Acrobot-v1, MountainCar-v0, FrozenLake-v1, ...)")
    options = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}

    def make() -> Any:
        return gym.make(env, **options)

    try:
        return Environment(env, make, seed, valid_episodes, test_episodes,
                           info={"max_episode_steps": max_episode_steps})
    except (GymnasiumError, ImportError) as error:  # e.g. a Box2D or MuJoCo environment
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"data.env: Gymnasium environment '{env}' cannot be made here ({first})") from None


__all__ = ["PARTS", "Environment", "Episodes", "describe_space", "episode_seed", "gymnasium",
           "space_from"]
