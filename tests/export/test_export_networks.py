"""Every registered model exported to ONNX: ONNX Runtime gives what ``Network.predict`` gives.

Each model is built with tiny widths for its kind of data (the table below), a
standardisation is fitted on random inputs so that it is folded into the
graph too, and the file's scores on inputs of another batch size - and, for
sets, sequences and graphs, another length - are compared with PyTorch's.
A registered model in neither the table nor ``NOT_EXPORTABLE`` fails the test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from quanta.data.dataset import Dataset  # noqa: E402
from quanta.data.transforms import Standardize  # noqa: E402
from quanta.errors import UserError  # noqa: E402
from quanta.export.onnx_network import (  # noqa: E402
    ADAPTIVE_SOLVER,
    ATOL,
    NOT_EXPORTABLE,
    RTOL,
    example_inputs,
    export_network,
    input_specs,
    read_metadata,
    run_session,
    session,
)
from quanta.models import MODELS  # noqa: E402
from quanta.tasks import TASKS  # noqa: E402
from quanta.train.config import TrainConfig  # noqa: E402
from quanta.train.network import Network, build_model  # noqa: E402
from tests.models.test_pretrained import saved_autoencoder  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TABLE = (5,)  # features [N, F]
IMAGE = (1, 8, 8)  # images [N, C, H, W]
SEQUENCE = {"x": (6, 3), "mask": (6,)}  # sequences [N, T, F] with a mask
SET = {"x": (6, 7), "mask": (6,)}  # sets of 6 slots of 7 features (the jets' constituents layout)
HITS = {"x": (6, 3), "mask": (6,), "edge_index": (10, 2), "edge_mask": (10,)}  # hit graphs

#: name -> (per-sample shapes, tiny hyperparameters, task, outputs)
EXAMPLES = {
    "mlp": ({"x": TABLE}, {"hidden": [8]}, "binary", 1),
    "perceptron": ({"x": TABLE}, {}, "perceptron", 1),
    "highway": ({"x": TABLE}, {"width": 8, "depth": 2}, "regression", 1),
    "residual_mlp": ({"x": TABLE}, {"width": 8, "blocks": 1}, "multiclass", 3),
    "mixture_of_experts": (
        {"x": TABLE},
        {"experts": 2, "hidden": [8], "gate_hidden": [8]},
        "binary",
        1,
    ),
    "cnn": ({"x": IMAGE}, {"channels": [4, 8], "hidden": [8]}, "multiclass", 3),
    "lenet5": ({"x": (1, 32, 32)}, {}, "multiclass", 10),
    "vgg": ({"x": IMAGE}, {"widths": [4, 8], "depths": 1, "hidden": [8]}, "binary", 1),
    "resnet": ({"x": IMAGE}, {"widths": [4, 8], "depths": 1, "stem_channels": 4}, "binary", 1),
    "inception": ({"x": IMAGE}, {"stem_channels": 4, "widths": [8]}, "binary", 1),
    "stn_cnn": (
        {"x": IMAGE},
        {"localisation_channels": [4], "localisation_hidden": 8, "channels": [4, 8], "hidden": [8]},
        "binary",
        1,
    ),
    "unet": ({"x": IMAGE}, {"depth": 2, "width": 4}, "segmentation", 3),
    "autoencoder": ({"x": TABLE}, {"code": 2, "hidden": [8]}, "regression", 5),
    # an encoder saved as a run saves one (untrained), a new head on its codes
    "pretrained": ({"x": TABLE}, {"path": saved_autoencoder(TABLE), "head": [4]}, "binary", 1),
    "conv_autoencoder": ({"x": IMAGE}, {"channels": [4, 8], "code": 4}, "reconstruction", 1),
    "rnn": (SEQUENCE, {"hidden": 8, "cell": "lstm"}, "binary", 1),
    "seq2seq": (
        {**SEQUENCE, "decoder_input": (4,)},
        {"hidden": 8, "embedding": 4, "attention": 8},
        "multiclass",
        3,
    ),
    "transformer": (
        SEQUENCE,
        {"dim": 8, "heads": 2, "layers": 1, "feedforward": 16},
        "regression",
        1,
    ),
    "deepsets": (SET, {"phi": [8], "rho": [8]}, "binary", 1),
    "set_transformer": (
        SET,
        {
            "dim": 8,
            "heads": 2,
            "layers": 1,
            "feedforward": 16,
            "pair_bias": True,
            "pair_hidden": 4,
            "head": [8],
        },
        "binary",
        1,
    ),
    "mpnn": (SET, {"hidden": 8, "steps": 1, "edge_hidden": 4, "head": [8]}, "binary", 1),
    "particlenet": (SET, {"k": 3, "channels": [[8, 8]], "head": [8]}, "binary", 1),
    "interaction_network": (HITS, {"hidden": 8, "steps": 1, "layers": 1}, "binary", 1),
    "lorentznet": (
        {"p4": (6, 4), "mask": (6,), "x": (6, 3)},
        {"hidden": 8, "layers": 2, "dropout": 0.0, "particle_features": True, "beams": True},
        "binary",
        1,
    ),
    "particle_transformer": (
        {"x": (6, 7), "mask": (6,), "p4": (6, 4)},
        {
            "embed_dims": [8],
            "heads": 2,
            "particle_blocks": 1,
            "class_blocks": 1,
            "pair_embed_dims": [4],
            "feedforward_ratio": 1,
            "dropout": 0.0,
        },
        "binary",
        1,
    ),
    # fixed-step solvers export; the default adaptive one is refused (ADAPTIVE_SOLVER)
    "ode_net": (
        {"x": TABLE},
        {"width": 4, "hidden": [8], "method": "rk4", "step_size": 1.0},
        "binary",
        1,
    ),
    "ode_trajectory": (
        {"x": (2,)},
        {"hidden": [8], "steps": 3, "method": "rk4", "step_size": 0.1},
        "regression",
        6,
    ),
}
#: a small build of each model that NOT_EXPORTABLE names
REFUSED = {
    "hnn": ({"x": (4,)}, {"hidden": [8]}, "regression", 4),
    "vae": ({"x": TABLE}, {"latent": 2, "hidden": [8]}, "generation", 1),
    "gan": ({"x": TABLE}, {"generator_hidden": [8], "critic_hidden": [8]}, "generation", 1),
    "recursive_jet": (
        {"x": (5, 3), "mask": (5,), "children": (5, 2), "level": (5,)},
        {"hidden": 4, "head": [4]},
        "binary",
        1,
    ),
}
#: the default builds with an adaptive ODE solver, refused whatever their name
ADAPTIVE = {
    "ode_net": ({"x": TABLE}, {"width": 4, "hidden": [8]}, "binary", 1),
    "ode_trajectory": ({"x": (2,)}, {"hidden": [8], "steps": 3}, "regression", 6),
}


def network_for(name: str, shapes, params, task: str, outputs: int) -> Network:
    """The model built for ``shapes``, in a Network with a Standardize fitted on random inputs."""
    torch.manual_seed(0)
    model = build_model(name, params, shapes, outputs, where=name)
    network = Network(
        model, TASKS.create(task), TrainConfig(device="cpu", progress=False), spec=None
    )
    specs = input_specs(model, shapes, standardized=True)
    if any(spec.name == "x" for spec in specs):  # shifted and scaled inputs, to fold the transform
        arrays = example_inputs(specs, batch=16, seed=5)
        arrays["x"] = arrays["x"] * 3.0 + 1.5
        network.transform = Standardize().fit(Dataset(arrays))
    return network


def test_every_registered_model_is_exported_or_refused_with_a_reason():
    unlisted = sorted(set(MODELS.names()) - set(EXAMPLES) - set(NOT_EXPORTABLE))
    assert not unlisted, (
        f"registered models with no export test: {unlisted} (add them to EXAMPLES "
        "or to quanta.export.onnx_network.NOT_EXPORTABLE with the reason)"
    )
    assert set(REFUSED) == set(NOT_EXPORTABLE)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_onnx_runtime_scores_equal_pytorch_at_another_batch_and_length(name):
    if name not in MODELS.names():
        pytest.skip(f"{name} is not registered in this checkout")
    shapes, params, task, outputs = EXAMPLES[name]
    network = network_for(name, shapes, params, task, outputs)
    exported = export_network(network, shapes, name, {"model": name})
    assert (
        exported.exporter == "torchscript"
    )  # every registered model traces; dynamo is the fallback
    specs = input_specs(network.model, shapes, standardized=True)
    length = next((s.shape[0] + 2 for s in specs if s.axes.get(1) == "length"), None)
    edges = next((s.shape[0] + 4 for s in specs if s.axes.get(1) == "edges"), None)
    arrays = example_inputs(specs, batch=9, length=length, edges=edges, seed=11)
    if "x" in arrays and network.transform is not None:
        arrays["x"] = arrays["x"] * 3.0 + 1.5  # raw units: the file standardises them itself
        if "mask" in arrays and arrays["x"].ndim == 3:
            arrays["x"] = arrays["x"] * arrays["mask"][..., None]
    got = run_session(session(exported.model), arrays)[0]
    data = Dataset({"x": np.zeros((9, 1), np.float32), **arrays})  # a data set always holds x
    want = network.predict(data)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=RTOL)
    if length is not None:  # the length axis is dynamic in the file itself
        x = next(v for v in exported.model.graph.input if v.name in ("x", "p4"))
        assert x.type.tensor_type.shape.dim[1].dim_param == "length"
    metadata = read_metadata(exported.model)
    assert metadata["exporter"] == "torchscript" and metadata["model"] == name
    assert [i["name"] for i in metadata["inputs"]] == [s.name for s in specs]


@pytest.mark.parametrize("name", sorted(NOT_EXPORTABLE) + sorted(ADAPTIVE))
def test_models_that_cannot_be_exported_are_refused_naming_why(name):
    if name not in MODELS.names():
        pytest.skip(f"{name} is not registered in this checkout")
    build = REFUSED.get(name) or ADAPTIVE[name]
    network = network_for(name, *build)
    with pytest.raises(UserError, match="cannot be exported to ONNX: ") as refused:
        export_network(network, build[0], name)
    message = str(refused.value)
    assert NOT_EXPORTABLE.get(name, ADAPTIVE_SOLVER) in message and "\n" not in message


def test_a_gaussian_head_exports_its_sigma_in_target_units():
    from quanta.data.transforms import TargetScaling

    shapes = {"x": TABLE}
    torch.manual_seed(0)
    model = build_model("mlp", {"hidden": [8]}, shapes, 2, where="mlp")
    task = TASKS.create("regression", likelihood="gaussian")
    network = Network(model, task, TrainConfig(device="cpu", progress=False))
    network.target_scaling = TargetScaling().fit(np.random.default_rng(0).normal(80.0, 10.0, 50))
    exported = export_network(network, shapes, "mlp")
    x = np.random.default_rng(1).normal(size=(6, 5)).astype(np.float32)
    scores, sigma = run_session(session(exported.model), {"x": x})
    want, want_sigma = network.predict_with_uncertainty(Dataset({"x": x}))
    np.testing.assert_allclose(scores, want, atol=ATOL, rtol=RTOL)
    np.testing.assert_allclose(sigma, want_sigma, atol=ATOL, rtol=RTOL)
    assert scores.mean() > 40.0  # in the targets' units, not the scaled ones


def test_monte_carlo_dropout_is_refused_in_one_line():
    shapes = {"x": TABLE}
    model = build_model("mlp", {"hidden": [8], "dropout": 0.2}, shapes, 1, where="mlp")
    network = Network(
        model, TASKS.create("binary"), TrainConfig(device="cpu", progress=False, mc_dropout=5)
    )
    with pytest.raises(UserError, match="Monte Carlo dropout passes.*mc_dropout: 0"):
        export_network(network, shapes, "mlp")
