"""Task ``autoencoding``: reconstruction error as the score, denoising, sparse codes, background-only
training, the Mahalanobis latent score, resume, and the one-line errors of bad settings.

The toy: 20 features that are linear in 3 hidden Gaussian numbers plus a little noise (a
3-dimensional plane in 20 dimensions). An autoencoder with a code of 3 rebuilds it almost
exactly; samples off the plane (anomalies) it cannot.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.tasks import TASKS
from quanta.train.callbacks import StopAfter
from quanta.train.config import TrainConfig
from quanta.train.loop import TrainingInterrupted
from quanta.train.network import Network, build_model
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

FEATURES, RANK = 20, 3
FAST = {"epochs": 12, "batch_size": 128, "lr": 3e-3, "patience": 0}


def plane(n: int, seed: int = 0, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples near a random 3-plane in 20 dimensions, and the plane's basis."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(123).normal(size=(RANK, FEATURES))
    x = rng.normal(size=(n, RANK)) @ basis + noise * rng.normal(size=(n, FEATURES))
    return x.astype(np.float32), basis


def with_anomalies(n: int, kind: str, seed: int = 0) -> Dataset:
    """The plane with a tenth of anomalies (y = 1): ``off`` the plane, or far ``out`` on it."""
    x, basis = plane(n, seed)
    rng = np.random.default_rng(seed + 1)
    y = np.zeros(n, np.int64)
    y[: n // 10] = 1
    if kind == "off":  # Gaussian noise of the same per-feature spread: not on the plane
        x[: n // 10] = (rng.normal(size=(n // 10, FEATURES)) * x.std(axis=0)).astype(np.float32)
    else:  # on the plane, four times as far out as the bulk
        x[: n // 10] = (4 * rng.normal(size=(n // 10, RANK)) @ basis).astype(np.float32)
    return Dataset({"x": x, "y": y}, name=f"plane_{kind}")


def fit(data, task_params=None, params=None, **train):
    return quanta.fit("autoencoder", data, task="autoencoding", task_params=task_params or {},
                      params={"code": RANK, "hidden": [32], **(params or {})}, **{**FAST, **train})


def codes(run, x: np.ndarray) -> np.ndarray:
    """The model's codes of raw inputs ``x`` (standardised as in training)."""
    network = run.result.estimator
    standardised = (x - network.transform.mean_) / network.transform.scale_
    with torch.no_grad():
        return network.model.encode(torch.from_numpy(standardised.astype(np.float32))).numpy()


def rebuilt_error(run, seen: np.ndarray, clean: np.ndarray) -> float:
    """Mean squared error, in standardised units, of the model's output for ``seen`` against ``clean``."""
    network = run.result.estimator
    mean, scale = network.transform.mean_, network.transform.scale_
    with torch.no_grad():
        out = network.model(torch.from_numpy(((seen - mean) / scale).astype(np.float32))).numpy()
    return float(np.mean((out - (clean - mean) / scale) ** 2))


def test_reconstruction_error_falls_far_below_the_data_variance():
    """Standardised inputs have variance 1 per feature; the 3-code autoencoder leaves 0.8 % of it."""
    x, _ = plane(2000)
    run = fit(Dataset({"x": x}))
    test = run.metrics["test"]
    assert set(test) == {"reconstruction_mse"}  # no labels: nothing else is defined
    assert test["reconstruction_mse"] < 0.05, test
    scores = run.predict(x[:10])
    assert scores.shape == (10,) and np.all(scores >= 0)


def test_train_on_learns_from_one_class_and_scores_every_split_whole(tmp_path):
    data = with_anomalies(2000, "off")
    task = TASKS.create("autoencoding", train_on=0)
    kept = task.training_rows(data, "data.split train")
    assert len(kept) == int(np.sum(data.y == 0)) == 1800 and np.all(kept.y == 0)
    run = fit(data, {"train_on": 0}, out=tmp_path)
    predictions = np.load(run.directory / "autoencoder" / "predictions.npz")
    assert len(predictions["test_score"]) == len(predictions["test_y"]) == 300  # all of the test split
    assert predictions["test_y"].sum() > 10  # with its anomalies
    test = run.metrics["test"]
    assert test["auc"] > 0.9, test  # measured 1.00: off the plane, the error is ~100 times larger
    assert "accuracy" not in test and "ece" not in test  # a cut at 0.5 means nothing for an error
    assert run.report().exists()


def test_mahalanobis_score_finds_anomalies_far_out_on_the_manifold(tmp_path):
    """Far out on the plane is in the code space's tails: the latent distance sees it.

    Measured: AUC 0.985 (the reconstruction error gets 0.96 here: the decoder's ReLUs bend away
    from the plane outside the range it was trained on)."""
    run = fit(with_anomalies(2000, "out"), {"train_on": 0, "score": "mahalanobis"}, out=tmp_path)
    test = run.metrics["test"]
    assert test["auc"] > 0.9, test
    assert 1.5 < test["mahalanobis_squared"] < 30  # chi-squared with 3 degrees of freedom for the bulk
    statistics = run.result.estimator.model.code_statistics
    background = int(np.sum(np.load(run.directory / "autoencoder" / "predictions.npz")["train_y"] == 0))
    assert int(statistics.updates) == FAST["epochs"] * -(-background // 128)  # once per training step


def test_denoising_autoencoder_rebuilds_noisy_inputs_better_than_the_plain_one():
    """Noisy inputs (noise 0.5 per standardised feature) rebuilt against the clean ones.

    The best any model can do is to project onto the plane, which keeps the noise's 3 of 20
    directions: 3/20 * 0.25 = 0.0375. With a code wider than the plane (16 for rank 3) the plain
    autoencoder passes some of the rest through; the denoising one learned to remove it.
    Measured: plain 0.051, denoising 0.044.
    """
    x, _ = plane(2000)
    clean, _ = plane(500, seed=7)
    noisy = clean + 0.5 * clean.std(axis=0) * np.random.default_rng(8).normal(size=clean.shape).astype(np.float32)
    params = {"code": 16}
    plain = rebuilt_error(fit(Dataset({"x": x}), params=params), noisy, clean)
    denoising = rebuilt_error(fit(Dataset({"x": x}), {"noise": 0.5}, params), noisy, clean)
    assert denoising < 0.92 * plain, (denoising, plain)
    assert denoising < 1.25 * 0.0375, denoising


def test_kl_sparsity_brings_each_code_unit_towards_its_target_rate():
    """A sigmoid code of 16 units: plain, the mean activation is ~0.5; with Ng's KL penalty
    towards rho = 0.05 it falls towards it (measured 0.53 and 0.13), and the data are still rebuilt."""
    x, _ = plane(2000)
    params = {"code": 16, "code_activation": "sigmoid"}
    plain = fit(Dataset({"x": x}), params=params)
    sparse = fit(Dataset({"x": x}), {"sparsity": "kl", "sparsity_weight": 0.1, "sparsity_target": 0.05},
                 params=params)
    rate_plain, rate_sparse = codes(plain, x).mean(), codes(sparse, x).mean()
    assert rate_sparse < 0.2 < 0.4 < rate_plain, (rate_sparse, rate_plain)
    assert sparse.metrics["test"]["reconstruction_mse"] < 0.3


def test_l1_sparsity_switches_code_units_off():
    """A ReLU code of 16 units: the L1 penalty leaves more of its entries at exactly 0 (measured 18 % -> 42 %)."""
    x, _ = plane(2000)
    params = {"code": 16, "code_activation": "relu"}
    plain = (codes(fit(Dataset({"x": x}), params=params), x) == 0).mean()
    sparse = (codes(fit(Dataset({"x": x}), {"sparsity": "l1", "sparsity_weight": 0.05}, params), x) == 0).mean()
    assert sparse > plain + 0.2, (sparse, plain)


def test_masked_sets_count_only_their_real_elements():
    from quanta.tasks.autoencoding import reconstruction_error

    x = torch.ones(2, 3, 4)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    rebuilt = torch.ones(2, 3, 4)
    rebuilt[:, 2] = 9.0  # wrong only where padded
    rebuilt[1, 0, 0] = 3.0  # one wrong feature of one real element: (3 - 1)^2 / 4 features
    assert reconstruction_error(rebuilt, x, mask).tolist() == [0.0, 1.0]
    assert reconstruction_error(rebuilt, x).tolist() == pytest.approx([64 * 4 / 12, (64 * 4 + 4) / 12])


def test_resume_with_noise_and_code_statistics_is_bit_for_bit(tmp_path):
    x, _ = plane(600)
    data = Dataset({"x": x})
    train, valid = data.subset(np.arange(500)), data.subset(np.arange(500, 600))
    config = TrainConfig(epochs=4, batch_size=64, lr=3e-3, patience=0, progress=False)

    def network():
        torch.manual_seed(0)
        model = build_model("autoencoder", {"code": 3, "hidden": [16]}, {"x": (FEATURES,)}, 0, where="test")
        return Network(model, TASKS.create("autoencoding", noise=0.3, score="mahalanobis"), config)

    full = network().fit(train, valid, directory=tmp_path / "full")
    with pytest.raises(TrainingInterrupted):
        network().fit(train, valid, directory=tmp_path / "cut", callbacks=[StopAfter(2)])
    torch.manual_seed(99)
    resumed = network().fit(train, valid, directory=tmp_path / "cut", resume=True)
    for key, value in full.model.state_dict().items():  # the code statistics are buffers: compared too
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert [h["valid_loss"] for h in resumed.history] == [h["valid_loss"] for h in full.history]


def _experiment(tmp_path, task_params: str, model: str = "autoencoder", params: str = "{}",
                data: str = "{source: files, paths: [x.csv], features: [a, b, c], label: label}") -> str:
    rng = np.random.default_rng(0)
    rows = ["a,b,c,label"] + [f"{a:.4f},{b:.4f},{c:.4f},{i % 2}" for i, (a, b, c) in
                              enumerate(rng.normal(size=(60, 3)))]
    (tmp_path / "x.csv").write_text("\n".join(rows) + "\n")
    np.save(tmp_path / "x.npy", rng.normal(size=(60, 3)).astype(np.float32))
    (tmp_path / "e.yaml").write_text(
        f"name: ae\ntask: autoencoding\ntask_params: {task_params}\ndata: {data}\n"
        f"methods:\n  - {{name: ae, model: {model}, params: {params}, train: {{epochs: 1}}}}\n")
    result = quanta_here("run", "e.yaml", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("task_params, message", [
    ("{noise: -1}", "task_params: noise must be a standard deviation >= 0; received -1"),
    ("{sparsity: l2}", "task_params: sparsity must be one of none, l1, kl; received 'l2'"),
    ("{sparsity_target: 1.5}", "task_params: sparsity_target must be a number in (0, 1); received 1.5"),
    ("{train_on: -1}", "task_params: train_on must be a class label >= 0, or null for all; received -1"),
    ("{score: latent}", "task_params: score must be one of reconstruction, mahalanobis; received 'latent'"),
])
def test_bad_task_parameters_are_one_line_errors(tmp_path, task_params, message):
    assert _experiment(tmp_path, task_params) == f"quanta: error: {message}"


def test_train_on_without_labels_is_a_one_line_error(tmp_path):
    line = _experiment(tmp_path, "{train_on: 0}", data="{source: files, paths: [x.npy], features: ['*']}")
    assert line == ("quanta: error: task 'autoencoding': train_on=0 selects the training samples by their "
                    "label y, and the data carry no labels")


def test_train_on_a_class_the_data_lack_is_a_one_line_error(tmp_path):
    line = _experiment(tmp_path, "{train_on: 5}")
    assert line.startswith("quanta: error: task 'autoencoding': train_on=5: data.split train has no sample of "
                           "class 5 (")
    assert line.endswith("samples of classes 0, 1)")


def test_kl_sparsity_without_a_sigmoid_code_is_a_one_line_error(tmp_path):
    line = _experiment(tmp_path, "{sparsity: kl}")
    assert line == ("quanta: error: task 'autoencoding': sparsity 'kl' needs code activations in (0, 1); give "
                    "the model code_activation: sigmoid (and a code size), or use sparsity: l1")


def test_a_code_penalty_on_a_model_without_a_code_is_a_one_line_error():
    x, _ = plane(100)
    with pytest.raises(UserError, match=r"^task 'autoencoding': sparsity 'l1' reads the model's code, which needs "
                                        r"encode\(x\) and decode\(code\) .*; Linear has none$"):
        quanta.fit(torch.nn.Linear(FEATURES, FEATURES), Dataset({"x": x}), task="autoencoding",
                   task_params={"sparsity": "l1"}, epochs=1)


def test_a_model_that_does_not_rebuild_its_inputs_is_a_one_line_error():
    x, _ = plane(100)
    with pytest.raises(UserError, match=r"^task 'autoencoding': the model's output \(\d+, 2\) is not the inputs' "
                                        r"shape \(\d+, 20\); an autoencoder must rebuild its inputs x$"):
        quanta.fit(torch.nn.Linear(FEATURES, 2), Dataset({"x": x}), task="autoencoding", epochs=1)


def test_target_images_are_refused_in_one_line():
    with pytest.raises(UserError, match=r"task 'autoencoding' reads y only as one class label per sample"):
        TASKS.create("autoencoding").check_targets(np.zeros((4, 1, 3, 3), np.float32), "y")


def test_train_on_streamed_data_is_a_one_line_error(tmp_path):
    line = _experiment(tmp_path, "{train_on: 0}",
                       data="{source: files, paths: [x.csv], features: [a, b, c], label: label, streaming: always}")
    assert line == ("quanta: error: task 'autoencoding': train_on selects samples of data in memory; data.split "
                    "train is streamed (load the data in memory or drop train_on)")


def test_anomaly_metrics_read_labels_only_when_they_are_background_and_anomaly():
    from quanta.evaluate.anomaly import anomaly_metrics, mahalanobis_metrics

    score = np.array([0.1, 0.2, 0.3, 5.0, 0.15, 7.0])
    y = np.array([0, 0, 0, 1, 0, 1])
    found = anomaly_metrics(y, score, weight=np.array([1, 1, 1, 1, 1, 3.0]))
    assert found["reconstruction_mse"] == pytest.approx((0.75 + 5.0 + 21.0) / 8)
    assert found["auc"] == 1.0 and found["rejection_at_0.5_lower_limit"]  # no background passes the cut
    assert "accuracy" not in found and "ece" not in found
    assert set(anomaly_metrics(None, score)) == {"reconstruction_mse"}
    assert set(anomaly_metrics(np.zeros(6), score)) == {"reconstruction_mse"}  # one class: no AUC
    assert set(anomaly_metrics(np.arange(6) % 3, score)) == {"reconstruction_mse"}  # not 0/1 labels
    assert set(mahalanobis_metrics(None, score)) == {"mahalanobis_squared"}
    with pytest.raises(UserError, match=r"^score: 1 of 6 values are NaN or Inf$"):
        anomaly_metrics(y, np.r_[score[:5], np.nan])
