"""A feature pattern matching no column lists the file's real columns, not only those read."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quanta
from quanta.errors import UserError

COLUMNS = ["jet_pt", "jet_eta", "jet_phi", "jet_mass", "nconst", "is_top"]


def write(path, names, rows=50):
    rng = np.random.default_rng(0)
    columns = {name: rng.normal(size=rows) for name in names}
    columns["is_top" if "is_top" in names else names[-1]] = rng.integers(0, 2, rows)
    pq.write_table(pa.table(columns), path)
    return str(path)


def message(**params) -> str:
    with pytest.raises(UserError) as caught:
        quanta.data.load("files", **params)
    assert "\n" not in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize("streaming", ["never", "always"])
def test_a_pattern_matching_nothing_lists_every_column(tmp_path, streaming):
    path = write(tmp_path / "jets.parquet", COLUMNS)
    got = message(paths=[path], features=["jet_pt", "tau_*"], label="is_top", streaming=streaming)
    assert got == (f"{path}: feature pattern 'tau_*' matches no column; "
                   "columns: jet_pt, jet_eta, jet_phi, jet_mass, nconst, is_top")


def test_derived_columns_are_listed_and_matched(tmp_path):
    path = write(tmp_path / "jets.parquet", COLUMNS)
    derived = {"log_pt": "log(abs(jet_pt))"}
    got = message(paths=[path], features=["tau_*"], derived=derived, label="is_top")
    assert got == (f"{path}: feature pattern 'tau_*' matches no column; "
                   "columns: jet_pt, jet_eta, jet_phi, jet_mass, nconst, is_top, log_pt")
    data = quanta.data.load("files", paths=[path], features=["log_*", "jet_e*"], derived=derived,
                            label="is_top")
    assert data.feature_names == ["log_pt", "jet_eta"]


def test_many_columns_show_the_closest_and_count_the_rest(tmp_path):
    names = [f"f{i}" for i in range(30)] + ["tau_1", "jet_tau2", "label"]
    path = write(tmp_path / "wide.parquet", names)
    got = message(paths=[path], features=["tau*x"], label="label")
    closest = ["tau_1", "jet_tau2", "label", *(f"f{i}" for i in range(17))]
    assert got == (f"{path}: feature pattern 'tau*x' matches no column; "
                   f"the 20 closest of its 33 columns: {', '.join(closest)} (and 13 more)")
