"""Experiment validation: defaults filled in, one-line errors naming the field."""

from __future__ import annotations

import pytest

from quanta.config import read_experiment, resolve, to_yaml
from quanta.errors import UserError


def base(**changes):
    raw = {"name": "t", "task": "binary", "data": {"source": "jets", "size": 100},
           "methods": [{"name": "bdt", "method": "boosted_trees"},
                       {"name": "mlp", "model": "mlp", "params": {"hidden": [8]}, "train": {"epochs": 2}}]}
    raw.update(changes)
    return raw


def test_defaults_are_filled_in():
    config = resolve(base())
    mlp = config.methods[1]
    assert mlp.train["epochs"] == 2 and mlp.train["optimizer"] == "adam" and mlp.train["seed"] == 1
    expected = {"hidden": [8], "activation": "relu", "dropout": 0.0, "norm": "none", "init": "default"}
    assert {key: mlp.params[key] for key in expected} == expected
    assert config.data.params["view"] == "features" and config.data.params["seed"] == 1
    assert config.methods[0].params["max_depth"] == 4
    assert resolve(read_yaml_roundtrip(config)) == config


def read_yaml_roundtrip(config):
    import yaml

    return yaml.safe_load(to_yaml(config))


@pytest.mark.parametrize("raw, message", [
    (base(task="binray"), "task: unknown task 'binray'; did you mean 'binary'?"),
    (base(methods=[{"name": "m", "model": "mlpp"}]), "methods[0].model: unknown model 'mlpp'; did you mean 'mlp'?"),
    (base(methods=[{"name": "m", "method": "boosted_tree"}]), "did you mean 'boosted_trees'?"),
    (base(data={"source": "jet"}), "data.source: unknown data source 'jet'; did you mean 'jets'?"),
    (base(methods=[{"name": "m", "model": "mlp", "train": {"epochs": "many"}}]),
     "methods[0].train.epochs: input should be a valid integer"),
    (base(methods=[{"name": "m", "model": "mlp", "train": {"epochs": -3}}]),
     "methods[0].train.epochs: input should be greater than 0, received -3"),
    (base(methods=[{"name": "m", "model": "mlp", "train": {"epoch": 3}}]),
     "methods[0].train.epoch: unknown key 'epoch'; did you mean 'epochs'?"),
    (base(train={"optimiser": "sgd"}), "train.optimiser: unknown key 'optimiser'; did you mean 'optimizer'?"),
    (base(methods=[{"name": "m", "model": "mlp", "train": {"optimizer": "lbfgs"}}]), "methods[0].train.optimizer"),
    (base(metods=[]), "unknown key 'metods'; did you mean 'methods'?"),
    (base(methods=[{"name": "m", "model": "mlp", "params": {"hiden": [3]}}]),
     "methods[0].params: unknown parameter 'hiden'; did you mean 'hidden'?"),
    (base(methods=[{"name": "m", "model": "mlp", "params": {"dropout": "lots"}}]), "methods[0].params.dropout"),
    (base(methods=[{"name": "m", "model": "mlp", "params": {"in_features": 3}}]), "unknown parameter 'in_features'"),
    (base(methods=[{"name": "m", "model": "mlp", "method": "boosted_trees"}]), "exactly one of 'model'"),
    (base(methods=[{"name": "a", "model": "mlp"}, {"name": "a", "model": "mlp"}]), "repeated: a"),
    (base(methods=[]), "methods: list should have at least 1 item"),
    (base(data={"source": "jets", "view": "picture"}), "data.view: input should be 'features', 'constituents', 'image' or 'tree'"),
    (base(data={"source": "jets", "size": 10, "colour": 3}), "data: unknown parameter 'colour'"),
    (base(methods=[{"name": "b", "method": "boosted_trees", "train": {"epochs": 3}}]), "methods[0].train"),
])
def test_errors_name_the_field(raw, message):
    with pytest.raises(UserError) as error:
        resolve(raw)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_file_errors(tmp_path):
    with pytest.raises(UserError, match="experiment file not found"):
        read_experiment(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\nmethods: {")
    with pytest.raises(UserError, match="malformed YAML"):
        read_experiment(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just words")
    with pytest.raises(UserError, match="expected a mapping"):
        read_experiment(scalar)
