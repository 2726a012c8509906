"""quanta predict --format: the output format chosen explicitly, the suffix inferred without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quanta.cli import main
from tests.conftest import quanta_here
from tests.test_predict import write_root

uproot = pytest.importorskip("uproot")

#: the first bytes of a file of each format predict writes
MAGIC = {"parquet": b"PAR1", "hdf5": b"\x89HDF\r\n\x1a\n", "root": b"root"}


def events(rng: np.random.Generator, n: int, shift: float, start: int = 0) -> dict[str, np.ndarray]:
    return {"event": np.arange(start, start + n, dtype=np.int64),
            "pt": rng.exponential(50.0, n) + 20.0 + 30.0 * shift,
            "mass": rng.normal(80.0 + 20.0 * shift, 10.0, n)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from quanta.experiment import run_experiment

    folder = tmp_path_factory.mktemp("predict-format")
    rng = np.random.default_rng(5)
    signal = write_root(folder / "signal.root", events(rng, 200, 1.0))
    background = write_root(folder / "background.root", events(rng, 200, 0.0))
    config = {"name": "format-run", "task": "binary",
              "data": {"source": "files", "tree": "events", "derived": {"log_pt": "log(pt)"},
                       "selection": "mass > 60", "features": ["log_pt", "mass"],
                       "split": [0.6, 0.2, 0.2],
                       "classes": {"background": str(background), "signal": str(signal)}},
              "methods": [{"name": "bdt", "method": "boosted_trees",
                           "params": {"n_estimators": 10, "max_depth": 2}}]}
    run = run_experiment(config, out=folder / "runs", verbose=False, report=False)
    new = events(rng, 120, 0.5, start=1000)
    other = events(rng, 40, 0.5, start=5000)
    inputs = [write_root(folder / "new.root", new), write_root(folder / "other.root", other)]
    return run, inputs, [new, other]


def expected(run, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The kept events and the bdt's scores of one input, computed without predict."""
    from quanta.data.dataset import Dataset

    keep = columns["mass"] > 60
    x = np.stack([np.log(columns["pt"][keep]), columns["mass"][keep]], axis=1).astype(np.float32)
    return columns["event"][keep], run.results["bdt"].estimator.predict(Dataset({"x": x}))


def read_back(path: Path, fmt: str) -> dict[str, np.ndarray]:
    """The columns of ``path``, read as ``fmt`` (after checking the file really is in it)."""
    assert path.read_bytes()[: len(MAGIC[fmt])] == MAGIC[fmt], f"{path} is not {fmt}"
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return {k: np.asarray(v) for k, v in pq.read_table(path).to_pydict().items()}
    if fmt == "hdf5":
        import h5py

        with h5py.File(path, "r") as handle:
            return {k: handle[k][()] for k in handle}
    with uproot.open(path) as handle:
        return handle["predictions"].arrays(library="np")


def check_scores(run, path: Path, fmt: str, columns: dict[str, np.ndarray]) -> None:
    table = read_back(path, fmt)
    kept, scores = expected(run, columns)
    assert set(table) == {"event", "score_bdt"}
    np.testing.assert_array_equal(table["event"], kept)
    np.testing.assert_allclose(table["score_bdt"], scores, atol=1e-6)


@pytest.mark.parametrize("fmt", ["parquet", "hdf5", "root"])
def test_format_chooses_a_single_output_file_format(trained, tmp_path, fmt):
    run, inputs, columns = trained
    out = tmp_path / "scores"  # no suffix: only --format can tell the format
    done = quanta_here("predict", str(run.directory), str(inputs[0]), "--out", str(out),
                      "--format", fmt, "--keep", "event", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out)]
    check_scores(run, out, fmt, columns[0])


@pytest.mark.parametrize("fmt, suffix",
                         [("parquet", ".parquet"), ("hdf5", ".h5"), ("root", ".root")])
def test_format_chooses_a_folder_outputs_format_over_the_inputs(trained, tmp_path, fmt, suffix):
    run, inputs, columns = trained
    out = tmp_path / "scores"  # the inputs are .root: without --format the outputs would be ROOT
    done = quanta_here("predict", str(run.directory), *map(str, inputs), "--out", str(out),
                      "--format", fmt, "--keep", "event", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"new{suffix}", f"other{suffix}"]
    for name, values in zip(("new", "other"), columns, strict=True):
        check_scores(run, out / f"{name}{suffix}", fmt, values)


def test_without_format_the_folder_suffix_decides(trained, tmp_path):
    run, inputs, columns = trained
    out = tmp_path / "scores.h5"
    argv = ["predict", str(run.directory), *map(str, inputs), "--out", str(out), "--keep", "event"]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["new.h5", "other.h5"]
    check_scores(run, out / "new.h5", "hdf5", columns[0])


def test_a_matching_suffix_and_format_agree(trained, tmp_path):
    run, inputs, columns = trained
    out = tmp_path / "scores.hdf5"
    assert main(["predict", str(run.directory), str(inputs[0]), "--out", str(out),
                 "--format", "hdf5", "--keep", "event"]) == 0
    check_scores(run, out, "hdf5", columns[0])


@pytest.mark.parametrize("out, several, fmt, message", [
    ("x.parquet", False, "root",
     "--out {out} and --format root disagree: the suffix '.parquet' names parquet; "
     "drop one of them or use a suffix of root (.root)"),
    ("x.csv", False, "hdf5",
     "--out {out} and --format hdf5 disagree: the suffix '.csv' names csv; "
     "drop one of them or use a suffix of hdf5 (.h5, .hdf5)"),
    ("preds.root", True, "parquet",
     "--out {out} and --format parquet disagree: the suffix '.root' names root; "
     "drop one of them or use a suffix of parquet (.parquet, .pq)"),
    ("x.parquet", False, "csv",
     "--format csv: predict cannot write csv; allowed: parquet, hdf5, root"),
    ("x.parquet", False, "rot",
     "--format rot: predict cannot write rot; did you mean 'root'? "
     "allowed: parquet, hdf5, root"),
])
def test_a_contradiction_or_unknown_format_is_one_line_exit_2(trained, tmp_path, capsys, out,
                                                              several, fmt, message):
    run, inputs, _ = trained
    target = tmp_path / out
    given = inputs if several else inputs[:1]
    status = main(["predict", str(run.directory), *map(str, given), "--out", str(target),
                   "--format", fmt])
    assert status == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"quanta: error: {message.format(out=target)}"]
    assert not target.exists()


def test_the_suffix_error_offers_format(trained, tmp_path, capsys):
    run, inputs, _ = trained
    target = tmp_path / "scores.txt"
    assert main(["predict", str(run.directory), str(inputs[0]), "--out", str(target)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"quanta: error: --out {target}: cannot tell the output format from the suffix '.txt'; "
        "use one of .parquet, .pq, .h5, .hdf5, .root, or --format parquet|hdf5|root "
        "(or an existing folder for several inputs)")


def test_help_documents_format_and_the_inference(capsys):
    from quanta.predict import OUTPUT_FORMATS

    with pytest.raises(SystemExit) as done:
        main(["predict", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"--format {{{','.join(OUTPUT_FORMATS)}}}" in text
    assert "output format:" in text and "without --format the suffix of\n  --out does" in text
    assert "A suffix of --out naming another format than --format is an error." in text


def test_api_takes_format_too(trained, tmp_path):
    from quanta.predict import predict_files

    run, inputs, columns = trained
    (written,) = predict_files(run.directory, inputs[:1], tmp_path / "scores.out", keep=["event"],
                               format="root")
    assert written == tmp_path / "scores.out"
    check_scores(run, written, "root", columns[0])
