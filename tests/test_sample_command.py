"""``quanta sample``: a run's generative method writes new samples that the files source reads back."""

from __future__ import annotations

import numpy as np
import pytest

import quanta
from quanta.data.dataset import Dataset
from tests.conftest import quanta_here

FEATURES = ["a", "b", "c"]


@pytest.fixture(scope="module", autouse=True)
def _one_openmp_thread():
    """One OpenMP thread for the runs' classifier test (boosted trees): on two cores shared with
    other jobs, its threads spin against each other and a second-long fit takes ten."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def measured(n: int = 3000, seed: int = 0) -> dict[str, np.ndarray]:
    """Three columns of mean ~100 that grow with ``energy`` (uniform 10 to 100), as a physicist's file holds them."""
    rng = np.random.default_rng(seed)
    energy = rng.uniform(10, 100, n)
    columns = {name: 60 + slope * energy + width * rng.normal(size=n)
               for name, slope, width in zip(FEATURES, (1.0, 0.5, 0.2), (2.0, 1.0, 4.0), strict=True)}
    return {**{k: v.astype(np.float32) for k, v in columns.items()}, "energy": energy.astype(np.float32)}


@pytest.fixture(scope="module")
def files_run(tmp_path_factory):
    """A run of ``quanta run`` on an HDF5 file: independent_gaussians in 4 bins of the energy."""
    import h5py

    folder = tmp_path_factory.mktemp("files_run")
    with h5py.File(folder / "showers.h5", "w") as handle:
        for name, values in measured().items():
            handle.create_dataset(name, data=values)
    (folder / "e.yaml").write_text(
        "name: gen\ntask: generation\n"
        "data: {source: files, paths: [showers.h5], features: [a, b, c], arrays: {energy: energy}}\n"
        "methods:\n"
        "  - {name: baseline, method: independent_gaussians, params: {condition: energy, bins: 4}}\n")
    result = quanta_here("run", "e.yaml", "--out", "runs", cwd=folder)
    assert result.returncode == 0, result.stderr
    (run,) = (folder / "runs" / "gen").iterdir()
    return run


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A run of ``quanta.fit`` on images [N, 1, 4, 4] from arrays (no files), unconditional."""
    rng = np.random.default_rng(1)
    x = np.maximum(50 + 10 * rng.normal(size=(200, 1, 4, 4)), 0).astype(np.float32)
    out = tmp_path_factory.mktemp("image_run")
    quanta.fit("independent_gaussians", Dataset({"x": x}, name="images"), task="generation", out=out)
    (run,) = (out / "independent_gaussians").iterdir()
    return run


def expected(run, n: int, condition=None, seed: int = 0) -> np.ndarray:
    return quanta.load_run(run).sample(n, condition, seed)


@pytest.mark.parametrize("suffix", [".h5", ".npz", ".parquet", ".root"])
def test_samples_round_trip_through_the_files_source(files_run, tmp_path, suffix):
    out = tmp_path / f"samples{suffix}"
    result = quanta_here("sample", str(files_run), "-n", "2000", "--condition", "energy=80",
                         "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2,000 samples from baseline in ")
    assert result.stdout.rstrip().endswith(f"/s): {out}")
    back = quanta.data.load("files", paths=[str(out)], features=FEATURES, arrays={"energy": "energy"})
    drawn = expected(files_run, 2000, {"energy": 80.0})
    assert back.x.shape == (2000, 3) and back.feature_names == FEATURES
    # the files source shuffles rows (seed): the same samples, in its order
    assert np.array_equal(back.x[np.argsort(back.x[:, 0])], drawn[np.argsort(drawn[:, 0])])
    assert np.all(back["energy"] == 80)
    # in the data's units: the last energy bin (~77 to 100 GeV) of a ~ 60 + E has mean ~149
    data = measured()
    rows = data["energy"] > np.quantile(data["energy"], 0.75)
    assert abs(back.x[:, 0].mean() - data["a"][rows].mean()) < 0.5


def test_the_run_s_own_format_without_a_suffix_and_x_alone_in_npy(files_run, tmp_path):
    result = quanta_here("sample", str(files_run), "-n", "10", "--condition", "energy=30", "--seed", "4",
                         "--out", "samples", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "samples.h5").is_file() and result.stdout.rstrip().endswith(": samples.h5")
    result = quanta_here("sample", str(files_run), "-n", "10", "--condition", "energy=30", "--seed", "4",
                         "--out", "x.npy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(tmp_path / "x.npy"), expected(files_run, 10, {"energy": 30.0}, seed=4))


def test_one_condition_value_per_sample_from_a_npy_file(files_run, tmp_path):
    energies = np.linspace(10, 100, 400).astype(np.float32)
    np.save(tmp_path / "energies.npy", energies)
    result = quanta_here("sample", str(files_run), "-n", "400", "--condition", "energy=energies.npy",
                         "--out", "fast.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with np.load(tmp_path / "fast.npz") as saved:
        assert sorted(saved.files) == ["a", "b", "c", "energy"]
        assert np.array_equal(saved["energy"], energies)
        assert np.array_equal(saved["a"], expected(files_run, 400, {"energy": energies})[:, 0])
        assert saved["a"][:100].mean() + 40 < saved["a"][-100:].mean()  # the bins follow the energy


def test_images_keep_their_shape(image_run, tmp_path):
    import h5py

    result = quanta_here("sample", str(image_run), "-n", "50", "--out", "images.h5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with h5py.File(tmp_path / "images.h5", "r") as handle:
        assert list(handle) == ["x"] and np.array_equal(handle["x"][:], expected(image_run, 50))
    result = quanta_here("sample", str(image_run), "-n", "50", "--out", "images.parquet", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == ("quanta: error: --out images.parquet: Parquet holds tables of one number per "
                             "column; these samples are [1, 4, 4] per sample: write .h5, .npz, .npy or "
                             ".root\n")
    assert not (tmp_path / "images.parquet").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "s.h5"], "--condition: method 'baseline' is conditioned on energy; give --condition "
                        "energy=VALUE (a number, or a .npy file of N values)"),
    (["--condition", "energy=50", "--condition", "eta=1", "--out", "s.h5"],
     "--condition eta: method 'baseline' is not conditioned on eta; its conditions: energy"),
    (["--condition", "energy", "--out", "s.h5"],
     "--condition: expected NAME=VALUE (a number, or a .npy file of N values), received 'energy'"),
    (["--condition", "energy=fifty", "--out", "s.h5"],
     "--condition energy=fifty: expected a number or a .npy file of 5 values"),
    (["--condition", "energy=e.npy", "--out", "s.h5"], "--condition energy=e.npy: no such file"),
    (["--condition", "energy=50", "--out", "s.csv"],
     "--out s.csv: cannot tell the output format from the suffix '.csv'; use one of .h5, .hdf5, .npz, "
     ".npy, .parquet, .pq, .root"),
    (["--condition", "energy=50", "--method", "nope", "--out", "s.h5"],
     "unknown method of this run 'nope' allowed: baseline"),
])
def test_bad_requests_are_one_line_errors(files_run, tmp_path, args, message):
    result = quanta_here("sample", str(files_run), "-n", "5", *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"quanta: error: {message}\n"
    assert not (tmp_path / "s.h5").exists()


def test_existing_files_and_the_run_s_inputs_are_not_overwritten(files_run, tmp_path):
    (tmp_path / "old.h5").write_bytes(b"kept")
    args = ("sample", str(files_run), "-n", "5", "--condition", "energy=50")
    result = quanta_here(*args, "--out", "old.h5", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == ("quanta: error: --out old.h5: exists; give --force "
                                                        "to replace it\n")
    assert (tmp_path / "old.h5").read_bytes() == b"kept"
    assert quanta_here(*args, "--out", "old.h5", "--force", cwd=tmp_path).returncode == 0
    assert quanta.data.load("files", paths=[str(tmp_path / "old.h5")], features=FEATURES).x.shape == (5, 3)
    training = files_run.parent.parent.parent / "showers.h5"
    before = training.read_bytes()
    result = quanta_here(*args, "--out", str(training), "--force", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == (f"quanta: error: --out {training}: is one of the "
                                                        "run's input files; samples are written to a new "
                                                        "file\n")
    assert training.read_bytes() == before
    own = files_run / "baseline" / "metrics.json"
    result = quanta_here(*args, "--out", str(own.with_suffix(".npz")), cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # a new file beside the run's is fine
    result = quanta_here(*args, "--out", str(own.with_suffix(".npz")), "--force", cwd=tmp_path)
    assert result.returncode == 2 and "is a file of the run directory" in result.stderr


def test_a_quanta_fit_run_on_files_knows_its_inputs_too(files_run, tmp_path):
    training = files_run.parent.parent.parent / "showers.h5"
    data = quanta.data.load("files", paths=[str(training)], features=FEATURES)
    quanta.fit("independent_gaussians", data, task="generation", out=tmp_path / "runs", name="fitted")
    (run,) = (tmp_path / "runs" / "fitted").iterdir()
    result = quanta_here("sample", str(run), "-n", "5", "--out", "s", cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "s.h5").is_file(), result.stderr
    result = quanta_here("sample", str(run), "-n", "5", "--out", str(training), "--force", cwd=tmp_path)
    assert result.returncode == 2 and "is one of the run's input files" in result.stderr


def test_a_run_without_a_generative_method(tmp_path):
    x = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    quanta.fit("kmeans", Dataset({"x": x}), task="clustering", out=tmp_path / "runs", name="km")
    (run,) = (tmp_path / "runs" / "km").iterdir()
    result = quanta_here("sample", str(run), "-n", "5", "--out", "s.h5", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"quanta: error: {run}: no finished method of this run generates samples "
                             "(a vae, a gan, independent_gaussians); its methods: km\n")
    result = quanta_here("sample", str(run), "-n", "5", "--method", "km", "--out", "s.h5", cwd=tmp_path)
    assert result.stderr == ("quanta: error: method 'km' does not generate samples; the methods of this "
                             "run that do: none\n")
    result = quanta_here("sample", str(run), "-n", "0", "--out", "s.h5", cwd=tmp_path)
    assert result.stderr == "quanta: error: sample: -n must be an integer >= 1, received 0\n"


@pytest.mark.slow
def test_a_conditional_vae_samples_through_the_command(tmp_path):
    """A network's samples (Network.sample: standardisation undone) take the same road as the baseline's."""
    import torch

    torch.set_num_threads(1)
    data = measured(2000)
    x = np.stack([data[name] for name in FEATURES], axis=1)
    dataset = Dataset({"x": x, "energy": data["energy"]}, name="table", feature_names=FEATURES)
    quanta.fit("vae", dataset, task="generation", out=tmp_path / "runs", name="cvae", epochs=20,
               params={"condition": "energy", "latent": 2, "hidden": [32, 32]})
    (run,) = (tmp_path / "runs" / "cvae").iterdir()
    for energy in (20, 80):
        result = quanta_here("sample", str(run), "-n", "1000", "--condition", f"energy={energy}",
                             "--out", f"e{energy}.parquet", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        back = quanta.data.load("files", paths=[str(tmp_path / f"e{energy}.parquet")], features=FEATURES,
                                arrays={"energy": "energy"})
        assert np.all(back["energy"] == energy)
        drawn = expected(run, 1000, {"energy": float(energy)})
        assert np.allclose(np.sort(back.x[:, 0]), np.sort(drawn[:, 0]))
        # in the data's units (a ~ 115 +- 26), not the standardised ones (0 +- 1)
        assert abs(back.x[:, 0].mean() - data["a"].mean()) < data["a"].std()
        assert back.x[:, 0].std() > 0.2 * data["a"].std()
