"""The continuous-depth ODE block: exact on a linear field, adjoint = direct gradients, NFE."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quanta.errors import UserError
from quanta.models.neural_ode import ODEBlock, VectorField

pytestmark = pytest.mark.usefixtures("one_thread")


class LinearField(nn.Module):
    """dh/dt = h A^T: the flow from t = 0 to t is the matrix exponential exp(A t)."""

    def __init__(self, matrix: torch.Tensor) -> None:
        super().__init__()
        self.matrix = nn.Parameter(matrix)
        self.evaluations = 0

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        self.evaluations += 1
        return h @ self.matrix.T


def _matrix() -> torch.Tensor:
    # a damped rotation mixed with a growing mode: complex and real eigenvalues
    return torch.tensor([[-0.3, 2.0, 0.0], [-2.0, -0.3, 0.5], [0.1, 0.0, 0.4]], dtype=torch.float64)


@pytest.mark.parametrize(
    "method, options, tolerance",
    [
        ("dopri5", {"rtol": 1e-9, "atol": 1e-11}, 1e-8),
        ("rk4", {"step_size": 0.01}, 1e-8),  # global error ~ step^4
    ],
)
def test_linear_field_gives_the_matrix_exponential(method, options, tolerance):
    matrix = _matrix()
    block = ODEBlock(LinearField(matrix), method=method, **options)
    h = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        end = block(h)  # [5, 3]
        times = torch.tensor([0.0, 0.25, 0.5, 1.5], dtype=torch.float64)
        path = block.trajectory(h, times)  # [4, 5, 3]
    assert end.shape == (5, 3) and path.shape == (4, 5, 3)
    torch.testing.assert_close(end, h @ torch.linalg.matrix_exp(matrix).T, rtol=0, atol=tolerance)
    for t, states in zip(times, path, strict=True):
        torch.testing.assert_close(
            states, h @ torch.linalg.matrix_exp(matrix * t).T, rtol=0, atol=tolerance * 10
        )


def test_adjoint_and_direct_gradients_agree():
    torch.manual_seed(0)
    field = VectorField(4, hidden=(16,), activation="tanh", time_dependent=True).double()
    h = torch.randn(6, 4, dtype=torch.float64)
    gradients = {}
    for adjoint in (False, True):
        block = ODEBlock(field, "dopri5", rtol=1e-9, atol=1e-11, adjoint=adjoint)
        start = h.clone().requires_grad_(True)
        field.zero_grad()
        block(start).pow(2).sum().backward()
        gradients[adjoint] = [start.grad.clone()] + [p.grad.clone() for p in field.parameters()]
        if adjoint:  # the adjoint solves a second ODE backwards: more evaluations
            assert block.nfe_backward > 0
        else:  # backpropagation replays the recorded operations: no new evaluations
            assert block.nfe_backward == 0
    assert len(gradients[True]) == 1 + 4  # the start and two layers' weights and biases
    for direct, adjoint in zip(gradients[False], gradients[True], strict=True):
        torch.testing.assert_close(adjoint, direct, rtol=1e-6, atol=1e-8)


def test_nfe_is_counted():
    field = VectorField(3, hidden=(8,))
    h = torch.randn(4, 3)
    assert [ODEBlock(field, "rk4", step_size=0.25)(h).shape, field.evaluations] == [(4, 3), 16]
    euler = ODEBlock(field, "euler", step_size=0.1)
    euler(h)
    assert euler.nfe == 10  # ten steps of 0.1, one evaluation each
    loose, tight = ODEBlock(field, rtol=1e-2, atol=1e-3), ODEBlock(field, rtol=1e-8, atol=1e-10)
    loose(h)
    tight(h)
    # dopri5: one evaluation to choose the first step, then six per step (FSAL), so 6k + 2
    assert loose.nfe >= 8 and (loose.nfe - 2) % 6 == 0
    assert tight.nfe > loose.nfe  # tighter tolerances cost more evaluations
    assert field.evaluations == 16 + 10 + loose.nfe + tight.nfe


def test_an_unknown_solver_is_refused():
    with pytest.raises(UserError) as error:
        ODEBlock(VectorField(2), method="rk45")
    assert str(error.value).startswith("unknown method 'rk45'; did you mean 'rk4'?")
