"""A clustering run reads the latent codes of an autoencoder trained in another run (codes_from: a folder)."""

from __future__ import annotations

import pytest

from quanta.experiment import run_experiment
from tests.conftest import quanta_here

pytestmark = pytest.mark.usefixtures("one_thread")


def calorimeter(tmp_path, task: str, methods: list[dict]) -> dict:
    return {"name": task, "task": task, "output": str(tmp_path / "runs"), "seed": 1,
            "data": {"source": "calorimeter", "view": "features", "size": 1200, "energy_min": 10.0,
                     "energy_max": 20.0},
            "train": {"epochs": 30, "batch_size": 64, "lr": 0.003, "progress": False},
            "methods": methods}


def test_kmeans_clusters_the_codes_of_an_autoencoder_of_another_run(tmp_path):
    encoder = run_experiment(calorimeter(tmp_path, "autoencoding", [
        {"name": "ae", "model": "autoencoder", "params": {"code": 3, "hidden": [32]}}]), verbose=False)
    folder = encoder.directory / "ae"
    run = run_experiment(calorimeter(tmp_path, "clustering", [
        {"name": "km_inputs", "method": "kmeans", "params": {"clusters": 2}},
        {"name": "km_codes", "method": "kmeans", "params": {"clusters": 2, "codes_from": str(folder)}}]),
        verbose=False)
    codes, inputs = run.metrics["km_codes"]["test"], run.metrics["km_inputs"]["test"]
    assert codes["purity"] > 0.75  # e against pi from 3 learned numbers per shower
    assert abs(codes["purity"] - inputs["purity"]) < 0.15
    assert run.results["km_codes"].estimator.encoder_.model.encode is not None


def test_a_codes_from_folder_that_is_not_a_method_of_a_run_is_a_one_line_error(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "name: bad\ntask: clustering\ndata: {source: calorimeter, view: features, size: 200}\n"
        f"methods:\n  - {{name: km, method: kmeans, params: {{codes_from: {tmp_path}/nowhere/ae}}}}\n")
    result = quanta_here("run", "e.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"quanta: error: methods[0].params.codes_from: {tmp_path}/nowhere/ae is not the folder of a method "
        "in a quanta run directory (RUN_DIR/<method>, beside the run's config.yaml)")
