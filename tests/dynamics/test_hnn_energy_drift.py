"""HNN against a plain MLP on the same derivatives: equal fits, but only the HNN keeps the energy.

Both are trained with ``quanta.fit`` on the ``dynamics`` source's derivatives
view (inputs and targets left unscaled, as the HNN needs), then used as
simulators: RK4 roll-outs of their predictions from 16 fresh initial states,
scored by the paper's energy MSE (``energy_drift_of``).
"""

from __future__ import annotations

import numpy as np
import pytest

import quanta
from quanta.simulators.dynamics import energy_drift_of

pytestmark = pytest.mark.usefixtures("one_thread")


#: the default test's training and roll-out (a few seconds per network on one busy core)
SPRING = {"epochs": 20, "hidden": [32, 32], "size": 1000, "steps": 400, "dt": 0.25}


def fitted(model: str, data, seed: int, epochs: int, hidden: list[int], batch_size: int = 128):
    return quanta.fit(
        model,
        data,
        task="regression",
        params={"hidden": hidden, "activation": "tanh"},
        standardize=False,
        standardize_targets=False,
        epochs=epochs,
        batch_size=batch_size,
        lr=1e-3,
        patience=0,
        seed=seed,
    )


def drifts(
    system: str, seed: int, epochs: int, hidden: list[int], size: int, steps: int, dt: float
):
    """Energy MSE of HNN and MLP after ``steps`` RK4 steps of ``dt``, their test MSEs, the runs."""
    data = quanta.data.load("dynamics", system=system, size=size, seed=seed)
    runs = {model: fitted(model, data, seed, epochs, hidden) for model in ("hnn", "mlp")}
    drift = {
        model: energy_drift_of(run, system, trajectories=16, steps=steps, dt=dt, seed=0)
        for model, run in runs.items()
    }
    return drift, {model: run.metrics["test"]["mse"] for model, run in runs.items()}, runs


def test_hnn_keeps_the_mass_spring_energy_where_the_mlp_drifts(tmp_path):
    """400 RK4 steps of 0.25 (100 time units, 16 periods) from 16 states; 1000 samples, seed 1.

    Measured (20 epochs of 6 batches, hidden 32-32 tanh): energy MSE 1.2e-4 (HNN) against 5.0e-2
    (MLP), 400x, while both fit the derivatives to the noise floor (test MSE ~0.01); seeds 2 and 3
    gave 3.3e-4 / 0.15 and 2.8e-5 / 2.4e-3 (the paper: 3.8e-4 against 1.7e-1). RK4's own error on
    the true field is below 1e-6 here.
    """
    drift, mse, runs = drifts("mass_spring", seed=1, **SPRING)
    assert mse["hnn"] < 0.02 and mse["mlp"] < 0.02  # both learned the derivatives
    assert drift["hnn"] < 1e-3
    assert drift["hnn"] * 10 < drift["mlp"], drift
    # the saved run predicts the same field (the scaling buffers travel with the weights)
    states = np.array([[0.5, 0.1], [-0.2, 0.7]], np.float32)
    saved = quanta.load_run(runs["hnn"].save(tmp_path / "hnn"))
    assert np.allclose(saved.predict(states), runs["hnn"].predict(states), atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_hnn_keeps_the_pendulum_energy(seed):
    """500 RK4 steps of 0.05 (25 time units, ~8 swings); 1500 samples of noise 0.1. About 15 s each.

    Measured: energy MSE 1.5e-3 (HNN) against 0.79 (MLP) with seed 1, 3.2e-3 against 6.9e-2
    with seed 2; test MSE 0.056 against 0.080 and 0.106.
    """
    drift, _, _ = drifts(
        "pendulum", seed=seed, epochs=30, hidden=[64, 64], size=1500, steps=500, dt=0.05
    )
    assert drift["hnn"] * 10 < drift["mlp"], drift


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3])
def test_hnn_keeps_the_mass_spring_energy_for_other_seeds(seed):
    """As the default test with other seeds (measured ratios 450 and 90). About 10 s each."""
    drift, _, _ = drifts("mass_spring", seed=seed, **SPRING)
    assert drift["hnn"] * 10 < drift["mlp"], drift


@pytest.mark.slow
def test_hnn_keeps_the_two_body_energy():
    """Two-body orbits: 5000 noiseless samples, hidden 200-200, 30 epochs; 500 RK4 steps of 0.1.

    About 60 s. Measured: energy MSE 0.014 (HNN) against 34 (MLP: its orbits fall in or escape);
    test MSE 1.8e-4 against 9.9e-4.
    """
    drift, _, _ = drifts(
        "two_body", seed=1, epochs=30, hidden=[200, 200], size=5000, steps=500, dt=0.1
    )
    assert drift["hnn"] * 10 < drift["mlp"], drift
