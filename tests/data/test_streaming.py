"""Streaming from many shards: the plan, the epoch, the budget, and the same results as in memory."""

from __future__ import annotations

import tracemalloc

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import uproot

import quanta
from quanta.data.files import files
from quanta.data.reweight import Reweighting
from quanta.data.stream.loader import StreamLoader
from quanta.data.stream.plan import Chunk, parse_memory, row_uniforms, shard
from quanta.data.stream.stream import Stream
from quanta.errors import UserError
from tests.conftest import run_quanta

FEATURES = 8


pytestmark = pytest.mark.usefixtures("one_thread")


def shard_columns(index: int, rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Two overlapping Gaussian classes in FEATURES features, plus the shard and row of every row."""
    rng = np.random.default_rng([seed, index])
    y = rng.integers(0, 2, rows)
    x = rng.normal(size=(rows, FEATURES)) + 0.6 * y[:, None] * np.linspace(1.0, 0.2, FEATURES)
    columns = {f"f{k}": x[:, k].astype(np.float32) for k in range(FEATURES)}
    columns.update(shard=np.full(rows, index, np.float32), row=np.arange(rows, dtype=np.float32),
                   pt=rng.exponential(200.0, rows).astype(np.float32) + 100 * y, label=y.astype(np.int64))
    return columns


def write_shards(folder, suffix: str, shards: int = 8, rows: int = 1500, group_rows: int = 500) -> str:
    folder.mkdir(exist_ok=True)
    for index in range(shards):
        columns = shard_columns(index, rows)
        path = folder / f"shard{index:02d}{suffix}"
        if suffix == ".h5":
            with h5py.File(path, "w") as handle:
                group = handle.create_group("events")
                for name, value in columns.items():
                    group.create_dataset(name, data=value)
        elif suffix == ".parquet":
            pq.write_table(pa.table(columns), path, row_group_size=group_rows)
        elif suffix == ".root":
            with uproot.recreate(path) as handle:
                handle.mktree("events", {k: v.dtype for k, v in columns.items()}).extend(columns)
        elif suffix == ".npz":
            np.savez(path, **columns)
    return str(folder / f"*{suffix}")


SOURCE = {"features": [f"f{k}" for k in range(FEATURES)] + ["shard", "row"], "label": "label"}


def test_memory_sizes_parse_and_refuse():
    assert parse_memory("2GB") == 2_000_000_000 and parse_memory("512 MiB") == 512 * 2**20
    assert parse_memory("auto") > 0
    with pytest.raises(UserError, match="files.memory: 'lots' is not a size"):
        parse_memory("lots")


def test_split_of_a_row_depends_on_seed_file_and_row_only(tmp_path):
    rows = np.arange(100_000)
    u = row_uniforms(3, 5, rows)
    assert np.array_equal(u[500:900], row_uniforms(3, 5, rows[500:900]))
    assert 0.49 < u.mean() < 0.51 and u.min() >= 0 and u.max() < 1
    assert not np.array_equal(u, row_uniforms(4, 5, rows)) and not np.array_equal(u, row_uniforms(3, 6, rows))
    pattern = write_shards(tmp_path / "h5", ".h5", shards=3)
    parts = [files(paths=[pattern], **SOURCE, streaming="always", memory="4MB", chunk_rows=rows).split(
        [0.6, 0.2, 0.2], seed=1) for rows in (128, 700)]
    for name in ("train", "valid", "test"):
        assert len(parts[0][name]) == len(parts[1][name]) > 0
        assert np.array_equal(parts[0][name].y, parts[1][name].y)


def test_shards_of_ranks_are_disjoint_and_cover():
    chunks = [Chunk(f, f"file{f}", start, start + 10) for f in range(5) for start in range(0, 70, 10)]
    shares = [shard(chunks, rank, 3, seed=1) for rank in range(3)]
    assert sorted(c for share in shares for c in share) == sorted(chunks)
    assert all(abs(len(share) - len(chunks) / 3) < 1 for share in shares)
    with pytest.raises(UserError, match="rank 3 is outside 0..2"):
        shard(chunks, 3, 3, seed=1)


def epoch_rows(loader: StreamLoader, seed: int, batch_size: int = 100) -> tuple[list[np.ndarray], list[int]]:
    """(shard, row) of every delivered sample in order, and the batch sizes."""
    seen, sizes = [], []
    for batch in loader.batches(batch_size, torch.Generator().manual_seed(seed)):
        x = batch["x"].numpy()
        seen.append(x[:, FEATURES:FEATURES + 2])
        sizes.append(len(x))
    return seen, sizes


def test_an_epoch_sees_every_training_row_once_mixed_across_files(tmp_path):
    stream = files(paths=[write_shards(tmp_path / "h5", ".h5")], **SOURCE, streaming="always",
                   memory="4MB", chunk_rows=300)
    assert isinstance(stream, Stream) and stream.info["chunks"] == 8 * 5
    train = stream.split([0.7, 0.15, 0.15], seed=1)["train"]
    loader = StreamLoader(train, "cpu", ("x", "y"))
    seen, sizes = epoch_rows(loader, seed=11)
    keys = np.concatenate(seen)
    assert len(keys) == len(train) == len(loader) and sizes[:-1] == [100] * (len(sizes) - 1)
    assert len(np.unique(keys[:, 0] * 10_000 + keys[:, 1])) == len(keys)  # no row twice
    first_batches = seen[:5]
    assert all(len(np.unique(batch[:, 0])) >= 3 for batch in first_batches)  # a batch draws from many files
    again, _ = epoch_rows(loader, seed=11)
    assert all(np.array_equal(a, b) for a, b in zip(seen, again, strict=True))  # deterministic for a seed
    other, _ = epoch_rows(loader, seed=12)
    assert not np.array_equal(np.concatenate(other), keys)
    in_order = np.concatenate([b["x"].numpy()[:, FEATURES:FEATURES + 2] for b in loader.in_order(256)])
    assert np.array_equal(in_order[:, 0], np.sort(in_order[:, 0]))  # file order for evaluation


def test_stream_stays_within_its_memory_budget(tmp_path):
    pattern = write_shards(tmp_path / "h5", ".h5", shards=16, rows=4000)
    data_bytes = 16 * 4000 * (FEATURES + 2) * 4
    budget = 1_500_000
    assert data_bytes > budget
    stream = files(paths=[pattern], **SOURCE, streaming="always", memory=str(budget))
    train = stream.split([0.8, 0.1, 0.1], seed=1)["train"]
    loader = StreamLoader(train.with_transform(train.standardize()), "cpu", ("x", "y"))
    tracemalloc.start()
    try:
        rows = sum(len(batch["x"]) for batch in loader.batches(128, torch.Generator().manual_seed(1)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows == len(train)
    assert peak < budget, f"traced peak {peak:,} bytes over the budget {budget:,}"


def experiment(pattern: str, out, streaming: str, methods: list[dict], **data) -> quanta.ExperimentRun:
    config = {"name": "stream", "seed": 3, "task": "binary",
              "data": {"source": "files", "paths": [pattern], "features": [f"f{k}" for k in range(FEATURES)],
                       "label": "label", "streaming": streaming, **data},
              "methods": methods, "output": str(out)}
    return quanta.run_experiment(config, verbose=False, report=False)


MLP = {"name": "mlp", "model": "mlp", "params": {"hidden": [32]},
       "train": {"epochs": 4, "batch_size": 128, "lr": 0.003, "progress": False}}
BDT = {"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 60, "n_jobs": 1}}


def test_streamed_training_matches_in_memory_training(tmp_path):
    """Acceptance: budget smaller than the data; AUC within 0.01 of in-memory training, for MLP and BDT."""
    pattern = write_shards(tmp_path / "h5", ".h5", shards=16, rows=3000)
    streamed = experiment(pattern, tmp_path / "runs", "always", [MLP, BDT], memory="1.5MB")
    in_memory = experiment(pattern, tmp_path / "runs", "never", [MLP, BDT])
    record = (streamed.directory / "data.json").read_text()
    assert '"streamed": true' in record
    for method in ("mlp", "bdt"):
        a, b = streamed.metrics[method]["test"]["auc"], in_memory.metrics[method]["test"]["auc"]
        assert a > 0.75 and abs(a - b) < 0.01, (method, a, b)


def test_same_experiment_from_every_format_gives_identical_results(tmp_path):
    results = {}
    for suffix in (".npz", ".h5", ".parquet", ".root"):
        pattern = write_shards(tmp_path / suffix[1:], suffix, shards=3, rows=800)
        run = experiment(pattern, tmp_path / "runs", "never", [MLP])
        results[suffix] = run.metrics["mlp"]["test"]
    assert all(value == results[".npz"] for value in results.values()), results
    streamed = {}
    for suffix in (".h5", ".parquet", ".root"):  # Parquet row groups of 200 rows = the others' chunks
        run = experiment(str(tmp_path / suffix[1:] / f"*{suffix}"), tmp_path / "runs", "always", [MLP],
                         chunk_rows=200, memory="2MB") if suffix != ".parquet" else None
        if suffix == ".parquet":
            write_shards(tmp_path / "pq200", suffix, shards=3, rows=800, group_rows=200)
            run = experiment(str(tmp_path / "pq200" / "*.parquet"), tmp_path / "runs", "always", [MLP],
                             chunk_rows=200, memory="2MB")
        streamed[suffix] = run.metrics["mlp"]["test"]
    assert all(value == streamed[".h5"] for value in streamed.values()), streamed


def test_reweighting_gives_classes_one_distribution():
    rng = np.random.default_rng(1)
    pt = np.concatenate([rng.gamma(2.0, 100.0, 20_000), rng.gamma(4.0, 80.0, 20_000)])  # overlapping spectra
    y = np.repeat([0, 1], 20_000)
    for target in ("flat", "common", "1"):
        rule = Reweighting.fit(pt, y, bins=10, target=target, classes=["0", "1"])
        weight = rule(pt, y)
        assert abs(weight[y == 0].sum() - 20_000) < 1 and abs(weight[y == 1].sum() - 20_000) < 1
        shares = [np.histogram(pt[y == c], rule.edges, weights=weight[y == c])[0] / 20_000 for c in (0, 1)]
        assert np.allclose(shares[0], shares[1], rtol=1e-3, atol=1e-5), target
    assert np.allclose(rule(pt, y)[y == 1], 1.0)  # reweighting to class "1" leaves it as it was
    with pytest.raises(UserError, match="reweight_to: 'top' is not flat, common or a class"):
        Reweighting.fit(pt, y, target="top")


def test_reweighting_from_files_in_memory_and_streamed(tmp_path):
    pattern = write_shards(tmp_path / "h5", ".h5", shards=4, rows=2000)
    memory = files(paths=[pattern], **SOURCE, reweight="pt", reweight_to="common", streaming="never")
    weight, y = memory["weight"], memory.y
    assert abs(weight[y == 1].sum() - (y == 1).sum()) < 1e-3 * len(y) and weight.std() > 0.1
    plain = files(paths=[pattern], features=["pt"], label="label", streaming="never")
    rule = Reweighting.fit(plain.x[:, 0], plain.y, None, 20, "common")
    assert np.array_equal(plain.y, memory.y)  # the same rows in the same (seeded) order
    assert np.allclose(memory["weight"], rule(plain.x[:, 0], memory.y))
    stream = files(paths=[pattern], **SOURCE, reweight="pt", reweight_to="common", streaming="always",
                   memory="2MB")
    parts = stream.split([0.7, 0.15, 0.15], seed=1)
    assert np.allclose(stream.reweighting.factors, rule.factors)
    total = sum(float(p.targets["weight"].sum()) for p in parts.values())
    assert abs(total - len(y)) < 1e-3 * len(y)
    loader = StreamLoader(parts["train"], "cpu", ("x", "y", "weight"))
    delivered = sum(float(b["weight"].sum()) for b in loader.batches(500, torch.Generator().manual_seed(0)))
    assert delivered == pytest.approx(float(parts["train"].targets["weight"].sum()), rel=1e-5)


def test_bad_files_stop_the_run_or_are_skipped_and_reported(tmp_path):
    folder = tmp_path / "h5"
    write_shards(folder, ".h5", shards=3, rows=600)
    (folder / "shard01.h5").write_bytes((folder / "shard01.h5").read_bytes()[:700])  # truncated
    pattern = str(folder / "*.h5")
    for streaming in ("never", "always"):
        with pytest.raises(UserError, match="shard01.h5: cannot be read as hdf5"):
            files(paths=[pattern], **SOURCE, streaming=streaming, memory="2MB")
        data = files(paths=[pattern], **SOURCE, streaming=streaming, memory="2MB", skip_bad_files=True)
        assert [entry["path"] for entry in data.info["skipped_files"]] == [str(folder / "shard01.h5")]
    run = experiment(pattern, tmp_path / "runs", "always", [BDT], memory="2MB", skip_bad_files=True)
    html = run.report().read_text()
    assert "1 file could not be used and was skipped" in html and "shard01.h5" in html
    config = tmp_path / "bad.yaml"
    config.write_text(f"name: bad\ntask: binary\ndata: {{source: files, paths: ['{pattern}'], label: label}}\n"
                      "methods: [{name: bdt, method: boosted_trees}]\n")
    done = run_quanta("run", str(config), "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert done.returncode == 2 and "shard01.h5: cannot be read as hdf5" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_streaming_options_are_checked(tmp_path):
    pattern = write_shards(tmp_path / "h5", ".h5", shards=2, rows=3000)
    with pytest.raises(UserError, match="files.memory: a budget of 0.01 MB is too small"):
        files(paths=[pattern], **SOURCE, streaming="always", memory="10kB")
    with pytest.raises(UserError, match="files.size: takes a shuffled subset in memory"):
        files(paths=[pattern], **SOURCE, streaming="always", size=10)
    with pytest.raises(UserError, match="files.reweight: reweighting classes needs labels"):
        files(paths=[pattern], features=["f0"], reweight="pt")
    small = files(paths=[pattern], **SOURCE, memory="1GB")  # auto: fits, so in memory
    large = files(paths=[pattern], **SOURCE, memory="400kB")  # auto: does not fit, so streamed
    assert not isinstance(small, Stream) and isinstance(large, Stream)


def test_run_predict_reads_files_like_quanta_predict(tmp_path, monkeypatch):
    import quanta.predict
    from quanta.api import Run

    pattern = write_shards(tmp_path / "h5", ".h5", shards=2, rows=800)
    config = {"name": "p", "task": "binary", "data": {"source": "files", "paths": [pattern], "label": "label"},
              "methods": [BDT], "output": str(tmp_path / "runs")}
    trained = quanta.run_experiment(config, verbose=False, report=False)
    assert '"feature_names"' in (trained.directory / "data.json").read_text()
    new = tmp_path / "new.h5"
    columns = shard_columns(9, 300)
    columns.pop("label")
    columns = {"event": np.arange(300, dtype=np.int64) + 10_000, **columns}  # a column training never saw
    with h5py.File(new, "w") as handle:
        for name, value in columns.items():
            handle.create_dataset(name, data=value)
    monkeypatch.setattr(quanta.predict, "CHUNK_ROWS", 64)  # Python reads 5 chunks, the CLI below one
    scores = Run(trained, trained.results["bdt"]).predict(str(new))
    assert scores.shape == (300,)
    done = run_quanta("predict", str(trained.directory), str(new), "--out", str(tmp_path / "out.parquet"),
                      "--keep", "event", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "out.parquet")
    assert np.allclose(table["score_bdt"].to_numpy(), scores)
    assert np.array_equal(table["event"].to_numpy(), columns["event"])
