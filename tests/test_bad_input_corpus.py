"""The bad-input corpus (tests/corpus): every case gets its one-line error, exit 2, and nothing is lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import quanta_here
from tests.test_paths_and_locks import files_experiment

CORPUS = Path(__file__).parent / "corpus"
WRITE = os.environ.get("QUANTA_CORPUS_WRITE") == "1"  # maintainers: record today's messages
CONFIGS = sorted((CORPUS / "configs").glob("*.yaml"))
RUNS = sorted(p for p in (CORPUS / "runs").iterdir() if p.is_dir())
CASES = [pytest.param(p, id=f"configs/{p.stem}") for p in CONFIGS] + \
        [pytest.param(p, id=f"runs/{p.name}") for p in RUNS]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("trained")
    files_experiment(tmp_path, methods=[
        {"name": "bdt", "method": "boosted_trees", "params": {"n_estimators": 10}},
        {"name": "mlp", "model": "mlp", "train": {"epochs": 2}}])
    done = quanta_here("run", "e.yaml", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "out" / "paths").iterdir()
    return tmp_path, run


def one_line_error(done) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("quanta: error: "), done.stderr
    return lines[0].removeprefix("quanta: error: ")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_line(case, request, tmp_path):
    if case.suffix == ".yaml":
        shutil.copytree(CORPUS / "data", tmp_path / "data")
        shutil.copy(case, tmp_path / case.name)
        before = snapshot(tmp_path)
        message = one_line_error(quanta_here("run", case.name, "--out", "out", cwd=tmp_path))
        assert snapshot(tmp_path) == before and not (tmp_path / "out").exists()
        first, _, rest = case.read_text(errors="replace").partition("\n")
        expected = first.removeprefix("# expect: ").replace("{dir}", str(tmp_path))
        if WRITE:
            case.write_bytes(f"# expect: {message.replace(str(tmp_path), '{dir}')}\n".encode()
                             + case.read_bytes().partition(b"\n")[2])
        assert message == expected
        return
    source, trained_run = request.getfixturevalue("trained")
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    shutil.copy(source / "d.parquet", tmp_path / "d.parquet")
    for manifest in run.rglob("manifest.json"):
        manifest.unlink()
    shutil.copytree(case, run, dirs_exist_ok=True)
    before = snapshot(tmp_path)
    expect = case.with_suffix(".expect")
    command, expected = expect.read_text().splitlines()[:2]
    args = {"predict": ("predict", str(run), "d.parquet", "--out", "p.parquet"),
            "report": ("report", str(run)), "resume": ("run", "--resume", str(run))}[command]
    message = one_line_error(quanta_here(*args, cwd=tmp_path))
    if WRITE:
        expect.write_text(f"{command}\n{message.replace(str(run), '{run}')}\n")
    assert message == expected.replace("{run}", str(run))
    assert snapshot(tmp_path) == before  # nothing written, nothing changed
