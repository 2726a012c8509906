"""The files source: every format reads back the same data; checks name the file and column."""

from __future__ import annotations

import re

import awkward as ak
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import uproot

from quanta.data.files import files
from quanta.data.files.expressions import evaluate
from quanta.data.files.jagged import pad_collection
from quanta.errors import UserError


def table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return {"pt": rng.uniform(100, 1000, n), "eta": rng.normal(0, 1.5, n),
            "nconst": rng.integers(0, 50, n).astype(np.int64), "is_top": rng.integers(0, 2, n).astype(np.int64)}


def write(columns, path):
    """Write flat columns in the format of ``path``'s suffix."""
    suffix = path.suffix
    if suffix == ".npz":
        np.savez(path, **columns)
    elif suffix == ".csv":
        names = list(columns)
        rows = zip(*(columns[n] for n in names), strict=True)
        path.write_text(",".join(names) + "\n" + "".join(",".join(repr(v.item()) for v in r) + "\n" for r in rows))
    elif suffix == ".parquet":
        pq.write_table(pa.table(columns), path)
    elif suffix == ".h5":
        with h5py.File(path, "w") as handle:
            group = handle.create_group("events")
            for name, value in columns.items():
                group.create_dataset(name, data=value)
    elif suffix == ".root":
        write_tree(path, "events", columns)
    return str(path)


def write_tree(path, name, columns, types=None):
    """A TTree (``file[name] = ...`` would write an RNTuple)."""
    with uproot.recreate(path) as handle:
        handle.mktree(name, types or {k: v.dtype for k, v in columns.items()}).extend(columns)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".h5", ".root"])
def test_every_format_gives_the_same_dataset(tmp_path, suffix):
    columns = table()
    reference = files(paths=[write(columns, tmp_path / "a.npz")], features=["pt", "eta", "nconst"], label="is_top")
    data = files(paths=[write(columns, tmp_path / f"a{suffix}")], features=["pt", "eta", "nconst"], label="is_top")
    for key in ("x", "y"):
        assert np.array_equal(data[key], reference[key])
    assert data.x.dtype == np.float32 and data.y.dtype == np.int64
    assert data.feature_names == ["pt", "eta", "nconst"] and data.classes == ["0", "1"]


def test_derived_selection_weight_and_patterns(tmp_path):
    columns = table(500)
    path = write(columns, tmp_path / "a.parquet")
    data = files(paths=[path], derived={"log_pt": "log(pt)", "pt_eta": "pt * abs(eta)"},
                 selection="(pt > 500) & (abs(eta) < 2)", features=["log_pt", "e*"],
                 label="nconst > 20", weight="where(nconst > 20, 2.0, 1.0)", seed=3)
    keep = (columns["pt"] > 500) & (np.abs(columns["eta"]) < 2)
    assert len(data) == keep.sum()
    assert data.feature_names == ["log_pt", "eta"]
    order = np.argsort(data.x[:, 1])
    expected = np.sort(columns["eta"][keep].astype(np.float32))
    assert np.allclose(data.x[order, 1], expected)
    assert np.allclose(np.exp(data.x[:, 0]).min(), columns["pt"][keep].min(), rtol=1e-5)
    assert set(np.unique(data["weight"]).tolist()) <= {1.0, 2.0}
    assert data.classes == ["not (nconst > 20)", "nconst > 20"]
    assert np.array_equal(data["weight"] == 2.0, data.y == 1)
    assert len(files(paths=[path], size=50)) == 50


@pytest.mark.parametrize("expression, construct", [
    ("__import__('os')", "calling '__import__'"), ("pt.real", "attribute access"),
    ("(lambda: 1)()", "lambda"), ("pt[0]", "subscripts"), ("pt ^ 2", "'^' is not allowed (write ** for a power)"),
    ("TMath::Abs(pt)", "'::' is not allowed"), ("pt if eta else 1", "'if ... else' is not allowed"),
    ("log(pt, base=2)", "keyword"), ("'a'", "constant"),
])
def test_forbidden_expressions_are_refused(expression, construct):
    with pytest.raises(UserError, match=f"expression .*{re.escape(construct[:12])}"):
        evaluate(expression, {"pt": np.ones(3), "eta": np.ones(3)})


def test_expressions_compute_elementwise():
    cols = {"a": np.array([1.0, 4.0, 9.0]), "b": np.array([-1.0, 0.5, 2.0])}
    assert np.allclose(evaluate("sqrt(a) + b ** 2", cols), [2.0, 2.25, 7.0])
    assert list(evaluate("~(b > 0) | (a == 9)", cols)) == [True, False, True]
    assert list(evaluate("0 < b < 1", cols)) == [False, True, False]
    assert np.allclose(evaluate("clip(-a, -5, 0)", cols), [-1, -4, -5])


def test_labels_from_class_globs(tmp_path):
    (tmp_path / "sig").mkdir()
    (tmp_path / "bkg").mkdir()
    for i in range(2):
        write(table(30, seed=i), tmp_path / "sig" / f"s{i}.npz")
    write(table(40, seed=9), tmp_path / "bkg" / "b.npz")
    data = files(classes={"background": str(tmp_path / "bkg/*.npz"), "signal": str(tmp_path / "sig/*.npz")},
                 features=["pt"])
    assert data.classes == ["background", "signal"]
    assert np.bincount(data.y).tolist() == [40, 60]


def test_jagged_padding_sorting_and_mask(tmp_path):
    pt = ak.Array([[1.0, 3.0, 2.0], [], [5.0, 4.0, 7.0, 6.0, 8.0]])
    eta = ak.Array([[0.1, 0.3, 0.2], [], [0.5, 0.4, 0.7, 0.6, 0.8]])
    path = tmp_path / "jets.root"
    write_tree(path, "jets", {"part": ak.zip({"pt": pt, "eta": eta}), "njet_pt": np.array([1.0, 2.0, 3.0])},
               {"part": "var * {pt: float64, eta: float64}", "njet_pt": "float64"})
    data = files(paths=[str(path)], tree="jets", collection=["part_pt", "part_eta"], pad_length=4,
                 sort_by="part_pt", seed=0)
    row = {round(float(v), 1): i for i, v in enumerate(data["x"][:, 0, 0])}  # undo the shuffle
    first, empty, long = data.x[row[3.0]], data.x[row[0.0]], data.x[row[8.0]]
    assert data.x.shape == (3, 4, 2) and data["mask"].shape == (3, 4)
    assert first[:, 0].tolist() == [3.0, 2.0, 1.0, 0.0] and np.allclose(first[:3, 1], [0.3, 0.2, 0.1])
    assert long[:, 0].tolist() == [8.0, 7.0, 6.0, 5.0]  # truncated to the 4 leading elements
    assert not empty.any()
    assert data["mask"][row[3.0]].tolist() == [True, True, True, False]
    assert data["mask"][row[8.0]].all() and not data["mask"][row[0.0]].any()
    # per-row object arrays pad the same way
    x, mask = pad_collection({"pt": np.array([np.array([1.0, 3.0]), np.array([2.0])], dtype=object)}, 3,
                             sort_by=np.array([np.array([1.0, 3.0]), np.array([2.0])], dtype=object))
    assert x[..., 0].tolist() == [[3.0, 1.0, 0.0], [2.0, 0.0, 0.0]]
    assert mask.tolist() == [[True, True, False], [True, False, False]]


def error(match, **params):
    with pytest.raises(UserError, match=match) as caught:
        files(**params)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_checks_name_the_file_and_column(tmp_path):
    good = write(table(), tmp_path / "a.npz")
    error("no such file", paths=[str(tmp_path / "missing.npz")])
    error("matches no file", paths=[str(tmp_path / "*.root")])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(open(write(table(), tmp_path / "whole.parquet"), "rb").read()[:100])
    assert "broken.parquet: cannot be read as parquet" in error("cannot be read", paths=[str(broken)])
    message = error("unknown column 'ptt'; did you mean 'pt'", paths=[good], features=["ptt"])
    assert message.startswith(good)
    np.savez(tmp_path / "ragged.npz", pt=np.ones(5), eta=np.ones(4))
    error("ragged.npz: column 'eta' has 4 rows but 'pt' has 5", paths=[str(tmp_path / "ragged.npz")])
    bad = table()
    bad["pt"][:3] = np.nan
    bad["pt"][3] = np.inf
    error("bad.npz: column 'pt' has 3 NaN and 1 Inf", paths=[write(bad, tmp_path / "bad.npz")], features=["pt"])
    assert len(files(paths=[str(tmp_path / "bad.npz")], features=["pt"], selection="pt < 1e6")) == 196
    error("a.npz: selection 'pt > 5000' keeps none", paths=[good], selection="pt > 5000")
    (tmp_path / "names.csv").write_text("pt,flavour\n1.0,b\n2.0,c\n")
    error("names.csv: column 'flavour' is not numeric", paths=[str(tmp_path / "names.csv")], features=["flavour"])
    error("format csv differs from npz", paths=[good, str(tmp_path / "names.csv")])
    error("expression '__import__", paths=[good], derived={"x": "__import__('os')"})
    error("pad_length", paths=[good], collection=["pt"])


def test_learns_from_two_root_files(tmp_path):
    import quanta

    rng = np.random.default_rng(5)
    for name, mass, tau in (("signal", 175.0, 2.0), ("background", 110.0, 5.0)):  # top-like vs QCD-like jets
        n = 1500
        columns = {"mass": rng.normal(mass, 30, n), "tau32": rng.beta(tau, 3, n),
                   "pt": rng.uniform(300, 900, n)}
        write_tree(tmp_path / f"{name}.root", "events", columns)
    data = files(classes={"background": str(tmp_path / "background.root"), "signal": str(tmp_path / "signal.root")},
                 derived={"log_pt": "log(pt)"}, features=["mass", "tau32", "log_pt"])
    run = quanta.fit("boosted_trees", data, task="binary", out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] > 0.9
