"""Methods of one experiment may read other views of the same samples (one split, one report)."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.config import resolve
from quanta.errors import UserError
from quanta.experiment import run_experiment


def test_each_method_reads_its_view_of_the_same_jets(tmp_path):
    experiment = {"name": "views", "task": "binary",
                  "data": {"source": "jets", "view": "features", "size": 300, "progress": False},
                  "methods": [{"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 30}},
                              {"name": "mlp_image", "model": "mlp", "data": {"view": "image", "image_pixels": 16},
                               "params": {"hidden": [16]}, "train": {"epochs": 2, "progress": False}}]}
    run = run_experiment(experiment, out=tmp_path, verbose=False)
    with np.load(run.directory / "bdt" / "predictions.npz") as a, \
            np.load(run.directory / "mlp_image" / "predictions.npz") as b:
        assert np.array_equal(a["test_y"], b["test_y"])  # same events in the same split
    assert run.results["mlp_image"].estimator.spec["shapes"]["x"] == [1, 16, 16]
    assert "mlp_image" in (run.directory / "report.html").read_text()


def test_method_view_errors():
    base = {"task": "binary", "data": {"source": "jets", "size": 100}}
    with pytest.raises(UserError, match=r"methods\[0\].data.view: input should be"):
        resolve({**base, "methods": [{"name": "m", "model": "mlp", "data": {"view": "picture"}}]})
    with pytest.raises(UserError, match=r"methods\[0\].data: unknown parameter 'veiw'; did you mean 'view'"):
        resolve({**base, "methods": [{"name": "m", "model": "mlp", "data": {"veiw": "image"}}]})
