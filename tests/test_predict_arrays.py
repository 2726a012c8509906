"""quanta predict gives new files' named arrays (data.arrays) to the methods that read them."""

from __future__ import annotations

import h5py
import numpy as np

import quanta
from quanta.data.dataset import Dataset
from tests.conftest import quanta_here


def showers(path, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    energy = rng.uniform(10, 100, n).astype(np.float32)
    columns = {"a": (energy + rng.normal(size=n)).astype(np.float32),
               "b": (0.5 * energy + rng.normal(size=n)).astype(np.float32), "energy": energy}
    with h5py.File(path, "w") as handle:
        for name, values in columns.items():
            handle.create_dataset(name, data=values)
    return columns


def test_a_conditional_method_scores_new_files_with_their_condition(tmp_path):
    showers(tmp_path / "train.h5", 600, seed=0)
    new = showers(tmp_path / "new.h5", 50, seed=1)
    (tmp_path / "e.yaml").write_text(
        "name: gen\ntask: generation\n"
        "data: {source: files, paths: [train.h5], features: [a, b], arrays: {energy: energy}}\n"
        "methods:\n  - {name: baseline, method: independent_gaussians, params: {condition: energy, bins: 4}}\n")
    assert quanta_here("run", "e.yaml", "--out", "runs", cwd=tmp_path).returncode == 0
    (run,) = (tmp_path / "runs" / "gen").iterdir()
    result = quanta_here("predict", str(run), "new.h5", "--out", "scores.h5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with h5py.File(tmp_path / "scores.h5") as handle:
        scores = {name: handle[name][()] for name in handle}
    column = next(k for k in scores if k.startswith("score_"))
    data = Dataset({"x": np.c_[new["a"], new["b"]], "energy": new["energy"]}, name="new")
    np.testing.assert_allclose(scores[column], quanta.load_run(run).predict(data), rtol=1e-5)
