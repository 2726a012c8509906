"""Model hyperparameters: ranges and choices declared in type hints, checked on every path."""

from __future__ import annotations

import inspect
import typing

import pytest

from quanta.errors import UserError
from quanta.models import DATA_ARGUMENTS, MODELS
from quanta.registry import validate_params
from tests.conftest import run_quanta


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_checks_a_direct_construction_by_its_entry_name(name):
    cls = MODELS.get(name)
    init = cls.__init__
    assert inspect.signature(init) == inspect.signature(init.__wrapped__)  # the registry reads the real one
    hints = typing.get_type_hints(init, include_extras=True)  # resolvable, or the registry would check nothing
    if "out_features" not in inspect.signature(init).parameters:
        assert getattr(cls, "objective", None) or hasattr(cls, "encode"), name  # rebuilds or generates x
        return
    assert hints["out_features"] is not int  # a declared range
    required = {n: 1 for n, p in inspect.signature(init).parameters.items()
                if n != "self" and p.default is p.empty}
    with pytest.raises(UserError) as error:
        cls(**required, out_features=0)
    assert str(error.value) == f"{name}: out_features must be a positive integer; received 0"


@pytest.mark.parametrize("name", MODELS.names())
def test_described_choices_name_every_option(name):
    for parameter, hint in typing.get_type_hints(MODELS.get(name).__init__, include_extras=True).items():
        if typing.get_origin(hint) is typing.Annotated and typing.get_origin(hint.__origin__) is typing.Literal:
            description = next(m.description for m in hint.__metadata__ if getattr(m, "description", None))
            for option in typing.get_args(hint.__origin__):
                assert str(option) in description, (name, parameter, option)


def test_the_experiment_path_names_the_entry_by_where():
    with pytest.raises(UserError) as error:
        validate_params(MODELS.get("cnn"), {"dropout": 1.5}, "methods[0].params", supplied=DATA_ARGUMENTS)
    assert str(error.value) == "methods[0].params: dropout must be a number in [0, 1); received 1.5"
    with pytest.raises(UserError) as error:  # a word for a number: pydantic's message, at the field
        validate_params(MODELS.get("cnn"), {"dropout": "lots"}, "methods[0].params", supplied=DATA_ARGUMENTS)
    assert str(error.value).startswith("methods[0].params.dropout: input should be a valid number")


@pytest.mark.parametrize(("data", "model", "params", "message"), [
    ("{source: jets, size: 300}", "mlp", "{dropout: 1.5}", "dropout must be a number in [0, 1); received 1.5"),
    ("{source: jets, view: image, size: 300}", "cnn", "{channels: [8, 0]}",
     "channels must be a list of one or more positive integers; received [8, 0]"),
    ("{source: sequences, size: 300}", "transformer", "{positions: rotary}",
     "positions must be one of sinusoidal, learned, none; received 'rotary'"),
    ("{source: jets, view: constituents, size: 300}", "particlenet", "{k: 0}",
     "k must be a positive integer; received 0"),
])
def test_a_bad_hyperparameter_is_refused_before_any_data_is_made(tmp_path, data, model, params, message):
    (tmp_path / "e.yaml").write_text(f"data: {data}\nmethods: [{{name: net, model: {model}, params: {params}}}]\n")
    done = run_quanta("run", "e.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"quanta: error: methods[0].params: {message}"
    assert not (tmp_path / "runs").exists()
