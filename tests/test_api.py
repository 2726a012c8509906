"""quanta.fit end to end on small synthetic problems (the lecture examples)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quanta
from quanta.errors import UserError
from tests.conftest import xor_clouds


def test_mlp_learns_xor_and_a_linear_model_cannot(tmp_path):
    x, y = xor_clouds()
    common = dict(task="binary", epochs=60, batch_size=64, lr=0.01, patience=0, out=tmp_path, verbose=False)
    hidden = quanta.fit("mlp", (x, y), params={"hidden": [8], "activation": "tanh"}, **common)
    linear = quanta.fit("mlp", (x, y), params={"hidden": []}, name="linear", **common)
    assert hidden.metrics["test"]["accuracy"] >= 0.97
    assert linear.metrics["test"]["accuracy"] <= 0.70  # a line cannot separate XOR
    assert hidden.metrics["test"]["auc"] >= 0.99


def lecture_function(x):
    return 0.2 + 0.4 * x**3 + 0.3 * x * np.sin(15 * x) + 0.05 * np.cos(20 * x)


def test_regression_fits_the_lecture_function(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(4000, 1)).astype(np.float32)
    y = lecture_function(x[:, 0]).astype(np.float32)
    # targets are learned scaled to unit variance (std 0.2 here), so the step size is larger than
    # for raw targets (lr 3e-3 unscaled reaches mse 1.4e-3; scaled, lr 1e-2 reaches 1.6e-3)
    run = quanta.fit("mlp", (x, y), task="regression", params={"hidden": [128]}, epochs=150, batch_size=64,
                     lr=1e-2, schedule="cosine", patience=0, out=tmp_path, verbose=False)
    # the function's variance is ~0.04; a 1-128-1 ReLU network follows the wiggles closely
    assert run.metrics["test"]["mse"] < 2e-3, run.metrics["test"]


def test_fit_accepts_any_torch_module_and_predicts(tmp_path, xor):
    x, y = xor
    module = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    run = quanta.fit(module, (x, y), task="binary", epochs=40, lr=0.01, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] > 0.98
    scores = run.predict(x[:5])
    assert scores.shape == (5,) and np.all((scores >= 0) & (scores <= 1))
    assert not (run.directory / "report.html").exists()  # written on request only
    assert run.report() == run.directory / "report.html" and run.report().exists()


def test_fit_boosted_trees_on_arrays(tmp_path, xor):
    run = quanta.fit("boosted_trees", xor, task="binary", out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] > 0.98
    assert run.history and "train_loss" in run.history[0]


def test_fit_multiclass(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=1500)
    x = (np.eye(3)[y] * 3 + rng.normal(size=(1500, 3))).astype(np.float32)
    run = quanta.fit("mlp", (x, y), task="multiclass", epochs=20, out=tmp_path, verbose=False)
    assert run.metrics["test"]["accuracy"] > 0.85
    assert run.predict(x[:4]).shape == (4, 3)


def test_fit_rejects_bad_inputs(tmp_path, xor):
    x, y = xor
    with pytest.raises(UserError, match="unknown model 'mpl'; did you mean 'mlp'"):
        quanta.fit("mpl", (x, y), out=tmp_path, verbose=False)
    with pytest.raises(UserError, match="task 'binary' needs labels 0 and 1"):
        quanta.fit("mlp", (x, y + 1), out=tmp_path, verbose=False)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(UserError, match="1 NaN"):
        quanta.fit("mlp", (bad, y), out=tmp_path, verbose=False)
    with pytest.raises(UserError, match="epochs"):
        quanta.fit("mlp", (x, y), epochs=0, out=tmp_path, verbose=False)


def test_fit_writes_nothing_and_prints_nothing_unless_asked(tmp_path, monkeypatch, capsys, xor):
    monkeypatch.chdir(tmp_path)
    run = quanta.fit("boosted_trees", xor, params={"n_estimators": 20})
    assert list(tmp_path.iterdir()) == []  # no runs/ in the working directory
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    scratch = run.directory
    assert scratch.is_dir() and run.metrics["test"]["auc"] > 0.8
    saved = run.save(tmp_path / "kept")
    assert run.directory == saved and (saved / "boosted_trees" / "metrics.json").exists()
    assert run.report().parent == saved
    del run
    import gc

    gc.collect()
    assert not scratch.exists()  # the temporary run directory went with its Run
    assert (saved / "report.html").exists()


def test_load_run_reopens_a_saved_run(tmp_path, xor):
    x, y = xor
    first = quanta.fit("mlp", xor, epochs=5, out=tmp_path / "runs")
    again = quanta.load_run(first.directory)
    assert again.metrics == first.metrics
    assert again.history == first.history
    np.testing.assert_allclose(again.predict(x[:20]), first.predict(x[:20]), rtol=1e-6)
    assert again.report().name == "report.html"
    with pytest.raises(UserError, match="unknown method 'mpl'; did you mean 'mlp'"):
        quanta.load_run(first.directory, method="mpl")
    with pytest.raises(UserError, match="not a quanta run directory"):
        quanta.load_run(tmp_path)
    with pytest.raises(UserError, match="exists and is not an empty folder"):
        first.save(tmp_path / "runs")
