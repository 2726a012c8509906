"""Every shipped example experiment is valid: known names, known options, model parameters of the right types."""

from __future__ import annotations

from pathlib import Path

import pytest

from quanta.config import read_experiment, resolve
from quanta.models import DATA_ARGUMENTS, MODELS
from quanta.registry import validate_params

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_resolves(path):
    config = resolve(read_experiment(path))
    assert config.methods
    for entry in config.methods:
        if entry.is_network:
            validate_params(MODELS.get(entry.model), entry.params, f"{path.name}: {entry.name}.params",
                            supplied=DATA_ARGUMENTS)


def test_examples_are_found():
    assert {"top_tagging.yaml", "top_tagging_zoo.yaml", "top_tagging_zoo_cpu.yaml"} <= {p.name for p in EXAMPLES}
