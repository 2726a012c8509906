"""The README's examples run as written (the files examples: tests/data/test_regression_files.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def python_block() -> str:
    text = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", text, re.S)
    return block


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(tmp_path):
    # measured: about 2 minutes on 2 cores (10,000 Pythia jets, then the default experiment)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "example.py").write_text(python_block())
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "results" / "jets-mlp" / "report.html").exists()
    assert any((tmp_path / "runs").rglob("report.html"))


def test_the_readme_python_example_names_only_the_public_api():
    block = python_block()
    for name in re.findall(r"\bqt\.([a-z_]+(?:\.[a-z_]+)?)", block):
        import quanta

        target = quanta
        for part in name.split("."):
            assert hasattr(target, part), f"README uses qt.{name}, which quanta does not offer"
            target = getattr(target, part)
