"""The decision tree's figure: ``save`` writes the tree's top levels (cuts in the inputs' own units,
also behind a scaler), and the report draws them for any task, one figure per tree."""

from __future__ import annotations

import json

import numpy as np
import pytest

import quanta
from quanta.data.dataset import from_arrays
from quanta.evaluate.tree_figure import TREE_FILE, decision_tree_figure
from quanta.methods import METHODS
from quanta.methods.decision_tree import FIGURE_DEPTH, DecisionTree, tree_record
from quanta.tasks import TASKS
from tests.conftest import quanta_here


class ScaledTree(DecisionTree):
    """A decision tree behind a StandardScaler (a Pipeline), as ``scaled = True`` builds it."""

    scaled = True


def _jets(n: int = 3000, seed: int = 0):
    """Jet-like features in their own units: mass [GeV], tau32, pT [GeV]; top jets are heavy,
    three-pronged (low tau32) and the harder ones."""
    rng = np.random.default_rng(seed)
    top = rng.random(n) < 0.5
    mass = np.where(top, rng.normal(172.0, 20.0, n), rng.gamma(3.0, 25.0, n))
    tau32 = np.where(top, rng.beta(4, 5, n), rng.beta(6, 3, n))
    pt = rng.normal(np.where(top, 620.0, 580.0), 60.0)
    return np.stack([mass, tau32, pt], axis=1).astype(np.float32), top.astype(np.int64)


def _cuts(node: dict, level: int = 0) -> list[tuple[int, int, float]]:
    """``(level, feature, threshold)`` of every cut of a saved tree, depth first."""
    if "feature" not in node:
        return []
    return [(level, node["feature"], node["threshold"]), *_cuts(node["left"], level + 1),
            *_cuts(node["right"], level + 1)]


def test_cuts_behind_a_scaler_are_in_the_inputs_units(tmp_path):
    x, y = _jets()
    data = from_arrays(x, y)
    task = TASKS.create("binary")
    scaled = ScaledTree(max_depth=6).fit(data, None, task)
    plain = DecisionTree(max_depth=6).fit(data, None, task)
    assert type(scaled.learner_).__name__ == "Pipeline"
    assert abs(scaled.learner_[-1].tree_.threshold[0]) < 5  # the tree itself cuts standardised x
    for name, method in (("scaled", scaled), ("plain", plain)):
        (tmp_path / name).mkdir()
        method.save(tmp_path / name)
    behind, direct = (json.loads((tmp_path / name / TREE_FILE).read_text()) for name in ("scaled", "plain"))
    cuts, expected = _cuts(behind["root"]), _cuts(direct["root"])
    assert [c[:2] for c in cuts] == [c[:2] for c in expected] and len(cuts) > 10  # of at most 15
    np.testing.assert_allclose([c[2] for c in cuts], [c[2] for c in expected], rtol=1e-5)
    assert direct["root"]["feature"] == 0 and 100 < direct["root"]["threshold"] < 160  # a mass cut in GeV
    assert max(level for level, _, _ in cuts) == FIGURE_DEPTH - 1
    assert behind["depth"] == 6 and behind["shown_depth"] == FIGURE_DEPTH


def test_every_node_holds_its_value_for_each_task(tmp_path):
    x, y = _jets(1000)
    binary = tree_record(DecisionTree(max_depth=2).fit(from_arrays(x, y), None,
                                                       TASKS.create("binary")).learner_,
                         "signal_probability")
    root = binary["root"]
    assert root["samples"] == 1000 and root["signal_fraction"] == pytest.approx(y.mean())
    assert root["left"]["samples"] + root["right"]["samples"] == 1000
    assert "truncated" not in json.dumps(binary)  # a depth-2 tree is shown whole

    classes = np.digitize(x[:, 0], [100.0, 160.0])  # light, medium, heavy by mass
    record = tree_record(DecisionTree(max_depth=3).fit(from_arrays(x, classes), None,
                                                       TASKS.create("multiclass")).learner_,
                         "class_probabilities", class_names=["light", "medium", "heavy"])
    leaf = record["root"]["left"]
    assert record["root"]["feature"] == 0 and leaf["majority_class"] == 0
    assert 0.5 < leaf["majority_fraction"] <= 1.0

    mass = x[:, 0].copy()
    regression = METHODS.create("decision_tree", max_depth=FIGURE_DEPTH + 3).fit(
        from_arrays(x[:, 1:], mass), None, TASKS.create("regression"))
    regression.save(tmp_path)
    saved = json.loads((tmp_path / TREE_FILE).read_text())
    assert saved["root"]["mean"] == [pytest.approx(float(mass.mean()), rel=1e-5)]
    assert '"truncated": true' in json.dumps(saved)  # deeper cuts are marked, not written


def test_a_run_with_a_decision_tree_draws_it_in_the_report(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "name: showers\ntask: binary\n"
        "data: {source: calorimeter, view: features, particles: e_pi, size: 1200, seed: 1}\n"
        "methods:\n  - {name: tree, method: decision_tree, params: {max_depth: 6}}\n"
        "  - {name: linear, method: logistic_regression}\n")
    done = quanta_here("run", "e.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    folder = next((tmp_path / "runs" / "showers").iterdir())
    assert not (folder / "linear" / TREE_FILE).exists()
    record = json.loads((folder / "tree" / TREE_FILE).read_text())
    names = json.loads((folder / "data.json").read_text())["feature_names"]
    assert record["feature_names"] == names and record["class_names"] == ["e", "pi"]
    learner = quanta.load_run(folder, "tree").estimator.learner_  # fitted on the raw features
    assert record["root"]["threshold"] == pytest.approx(float(learner.tree_.threshold[0]))
    assert json.loads((folder / "metrics.json").read_text())["tree"]["test"]["auc"] > 0.9

    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.count("<h3>Decision tree: ") == 1
    block = page[page.index("<h3>Decision tree: tree</h3>"):]
    assert block.index('<img width="') < block.index("</figure>") and "Not drawn" not in block[:200]
    figure = decision_tree_figure(record, title="tree")
    texts = [t.get_text() for t in figure.axes[0].texts]
    root = names[record["root"]["feature"]]
    assert any(t.startswith(f"{root} ≤ ") for t in texts), texts
