"""The report's figure styles (quanta.report.style), its figure files (quanta.report.figure_files)
and the size of the report of a large run."""

from __future__ import annotations

import importlib.util
import time

import matplotlib
import mplhep
import numpy as np
import pytest
import yaml
from conftest import quanta_here

from quanta.evaluate.figures import roc_figure
from quanta.report import figure_files, style, write_report
from quanta.report.figure_files import FIGURES_FOLDER, figure_name, pdf_bytes, png_bytes
from quanta.rundir import RunDirectory
from tests.report.test_html import write_fake_run

pytestmark = pytest.mark.usefixtures("one_thread")

#: an rc setting each experiment style sets, with its value, while a figure is drawn
_SETS = {
    "atlas": ("font.sans-serif", "TeX Gyre Heros"),
    "cms": ("font.sans-serif", "TeX Gyre Heros"),
    "lhcb": ("font.family", "serif"),
    "root": ("font.sans-serif", "TeX Gyre Heros"),
}


def _roc_png_pdf() -> tuple[bytes, bytes, dict]:
    """A small ROC figure drawn as PNG and PDF in the current style, and rc values seen then."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    score = rng.normal(y, 1.0)
    fig = roc_figure({"bdt": (y, score)})
    seen = {key: matplotlib.rcParams[key] for key in
            ("font.family", "font.sans-serif", "xaxis.labellocation", "xtick.major.size")}
    return png_bytes(fig), pdf_bytes(fig, laid_out=True), seen


def test_each_style_draws_with_its_settings_and_restores_them():
    before = dict(matplotlib.rcParams)
    with style.figure_style("default"):
        default_png, _, default_seen = _roc_png_pdf()
    assert default_seen["xaxis.labellocation"] == before["xaxis.labellocation"]
    for name, (key, value) in _SETS.items():
        with style.figure_style(name):
            png, pdf, seen = _roc_png_pdf()
            shown = matplotlib.rcParams[key]
        assert (shown[0] if isinstance(shown, list) else shown) == value, name
        assert seen["xaxis.labellocation"] == "right", name  # the HEP habit: labels at the end
        own = getattr(mplhep.style, style.STYLES[name])  # made for its own text size
        scaled = own["xtick.major.size"] * 11 / own["font.size"]  # to the report's 11 pt text
        assert seen["xtick.major.size"] == pytest.approx(scaled), name
        assert png.startswith(b"\x89PNG") and pdf.startswith(b"%PDF"), name
        assert png != default_png, name
        assert dict(matplotlib.rcParams) == before, name


def test_cli_style_writes_every_figure_as_png_and_pdf_and_replaces_the_folder(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", methods=("bdt",), networks=(), n=600)
    stale = run_dir / FIGURES_FOLDER / "roc_curves_old_split.png"
    stale.parent.mkdir()
    stale.write_bytes(b"an earlier report's figure")

    done = quanta_here("report", str(run_dir), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = run_dir / FIGURES_FOLDER
    pngs = {p.name for p in folder.iterdir()}
    assert not stale.exists()  # the whole folder is the new report's
    assert "roc_curves_test_split.png" in pngs and all(n.endswith(".png") for n in pngs)
    assert "(figures/roc_curves_test_split.png)" in (run_dir / "report.html").read_text("utf-8")

    done = quanta_here("report", str(run_dir), "--pdf", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    default = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert {"roc_curves_test_split.png", "roc_curves_test_split.pdf"} <= set(default)
    stems = {name.rsplit(".", 1)[0] for name in default}
    assert set(default) == {f"{s}.{f}" for s in stems for f in ("png", "pdf")}
    page = (run_dir / RunDirectory.REPORT).read_text(encoding="utf-8")
    assert f"{folder.resolve()}/" in page and "(figures/roc_curves_test_split.pdf)" in page
    assert page.count("data:image/png;base64,") == len(stems)  # still embedded, one per file

    done = quanta_here("report", str(run_dir), "--style", "lhcb", "--pdf", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lhcb = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(lhcb) == set(default)
    assert lhcb["roc_curves_test_split.png"] != default["roc_curves_test_split.png"]
    assert "figures in the lhcb style" in (run_dir / "report.html").read_text(encoding="utf-8")
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".figures")]


def test_bad_style_is_one_line_through_the_cli(tmp_path, monkeypatch):
    run_dir = write_fake_run(tmp_path / "run", methods=("bdt",), networks=(), n=300)
    done = quanta_here("report", str(run_dir), "--style", "cmss", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("quanta: error: --style: unknown style 'cmss'; did you mean 'cms'? "
                           "allowed: default, atlas, cms, lhcb, root\n")
    assert not (run_dir / "report.html").exists()

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mplhep" else real(name, *a))
    done = quanta_here("report", str(run_dir), "--style", "cms", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("quanta: error: --style: style 'cms' needs mplhep, which is not "
                           "installed; install it with pip install 'quanta[style]' (or use "
                           "style 'default')\n")


def _experiment(tmp_path, report=None, method="lr") -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    rows = ["a,b,signal"] + [f"{a:.4f},{b:.4f},{s}" for (a, b), s in zip(x, y, strict=True)]
    (tmp_path / "events.csv").write_text("\n".join(rows) + "\n")
    experiment = {"name": "styled", "task": "binary",
                  "data": {"source": "files", "paths": ["events.csv"], "features": ["a", "b"],
                           "label": "signal"},
                  "methods": [{"name": method, "method": "logistic_regression"}],
                  "output": "runs"}
    if report is not None:
        experiment["report"] = report
    (tmp_path / "experiment.yaml").write_text(yaml.safe_dump(experiment))
    return "experiment.yaml"


@pytest.mark.parametrize(("report", "method", "message"), [
    ({"style": "atlass"}, "lr",
     "report.style: unknown style 'atlass'; did you mean 'atlas'? allowed: default, atlas, cms, "
     "lhcb, root"),
    ({"styles": "cms"}, "lr",
     "report.styles: unknown key 'styles'; did you mean 'style'? allowed: style, pdf"),
    (None, FIGURES_FOLDER,
     "methods: method name 'figures' is the run directory's folder of report figures; choose "
     "another name"),
])
def test_bad_report_block_is_one_line_before_any_work(tmp_path, report, method, message):
    done = quanta_here("run", _experiment(tmp_path, report, method), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"quanta: error: {message}")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_styled_run_keeps_its_seal_for_resume_and_predict(tmp_path):
    done = quanta_here("run", _experiment(tmp_path, {"style": "cms", "pdf": True}), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs" / "styled").iterdir()
    assert "figures in the cms style" in (run_dir / "report.html").read_text(encoding="utf-8")
    assert (run_dir / FIGURES_FOLDER / "roc_curves_test_split.pdf").is_file()

    assert quanta_here("report", str(run_dir), "--style", "root", cwd=tmp_path).returncode == 0
    directory = RunDirectory.open(run_dir)
    directory.verify()  # report.html's new digest is recorded; the figures are outside the seal
    directory.method("lr").verify()
    resumed = quanta_here("run", "--resume", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    # the resumed run redraws the report in the experiment's own style
    assert "figures in the cms style" in (run_dir / "report.html").read_text(encoding="utf-8")
    scored = quanta_here("predict", str(run_dir), "events.csv", "--out", "scores.parquet",
                         cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr


def test_figure_names_are_readable_and_unique(tmp_path):
    assert figure_name("ROC curves (test split)") == "roc_curves_test_split"
    assert figure_name("Decision tree: bdt-v2") == "decision_tree_bdt-v2"
    assert figure_name("Input variables: pT [GeV], η") == "input_variables_pt_gev"
    files = figure_files.FigureFiles(tmp_path / FIGURES_FOLDER, pdf=True)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    fig = roc_figure({"bdt": (y, rng.normal(y))})
    names = [files.add("ROC curves", png_bytes(fig), fig) for _ in range(2)]
    assert names == ["roc_curves", "roc_curves_2"]
    assert sorted(p.name for p in files.write().iterdir()) == [
        "roc_curves.pdf", "roc_curves.png", "roc_curves_2.pdf", "roc_curves_2.png"]


#: the report of a 200,000-event run (binary, weighted) stays below this size
LARGE_RUN_BYTES = 400_000


def test_report_of_a_large_run_stays_small(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", methods=("bdt", "mlp"), n=200_000, weights=True)
    page = write_report(run_dir)
    assert page.stat().st_size < LARGE_RUN_BYTES


@pytest.mark.slow
def test_report_of_a_million_event_run(tmp_path):
    """The report of 1,000,000 training events (+ 250,000 each for valid and test), binary and
    regression: under 600 kB and 60 s (275 kB / 190 kB in 7 s / 4 s on a busy 2-core machine,
    where the report before palette PNGs was 736 kB / 436 kB). Takes about 15 s."""
    for task in ("binary", "regression"):
        run_dir = write_fake_run(tmp_path / task, task=task, n=1_000_000, weights=True)
        start = time.perf_counter()
        page = write_report(run_dir)
        seconds = time.perf_counter() - start
        size = page.stat().st_size
        print(f"{task}: report {size / 1e3:.0f} kB in {seconds:.1f} s")
        assert size < 600_000 and seconds < 60


def test_old_run_with_a_method_named_figures_keeps_its_folder(tmp_path):
    """Runs from before the name was reserved: the report leaves that method's folder alone."""
    run_dir = write_fake_run(tmp_path / "run", methods=(FIGURES_FOLDER,), networks=(), n=300)
    before = sorted(p.name for p in (run_dir / FIGURES_FOLDER).iterdir())
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert sorted(p.name for p in (run_dir / FIGURES_FOLDER).iterdir()) == before
    assert "ROC curves" in page and "also written as PNG and PDF" not in page
