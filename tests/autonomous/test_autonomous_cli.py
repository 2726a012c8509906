"""``quanta autonomous CONFIG``: the example runs and resumes; a bad file is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import quanta_here

pytest.importorskip("botorch")
pytestmark = pytest.mark.usefixtures("one_thread")

EXAMPLE = Path(__file__).parents[2] / "examples" / "autonomous" / "scan.yaml"


def test_the_example_runs_writes_its_outputs_and_resumes(tmp_path):
    done = quanta_here("autonomous", str(EXAMPLE), "--out", "scan", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "scan"
    names = {p.name for p in folder.iterdir()}
    assert {"error.png", "maps.png", "summary.json", "measurements-gp-seed0.jsonl",
            "measurements-raster-seed2.jsonl", "measurements-random-seed1.jsonl"} <= names
    summary = json.loads((folder / "summary.json").read_text())
    rows = summary["strategies"]
    assert rows["gp"]["reached"] == 3
    assert rows["gp"]["mean_measurements_to_target"] < rows["raster"]["mean_measurements_to_target"]
    assert done.stdout.splitlines()[0].split()[:2] == ["strategy", "reached"]
    assert [line.split()[0] for line in done.stdout.splitlines()[1:4]] == ["gp", "raster", "random"]

    again = quanta_here("autonomous", str(EXAMPLE), "--out", "scan", cwd=tmp_path)
    assert again.returncode == 2 and "already holds a comparison" in again.stderr

    log = folder / "measurements-gp-seed1.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:20]) + "\n")  # as if killed after 19 measurements
    resumed = quanta_here("autonomous", str(EXAMPLE), "--out", "scan", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((folder / "summary.json").read_text()) == summary
    assert log.read_text().splitlines() == lines


@pytest.mark.parametrize(("text", "message"), [
    ("budget: {measurement: 10}\n",
     "autonomous.budget: unknown key 'measurement'; did you mean 'measurements'? allowed: "
     "measurements, seconds"),
    ("strategy: [gp]\n", "autonomous: unknown key 'strategy'; did you mean 'strategies'?"),
    ("budget: {measurements: 0}\n",
     "autonomous.budget.measurements: input should be greater than or equal to 2, received 0"),
    ("beamline: {exposure_s: -1}\n",
     "autonomous.beamline.exposure_s: input should be greater than 0"),
    ("strategies: [gp, grid]\n", "autonomous.strategies[1]: input should be 'gp', 'raster' or "
                                 "'random', received 'grid'"),
    ("sample: {radius_A: [120, 30]}\n", "autonomous.sample: radius_A must be [low, high] with "
                                        "low < high"),
    ("feature: radius\n", "autonomous.feature: input should be 'guinier_radius', "
                          "'first_minimum_radius' or 'fitted_radius', received 'radius'"),
    ("seeds: [0, 0]\n", "autonomous: seeds must not repeat a seed"),
])
def test_a_bad_config_is_one_line_naming_the_field_and_exit_2(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    done = quanta_here("autonomous", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"quanta: error: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "bad-autonomous").exists()


def test_a_missing_config_file_is_one_line_and_exit_2(tmp_path):
    done = quanta_here("autonomous", "absent.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "quanta: error: absent.yaml: autonomous experiment file not found\n"


@pytest.mark.parametrize(("text", "message"), [
    ("- 1\n- 2\n", "bad.yaml: expected a mapping of keys (sample, beamline, feature, strategies, "
                   "budget, gp, error, seeds) at the top level"),
    ("budget: [\n", "bad.yaml: malformed YAML (line 2, column 1)"),
])
def test_a_file_that_is_no_mapping_is_one_line_and_exit_2(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    done = quanta_here("autonomous", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"quanta: error: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
