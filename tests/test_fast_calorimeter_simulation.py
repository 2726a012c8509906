"""Fast calorimeter simulation, judged as the CaloChallenge judges it: generators against the baseline.

A generative network must beat the trivial baseline (independent Gaussians per
cell in bins of energy) on every high-level observable's separation power and
on the classifier test. The default test trains the VAE on a small sample; the
slow one runs ``examples/calorimeter_generation.yaml`` (VAE and WGAN-GP, 10,000
showers, about four minutes on two cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quanta.config import read_experiment
from quanta.experiment import run_experiment

pytestmark = pytest.mark.usefixtures("one_thread")

EXAMPLE = Path(__file__).parent.parent / "examples" / "calorimeter_generation.yaml"


def comparisons(run, names) -> dict[str, dict]:
    return {name: json.loads((run.directory / name / "generated.json").read_text()) for name in names}


def separation_powers(record: dict) -> dict[str, float]:
    return {o["name"]: o["separation_power"] for o in record["observables"]}


def assert_beats_the_baseline(records: dict[str, dict], name: str) -> None:
    baseline, generator = separation_powers(records["baseline"]), separation_powers(records[name])
    worse = {k: (round(generator[k], 3), round(baseline[k], 3)) for k in baseline if generator[k] >= baseline[k]}
    assert not worse, f"{name} no better than the baseline on {worse}"
    assert records[name]["classifier_auc"] < records["baseline"]["classifier_auc"]
    assert records[name]["classifier_auc_high_level"] < records["baseline"]["classifier_auc_high_level"]


def test_a_zero_inflated_vae_beats_the_baseline_on_every_observable(tmp_path):
    config = read_experiment(EXAMPLE)
    config["data"]["size"] = 3000
    config["output"] = str(tmp_path)
    config["methods"] = [m for m in config["methods"] if m["name"] in ("baseline", "vae")]
    config["methods"][1]["train"]["epochs"] = 40
    run = run_experiment(config, verbose=False)
    records = comparisons(run, ("baseline", "vae"))
    assert_beats_the_baseline(records, "vae")
    assert records["vae"]["classifier_auc"] < 0.97 and records["vae"]["separation_power_mean"] < 0.08
    assert records["vae"]["diversity"]["nearest_neighbour_ratio"] > 0.6  # no collapse
    assert records["baseline"]["classifier_auc"] > 0.99


@pytest.mark.slow
def test_the_example_s_vae_and_wgan_gp_beat_the_baseline(tmp_path):
    config = read_experiment(EXAMPLE)
    config["output"] = str(tmp_path)
    run = run_experiment(config, verbose=False)
    records = comparisons(run, ("baseline", "vae", "wgan_gp"))
    for name in ("vae", "wgan_gp"):
        assert_beats_the_baseline(records, name)
    assert records["vae"]["classifier_auc"] < 0.92
    assert records["wgan_gp"]["diversity"]["nearest_neighbour_ratio"] > 0.5  # no mode collapse
