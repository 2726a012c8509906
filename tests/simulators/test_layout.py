"""The simulators' room: registered from quanta.data lazily, ranges declared in type hints."""

import subprocess
import sys
from typing import Annotated

import pytest
from pydantic import Field

from quanta.data import SOURCES
from quanta.errors import UserError
from quanta.registry import Registry, checked, validate_params

SIMULATED = ("jets", "calorimeter", "pulses", "saxs", "tracks", "hzz", "sequences", "digits", "energy_calibration")


def test_sources_point_at_the_simulators_and_data_imports_none_of_them():
    for name in SIMULATED:
        assert SOURCES._entries[name].description
        assert SOURCES.get(name).__module__.startswith(f"quanta.simulators.{name}")
    code = ("import sys, quanta.data, quanta.data.dataset, quanta.data.split, quanta.data.transforms, "
            "quanta.data.batching; print(sorted(m for m in sys.modules if m.startswith('quanta.simulators')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@checked
def toy(size: Annotated[int, Field(ge=2, description="an integer >= 2")] = 10,
        rate: Annotated[float, Field(gt=0)] = 1.0) -> int:
    """A toy entry."""
    return size


def test_declared_ranges_are_checked_on_every_path():
    registry = Registry("toy", listing="quanta toys")
    registry.register("toy")(toy)
    expected = "toy: size must be an integer >= 2; received 1"  # a described Field: one message everywhere
    for call in (lambda: toy(size=1), lambda: toy(1), lambda: registry.create("toy", size=1),
                 lambda: validate_params(toy, {"size": 1}, "data")):
        with pytest.raises(UserError) as error:
            call()
        assert str(error.value) == expected
    with pytest.raises(UserError, match=r"^data\.rate: input should be greater than 0, received -1$"):
        validate_params(toy, {"rate": -1}, "data")  # no description: pydantic's message, where it was given
    assert toy(size="3") == 3 and registry.create("toy", size=4) == 4


@pytest.mark.parametrize("name", SIMULATED)
def test_each_source_declares_its_size_range(name):
    with pytest.raises(UserError, match=rf"^{name}: size must be .*; received 0$"):
        validate_params(SOURCES.get(name), {"size": 0}, "data")  # checked before anything is simulated
