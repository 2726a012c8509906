"""Tests for quanta.report.generated_section: the report's Generated samples section."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanta.evaluate.generated import compare_samples
from quanta.report import read_run, write_report
from quanta.report.generated_section import MAX_PANELS, _shown, generated_section, histograms_figure
from quanta.rundir import RunDirectory
from tests.conftest import quanta_here
from tests.report.test_html import write_fake_run


def _record(shift: float = 0.0) -> dict:
    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(400, 6)), rng.normal(shift, 1.0, (400, 6))
    record = compare_samples(real, fake, {}, {}, seed=0)
    record["samples_per_second"] = 12345.6
    return record


def test_section_shows_each_generating_method_and_escapes_names(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", methods=("bdt", "mlp"), n=400)
    record = _record(shift=0.5)
    record["observables"][0]["name"] = "<script>alert(1)</script>"
    record["kind"] = "<b>samples</b>"
    RunDirectory(run_dir).method("mlp").write_generated(record)

    section = generated_section(read_run(run_dir))
    assert section.startswith("<h2>Generated samples</h2>")
    assert "<script>" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "<b>samples</b>" not in section and "&lt;b&gt;samples&lt;/b&gt;" in section
    assert ">mlp</td>" in section and ">bdt</td>" not in section  # only the method that generated
    assert f">{record['classifier_auc']:.3f}<" in section
    assert f">{record['separation_power_mean']:.3f}<" in section
    assert ">12,346<" in section  # samples per second
    assert section.count("<img ") == 1  # one grid of histograms
    assert "400 test samples against 400 generated" in section

    page = write_report(run_dir).read_text()
    assert "<h2>Generated samples</h2>" in page
    assert page.index("<h2>Generated samples</h2>") < page.index("<h2>Environment</h2>")


def test_section_is_left_out_without_generated_samples(tmp_path):
    run_dir = write_fake_run(tmp_path / "run")
    assert generated_section(read_run(run_dir)) == ""


def test_a_damaged_record_still_renders(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", methods=("mlp",))
    record = _record()
    record["observables"] = [
        {"name": "v", "separation_power": 0.2, "edges": [0, 1], "real": [1, 2]},
        "not an observable",
    ]
    del record["classifier_auc"]
    RunDirectory(run_dir).method("mlp").write_generated(record)
    section = generated_section(read_run(run_dir))
    assert "Not drawn: no observable histograms in generated.json" in section
    assert ">—<" in section  # the missing AUC


def test_many_observables_show_those_that_separate_most():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(300, 60)), rng.normal(size=(300, 60))
    fake[:, 59] += 5.0
    record = compare_samples(real, fake, {}, {}, seed=0)
    assert len(record["observables"]) == 33
    many = json.loads(json.dumps(record))
    many["observables"] = [
        dict(o, name=f"{o['name']} {i}") for i in range(2) for o in record["observables"]
    ]
    shown = _shown(many)  # 66 observables: the figure draws 48
    assert len(shown) == MAX_PANELS
    assert {"x[59] 0", "x[59] 1", "x_sum 0", "x_sum 1"} <= {o["name"] for o in shown}
    powers = sorted(o["separation_power"] for o in many["observables"])
    assert min(o["separation_power"] for o in shown) >= powers[-MAX_PANELS]
    fig = histograms_figure(record["observables"][:3], "generated")
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        f"S = {o['separation_power']:.3f}" for o in record["observables"][:3]
    ]


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_a_generative_experiment_writes_and_reports_its_comparison(tmp_path):
    # about 20 s: a variational autoencoder trained for three epochs on 840 showers
    (tmp_path / "e.yaml").write_text(
        "name: calo-vae\nseed: 1\n"
        "data: {source: calorimeter, view: image3d, size: 1200, pixels: 8, layers: 6,"
        " progress: false, workers: 1}\n"
        "task: generation\n"
        "methods:\n  - {name: vae, model: vae, train: {epochs: 3, batch_size: 64}}\n"
    )
    result = quanta_here("run", "e.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "vae: 180 generated samples" in result.stdout
    (run_dir,) = (tmp_path / "runs" / "calo-vae").iterdir()
    record = RunDirectory(run_dir, writer=False).method("vae").read_generated()
    assert record["kind"] == "calorimeter showers" and record["samples"]["fake"] == 180
    assert 0.5 <= record["classifier_auc"] <= 1.0 and record["samples_per_second"] > 0
    page = (run_dir / "report.html").read_text()
    assert "<h2>Generated samples</h2>" in page and "Generated samples: vae" in page
