"""``quanta fit-curve FILE``: a curve file in, a posterior folder out; bad files get one line and status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanta.inference import read_curve
from quanta.simulators.saxs import saxs
from tests.conftest import quanta_here


@pytest.fixture(scope="module")
def curve():
    data = saxs(view="curve", target="radius", size=2, seed=5, shapes=("sphere",), n_q=60,
                polydispersity=0.1, dq_over_q=0.0, progress=False)
    return data.arrays["q"][0], data.arrays["intensity"][0], data.arrays["sigma"][0], float(data.arrays["y"][0])


def test_fit_curve_on_a_csv_file_writes_the_posterior_summary_and_figures(tmp_path, curve):
    q, intensity, sigma, radius = curve
    lines = ["# a simulated sphere", "q,I,dI"] + [f"{a:.6g},{b:.6g},{c:.6g}" for a, b, c in zip(q, intensity, sigma, strict=True)]
    (tmp_path / "curve.csv").write_text("\n".join(lines) + "\n")
    done = quanta_here("fit-curve", "curve.csv", "--model", "sphere", "--steps", "150", "--walkers", "8",
                       "--seed", "2", "--out", "fit", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "radius" in done.stdout and "acceptance fraction" in done.stdout
    assert "autocorrelation times" in done.stderr  # 150 steps is short: warned, not refused
    folder = tmp_path / "fit"
    assert {p.name for p in folder.iterdir()} == {"posterior.npz", "summary.json", "corner.png", "band.png"}
    summary = json.loads((folder / "summary.json").read_text())
    fitted = summary["parameters"]["radius"]
    assert abs(fitted["median"] / radius - 1) < 0.02
    assert summary["long_enough"] is False and summary["file"] == "curve.csv"
    with np.load(folder / "posterior.npz") as saved:
        assert saved["chain"].shape == (150, 8, 4) and list(saved["names"])[0] == "radius"
    again = quanta_here("fit-curve", "curve.csv", "--steps", "150", "--walkers", "8", "--out", "fit",
                        cwd=tmp_path)
    assert again.returncode == 2 and "already holds a fit" in again.stderr


def test_whitespace_text_without_header_and_without_errors_is_read(tmp_path, curve):
    q, intensity, _, _ = curve
    path = tmp_path / "curve.dat"
    path.write_text("\n".join(f"{a:.6g}  {b:.6g}" for a, b in zip(q[::-1], intensity[::-1], strict=True)) + "\n")
    read = read_curve(path)
    assert read.sigma is None and np.all(np.diff(read.q) > 0) and len(read.q) == len(q)


def _rows(count: int = 20) -> list[str]:
    q = np.geomspace(0.01, 0.3, count)
    return [f"{a:.5g},{1 / (1 + (30 * a) ** 4):.5g},0.01" for a in q]


@pytest.mark.parametrize(("text", "message"), [
    ("q,dI\n" + "\n".join(row.rsplit(",", 1)[0] for row in _rows()),
     "bad.csv: the header has no column I (it names q, di; expected q, I and optionally dI)"),
    ("q,I,dI\n" + "\n".join(["-0.01,1,0.1"] + _rows()), "bad.csv: column q must be > 0 (1/A); 1 value(s) are not"),
    ("q,I,dI\n" + "\n".join(["0.001,nan,0.1"] + _rows()),
     "bad.csv: column I has 1 NaN or Inf value(s); remove those rows"),
    ("q,I,dI\n" + "\n".join(_rows(5)), "bad.csv: a curve needs at least 10 points; received 5"),
    ("q,I,dI\n" + "\n".join(["0.001,one,0.1"] + _rows()), "bad.csv: line 2 holds a value that is not a number"),
    ("q,I,dI\n" + "\n".join(["0.001,1,0"] + _rows()), "bad.csv: column dI must be > 0; 1 value(s) are not"),
    ("0.01\n0.02\n", "bad.csv: needs at least two columns (q and I); line 1 has 1"),
])
def test_bad_curve_files_exit_2_with_one_line(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text + "\n")
    done = quanta_here("fit-curve", "bad.csv", "--steps", "20", "--walkers", "8", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"quanta: error: {message}"), done.stderr
    assert done.stderr.count("\n") == 1


def test_an_unknown_model_names_the_allowed_ones(tmp_path):
    (tmp_path / "good.csv").write_text("q,I,dI\n" + "\n".join(_rows()) + "\n")
    done = quanta_here("fit-curve", "good.csv", "--model", "spheres", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert ("model: must be one of sphere, core_shell_sphere, cylinder; received 'spheres' "
            "(did you mean 'sphere'?)") in done.stderr
    missing = quanta_here("fit-curve", "absent.csv", cwd=tmp_path)
    assert missing.returncode == 2 and "absent.csv: no such file" in missing.stderr
