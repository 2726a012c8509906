"""Shared fixtures: a private data cache per test session, one torch thread, small synthetic data sets."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Generated data goes to a fresh cache folder, never the user's; one for all test workers.

    Under pytest-xdist every worker has its own temporary folder below the session's: the cache
    goes to the session's, so that data one worker generates the others read (the cache builds
    each entry once under a lock, :func:`quanta.simulators.cache.cached`).
    """
    import os

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "quanta-cache"
    folder.mkdir(exist_ok=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("QUANTA_CACHE", str(folder))
    yield folder
    patch.undo()


@pytest.fixture
def one_thread():
    """One intra-op torch thread for the test (``pytestmark = pytest.mark.usefixtures("one_thread")``
    for a whole file): small networks on two cores shared with other jobs train as fast, and far
    steadier, on one thread; a second one only contends."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def xor_clouds(n: int = 2000, seed: int = 0, noise: float = 0.15):
    """Noisy XOR: four Gaussian clouds at (+-1, +-1); label 1 where the signs differ."""
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, size=(n, 2))
    x = (2 * centres - 1 + noise * rng.normal(size=(n, 2))).astype(np.float32)
    y = (centres[:, 0] != centres[:, 1]).astype(np.int64)
    return x, y


@pytest.fixture
def xor():
    return xor_clouds()


def quanta_here(*args: str, cwd):
    """The ``quanta`` command run in this process (no interpreter start-up): a ``CompletedProcess``.

    For tests of many quick commands; an exception that escapes the command fails the test.
    """
    import contextlib
    import io
    import os
    import subprocess

    from quanta.cli import main

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["quanta", *args], code, out.getvalue(), err.getvalue())


def run_quanta(*args: str, cwd, env_extra: dict | None = None):
    """The ``quanta`` command in a subprocess, as a user runs it: ``CompletedProcess`` with text output."""
    import os
    import subprocess
    import sys

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "quanta.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env=env)
