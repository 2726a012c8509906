"""The policies every agent is compared with: random actions, and an environment's own script."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from quanta.agents.base import Agent
from quanta.errors import UserError
from quanta.registry import checked

STEPS = Annotated[int, Field(ge=0, description="an integer >= 0")]
EVERY = Annotated[int, Field(ge=1, description="an integer >= 1")]


class RandomPolicy(Agent):
    """The random policy: actions drawn uniformly, the floor every agent must beat

    It learns nothing; ``steps`` training steps only play episodes (0 by
    default: it is evaluated at once).
    """

    name = "random"

    @checked("random")
    def __init__(self, steps: STEPS = 0, eval_every: EVERY = 5_000, keep_best: bool = False,
                 target_return: float | None = None, seed: int = 1):
        super().__init__(steps, eval_every, keep_best, target_return, seed)

    def setup(self, observation_space: Any, action_space: Any) -> None:
        self.action_space.seed(int(self.rng.integers(2**31)))

    def act(self, observation: Any, explore: bool) -> Any:
        return self.action_space.sample()

    def training_state(self) -> tuple[dict, dict[str, Any]]:  # the space's own generator
        return {}, {"space": self.action_space.np_random.bit_generator.state}

    def load_training_state(self, tensors: dict, meta: dict[str, Any]) -> None:
        self.action_space.np_random.bit_generator.state = meta["space"]


class ScriptedPolicy(Agent):
    """The environment's own hand-written policy (e.g. a beamline's one-to-one steering)

    The environment offers it as ``scripted_action(observation)`` (on its
    unwrapped object); it learns nothing.
    """

    name = "scripted"

    @checked("scripted")
    def __init__(self, steps: STEPS = 0, eval_every: EVERY = 5_000, keep_best: bool = False,
                 target_return: float | None = None, seed: int = 1):
        super().__init__(steps, eval_every, keep_best, target_return, seed)
        self._script = None

    def setup(self, observation_space: Any, action_space: Any) -> None:
        pass

    def fit(self, train: Any, valid: Any = None, **context: Any) -> ScriptedPolicy:
        env = train.make()
        try:
            self._script_of(env, train.name)  # refused before anything is played
        finally:
            env.close()
        return super().fit(train, valid, **context)

    @staticmethod
    def _script_of(env: Any, name: str) -> Any:
        script = getattr(env.unwrapped, "scripted_action", None)
        if script is None:
            raise UserError(f"agent scripted: environment '{name}' has no scripted policy "
                            "(scripted_action); use agent random as the baseline")
        return script

    def _play(self, env: Any, seed: int, explore: bool) -> float:
        self._script = self._script_of(env, "this")  # the script reads the environment it acts in
        return super()._play(env, seed, explore)

    def act(self, observation: Any, explore: bool) -> Any:
        return self._script(observation)
