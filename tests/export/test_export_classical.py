"""ONNX export of the classical methods: every registered method is either exported, with ONNX
Runtime's scores equal to ``predict``'s on held-out rows, or refused with a one-line reason.

Data: noisy XOR in raw units (four Gaussian clouds of width 15 around (100 +- 30, 100 +- 30)):
binary by the XOR label, multiclass by the quadrant (4 classes), regression of the centred
product (values in about +-26). 400 rows train, 200 held-out rows are compared.

Tolerance: |onnx - predict| <= 1e-5 max(1, max |predict|) for every method but ``kernel_map``
(measured at most 1.1e-5 on values of +-26, svm regression; trees, linear models and XGBoost
agree to 3e-6). Trees compare float32 inputs with float32 thresholds in ONNX Runtime as in
scikit-learn and XGBoost, so no held-out row flips a branch here (the measured differences are
the float32 rounding of the leaf sums). ``kernel_map`` computes in float64 in the graph, while
scikit-learn's own predict of float32 inputs rounds in float32 and the Nystroem whitening
amplifies it: measured 3.8e-4 in probability and 5.2e-3 on values of +-26, hence
1e-3 max(1, max |predict|) for it.
"""

from __future__ import annotations

import numpy as np
import pytest

from quanta.data.dataset import Dataset, from_arrays
from quanta.errors import UserError
from quanta.methods import METHODS
from quanta.tasks import TASKS
from tests.conftest import xor_clouds

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxmltools")

from quanta.export.classical import (  # noqa: E402  (after the skips: the export extra)
    CONVERTIBLE,
    NOT_CONVERTIBLE,
    to_onnx,
)

pytestmark = pytest.mark.usefixtures("one_thread")

#: small settings: every fit well under a second on two busy cores
PARAMS = {
    "boosted_trees": {"n_estimators": 30, "n_jobs": 1},
    "random_forest": {"n_estimators": 10, "n_jobs": 1},
    "extra_trees": {"n_estimators": 10, "n_jobs": 1},
    "adaboost": {"n_estimators": 10},
    "hist_boosting": {"max_iter": 20, "n_jobs": 1},
    "knn": {"n_jobs": 1},
    "kernel_map": {"n_components": 50},
    "svm": {"calibration_folds": 3},
    "kmeans": {"clusters": 4, "n_init": 1},
}
#: the tasks each method is exported for: every one it learns (sgd also with its margin losses)
TASKS_OF = {name: ("binary", "multiclass", "regression") for name in CONVERTIBLE}
TASKS_OF["kmeans"] = ("clustering",)
VARIANTS = [
    ("sgd", {"loss": "hinge"}, "binary"),
    ("sgd", {"loss": "modified_huber"}, "multiclass"),
    ("kernel_map", {"map": "fourier", "n_components": 50}, "regression"),
    ("logistic_regression", {"penalty": "l1"}, "binary"),
]
CASES = [(name, PARAMS.get(name, {}), task) for name in CONVERTIBLE for task in TASKS_OF[name]]
IDS = [f"{name}-{task}" for name, _, task in CASES]
CASES += [(name, {**PARAMS.get(name, {}), **params}, task) for name, params, task in VARIANTS]
IDS += [f"{name}-{task}-" + "-".join(map(str, params.values())) for name, params, task in VARIANTS]
#: linear boundaries, which cannot separate XOR
LINEAR = ("logistic_regression", "sgd")
#: relative tolerance of each method (see the module's docstring)
TOLERANCE = {"kernel_map": 1e-3}


def xor_data(task: str) -> tuple[Dataset, Dataset]:
    x, y = xor_clouds(600, seed=0, noise=0.5)
    x = x * 30.0 + 100.0  # raw units: the scaled methods standardise inside their graph
    targets = {
        "binary": y,
        "clustering": None,
        "multiclass": (x[:, 0] > 100).astype(int) + 2 * (x[:, 1] > 100),
        "regression": ((x[:, 0] - 100) * (x[:, 1] - 100) / 100).astype(np.float32),
    }[task]
    data = from_arrays(x, targets)
    return data.subset(np.arange(400)), data.subset(np.arange(400, 600))


def fitted(name: str, params: dict, task: str, train: Dataset, valid: Dataset | None = None):
    return METHODS.create(name, **params).fit(train, valid, TASKS.create(task))


def scores(proto, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    assert [i.name for i in session.get_inputs()] == ["x"]
    assert [o.name for o in session.get_outputs()] == ["scores"]
    (out,) = session.run(None, {"x": x.reshape(len(x), -1).astype(np.float32)})
    return out


def test_every_registered_method_is_either_convertible_or_refused_with_a_reason():
    registered, known = set(METHODS.names()), set(CONVERTIBLE) | set(NOT_CONVERTIBLE)
    assert not set(CONVERTIBLE) & set(NOT_CONVERTIBLE)
    assert registered == known, (
        f"in neither CONVERTIBLE nor NOT_CONVERTIBLE: "
        f"{registered - known}; not registered: {known - registered}"
    )
    assert all(len(reason) > 20 for reason in NOT_CONVERTIBLE.values())


@pytest.mark.parametrize(("name", "params", "task"), CASES, ids=IDS)
def test_onnx_scores_equal_predict_on_held_out_rows(name, params, task):
    train, test = xor_data(task)
    method = fitted(name, params, task, train, test if name == "boosted_trees" else None)
    proto = to_onnx(method, 2)
    want = method.predict(test)
    got = scores(proto, test.x)
    assert got.shape == want.shape and got.dtype == np.float32
    scale = max(1.0, float(np.abs(want).max()))
    assert np.abs(got - want).max() <= TOLERANCE.get(name, 1e-5) * scale
    assert np.ptp(want) > 0.01 * scale  # the rows compared get different scores
    if task == "binary" and name not in LINEAR:  # and ones that separate the classes
        from sklearn.metrics import roc_auc_score

        assert roc_auc_score(test.y, got) > 0.9


def test_images_are_read_flat_and_the_metadata_say_what_the_graph_is():
    from quanta.export.onnx_network import read_metadata

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3, 4)).astype(np.float32)  # per-row "images" of 3 x 4
    y = (x[:, 0, 0] + x[:, 2, 3] > 0).astype(int)
    method = fitted("logistic_regression", {}, "binary", from_arrays(x, y))
    proto = to_onnx(method, 12, metadata={"feature_names": [f"p{i}" for i in range(12)]})
    assert np.abs(scores(proto, x) - method.predict(from_arrays(x))).max() < 1e-5
    meta = read_metadata(proto)
    assert meta["method"] == "logistic_regression" and meta["output"] == "signal_probability"
    assert meta["converter"].startswith("skl2onnx ")
    assert meta["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 12]}]
    assert meta["feature_names"][-1] == "p11"


@pytest.mark.parametrize("name", sorted(NOT_CONVERTIBLE))
def test_a_method_without_converter_is_refused_in_one_line(name):
    with pytest.raises(
        UserError,
        match=rf"^method '{name}' cannot be exported to ONNX: .+; "
        "convertible: boosted_trees, ",
    ) as error:
        to_onnx(METHODS.get(name)(), 2)
    assert "\n" not in str(error.value)


def test_wrong_columns_encodings_and_unconverted_settings_are_refused():
    train, _ = xor_data("binary")
    forest = fitted("decision_tree", {}, "binary", train)
    with pytest.raises(
        UserError,
        match="^method 'decision_tree': n_features=3 differs from the 2 "
        "input columns it was fitted on$",
    ):
        to_onnx(forest, 3)
    knn = fitted("knn", {"weights": "distance", "n_jobs": 1}, "binary", train)
    with pytest.raises(UserError, match="^method 'knn': weights: distance is not exported"):
        to_onnx(knn, 2)
    svm = fitted("svm", {"calibration": "isotonic", "calibration_folds": 2}, "binary", train)
    with pytest.raises(UserError, match="^method 'svm': calibration: isotonic is not exported"):
        to_onnx(svm, 2)
    with pytest.raises(UserError, match="^method 'decision_tree' is not fitted; fit it before"):
        to_onnx(METHODS.create("decision_tree"), 2)
    codes = np.stack([train.x[:, 0], (train.x[:, 1] > 100).astype(np.float32)], axis=1)
    coded = Dataset({"x": codes, "y": train.y}, feature_names=["jet_pt", "n_btags"])
    encoded = fitted("logistic_regression", {"one_hot": ("n_btags",)}, "binary", coded)
    with pytest.raises(
        UserError,
        match="^method 'logistic_regression': its one_hot / "
        "bag_of_words input encodings are quanta's own code",
    ):
        to_onnx(encoded, 2)


@pytest.mark.parametrize("name", ["boosted_trees", "sgd"])
def test_a_method_loaded_from_its_folder_exports_the_same_scores(name, tmp_path):
    train, test = xor_data("binary")
    method = fitted(name, {**PARAMS.get(name, {}), "seed": 2}, "binary", train, test)
    method.save(tmp_path)
    loaded = METHODS.get(name).load(tmp_path)
    got = scores(to_onnx(loaded, 2), test.x)
    assert np.abs(got - method.predict(test)).max() <= 1e-5
