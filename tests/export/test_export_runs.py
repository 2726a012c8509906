"""``quanta export`` of whole runs: files that score raw inputs as ``run.predict`` does, and
``quanta predict --engine onnx`` giving the scores of ``--engine torch`` (a network, and boosted
trees through :mod:`quanta.export.classical`).

Tolerance: |onnx - torch| <= 1e-4 + 1e-3 |torch| (float32 rounding of the folded standardisation
and target scaling; measured at most 4e-6 on regression values of about +-100).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import quanta  # noqa: E402
from quanta.data.dataset import Dataset  # noqa: E402
from quanta.errors import UserError  # noqa: E402
from quanta.export import ONNX_FILE, export_run  # noqa: E402
from quanta.export.onnx_network import read_metadata, run_session, session  # noqa: E402
from tests.conftest import quanta_here  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
ATOL, RTOL = 1e-4, 1e-3


def raw_sets(n: int = 240, slots: int = 8, seed: int = 0) -> Dataset:
    """Sets of 2-8 particles with features in raw units (offsets and scales far from 0 and 1);
    three classes by the sign and size of the summed first feature."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(2, slots + 1, n)
    mask = np.arange(slots)[None, :] < counts[:, None]
    x = rng.normal(size=(n, slots, 3)) * [20.0, 1.0, 0.01] + [50.0, 0.0, 1.0]
    x = (x * mask[..., None]).astype(np.float32)
    total = ((x[..., 0] - 50.0) * mask).sum(1)
    y = np.digitize(total, [-15.0, 15.0]).astype(np.int64)
    return Dataset(
        {"x": x, "mask": mask, "y": y},
        name="sets",
        feature_names=["pt", "eta", "m"],
        classes=["low", "middle", "high"],
    )


@pytest.fixture(scope="module")
def set_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export-sets")
    return quanta.fit(
        "deepsets",
        raw_sets(),
        task="multiclass",
        params={"phi": [8], "rho": [8]},
        epochs=2,
        batch_size=64,
        out=folder,
    )


def test_a_set_run_exports_to_a_file_that_scores_raw_sets_as_run_predict(set_run):
    (path,) = export_run(set_run.directory)
    assert path == set_run.directory / "deepsets" / ONNX_FILE
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert ONNX_FILE in manifest  # its digest recorded: reads are checked like every run file
    data = raw_sets(50, slots=11, seed=3)  # another batch size and more padded slots
    got = run_session(session(path), data.arrays)[0]
    want = set_run.predict(Dataset({k: v for k, v in data.arrays.items() if k != "y"}))
    assert got.shape == (50, 3)
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)  # softmax scores, in the graph
    import onnx

    metadata = read_metadata(onnx.load(str(path)))
    assert metadata["name"] == "deepsets" and metadata["model"] == "deepsets"
    assert metadata["quanta_version"] == quanta.__version__ and metadata["task"] == "multiclass"
    assert metadata["hyperparameters"]["phi"] == [8] and metadata["exporter"] == "torchscript"
    assert metadata["class_names"] == ["low", "middle", "high"]
    x, mask = metadata["inputs"]
    assert x == {
        "name": "x",
        "dtype": "float32",
        "shape": ["batch", "length", 3],
        "feature_names": ["pt", "eta", "m"],
    }
    assert mask == {"name": "mask", "dtype": "bool", "shape": ["batch", "length"]}
    assert metadata["outputs"][0]["class_names"] == ["low", "middle", "high"]


def test_a_regression_run_folds_its_target_scaling_and_writes_to_out(tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(300, 3)) * [10.0, 1.0, 200.0] + [100.0, 0.0, 1000.0]).astype(np.float32)
    y = (2.0 * x[:, 0] + 0.1 * x[:, 2] + rng.normal(size=300)).astype(np.float32)  # about 300
    run = quanta.fit(
        "mlp", (x, y), task="regression", params={"hidden": [8]}, epochs=2, out=tmp_path
    )
    target = tmp_path / "deploy" / "energy.onnx"
    assert export_run(run.directory, out=target) == [target]
    assert not (run.directory / "mlp" / ONNX_FILE).exists()  # --out instead of the method folder
    got = run_session(session(target), {"x": x[:40]})[0]
    np.testing.assert_allclose(got, run.predict(x[:40]), atol=ATOL, rtol=RTOL)


def test_export_errors_are_one_line_with_exit_status_2(set_run, tmp_path):
    run_dir = str(set_run.directory)
    cases = [
        (("--method", "deepset"), "unknown method of this run 'deepset'; did you mean 'deepsets'?"),
        (("--format", "tflite"), "--format tflite: quanta export writes onnx"),
        (("--out", str(tmp_path / "scores.txt")), "an ONNX file is named *.onnx"),
    ]
    for arguments, expected in cases:
        done = quanta_here("export", run_dir, *arguments, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr and done.stderr.count("\n") == 1
    missing = quanta_here("export", str(tmp_path / "nothing"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such run directory" in missing.stderr
    engine = quanta_here(
        "predict", run_dir, "new.csv", "--out", "a.parquet", "--engine", "trt", cwd=tmp_path
    )
    assert engine.returncode == 2 and "--engine trt: allowed: torch, onnx" in engine.stderr


def test_a_module_passed_from_python_is_refused_naming_the_python_route(tmp_path):
    import torch

    x = np.random.default_rng(2).normal(size=(120, 3)).astype(np.float32)
    run = quanta.fit(
        torch.nn.Linear(3, 1), (x, (x[:, 0] > 0).astype(np.int64)), epochs=1, out=tmp_path
    )
    with pytest.raises(UserError, match="a torch.nn.Module passed from Python cannot be rebuilt"):
        export_run(run.directory)


def test_a_missing_export_library_names_the_extra(set_run, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_onnxruntime)
    with pytest.raises(UserError, match=r"pip install quanta\[export\]"):
        export_run(set_run.directory)


# -- quanta predict --engine onnx, on a run trained from files -----------------------------------
def write_events(path, rng, n: int, shift: float) -> None:
    pt = rng.exponential(50.0, n) + 20.0 + 30.0 * shift
    eta = np.clip(rng.normal(0.0, 1.2 - 0.4 * shift, n), -2.4, 2.4)
    mass = rng.normal(80.0 + 20.0 * shift, 10.0, n)
    rows = "\n".join(
        f"{i},{a:.6f},{b:.6f},{c:.6f}"
        for i, (a, b, c) in enumerate(zip(pt, eta, mass, strict=True))
    )
    path.write_text("event,pt,eta,mass\n" + rows + "\n")


def test_predict_with_the_onnx_engine_equals_the_torch_engine(tmp_path):
    import pyarrow.parquet as pq

    from quanta.experiment import run_experiment

    rng = np.random.default_rng(4)
    for name, shift in (("signal", 1.0), ("background", 0.0), ("new", 0.5)):
        write_events(tmp_path / f"{name}.csv", rng, 300 if name != "new" else 120, shift)
    data = {
        "source": "files",
        "derived": {"log_pt": "log(pt)", "abs_eta": "abs(eta)"},
        "selection": "abs_eta < 2",
        "features": ["log_pt", "abs_eta", "mass"],
        "split": [0.6, 0.2, 0.2],
        "classes": {
            "background": str(tmp_path / "background.csv"),
            "signal": str(tmp_path / "signal.csv"),
        },
    }
    methods = [
        {"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 5, "max_depth": 2}},
        {
            "name": "mlp",
            "model": "mlp",
            "params": {"hidden": [8]},
            "train": {"epochs": 2, "batch_size": 64, "progress": False},
        },
    ]
    run = run_experiment(
        {"name": "files-run", "task": "binary", "data": data, "methods": methods},
        out=tmp_path / "runs",
        verbose=False,
        report=False,
    )
    run_dir, new = str(run.directory), str(tmp_path / "new.csv")
    early = quanta_here(
        "predict",
        run_dir,
        new,
        "--out",
        str(tmp_path / "early.parquet"),
        "--engine",
        "onnx",
        cwd=tmp_path,
    )
    assert early.returncode == 2 and "has not been exported; run quanta export" in early.stderr
    done = quanta_here("export", run_dir, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(run.directory / m / ONNX_FILE) for m in ("bdt", "mlp")]
    tables = {}
    for engine in ("torch", "onnx"):
        out = tmp_path / f"{engine}.parquet"
        done = quanta_here(
            "predict",
            run_dir,
            new,
            "--out",
            str(out),
            "--keep",
            "event",
            "--engine",
            engine,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        tables[engine] = pq.read_table(out).to_pydict()
    np.testing.assert_array_equal(tables["onnx"]["event"], tables["torch"]["event"])
    assert 50 < len(tables["onnx"]["event"]) < 120  # the selection applied the same way
    for method in ("bdt", "mlp"):  # the trees through quanta.export.classical
        np.testing.assert_allclose(
            tables["onnx"][f"score_{method}"],
            tables["torch"][f"score_{method}"],
            atol=ATOL,
            rtol=RTOL,
        )
    (run.directory / "mlp" / ONNX_FILE).write_bytes(b"not a model")  # changed after export
    damaged = quanta_here(
        "predict",
        run_dir,
        new,
        "--out",
        str(tmp_path / "late.parquet"),
        "--engine",
        "onnx",
        cwd=tmp_path,
    )
    assert damaged.returncode == 2 and "changed since quanta wrote it" in damaged.stderr


def test_a_whole_run_exports_what_it_can_and_names_what_it_skips(tmp_path):
    from quanta.experiment import run_experiment

    methods = [{"name": "near", "method": "knn"},
               {"name": "weighted", "method": "knn", "params": {"weights": "distance"}}]
    run = run_experiment(
        {"name": "knn-run", "task": "regression", "data": {"source": "energy_calibration", "size": 300},
         "methods": methods}, out=tmp_path / "runs", verbose=False, report=False)
    done = quanta_here("export", str(run.directory), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(run.directory / "near" / ONNX_FILE)]
    assert done.stderr.startswith("quanta export: weighted not exported: method 'knn': "
                                  "weights: distance is not exported")
    assert not (run.directory / "weighted" / ONNX_FILE).exists()
    named = quanta_here("export", str(run.directory), "--method", "weighted", cwd=tmp_path)
    assert named.returncode == 2 and named.stderr.startswith("quanta: error: method 'knn': weights: distance")
