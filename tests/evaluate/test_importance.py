"""Permutation importance on NumPy arrays: shuffling tables and sets, the drop, batching, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from quanta.evaluate.importance import permutation_importance, shuffled_variable
from quanta.evaluate.regression import regression_metrics


def linear_events(n: int = 2000, seed: int = 0):
    """Three variables; the target is 3 x0 + x2, x1 is not used."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, 3 * x[:, 0] + x[:, 2]


def test_the_variable_the_prediction_uses_most_ranks_first_and_an_unused_one_scores_zero():
    x, y = linear_events()

    def predict(inputs):
        return 3 * inputs[:, 0] + inputs[:, 2]  # the exact law: MSE 0 unshuffled

    def mse(score):
        return regression_metrics(y[: len(score)], score)["mse"]

    result = permutation_importance(x, predict, mse, "min", repeats=4, seed=2)
    assert result.baseline == pytest.approx(0.0, abs=1e-9)
    assert result.drops.shape == (4, 3)
    # shuffling x_j replaces it by an independent copy: the MSE grows by 2 Var(c_j x_j) = 18 and 2
    assert result.mean[0] == pytest.approx(18.0, rel=0.1)
    assert result.mean[2] == pytest.approx(2.0, rel=0.1)
    assert np.all(result.drops[:, 1] == 0.0)
    assert result.std is not None and np.all(result.std[[0, 2]] > 0)
    assert result.ranks().tolist() == [1, 3, 2]


def test_a_maximised_metric_drops_when_its_variable_is_shuffled():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 2))
    y = (x[:, 1] > 0).astype(float)

    def accuracy(score):
        return float(np.mean((score > 0) == y))

    result = permutation_importance(x, lambda inputs: inputs[:, 1], accuracy, "max", repeats=3)
    assert result.baseline == 1.0
    assert result.mean[1] == pytest.approx(0.5, abs=0.06) and np.all(result.drops[:, 0] == 0)


def test_a_particle_feature_is_shuffled_among_real_particles_only():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 6, 2)).astype(np.float32)
    mask = np.arange(6)[None, :] < rng.integers(1, 7, size=50)[:, None]
    x[~mask] = 0.0
    out = x.copy()
    shuffled_variable(x, 1, np.random.default_rng(0), out, mask)
    assert np.all(out[~mask] == 0.0)  # padding stays padding
    assert np.array_equal(out[..., 0], x[..., 0])  # the other feature is untouched
    assert sorted(out[..., 1][mask]) == sorted(x[..., 1][mask])  # the same values, moved
    assert not np.array_equal(out[..., 1][mask], x[..., 1][mask])


def test_a_table_column_is_shuffled_between_events():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    out = x.copy()
    shuffled_variable(x, 0, np.random.default_rng(0), out)
    assert np.array_equal(out[:, 1], x[:, 1]) and sorted(out[:, 0]) == sorted(x[:, 0])
    assert not np.array_equal(out[:, 0], x[:, 0])


def test_results_do_not_depend_on_how_many_copies_one_prediction_holds():
    x, y = linear_events(300)
    calls = []

    def predict(inputs):
        calls.append(len(inputs))
        return 3 * inputs[:, 0] + inputs[:, 2]

    def mse(score):
        return float(np.mean((score - y) ** 2))

    stacked = permutation_importance(x, predict, mse, "min", repeats=3, seed=5)
    assert calls == [300, 9 * 300]  # the baseline, then every shuffle in one call
    calls.clear()
    one_by_one = permutation_importance(x, predict, mse, "min", repeats=3, seed=5, batch_bytes=1)
    assert calls == [300] * 10
    np.testing.assert_array_equal(stacked.drops, one_by_one.drops)


def test_a_variables_shuffles_depend_on_the_seed_and_its_index_only():
    x, _ = linear_events(400)
    y = 3 * x[:, 0]

    def mse(score):
        return float(np.mean((score - y) ** 2))

    def predict(inputs):
        return 3 * inputs[:, 0]

    three = permutation_importance(x, predict, mse, "min", seed=7)
    two = permutation_importance(x[:, :2].copy(), predict, mse, "min", seed=7)
    np.testing.assert_array_equal(three.drops[:, 0], two.drops[:, 0])  # x0 shuffled alike
    other = permutation_importance(x, predict, mse, "min", seed=8)
    assert not np.array_equal(other.drops[:, 0], three.drops[:, 0])


def test_one_shuffle_has_no_spread_and_bad_arguments_are_refused():
    x, y = linear_events(100)
    result = permutation_importance(x, lambda v: v[:, 0], lambda s: float(np.mean(s)), "max",
                                    repeats=1)
    assert result.std is None and result.drops.shape == (1, 3)
    with pytest.raises(ValueError, match="repeats"):
        permutation_importance(x, lambda v: v[:, 0], float, "max", repeats=0)
    with pytest.raises(ValueError, match="goal"):
        permutation_importance(x, lambda v: v[:, 0], float, "up")
    with pytest.raises(ValueError, match="shape"):
        permutation_importance(x.reshape(100, 3, 1, 1), lambda v: v, float, "max")
