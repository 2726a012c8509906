"""The search: block: a mistake is one line naming search.<key> and what is allowed (exit 2)."""

from __future__ import annotations

import pytest

import quanta
from quanta.errors import UserError
from quanta.tune.space import Parameter, Search, applied
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

EXPERIMENT = """\
name: calib
task: regression
data: {source: energy_calibration, size: 300}
methods:
  - {name: tree, method: decision_tree, params: {max_depth: 1}}
  - {name: mlp, model: mlp, params: {hidden: [8]}, train: {epochs: 2}}
"""


def refused(tmp_path, search: str, message: str, *options: str) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(EXPERIMENT + search)
    done = quanta_here("tune", str(path), "--out", "runs", *options, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "runs").exists()  # refused before any study is made


SPACE = "  space:\n    methods.tree.params.max_depth: {int: [1, 8]}\n"


@pytest.mark.parametrize("search, message", [
    ("", "search: the experiment has no search: block"),
    ("search:\n  sampler: tpee\n" + SPACE, "search.sampler: expected one of grid, random, tpe, gp, "
                                           "received 'tpee'; did you mean 'tpe'?"),
    ("search:\n  trials: 0\n" + SPACE, "search.trials: expected an integer >= 1, received 0"),
    ("search:\n  trails: 3\n" + SPACE, "search.trails: unknown key; did you mean 'trials'?"),
    ("search:\n  space:\n    methods.tree.params.max_dept: {int: [1, 8]}\n",
     "search.space: unknown path 'methods.tree.params.max_dept'; did you mean "
     "'methods.tree.params.max_depth'?"),
    ("search:\n  space:\n    data.size: {int: [100, 300]}\n", "search.space: unknown path 'data.size'"),
    ("search:\n  space:\n    methods.mlp.train.lr: {float: [0.1, 0.001]}\n",
     "search.space.methods.mlp.train.lr.float: LOW must not exceed HIGH"),
    ("search:\n  space:\n    methods.mlp.train.lr: {float: [0, 0.1], log: true}\n",
     "search.space.methods.mlp.train.lr.log: a log scale needs LOW > 0"),
    ("search:\n  space:\n    methods.mlp.train.lr: {floats: [0.001, 0.1]}\n",
     "search.space.methods.mlp.train.lr: give exactly one of float, int, choice, layers"),
    ("search:\n  space:\n    methods.mlp.params.hidden: {choice: [[8], [8, 8]]}\n",
     "search.space.methods.mlp.params.hidden.choice: values must be numbers, strings, booleans"),
    ("search:\n  space:\n    methods.mlp.params.dropout: {layers: [1, 3], width: {int: [4, 8]}}\n",
     "search.space.methods.mlp.params.dropout: layers: tunes a list of widths"),
    ("search:\n  space:\n    methods.mlp.params.dropout: {float: [0, 1.5]}\n",
     "search.space.methods.mlp.params.dropout: the value 1.5 is refused: "),
    ("search:\n  space:\n    methods.mlp.train.momentum: {float: [0.5, 0.9], when: "
     "{methods.mlp.train.optimizer: momentum}}\n",
     "search.space.methods.mlp.train.momentum.when: 'methods.mlp.train.optimizer' is not another "
     "parameter of the space"),
    ("search:\n  space:\n    methods.mlp.train.optimizer: {choice: [adam, sgd]}\n"
     "    methods.mlp.train.momentum: {float: [0.5, 0.9], when: "
     "{methods.mlp.train.optimizer: momentum}}\n",
     "search.space.methods.mlp.train.momentum.when: methods.mlp.train.optimizer never takes "
     "'momentum'"),
    ("search:\n  sampler: grid\n  space:\n    methods.mlp.train.lr: {float: [0.001, 0.1]}\n",
     "search.space.methods.mlp.train.lr: the grid sampler needs finite values"),
    ("search:\n  sampler: grid\n  space:\n    methods.mlp.params.hidden: {layers: [1, 4], width: "
     "{int: [1, 256]}}\n", "search.space: the grid has"),
    ("search:\n  objective: bias\n" + SPACE, "search.objective: metric 'bias' is best at zero"),
    ("search:\n  objective: {metric: mse, direction: down}\n" + SPACE,
     "search.objective.direction: expected maximize or minimize, received 'down'"),
    ("search:\n  objective: [mse, inference_time]\n  pruner: median\n" + SPACE,
     "search.pruner: 'median' prunes one objective"),
    ("search:\n  objective: inference_time\n" + SPACE, "search.objective: 'inference_time' alone"),
    ("search:\n  methods: [tre]\n" + SPACE, "search.methods: unknown method 'tre'; did you mean "
                                            "'tree'?"),
    ("search:\n  methods: [mlp]\n" + SPACE, "search.methods: the space tunes tree, which is not "
                                            "listed"),
])
def test_bad_search_blocks_are_refused_in_one_line(tmp_path, search, message):
    refused(tmp_path, search, message)


def test_command_line_overrides_are_checked(tmp_path):
    refused(tmp_path, "search:\n" + SPACE, "--jobs: expected an integer >= 1, received 0",
            "--jobs", "0")
    refused(tmp_path, "search:\n" + SPACE, "--timeout: expected seconds > 0", "--timeout", "-1")


def test_a_metric_the_method_does_not_give_is_named_with_those_it_gives(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(EXPERIMENT + "search:\n  trials: 2\n  objective: {metric: auc, direction: "
                                 "maximize}\n" + SPACE)
    done = quanta_here("tune", str(path), "--out", "runs", cwd=tmp_path)
    assert done.returncode == 2
    assert "search.objective: 'auc' is not a validation metric of method 'tree'; it has bias" \
        in done.stderr
    path.write_text(EXPERIMENT + "search:\n  trials: 2\n  objective: r2\n" + SPACE)
    result = quanta.tune(path, out=tmp_path / "runs", worker=True)  # no trial finished: afresh
    assert [t["state"] for t in result.trials] == ["COMPLETE", "COMPLETE"]


def test_conditions_and_layer_lists_are_sampled_and_set_at_their_paths():
    import optuna

    width = Parameter("methods.mlp.params.hidden.width", "int", low=4, high=64, log=True)
    search = Search("random", 5, [], "none", ["mlp"], [
        Parameter("methods.mlp.train.optimizer", "choice", choices=["adam", "momentum"]),
        Parameter("methods.mlp.train.momentum", "float", low=0.5, high=0.9,
                  when={"methods.mlp.train.optimizer": ["momentum"]}),
        Parameter("methods.mlp.params.hidden", "layers", low=1, high=3, width=width)])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = []
    for _ in range(20):
        trial = study.ask()
        values = search.suggest(trial)
        study.tell(trial, 0.0)
        assert ("methods.mlp.train.momentum" in values) == \
            (values["methods.mlp.train.optimizer"] == "momentum")
        hidden = values["methods.mlp.params.hidden"]
        assert 1 <= len(hidden) <= 3 and all(4 <= w <= 64 for w in hidden)
        assert search.values_of(trial.params) == values
        seen.append(values)
    assert {len(v["methods.mlp.params.hidden"]) for v in seen} == {1, 2, 3}
    raw = {"methods": [{"name": "mlp", "model": "mlp", "train": {"epochs": 2}}],
           "search": {"trials": 3}}
    experiment = applied(raw, seen[0])
    assert "search" not in experiment and raw["methods"][0]["train"] == {"epochs": 2}
    assert experiment["methods"][0]["params"]["hidden"] == seen[0]["methods.mlp.params.hidden"]


def test_a_conditional_cycle_is_refused():
    from quanta.tune.space import _ordered

    one = Parameter("a", "choice", choices=[1], when={"b": [1]})
    two = Parameter("b", "choice", choices=[1], when={"a": [1]})
    with pytest.raises(UserError, match="search.space.a.when: the conditions form a cycle"):
        _ordered([one, two])
