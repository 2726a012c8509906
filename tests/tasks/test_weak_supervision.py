"""Tasks ``cwola`` and ``label_proportions``: classifiers learned from mixed samples, scored on the
true labels; the files source's mixtures by column and by file; the one-line errors of bad set-ups.

The toy: signal and background in 4 dimensions, signal shifted by 1 in two of them and twice as
wide in a third (so the best classifier is not linear), dealt into two equal mixtures of signal
fractions 0.2 and 0.8. Its optimal AUC is about 0.91; a supervised MLP of a few epochs reaches it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import quanta
from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.simulators.jets.mixtures import FRACTION, MIXTURE, mixed
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {"epochs": 15, "patience": 0, "batch_size": 512}
LLP = {**FAST, "batch_size": 1024}  # a bag mean over ~500 samples per step


def toy(n: int = 6000, fractions=(0.2, 0.8), seed: int = 0) -> Dataset:
    """``n`` samples (half signal) in mixtures of ``fractions``: x, true y, mixture, signal_fraction."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    x[y == 1, :2] += 1.0
    x[y == 1, 2] *= 2.0
    rows, mixture = mixed(y, list(fractions), seed)
    return Dataset({"x": x[rows], "y": y[rows], MIXTURE: mixture,
                    FRACTION: np.asarray(fractions, np.float32)[mixture]}, name="toy")


@pytest.fixture(scope="module")
def data() -> Dataset:
    return toy()


@pytest.fixture(scope="module")
def supervised(data) -> float:
    return quanta.fit("mlp", data, task="binary", **FAST).metrics["test"]["auc"]


def test_cwola_network_is_close_to_the_supervised_one(data, supervised):
    run = quanta.fit("mlp", data, task="cwola", **FAST)
    auc = run.metrics["test"]["auc"]
    assert supervised > 0.89
    assert auc > 0.88 and auc > supervised - 0.02, (auc, supervised)
    # the validation metric during training is the mixture AUC: 0.5 + (f1 - f0)(AUC - 0.5)
    mixture_auc = run.history[-1]["valid_auc"]
    assert mixture_auc == pytest.approx(0.5 + 0.6 * (run.metrics["valid"]["auc"] - 0.5), abs=0.03)


def test_cwola_boosted_trees_learn_from_mixtures(data):
    run = quanta.fit("boosted_trees", data, task="cwola", params={"n_estimators": 60})
    assert run.metrics["test"]["auc"] > 0.87


def test_cwola_never_reads_the_true_labels_in_training(data):
    """Shuffling the true labels of train and valid changes nothing: only the mixtures are learned."""
    rng = np.random.default_rng(5)
    hidden = data.with_arrays(y=rng.permutation(data.y))
    a = quanta.fit("boosted_trees", data, task="cwola", params={"n_estimators": 10}).predict(data)
    b = quanta.fit("boosted_trees", hidden, task="cwola", params={"n_estimators": 10}).predict(data)
    np.testing.assert_array_equal(a, b)


def test_label_proportions_learn_from_bag_fractions(data, supervised):
    from_array = quanta.fit("mlp", data, task="label_proportions", **LLP)
    assert from_array.metrics["test"]["auc"] > 0.86, from_array.metrics["test"]["auc"]
    # the fractions given as task parameters instead of a per-sample array: the same task
    bare = Dataset({k: v for k, v in data.arrays.items() if k != FRACTION}, name="toy")
    given = quanta.fit("mlp", bare, task="label_proportions", task_params={"fractions": [0.2, 0.8]},
                       **LLP)
    assert given.metrics["test"]["auc"] == pytest.approx(from_array.metrics["test"]["auc"], abs=1e-6)
    assert given.history[-1]["valid_auc"] > 0.7  # the bags' AUC, honest without labels


def test_label_proportions_with_three_bags():
    data = toy(6000, fractions=(0.1, 0.5, 0.9), seed=1)
    run = quanta.fit("mlp", data, task="label_proportions", **LLP)
    assert run.metrics["test"]["auc"] > 0.86


def test_proportion_loss_is_zero_when_the_bag_means_match():
    import torch

    from quanta.tasks.weak_supervision import BAG_FRACTION, LabelProportions

    task = LabelProportions()
    logits = torch.logit(torch.tensor([0.1, 0.3, 0.9, 0.7]))  # bag 0 mean 0.2, bag 1 mean 0.8
    target = {"y": torch.tensor([0.0, 0.0, 1.0, 1.0]), MIXTURE: torch.tensor([0, 0, 1, 1]),
              BAG_FRACTION: torch.tensor([0.2, 0.2, 0.8, 0.8])}
    assert float(task.loss(logits, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(task.loss(torch.zeros(4), target)) > 0.1  # every p = 0.5: both bags miss


# -- the files source: mixtures by column and by file, through the command -------------------------
def write_toy(folder, fractions=(0.2, 0.8), n=3000) -> None:
    """Each mixture in its own file, with the true label and a mixture column."""
    data = toy(n, fractions, seed=2)
    for k in range(len(fractions)):
        rows = data.arrays[MIXTURE] == k
        np.savez(folder / f"region_{k}.npz", **{f"f{i}": data.x[rows, i] for i in range(4)},
                 truth=data.y[rows], region=data.arrays[MIXTURE][rows])


def experiment(data: str, task: str = "cwola", method: str = "model: mlp, train: {epochs: 10, patience: 0}",
               task_params: str = "") -> str:
    return (f"name: weak\ntask: {task}\n{task_params}data: {{source: files, {data}}}\n"
            f"methods: [{{name: m, {method}}}]\n")


BY_FILE = ("paths: ['region_*.npz'], features: [f0, f1, f2, f3], label: truth, "
           "file_arrays: {mixture: {'region_0.npz': 0, 'region_1.npz': 1}}")


def test_cwola_on_mixtures_by_file(tmp_path):
    write_toy(tmp_path)
    (tmp_path / "e.yaml").write_text(experiment(BY_FILE, method="model: mlp, train: {epochs: 20, patience: 0}"))
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(next((tmp_path / "runs").rglob("m/metrics.json")).read_text())
    assert metrics["test"]["auc"] > 0.85, metrics["test"]["auc"]


def test_mixture_by_column_through_files_arrays(tmp_path):
    write_toy(tmp_path)
    by_column = "paths: ['region_*.npz'], features: [f0, f1, f2, f3], label: truth, arrays: {mixture: region}"
    (tmp_path / "e.yaml").write_text(experiment(by_column, method="method: boosted_trees"))
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("data", "task", "method", "task_params", "message"), [
    ("paths: ['region_*.npz'], features: [f0, f1], label: truth", "cwola", None, "",
     "task 'cwola': data.split train carries no array 'mixture' naming each sample's mixture; give the "
     "data one (the jets source's mixtures: [0.2, 0.8], or the files source's arrays: / file_arrays:), or "
     "name it in task_params.mixture"),
    ("paths: ['region_*.npz'], features: [f0, f1], label: truth, arrays: {mixture: region + 1}", "cwola",
     None, "", "task 'cwola': array 'mixture' must be 0 or 1 (two mixtures); received values [1, 2] "
     "(data.split train)"),
    ("paths: ['region_0.npz'], features: [f0, f1], label: truth, arrays: {mixture: region}", "cwola",
     None, "", "task 'cwola': data.split train holds only mixture 0 of 'mixture'; both mixtures 0 and 1 "
     "must be present to separate"),
    ("paths: ['region_*.npz'], features: [f0, f1], label: truth, arrays: {mixture: region * 0.5}", "cwola",
     None, "", "task 'cwola': array 'mixture' must hold mixture indices 0, 1, ...; received [0.0, 0.5] "
     "(data.split train)"),
    (BY_FILE, "label_proportions", "method: boosted_trees", "",
     "methods[0]: task 'label_proportions' trains networks ('model:') only; a classical 'method:' learns "
     "from a target per event, not a bag's proportion (use task 'cwola' for it)"),
    (BY_FILE, "label_proportions", None, "task_params: {fractions: [0.2]}\n",
     "task_params: fractions must be a list of at least two signal fractions in [0, 1]; "
     "received [0.2]"),
    (BY_FILE, "label_proportions", None, "",
     "task 'label_proportions': data.split train carries no array 'signal_fraction' naming each sample's "
     "mixture; give task_params.fractions, one per bag"),
    ("paths: ['region_*.npz'], features: [f0], label: truth, file_arrays: {mixture: {'region_0.npz': 0}}",
     "cwola", None, "", "files.file_arrays.mixture: no entry of ['region_0.npz'] matches file "
     "region_1.npz; give each file exactly one value"),
])
def test_bad_set_ups_are_one_line_errors(tmp_path, data, task, method, task_params, message):
    write_toy(tmp_path, n=600)
    (tmp_path / "e.yaml").write_text(experiment(data, task, method or "model: mlp, train: {epochs: 1}",
                                                task_params))
    done = quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"quanta: error: {message}"
    assert not list((tmp_path / "runs").rglob("metrics.json"))  # refused before any method trained


def test_direct_construction_checks_parameters():
    from quanta.tasks.weak_supervision import LabelProportions

    with pytest.raises(UserError, match=r"label_proportions: fractions must be a list of at least two .*"
                                         r"received \[0.2, 1.5\]"):
        LabelProportions(fractions=[0.2, 1.5])
