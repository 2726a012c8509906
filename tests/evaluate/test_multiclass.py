"""Tests for quanta.evaluate.multiclass: accuracy, confusion matrix, one-vs-rest AUCs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from quanta.errors import UserError
from quanta.evaluate.multiclass import (
    accuracy,
    confusion_matrix,
    multiclass_metrics,
    one_vs_rest_auc,
)
from quanta.tasks.evaluation import metrics_for

# six events, three classes; predicted (arg-max) classes are 0, 1, 1, 2, 2, 0
Y = np.array([0, 0, 1, 1, 2, 2])
SCORES = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.3, 0.5],
        [0.1, 0.2, 0.7],
        [0.5, 0.2, 0.3],
    ]
)


def test_accuracy_known_case():
    assert accuracy(Y, SCORES) == pytest.approx(3 / 6)
    assert accuracy(Y, SCORES, weight=[2, 0, 2, 0, 2, 0]) == pytest.approx(1.0)


def test_confusion_matrix_rows_are_normalised():
    matrix = confusion_matrix(Y, SCORES)
    expected = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(matrix, expected)
    counts = confusion_matrix(Y, SCORES, normalize=False)
    assert counts.sum() == 6 and counts[0, 1] == 1


def test_confusion_matrix_row_of_an_absent_class_is_zero():
    matrix = confusion_matrix([0, 0, 2], SCORES[:3])
    np.testing.assert_allclose(matrix[1], 0.0)
    np.testing.assert_allclose(matrix.sum(axis=1), [1.0, 0.0, 1.0])


def test_one_vs_rest_auc_matches_sklearn():
    rng = np.random.default_rng(0)
    n, k = 2000, 4
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    weight = rng.uniform(0.5, 2.0, n)
    aucs = one_vs_rest_auc(y, logits, weight)
    for cls in range(k):
        expected = roc_auc_score(y == cls, logits[:, cls], sample_weight=weight)
        assert aucs[cls] == pytest.approx(expected, abs=1e-12)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    macro = roc_auc_score(y, probabilities, multi_class="ovr", average="macro")
    assert multiclass_metrics(y, probabilities)["auc_macro"] == pytest.approx(macro, abs=1e-12)


def test_multiclass_metrics_keys_and_absent_class():
    metrics = metrics_for("multiclass", Y, SCORES)
    assert set(metrics) == {"accuracy", "auc_macro", "ece"}
    assert all(type(v) is float for v in metrics.values())
    aucs = one_vs_rest_auc([0, 0, 2, 2], SCORES[:4])
    assert np.isnan(aucs[1]) and not np.isnan(aucs[0])


def test_bad_inputs_are_user_errors():
    with pytest.raises(UserError, match="no score column"):
        accuracy([0, 3], SCORES[:2])
    with pytest.raises(UserError, match="2-D"):
        accuracy(Y, SCORES[:, 0])
    with pytest.raises(UserError, match="non-negative integers"):
        accuracy([0.5, 1], SCORES[:2])


def test_auc_macro_is_left_out_when_no_class_has_an_auc():
    import json

    metrics = multiclass_metrics([1, 1], SCORES[:2])  # every event of one class: no one-vs-rest AUC
    # top-label ECE: 0.8 confident and wrong, 0.7 confident and right -> (0.8 + 0.3) / 2
    assert metrics == {"accuracy": pytest.approx(0.5), "ece": pytest.approx(0.55)}
    json.dumps(metrics, allow_nan=False)
