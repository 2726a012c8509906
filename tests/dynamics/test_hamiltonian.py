"""The Hamiltonian neural network: its output is the symplectic gradient of its H, in every mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models.hamiltonian import HamiltonianNetwork


def symplectic_gradient(energy, x: torch.Tensor) -> torch.Tensor:
    """(dH/dp, -dH/dq) of ``energy`` at ``x`` [N, 2n], by autograd, independently of the model."""
    x = x.detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(energy(x).sum(), x)
    n = x.shape[1] // 2
    return torch.cat([gradient[:, n:], -gradient[:, :n]], dim=1)


@pytest.mark.parametrize("dimension", [2, 8])
def test_output_is_the_symplectic_gradient_of_its_hamiltonian(dimension):
    torch.manual_seed(0)
    model = HamiltonianNetwork(dimension, dimension, hidden=(16, 16))
    x = torch.randn(32, dimension)
    expected = symplectic_gradient(model.hamiltonian, x)
    for train in (True, False):
        model.train(train)
        assert torch.allclose(model(x), expected, atol=1e-6)
    # the field conserves the model's own H: dH/dt = grad H . f = 0
    gradient = symplectic_gradient(model.hamiltonian, x)  # (H_p, -H_q), so grad H = (-f_p, f_q)
    n = dimension // 2
    grad_h = torch.cat([-gradient[:, n:], gradient[:, :n]], dim=1)
    assert torch.allclose((grad_h * model(x)).sum(dim=1), torch.zeros(32), atol=1e-6)


def test_prediction_modes_give_the_same_field_and_training_reaches_the_weights():
    torch.manual_seed(1)
    model = HamiltonianNetwork(2, 2, hidden=(8,))
    x = torch.randn(10, 2)
    with torch.enable_grad():
        trained = model(x)
    with torch.no_grad():
        quiet = model(x)
    with torch.inference_mode():
        inferred = model(torch.as_tensor(x.numpy()))  # an inference tensor as input
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = model(x)  # the gradient stays in float32
    assert trained.requires_grad and not quiet.requires_grad and not inferred.requires_grad
    assert torch.allclose(trained, quiet) and torch.allclose(trained, inferred)
    assert autocast.dtype == torch.float32 and torch.allclose(trained, autocast, atol=1e-6)
    trained.pow(2).sum().backward()  # the loss of the derivatives reaches the energy network
    offset = model.energy.layers[-1].bias  # a constant added to H changes no derivative
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p is not offset
    )
    assert offset.grad is None or not offset.grad.any()


def test_given_scalings_are_undone_so_the_physical_field_stays_hamiltonian():
    """With set_scalings, scaled inputs give scaled targets of the symplectic gradient of H(x)."""
    torch.manual_seed(2)
    mean, scale = torch.tensor([0.3, -1.0]), torch.tensor([0.5, 4.0])  # q and p spread differently
    target_mean, target_scale = torch.tensor([0.1, 0.2]), torch.tensor([3.0, 0.25])
    model = HamiltonianNetwork(2, 2, hidden=(16,)).set_scalings(
        mean, scale, target_mean, target_scale
    )
    physical = torch.randn(20, 2) * scale + mean

    def energy(x):  # H as a function of the physical state
        return model.hamiltonian((x - mean) / scale)

    expected = (symplectic_gradient(energy, physical) - target_mean) / target_scale
    assert torch.allclose(model((physical - mean) / scale), expected, atol=1e-5)
    assert all(name in model.state_dict() for name in ("input_scale", "target_mean"))


def test_quanta_fit_hands_the_fitted_scalings_to_the_model_so_predictions_are_physical():
    """With quanta's default scalings on, run.predict is the physical field of the learned H(x)."""
    rng = np.random.default_rng(3)
    state = (rng.normal(size=(300, 2)) * [0.5, 4.0] + [0.3, -1.0]).astype(np.float32)
    derivative = np.stack([state[:, 1] / 16, -state[:, 0]], axis=1).astype(np.float32)
    run = quanta.fit("hnn", (state, derivative), task="regression", params={"hidden": [8]},
                     epochs=1, seed=0)
    network, model = run.estimator, run.estimator.model
    assert np.allclose(model.input_mean.numpy(), network.transform.mean_)
    assert np.allclose(model.target_scale.numpy(), network.target_scaling.scale_)
    mean, scale = model.input_mean, model.input_scale

    def energy(x):  # the learned H as a function of the physical state
        return model.hamiltonian((x - mean) / scale)

    physical = torch.as_tensor(state[:20])
    expected = symplectic_gradient(energy, physical).detach().numpy()
    assert np.allclose(run.predict(state[:20]), expected, atol=1e-5)


def test_wrong_shapes_are_one_line_errors_through_quanta_fit():
    rng = np.random.default_rng(0)
    x3 = rng.normal(size=(60, 3)).astype(np.float32)
    with pytest.raises(
        UserError,
        match="hnn: the inputs must be phase-space coordinates .*, an even "
        "number of features; received 3",
    ):
        quanta.fit("hnn", (x3, x3), task="regression", epochs=1)
    x2 = x3[:, :2].copy()
    with pytest.raises(
        UserError,
        match=r"hnn: the targets must be the time derivatives of the 2 "
        r"coordinates \(2 outputs\); received 1",
    ):
        quanta.fit("hnn", (x2, x2[:, 0].copy()), task="regression", epochs=1)
    with pytest.raises(UserError, match="hnn: hidden must be a list of positive integers"):
        HamiltonianNetwork(2, 2, hidden=(0,))
