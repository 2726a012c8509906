"""Contract tests over every registry: names, descriptions, constructor signatures, light listings."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from quanta.agents import AGENTS
from quanta.data import SOURCES
from quanta.methods import METHODS
from quanta.models import DATA_ARGUMENTS, MODELS
from quanta.registry import Registry, parameters, summary_line
from quanta.tasks import TASKS

REGISTRIES = {"models": MODELS, "methods": METHODS, "tasks": TASKS, "datasets": SOURCES,
              "agents": AGENTS}
ENTRIES = [(kind, name) for kind, registry in REGISTRIES.items() for name in registry.names()]


@pytest.mark.parametrize("kind, name", ENTRIES)
def test_description_is_the_docstring_summary(kind, name):
    registry = REGISTRIES[kind]
    assert registry.describe()[name] == summary_line(registry.get(name))


@pytest.mark.parametrize("kind, name", ENTRIES)
def test_parameters_are_keywords_with_defaults(kind, name):
    """Hyperparameters are readable from the signature (listing, YAML round trip, tuning)."""
    factory = REGISTRIES[kind].get(name)
    target = factory.__init__ if inspect.isclass(factory) else factory
    for parameter in inspect.signature(target).parameters.values():
        if parameter.name == "self":
            continue
        assert parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD), (name, parameter)
        if parameter.name not in DATA_ARGUMENTS:
            assert parameter.default is not inspect.Parameter.empty, (name, parameter.name)
    if kind == "models":
        assert hasattr(factory, "for_data"), f"model {name} needs a for_data class method"
    assert set(parameters(factory)) - set(DATA_ARGUMENTS) or kind == "tasks"


def test_duplicate_and_unknown_names():
    registry = Registry("thing", listing="quanta things")
    registry.register("alpha")(lambda: None)
    with pytest.raises(ValueError, match="registered already"):
        registry.register("alpha")(lambda: None)
    from quanta.errors import UserError

    with pytest.raises(UserError, match=r"unknown thing 'alpah'; did you mean 'alpha'\?.*quanta things"):
        registry.get("alpah")


def test_listing_commands_do_not_import_heavy_libraries():
    code = ("import sys; from quanta.cli import main; main(['models']); main(['datasets']);"
            "heavy = [m for m in ('torch', 'pythia8mc', 'matplotlib', 'xgboost') if m in sys.modules];"
            "print('HEAVY', heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr
