"""PCA finds the eigenvalues of a known covariance and records the variance each component explains."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.experiment import run_experiment
from quanta.methods import METHODS
from quanta.tasks import TASKS

EIGENVALUES = np.array([9.0, 4.0, 1.0, 0.25])


def correlated(n: int = 20000, seed: int = 0) -> Dataset:
    """Gaussian samples whose covariance has the eigenvalues above along rotated axes."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    x = (rng.normal(size=(n, 4)) * np.sqrt(EIGENVALUES)) @ rotation.T
    return Dataset({"x": x.astype(np.float32)}, name="correlated")


def config(tmp_path, **params):
    return {"name": "pca", "task": "embedding", "output": str(tmp_path), "data": {"source": "arrays"},
            "importance": {"repeats": 0},
            "methods": [{"name": "pca", "method": "pca", "params": params}]}


def test_explained_variance_equals_the_covariance_eigenvalues(tmp_path):
    run = run_experiment(config(tmp_path, components=3, standardize=False), data=correlated(),
                         verbose=False, report=False)
    record = json.loads((run.directory / "pca" / "explained_variance.json").read_text())
    # 12,000 training samples: each sample variance is within 3 sigma = 3 sqrt(2/n) ~ 4 %
    np.testing.assert_allclose(record["variance"], EIGENVALUES[:3], rtol=0.04)
    np.testing.assert_allclose(record["ratio"], EIGENVALUES[:3] / EIGENVALUES.sum(), rtol=0.04)
    test = run.metrics["pca"]["test"]
    assert set(test) == {"code_variance_1", "code_variance_2", "code_variance_3"}  # no labels
    np.testing.assert_allclose([test[f"code_variance_{i}"] for i in (1, 2, 3)], EIGENVALUES[:3],
                               rtol=0.08)  # 4,000 test samples
    codes = np.load(run.directory / "pca" / "predictions.npz")["test_score"]
    assert codes.shape[1] == 3 and "test_y" not in np.load(run.directory / "pca" / "predictions.npz")


def test_whitened_codes_have_unit_variance_and_survive_saving(tmp_path):
    data = correlated(4000, seed=1)
    method = METHODS.create("pca", components=2, whiten=True)
    method.fit(data, None, TASKS.create("embedding"))
    codes = method.predict(data)
    np.testing.assert_allclose(codes.var(axis=0, ddof=1), 1.0, rtol=1e-3)
    assert abs(np.corrcoef(codes.T)[0, 1]) < 1e-3
    method.save(tmp_path)
    np.testing.assert_array_equal(type(method).load(tmp_path).predict(data), codes)
    standardised = method.explained_variance()["ratio"]
    assert standardised[0] > standardised[1] > 0 and sum(standardised) < 1.0


def test_more_components_than_inputs_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match=r"^pca: components=5 is more than the 4 the training "
                                        r"split allows \(4 input columns, \d+ rows\)$"):
        run_experiment(config(tmp_path, components=5), data=correlated(500), verbose=False,
                       report=False)


def test_pca_serves_only_the_embedding_task(tmp_path):
    data = Dataset({"x": correlated(100).x, "y": np.arange(100) % 2})
    with pytest.raises(UserError, match=r"^pca: task 'binary' is not supported; allowed: "):
        METHODS.create("pca").fit(data, None, TASKS.create("binary"))
