"""Tests for quanta.report: the self-contained HTML report of a run directory.

``write_fake_run`` builds a realistic run directory from synthetic predictions
(two binary classifiers "bdt" and "mlp" with AUC ~0.95 and ~0.97 by default);
use it to look at a report by hand::

    python -c "from tests.report.test_html import write_fake_run; \\
               from quanta.report import write_report; print(write_report(write_fake_run('/tmp/run')))"
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from quanta.errors import UserError
from quanta.report import read_run, write_report
from quanta.tasks.evaluation import metrics_for

#: Separation of the latent Gaussian scores per method: AUC = Phi(d / sqrt(2)).
_SEPARATION = {"bdt": 2.33, "mlp": 2.66, "gnn": 2.9, "logreg": 1.8}


def _binary_split(rng: np.random.Generator, n: int, separation: float, overtrain: float):
    y = (rng.random(n) < 0.5).astype(np.int64)
    latent = rng.normal(np.where(y == 1, separation / 2, -separation / 2) * overtrain, 1.0)
    score = 1.0 / (1.0 + np.exp(-1.6 * latent))  # a monotone map keeps the AUC; looks like a probability
    return y, score


def _multiclass_split(rng: np.random.Generator, n: int, separation: float, k: int = 3):
    y = rng.integers(0, k, n)
    logits = rng.normal(0.0, 1.0, (n, k))
    logits[np.arange(n), y] += separation
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, scores


def _regression_split(rng: np.random.Generator, n: int, separation: float):
    y = rng.gamma(4.0, 25.0, n)  # e.g. a jet energy in GeV
    prediction = y * (1.0 + rng.normal(0.01, 0.25 / separation, n))
    outlier = rng.random(n) < 0.02  # a few badly measured events: tails the robust resolution ignores
    prediction[outlier] += rng.normal(0.0, 60.0, int(outlier.sum()))
    return y, prediction


def write_fake_run(
    run_dir: str | Path,
    task: str = "binary",
    methods: tuple[str, ...] = ("bdt", "mlp"),
    splits: tuple[str, ...] = ("train", "valid", "test"),
    networks: tuple[str, ...] = ("mlp",),
    n: int = 4000,
    weights: bool = False,
    seed: int = 1,
) -> Path:
    """Write a run directory like the experiment runner does, from synthetic predictions.

    Each method gets ``predictions.npz`` for ``splits`` and the matching
    metrics in ``metrics.json``; methods named in ``networks`` also get a
    ``history.jsonl`` of 12 epochs. Returns the run directory.
    """
    rng = np.random.default_rng(seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    make = {"binary": _binary_split, "multiclass": _multiclass_split, "regression": _regression_split}[task]
    config = {
        "name": f"fake-{task}",
        "seed": seed,
        "task": task,
        "data": {"source": "simulated", "size": n, "split": [0.7, 0.15, 0.15]},
        "methods": [
            {"name": m, "model" if m in networks else "method": "mlp" if m in networks else "boosted_trees",
             "params": {"hidden": [64, 64]} if m in networks else {"max_iter": 300},
             "train": {"epochs": 12, "lr": 1e-3} if m in networks else {}}
            for m in methods
        ],
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    environment = {
        "python": "3.11.2", "quanta": "0.1.0", "torch": "2.13.0", "numpy": np.__version__,
        "device": "cpu", "seed": seed, "started": "2025-06-01T12:34:56", "host": "laptop",
        "git_commit": None,
    }
    (run_dir / "environment.json").write_text(json.dumps(environment, indent=2))

    metrics: dict[str, dict] = {}
    for i, method in enumerate(methods):
        separation = _SEPARATION.get(method, 2.0 + 0.3 * i)
        arrays, entry = {}, {}
        for split in splits:
            size = n if split == "train" else n // 4
            overtrain = 1.06 if (split == "train" and method in networks) else 1.0
            y, score = (make(rng, size, separation, overtrain) if task == "binary"
                        else make(rng, size, separation))
            weight = rng.uniform(0.5, 1.5, size) if weights else None
            arrays[f"{split}_y"], arrays[f"{split}_score"] = y, score
            if weight is not None:
                arrays[f"{split}_weight"] = weight
            entry[split] = metrics_for(task, y, score, weight)
        entry["seconds"] = {"fit": round(3.0 + 20 * i, 2), "predict": round(0.05 + 0.1 * i, 3)}
        metrics[method] = entry
        (run_dir / method).mkdir(exist_ok=True)
        np.savez(run_dir / method / "predictions.npz", **arrays)
        if method in networks:
            epochs = np.arange(1, 13)
            train_loss = 0.25 - 0.02 * i + 0.45 * np.exp(-epochs / (3.0 + i))
            valid_loss = train_loss + 0.004 * epochs
            with (run_dir / method / "history.jsonl").open("w") as f:
                for e, tl, vl in zip(epochs, train_loss, valid_loss, strict=True):
                    record = {"epoch": int(e), "train_loss": float(tl), "lr": 1e-3, "seconds": 2.1}
                    if "valid" in splits:
                        record["valid_loss"] = float(vl)
                        if task == "regression":
                            record["valid_rmse"] = float(13.0 + 25.0 * np.exp(-e / 2.5))
                        else:
                            key = "valid_auc" if task == "binary" else "valid_accuracy"
                            record[key] = float(0.97 + 0.005 * i - 0.1 * np.exp(-e / (2.5 + i)))
                    f.write(json.dumps(record) + "\n")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return run_dir


def _images(page: str) -> list[str]:
    return re.findall(r'<img [^>]*src="data:image/png;base64,', page)


def test_binary_report_is_self_contained_and_complete(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=2000)
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = path.read_text(encoding="utf-8")

    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    for name in ("bdt", "mlp", "fake-binary"):
        assert name in page
    assert '<table class="metrics">' in page and "AUC" in page
    assert "ROC curves" in page and len(_images(page)) >= 3  # ROC, overtraining, history
    assert page.count('class="num best"') > 0
    assert "<details>" in page and "boosted_trees" in page  # the config, collapsed
    assert "2.13.0" in page  # the environment table


def test_methods_appear_in_config_order(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", methods=("mlp", "bdt"), n=500)
    page = write_report(run_dir).read_text(encoding="utf-8")
    first_row = page.index('<td class="method">mlp')
    assert first_row < page.index('<td class="method">bdt')
    assert [m.name for m in read_run(run_dir).methods] == ["mlp", "bdt"]


def test_report_without_history_or_valid_split(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", splits=("train", "test"), networks=(), n=500)
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "Training history" not in page
    assert ">valid<" not in page and ">valid —" not in page
    assert len(_images(page)) == 4  # ROC, overtraining (linear, log), reliability


def test_report_without_predictions_or_environment(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=500)
    for method in ("bdt", "mlp"):
        (run_dir / method / "predictions.npz").unlink()
    (run_dir / "environment.json").unlink()
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "No predictions.npz" in page and "environment.json not found" in page
    assert "bdt" in page and "mlp" in page


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_multiclass_and_regression_reports(tmp_path, task):
    run_dir = write_fake_run(tmp_path / "run", task=task, n=600, weights=True)
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert len(_images(page)) >= 2
    assert ("Confusion matrices" in page) if task == "multiclass" else ("Residuals" in page)


def test_missing_metrics_json_is_a_user_error(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=300)
    (run_dir / "metrics.json").unlink()
    with pytest.raises(UserError, match="metrics.json"):
        write_report(run_dir)
    assert not (run_dir / "report.html").exists()


@pytest.mark.parametrize(
    ("name", "content"),
    [("metrics.json", "{not json"), ("config.yaml", "name: [unclosed"), ("environment.json", "[1, 2]")],
)
def test_corrupt_files_are_user_errors_naming_the_file(tmp_path, name, content):
    run_dir = write_fake_run(tmp_path / "run", n=300)
    (run_dir / name).write_text(content)
    with pytest.raises(UserError, match=re.escape(name)) as caught:
        write_report(run_dir)
    assert "\n" not in str(caught.value)


def test_corrupt_predictions_and_history_name_the_file(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=300)
    (run_dir / "mlp" / "history.jsonl").write_text('{"epoch": 1}\n{oops\n')
    with pytest.raises(UserError, match=r"history.jsonl: line 2"):
        write_report(run_dir)
    (run_dir / "mlp" / "history.jsonl").unlink()
    (run_dir / "bdt" / "predictions.npz").write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="predictions.npz"):
        write_report(run_dir)


def test_missing_run_directory(tmp_path):
    with pytest.raises(UserError, match="no such run directory"):
        write_report(tmp_path / "nowhere")


def test_best_value_per_column_is_highlighted(tmp_path):
    from quanta.report.html import _metrics_table

    run_dir = write_fake_run(tmp_path / "run", n=300)
    run = read_run(run_dir)
    run.methods[0].metrics = {"test": {"auc": 0.9, "mse": 2.0, "bias": -0.1}}
    run.methods[1].metrics = {"test": {"auc": 0.8, "mse": 1.0, "bias": 0.3}}
    table = _metrics_table(run)
    best = re.findall(r'<td class="num best">([^<]*)</td>', table)
    assert best == ["0.9", "-0.1", "1"]  # columns in first-seen order: auc, mse, bias by row


def test_format_value():
    from quanta.report.html import format_value

    assert format_value(0.97123) == "0.9712"
    assert format_value(43.96) == "43.96"
    assert format_value(12345.6) == "12,346"
    assert format_value(float("inf")) == "∞"
    assert format_value(float("nan")) == "—"
    assert format_value(2.5e-6) == "2.500e-06"


def test_report_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, quanta.report, quanta.evaluate; assert 'torch' not in sys.modules; " \
           "assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_extra_keys_and_unsafe_method_names_are_tolerated(tmp_path):
    run_dir = write_fake_run(tmp_path / "run", n=300)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["format"] = {"version": 2}  # not a method: no split inside
    metrics["../escape"] = {"test": {"auc": 0.5}}  # shown, but never used as a path
    metrics["bdt"]["test"]["extra_note"] = "text values are skipped"
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    run = read_run(run_dir)
    assert [m.name for m in run.methods] == ["bdt", "mlp", "../escape"]
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "../escape" in page and ">format<" not in page
