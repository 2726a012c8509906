"""The embedding task: PCA and an encoding network without labels, codes_from, the report's map."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import quanta
from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.evaluate.clustering import clustering_metrics
from quanta.experiment import run_experiment
from quanta.methods import METHODS
from quanta.methods.codes import encoded
from quanta.models import MODELS, register
from quanta.tasks import TASKS
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")

CENTRES = np.array([[0, 0, 0, 0], [6, 0, 0, 0], [0, 6, 0, 0]], dtype=np.float32)


def blobs(n: int = 900, seed: int = 0, labelled: bool = True) -> Dataset:
    """Three labelled Gaussian blobs in a plane of 4D, with a little noise off the plane."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, 3, n)
    x = (CENTRES[which] + rng.normal(size=(n, 4)) * np.array([1.0, 1.0, 0.3, 0.3])).astype(np.float32)
    return Dataset({"x": x, "y": which} if labelled else {"x": x}, name="blobs")


@quanta.data.register("embedding_blobs_test")
def blobs_source(size: int = 900, labelled: bool = True, seed: int = 1):
    """Three Gaussian blobs in a plane of 4D, with or without labels (test source)."""
    return blobs(size, seed, labelled)


class LinearCoder(torch.nn.Module):
    """A linear autoencoder: a projection to a few codes and back (test model)."""

    def __init__(self, input_shape: tuple[int, ...] = (4,), codes: int = 2):
        super().__init__()
        self.encoder = torch.nn.Linear(math.prod(input_shape), codes)
        self.decoder = torch.nn.Linear(codes, math.prod(input_shape))

    @classmethod
    def for_data(cls, shapes, out_features, codes: int = 0):
        return cls(tuple(shapes["x"]), codes or out_features)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(len(x), -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)).reshape(x.shape)


@pytest.fixture(autouse=True)
def linear_coder():
    """The test model registered for this module's tests only (every registered model must be
    exportable or refused, tests/export/test_export_networks.py)."""
    register("linear_coder_test")(LinearCoder)
    yield
    MODELS._entries.pop("linear_coder_test")


def config(tmp_path, methods, labelled: bool = True):
    return {"name": "codes", "task": "embedding", "output": str(tmp_path), "importance": {"repeats": 0},
            "data": {"source": "embedding_blobs_test", "labelled": labelled},
            "train": {"epochs": 30, "batch_size": 64, "lr": 0.01, "progress": False},
            "methods": methods}


def test_pca_and_a_linear_autoencoder_keep_the_classes_apart_and_pca_reads_the_codes(tmp_path):
    methods = [{"name": "pca", "method": "pca"},
               {"name": "coder", "model": "linear_coder_test", "params": {"codes": 2}},
               {"name": "latent_pca", "method": "pca", "params": {"codes_from": "coder"}}]
    run = run_experiment(config(tmp_path, methods), verbose=False, report=False)
    test = run.metrics["pca"]["test"]
    assert test["knn_accuracy"] > 0.95  # measured 0.978: the blobs are 6 sigma apart in the plane
    assert test["code_variance_1"] > test["code_variance_2"] > 0
    history = run.results["coder"].estimator.history
    # the best 2D linear code of the standardised inputs (PCA's first two components: 62 % of
    # their variance) leaves a reconstruction MSE of 0.38 per input; measured 0.98 -> 0.38
    assert history[-1]["valid_loss"] < 0.45 < 0.9 < history[0]["valid_loss"]
    assert run.metrics["coder"]["test"]["knn_accuracy"] > 0.95
    assert run.metrics["latent_pca"]["test"]["knn_accuracy"] > 0.95
    network, pca = run.results["coder"].estimator, run.results["latent_pca"].estimator
    sample = blobs(50, 7)  # new samples: encoded by the network, then projected by PCA
    assert pca.learner_[-1].n_features_in_ == 2  # fitted on the 2 codes, not the 4 inputs
    want = pca.learner_.transform(encoded(network, sample))
    np.testing.assert_allclose(pca.predict(sample), want, rtol=1e-5, atol=1e-5)
    loaded = type(pca).load(run.directory / "latent_pca")  # the network is read from its folder
    np.testing.assert_array_equal(loaded.predict(sample), pca.predict(sample))
    # a clustering method reads the same codes (the network's run folder beside its own)
    # the blobs share one covariance: "tied" (measured purity 0.98; "full" with 4 starts can
    # settle in a local optimum that merges two blobs, 0.68, and needs n_init=10)
    mixture = METHODS.create("gaussian_mixture", components=3, covariance="tied", codes_from="coder")
    mixture.fit(blobs(600, 3), None, TASKS.create("clustering"),
                directory=run.directory / "latent_mixture")
    assert clustering_metrics(blobs(600, 7).y, mixture.predict(blobs(600, 7)))["purity"] > 0.95
    wide = METHODS.create("pca", components=3, codes_from="coder")
    with pytest.raises(UserError, match=r"^pca: components=3 is more than the 2 the training split "
                                        r"allows \(2 codes of 'coder', 600 rows\)$"):
        wide.fit(blobs(600, 3), None, TASKS.create("embedding"), directory=run.directory / "wide")
    page = run.report().read_text()  # one map panel per method, the explained variance of both PCAs
    assert "<h3>Embedding map (test split)</h3><figure><img" in page
    assert "<h3>Explained variance</h3><figure><img" in page
    files = {p.name for p in (run.directory / "figures").iterdir()}
    assert {"embedding_map_test_split.png", "explained_variance.png"} <= files


@pytest.mark.parametrize(("methods", "message"), [
    ([{"name": "p", "method": "pca", "params": {"codes_from": "nothing"}}],
     "methods[0].params.codes_from: 'nothing' is not an earlier entry of methods; allowed: none "
     "(no network comes before it)"),
    ([{"name": "p", "method": "pca", "params": {"codes_from": "coder"}},
      {"name": "coder", "model": "linear_coder_test"}],
     "methods[0].params.codes_from: 'coder' is not an earlier entry of methods; allowed: none "
     "(no network comes before it)"),
    ([{"name": "m", "model": "mlp"}, {"name": "p", "method": "pca", "params": {"codes_from": "m"}}],
     "methods[1].params.codes_from: model 'mlp' of 'm' has no encode(x); name a network that "
     "encodes its inputs (an autoencoder)"),
    ([{"name": "q", "method": "pca"}, {"name": "p", "method": "pca", "params": {"codes_from": "q"}}],
     "methods[1].params.codes_from: 'q' is method 'pca', not a network; codes come from a network "
     "whose model has encode(x)"),
], ids=["unknown", "later", "without_encode", "not_a_network"])
def test_a_bad_codes_from_is_a_one_line_error(tmp_path, methods, message):
    import yaml

    experiment = {"name": "bad", "task": "embedding", "data": {"source": "embedding_blobs_test"},
                  "methods": methods}
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(experiment))
    result = quanta_here("run", "e.yaml", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"quanta: error: {message}"
    assert "Traceback" not in result.stderr


def test_a_network_without_encode_is_refused_in_one_line(tmp_path):
    with pytest.raises(UserError, match=r"^task 'embedding': model MLP has no encode\(x\); "):
        run_experiment(config(tmp_path, [{"name": "m", "model": "mlp"}]), verbose=False,
                       report=False)
