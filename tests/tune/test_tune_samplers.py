"""Every sampler finds a better validation metric than the file's deliberately poor default."""

from __future__ import annotations

import pytest
import yaml

import quanta

pytestmark = pytest.mark.usefixtures("one_thread")

#: a regression tree of depth 1 on the energy calibration: a poor default the search must beat
EXPERIMENT = {
    "name": "calib", "seed": 1, "task": "regression",
    "data": {"source": "energy_calibration", "size": 600},
    "methods": [{"name": "tree", "method": "decision_tree", "params": {"max_depth": 1}}],
    "search": {"trials": 5, "objective": "r2", "space": {
        "methods.tree.params.max_depth": {"int": [1, 8]},
        "methods.tree.params.min_samples_leaf": {"choice": [1, 5, 20]}}},
}


@pytest.fixture(scope="module")
def default_r2(tmp_path_factory):
    """The validation r2 of the file's own values (a plain run of the experiment)."""
    experiment = {k: v for k, v in EXPERIMENT.items() if k != "search"}
    run = quanta.run_experiment(experiment, out=tmp_path_factory.mktemp("default"), verbose=False,
                                report=False)
    return run.metrics["tree"]["valid"]["r2"]


@pytest.mark.parametrize("sampler", ["grid", "random", "tpe", "gp"])
def test_each_sampler_beats_the_default(tmp_path, sampler, default_r2):
    path = tmp_path / "calib.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    result = quanta.tune(path, sampler=sampler, out=tmp_path / "runs", worker=True)
    assert default_r2 < 0.75  # depth 1: two values for the whole energy range
    assert result.best_values[0] > default_r2 + 0.1, (sampler, result.best_values, default_r2)
    finished = [t for t in result.trials if t["state"] == "COMPLETE"]
    assert len(finished) == 5 and [t["number"] for t in result.trials] == list(range(5))
    if sampler == "grid":  # no grid point twice
        assert len({tuple(sorted(t["params"].items())) for t in finished}) == 5
    assert result.best_run is None  # a worker: no retraining, the test split untouched
    assert not (result.folder / "best.yaml").exists()
    assert sorted(p.name for p in (result.folder / "trials").iterdir()) == [str(i) for i in range(5)]
    assert all((result.folder / "trials" / str(i) / "tree" / "metrics.json").exists()
               for i in range(5))
    for i in range(5):  # a trial scores the validation split only
        record = yaml.safe_load((result.folder / "trials" / str(i) / "tree" / "metrics.json")
                                .read_text())
        assert set(record) == {"valid", "seconds"}


def test_a_grid_smaller_than_the_budget_is_searched_once(tmp_path):
    experiment = {**EXPERIMENT, "search": {**EXPERIMENT["search"], "sampler": "grid", "trials": 50,
                                           "space": {"methods.tree.params.max_depth":
                                                     {"int": [2, 4]}}}}
    result = quanta.tune(experiment, out=tmp_path, worker=True)
    assert sorted(t["params"]["methods.tree.params.max_depth"] for t in result.trials) == [2, 3, 4]


def test_timeout_stops_starting_trials(tmp_path, capsys):
    experiment = {**EXPERIMENT, "search": {**EXPERIMENT["search"], "trials": 500}}
    result = quanta.tune(experiment, out=tmp_path, worker=True, timeout=1.0)
    assert 1 <= len(result.trials) < 500
    assert f"study stopped with {len(result.trials)} of 500 trials finished" in capsys.readouterr().out


def test_several_objectives_give_a_pareto_front(tmp_path):
    experiment = {**EXPERIMENT, "search": {**EXPERIMENT["search"], "sampler": "random",
                                           "objective": ["r2", "inference_time"]}}
    result = quanta.tune(experiment, out=tmp_path, worker=True)
    record = yaml.safe_load((result.folder / "trials.json").read_text())
    assert record["objectives"] == [{"metric": "r2", "direction": "maximize"},
                                    {"metric": "inference_time", "direction": "minimize"}]
    assert all(len(t["values"]) == 2 and 0 < t["values"][1] < 1e-2 for t in record["trials"])
    front = [t for t in record["trials"] if t["number"] in record["best"]]
    assert front and all(not any(o["values"][0] >= t["values"][0] and o["values"][1] <
                                 t["values"][1] for o in record["trials"]) for t in front)
