"""The neural ODE network ``ode_net``: shapes, checked parameters, and that it learns XOR."""

from __future__ import annotations

import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models import MODELS
from quanta.models.neural_ode import ODENet
from tests.conftest import quanta_here, xor_clouds

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    "shape, out, params",
    [
        ((5,), 1, {}),
        (
            (2, 3),
            4,
            {"width": 6, "hidden": (8, 8), "time_dependent": False, "activation": "softplus"},
        ),
        ((3,), 2, {"method": "rk4", "step_size": 0.5, "adjoint": True}),
    ],
)
def test_shapes_and_cost(shape, out, params):
    model = MODELS.get("ode_net").for_data({"x": shape}, out, **params)
    assert model(torch.randn(7, *shape)).shape == (7, out)
    assert model.block.nfe >= 2  # at least one solver step was taken, and counted
    if params.get("method") == "rk4":
        assert model.block.nfe == 8  # two steps of 0.5, four evaluations each


@pytest.mark.parametrize(
    "params, message",
    [
        ({"width": 0}, "ode_net: width must be a positive integer; received 0"),
        ({"rtol": 0.0}, "ode_net: rtol must be a number in (0, 1); received 0.0"),
        ({"step_size": -0.1}, "ode_net: step_size must be a number > 0; received -0.1"),
        (
            {"method": "rk45"},
            "ode_net: method must be one of dopri5, bosh3, fehlberg2, adaptive_heun, rk4, "
            "midpoint, euler; received 'rk45'; did you mean 'rk4'?",
        ),
    ],
)
def test_bad_parameters_are_one_line_errors(params, message):
    with pytest.raises(UserError) as error:
        ODENet(2, 1, **params)
    assert str(error.value) == message


def test_a_bad_parameter_in_an_experiment_exits_with_status_2(tmp_path):
    (tmp_path / "e.yaml").write_text(
        "data: {source: jets, size: 100}\n"
        "methods: [{name: ode, model: ode_net, params: {atol: 2}}]\n"
    )
    done = quanta_here("run", "e.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "quanta: error: methods[0].params: atol must be a number in (0, 1); received 2"
    )


def _learns_xor(tmp_path, adjoint: bool):
    x, y = xor_clouds(1000)
    run = quanta.fit(
        "ode_net",
        (x, y),
        params={"width": 8, "hidden": (16,), "adjoint": adjoint},
        epochs=3,
        batch_size=128,
        lr=0.03,
        patience=0,
        out=tmp_path,
        verbose=False,
    )
    # measured (700 training samples, 3 epochs; 0.6 s direct, 0.9 s adjoint on one thread, idle
    # machine): test AUC 1.00 and accuracy 1.00 both ways, 26 field evaluations per forward pass
    assert run.metrics["test"]["auc"] > 0.98 and run.metrics["test"]["accuracy"] > 0.95
    assert 8 <= run.estimator.model.block.nfe <= 200


def test_learns_xor(tmp_path):
    _learns_xor(tmp_path, adjoint=False)


@pytest.mark.slow
def test_learns_xor_with_adjoint_gradients(tmp_path):
    """About 1 s (2.4 s on a loaded machine): the same fit, gradients by the adjoint method."""
    _learns_xor(tmp_path, adjoint=True)
