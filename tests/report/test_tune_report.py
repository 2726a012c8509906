"""The report of a ``quanta tune`` study (quanta.report.search_report) from synthetic study folders:
the page, its figures and their files, one and two objectives, and the errors of a damaged folder."""

from __future__ import annotations

import json
import math
import re
import sys

import numpy as np
import pytest

from quanta.errors import UserError
from quanta.report import search_figures, search_parameter_figures
from quanta.report.search_record import read_study
from quanta.report.search_report import report_kind, write_search_report
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

SPACE = {
    "methods.mlp.train.lr": {"float": [1e-4, 1e-1], "log": True},
    "methods.mlp.params.dropout": {"float": [0.0, 0.5]},
    "methods.mlp.params.hidden": {"layers": [1, 3], "width": {"int": [16, 256], "log": True}},
    "methods.mlp.train.optimizer": {"choice": ["adam", "momentum"]},
    "methods.mlp.train.momentum": {"float": [0.5, 0.99], "when": {"methods.mlp.train.optimizer": "momentum"}},
}


def _trials(objectives: int, count: int = 14) -> list[dict]:
    """``count`` trials: most complete, some pruned (with their epochs), one failed, one running,
    one retried; the value falls with lr far from 1e-2 (a loss, minimised)."""
    rng = np.random.default_rng(5)
    trials = []
    for number in range(count):
        optimizer = ["adam", "momentum"][number % 2]
        params = {"methods.mlp.train.lr": float(10 ** rng.uniform(-4, -1)),
                  "methods.mlp.params.dropout": float(rng.uniform(0, 0.5)),
                  "methods.mlp.train.optimizer": optimizer,
                  "methods.mlp.params.hidden.layers": int(1 + number % 3)}
        for layer in range(params["methods.mlp.params.hidden.layers"]):
            params[f"methods.mlp.params.hidden.width_{layer}"] = int(2 ** rng.integers(4, 9))
        if optimizer == "momentum":
            params["methods.mlp.train.momentum"] = float(rng.uniform(0.5, 0.99))
        loss = 0.2 + 0.1 * abs(math.log10(params["methods.mlp.train.lr"]) + 2) + 0.05 * rng.random()
        epochs = {str(e): loss * (1 + 2.0 / (e + 1)) for e in range(8)}
        state = ("PRUNED" if number in (3, 7, 10) else "FAIL" if number == 5
                 else "RUNNING" if number == count - 1 else "COMPLETE")
        if state == "PRUNED":
            epochs = {k: v + 0.4 for k, v in list(epochs.items())[:3]}
        values = None
        if state == "COMPLETE":
            values = [loss] if objectives == 1 else [loss, float(1e-6 * params["methods.mlp.params.hidden.width_0"] * (1 + rng.random()))]
        trials.append({"number": number, "state": state, "params": params, "values": values,
                       "intermediate": epochs if state != "FAIL" else {}, "seconds": 1.5 + number,
                       "worker": f"node1:{4000 + number % 2}",
                       "retried_from": 5 if number == 6 else None})
    return trials


def _pareto(trials: list[dict]) -> list[int]:
    done = [t for t in trials if t["values"]]
    return [t["number"] for t in done
            if not any(all(o <= v for o, v in zip(u["values"], t["values"], strict=True)) and u is not t
                       and u["values"] != t["values"] for u in done)]


def write_study(folder, objectives: int = 1, importances: bool = True, search: bool = True,
                best: str = "name: mlp\n"):
    """A study folder as quanta tune leaves it: trials.json, search.json, best.yaml and the report
    of the retrained best configuration."""
    folder.mkdir(parents=True)
    trials = _trials(objectives)
    metrics = [{"metric": "loss", "direction": "minimize"}]
    if objectives == 2:
        metrics.append({"metric": "seconds_per_event", "direction": "minimize"})
        numbers = _pareto(trials)
    else:
        numbers = [min((t for t in trials if t["values"]), key=lambda t: t["values"][0])["number"]]
    record = {"objectives": metrics, "trials": trials, "best": numbers,
              "importances": {"methods.mlp.train.lr": 0.71, "methods.mlp.params.hidden.width_0": 0.18,
                              "methods.mlp.params.dropout": 0.08,
                              "methods.mlp.train.optimizer": 0.03} if importances else {}}
    (folder / "trials.json").write_text(json.dumps(record))
    if search:
        (folder / "search.json").write_text(json.dumps({
            "study": "mlp <search>", "storage": "postgresql://quanta:***@db.example/quanta",
            "experiment": "examples/tune_mlp.yaml",
            "search": {"sampler": "tpe", "trials": 14, "objective": metrics, "pruner": "median",
                       "methods": ["mlp"], "space": SPACE}}))
    (folder / "best.yaml").write_text(best)
    retrained = folder / "best" / "mlp" / "20261207-230000"
    retrained.mkdir(parents=True)
    (retrained / "report.html").write_text("<html></html>")
    return folder


def test_the_page_names_the_study_the_best_trial_and_counts_by_state(tmp_path):
    folder = write_study(tmp_path / "mlp-tune")
    path = write_search_report(folder)
    page = path.read_text()
    assert path == folder / "report.html"
    assert "<h1>mlp &lt;search&gt;</h1>" in page and "<search>" not in page  # escaped
    assert "postgresql://quanta:***@db.example/quanta" in page
    assert "tpe" in page and "median" in page and "loss (minimize)" in page
    counts = re.search(r"<h2>Trials</h2>.*?<tbody><tr>(.*?)</tr>", page).group(1)
    assert re.findall(r">(\d+)<", counts) == ["9", "3", "1", "1", "14"]  # complete..running, all
    study = read_study(folder)
    (best,) = study.best_trials
    assert f"Trial #{best.number}: the best loss" in page
    assert 'href="best.yaml"' in page and 'href="best/mlp/20261207-230000/report.html"' in page
    assert "retries #5" in page and "methods.mlp.train.momentum" in page
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    assert figures == ["intermediate_values.png", "optimisation_history.png",
                       "parallel_coordinates.png", "parameter_importances.png", "slices.png"]
    assert page.count("data:image/png;base64,") == 5 and "Pareto" not in page
    assert 'class="missing"' not in page


def test_two_objectives_draw_a_pareto_front_and_a_slice_per_objective(tmp_path):
    folder = write_study(tmp_path / "two-tune", objectives=2)
    page = write_search_report(folder).read_text()
    study = read_study(folder)
    assert len(study.best_trials) >= 2
    assert "Best trials (the Pareto front)" in page
    figures = {p.name for p in (folder / "figures").iterdir()}
    assert {"pareto_front.png", "slices_loss.png", "slices_seconds_per_event.png"} <= figures
    assert "seconds_per_event (minimize)" in page


def test_missing_importances_and_search_json_are_left_out_with_a_sentence(tmp_path):
    folder = write_study(tmp_path / "bare-tune", importances=False, search=False,
                         best="name: mlp\nreport: {style: lhcb, pdf: true}\n")
    page = write_search_report(folder).read_text()
    assert "figures in the lhcb style" in page  # the experiment's report: block, from best.yaml
    assert (folder / "figures" / "optimisation_history.pdf").is_file()
    assert "Not drawn: trials.json holds no importances" in page
    assert "search.json not found in the study folder" in page
    assert "<h1>bare</h1>" in page  # the study's name from the folder's


def test_a_study_that_has_only_begun_gets_a_page_saying_so(tmp_path):
    folder = tmp_path / "new-tune"
    folder.mkdir()
    running = {"number": 0, "state": "RUNNING", "params": {"methods.mlp.train.lr": 0.01},
               "values": None, "intermediate": {}, "seconds": None, "worker": "node1:1",
               "retried_from": None}
    (folder / "trials.json").write_text(json.dumps({
        "objectives": [{"metric": "auc", "direction": "maximize"}], "trials": [running],
        "best": [], "importances": {}}))
    page = write_search_report(folder).read_text()
    assert "No trial has completed yet." in page and "No best.yaml yet" in page
    assert "Not drawn: no trial has finished with a value yet" in page
    assert "Not drawn: no trial reported a validation value per epoch" in page
    assert sorted(p.name for p in (folder / "figures").iterdir()) == []


def test_parameter_axes_follow_the_space(tmp_path):
    study = read_study(write_study(tmp_path / "axes-tune"))
    assert study.is_log("methods.mlp.train.lr") and study.is_log("methods.mlp.params.hidden.width_2")
    assert not study.is_log("methods.mlp.params.dropout")
    assert not study.is_log("methods.mlp.params.hidden.layers")
    assert study.choices("methods.mlp.train.optimizer") == ["adam", "momentum"]
    assert study.choices("methods.mlp.params.hidden.width_0") is None
    assert study.parameters == [  # the space's order; a layer list as its count, then each width
        "methods.mlp.train.lr", "methods.mlp.params.dropout", "methods.mlp.params.hidden.layers",
        "methods.mlp.params.hidden.width_0", "methods.mlp.params.hidden.width_1",
        "methods.mlp.params.hidden.width_2", "methods.mlp.train.optimizer",
        "methods.mlp.train.momentum"]
    fig = search_parameter_figures.slices_figure(study)
    by_label = {ax.get_xlabel(): ax for ax in fig.axes}
    assert by_label["train.lr (log)"].get_xscale() == "log"
    assert by_label["params.dropout"].get_xscale() == "linear"
    assert [t.get_text() for t in by_label["train.optimizer"].get_xticklabels()] == ["adam", "momentum"]
    fig = search_parameter_figures.parallel_coordinates_figure(study)
    (ax,) = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["train.lr (log)", "params.dropout"]
    texts = {t.get_text() for t in ax.texts}
    assert {"adam", "momentum"} <= texts
    assert len(ax.lines) >= len(study.complete)  # one line per complete trial (and the ticks)


def test_a_dollar_in_a_name_or_a_choice_is_drawn_as_written(tmp_path):
    from quanta.report.figure_files import png_bytes

    folder = tmp_path / "dollar-tune"
    folder.mkdir()
    trials = [{"number": i, "state": "COMPLETE", "params": {"cut $a_$": ["$b_$", "y"][i % 2], "n": i},
               "values": [0.5 + i / 10], "intermediate": {"0": 0.4}} for i in range(3)]
    (folder / "trials.json").write_text(json.dumps({
        "objectives": [{"metric": "$c_$", "direction": "min"}], "trials": trials, "best": [0],
        "importances": {"cut $a_$": 0.5, "n": 0.5}}))
    study = read_study(folder)
    for draw in (search_figures.history_figure, search_figures.importances_figure,
                 search_figures.intermediate_figure, search_parameter_figures.slices_figure,
                 search_parameter_figures.parallel_coordinates_figure):
        assert png_bytes(draw(study), dpi=20).startswith(b"\x89PNG")  # no mathtext error


def test_history_marks_pruned_failed_and_running_trials_apart(tmp_path):
    study = read_study(write_study(tmp_path / "marks-tune"))
    fig = search_figures.history_figure(study)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels[:2] == ["best so far", "complete"] or set(labels[:2]) == {"best so far", "complete"}
    assert {"pruned (last value reported)", "failed (no value)", "running (no value)"} <= set(labels)
    fig = search_figures.intermediate_figure(study)
    assert {"complete", "pruned", "running"} <= set(fig.axes[0].get_legend_handles_labels()[1])


@pytest.mark.parametrize(("content", "message"), [
    (None, "trials.json: file not found"),
    ("{\"objectives\": [", "trials.json: not valid JSON"),
    ("[]", "trials.json: expected a JSON object, received list"),
    (json.dumps({"objectives": [{"metric": "auc", "direction": "up"}], "trials": []}),
     "trials.json: objectives[0].direction: expected minimize or maximize, received 'up'"),
    (json.dumps({"objectives": [{"metric": "auc", "direction": "maximize"}],
                 "trials": [{"number": 0, "state": "DONE"}]}),
     "trials.json: trials[0].state: expected one of COMPLETE, PRUNED, FAIL, RUNNING, WAITING"),
    (json.dumps({"objectives": [{"metric": "auc", "direction": "maximize"}],
                 "trials": [{"number": 0, "state": "COMPLETE", "values": ["high"]}]}),
     "trials.json: trials[0].values[0]: expected a number, received 'high'"),
])
def test_a_damaged_or_missing_trials_json_is_one_line_naming_the_file(tmp_path, content, message):
    folder = tmp_path / "bad-tune"
    folder.mkdir()
    (folder / "search.json").write_text("{}")
    if content is not None:
        (folder / "trials.json").write_text(content)
    with pytest.raises(UserError, match=re.escape(message)) as caught:
        write_search_report(folder)
    assert "\n" not in str(caught.value) and str(folder / "trials.json") in str(caught.value)
    done = quanta_here("report", str(folder), cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr
    assert not (folder / "report.html").exists()


def test_quanta_report_rewrites_a_study_folder_without_torch_or_optuna(tmp_path):
    import subprocess

    folder = write_study(tmp_path / "cli-tune")
    assert report_kind(folder) == "study"
    code = ("import sys; from quanta.cli import main; "
            f"assert main(['report', {str(folder)!r}]) == 0; "
            "assert 'torch' not in sys.modules and 'optuna' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(folder / "report.html")
    assert (folder / "figures" / "optimisation_history.png").is_file()


def test_quanta_report_refuses_a_folder_that_is_neither_a_run_nor_a_study(tmp_path):
    (tmp_path / "plain").mkdir()
    done = quanta_here("report", str(tmp_path / "plain"), cwd=tmp_path)
    assert done.returncode == 2
    assert "not a quanta run directory" in done.stderr and "not a study folder" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = quanta_here("report", str(tmp_path / "absent"), cwd=tmp_path)
    assert done.returncode == 2 and "absent: no such run directory or study folder" in done.stderr
