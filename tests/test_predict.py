"""quanta predict: new files scored by a run trained from files, written back row-aligned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_quanta

uproot = pytest.importorskip("uproot")


quanta = run_quanta


def events(rng: np.random.Generator, n: int, shift: float, start: int = 0) -> dict[str, np.ndarray]:
    return {"event": np.arange(start, start + n, dtype=np.int64),
            "pt": rng.exponential(50.0, n) + 20.0 + 30.0 * shift,
            "eta": np.clip(rng.normal(0.0, 1.2 - 0.4 * shift, n), -2.4, 2.4),
            "mass": rng.normal(80.0 + 20.0 * shift, 10.0, n),
            "weight": rng.uniform(0.5, 1.5, n)}


def write_root(path: Path, columns: dict[str, np.ndarray]) -> Path:
    with uproot.recreate(path) as handle:
        handle["events"] = columns
    return path


DATA = {"source": "files", "tree": "events", "derived": {"log_pt": "log(pt)", "abs_eta": "abs(eta)"},
        "selection": "abs_eta < 2.5", "features": ["log_pt", "abs_eta", "mass"], "split": [0.6, 0.2, 0.2]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from quanta.experiment import run_experiment

    folder = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(3)
    signal = write_root(folder / "signal.root", events(rng, 300, 1.0))
    background = write_root(folder / "background.root", events(rng, 300, 0.0))
    config = {"name": "files-run", "task": "binary",
              "data": {**DATA, "classes": {"background": str(background), "signal": str(signal)}},
              "methods": [{"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 10, "max_depth": 2}},
                          {"name": "mlp", "model": "mlp", "params": {"hidden": [8]},
                           "train": {"epochs": 2, "batch_size": 64, "progress": False}}]}
    run = run_experiment(config, out=folder / "runs", verbose=False, report=False)
    new = events(rng, 200, 0.5, start=1000)
    new.pop("weight")
    new["eta"][:10] = 3.0  # failing the selection
    new_file = write_root(folder / "new.root", new)
    return folder, run, new_file, new


def expected_scores(run, new: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from quanta.data.dataset import Dataset

    keep = np.abs(new["eta"]) < 2.5
    x = np.stack([np.log(new["pt"][keep]), np.abs(new["eta"][keep]), new["mass"][keep]], axis=1).astype(np.float32)
    data = Dataset({"x": x})
    return new["event"][keep], {name: r.estimator.predict(data) for name, r in run.results.items()}


@pytest.mark.parametrize("suffix", [".parquet", ".root"])
def test_predict_writes_scores_row_aligned(trained, suffix):
    folder, run, new_file, new = trained
    out = folder / f"scores{suffix}"
    done = quanta("predict", str(run.directory), str(new_file), "--out", str(out), "--keep", "event",
                  "--keep", "pt", cwd=folder)
    assert done.returncode == 0, done.stderr
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = {k: np.asarray(v) for k, v in pq.read_table(out).to_pydict().items()}
    else:
        with uproot.open(out) as handle:
            table = handle["predictions"].arrays(library="np")
    events_kept, scores = expected_scores(run, new)
    assert set(table) == {"event", "pt", "score_bdt", "score_mlp"}
    assert len(table["event"]) == 190 and table["event"][0] == 1010  # the 10 rows failing the selection are dropped
    np.testing.assert_array_equal(table["event"], events_kept)
    np.testing.assert_array_equal(table["pt"], new["pt"][np.abs(new["eta"]) < 2.5])
    for name, score in scores.items():
        np.testing.assert_allclose(table[f"score_{name}"], score, atol=1e-6)
        assert np.all((score >= 0) & (score <= 1))


def test_predict_files_api_several_inputs_one_method(trained, tmp_path):
    import h5py

    from quanta.predict import predict_files

    folder, run, new_file, new = trained
    other = write_root(tmp_path / "other.root", {k: v[:50] for k, v in new.items()})
    written = predict_files(run.directory, [new_file, other], tmp_path / "out.h5", methods=["bdt"], keep=["event"])
    assert [p.name for p in written] == ["new.h5", "other.h5"]
    events_kept, scores = expected_scores(run, new)
    with h5py.File(written[0], "r") as handle:
        assert set(handle) == {"event", "score_bdt"}
        np.testing.assert_array_equal(handle["event"][()], events_kept)
        np.testing.assert_allclose(handle["score_bdt"][()], scores["bdt"], atol=1e-6)
    with h5py.File(written[1], "r") as handle:
        np.testing.assert_array_equal(handle["event"][()], events_kept[events_kept < 1050])


def test_score_columns_multiclass_and_regression():
    from quanta.predict import score_columns
    from quanta.tasks.evaluation import evaluation_of

    columns = score_columns("m", evaluation_of("multiclass").prediction, np.zeros((4, 3)))
    assert list(columns) == ["score_m_0", "score_m_1", "score_m_2"]
    assert list(score_columns("r", evaluation_of("regression").prediction, np.zeros(4))) == ["prediction_r"]


@pytest.mark.parametrize("case, expected", [
    ("not_a_run", "not a quanta run directory"),
    ("unknown_method", "did you mean 'mlp'"),
    ("missing_keep", "--keep column 'evnt' not found; did you mean 'event'"),
    ("unwritable", "cannot be written"),
    ("bad_suffix", "cannot tell the output format"),
    ("not_files", "not from files"),
])
def test_predict_errors_one_line_exit_2(trained, tmp_path, case, expected):
    folder, run, new_file, _ = trained
    run_dir, out, extra = str(run.directory), str(tmp_path / "scores.parquet"), []
    if case == "not_a_run":
        run_dir = str(tmp_path)
    elif case == "unknown_method":
        extra = ["--method", "mpl"]
    elif case == "missing_keep":
        extra = ["--keep", "evnt"]
    elif case == "unwritable":
        (tmp_path / "blocker").write_text("a file, not a folder")
        out = str(tmp_path / "blocker" / "scores.parquet")
    elif case == "bad_suffix":
        out = str(tmp_path / "scores.txt")
    elif case == "not_files":
        fake = tmp_path / "run"
        fake.mkdir()
        (fake / "config.yaml").write_text("name: x\ndata: {source: jets}\nmethods: [{name: bdt, method: boosted_trees}]\n")
        (fake / "environment.json").write_text("{}")
        run_dir = str(fake)
    done = quanta("predict", run_dir, str(new_file), "--out", out, *extra, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quanta: error:"), done.stderr
    assert expected in lines[0]
