"""The Hamiltonian neural network: learn the energy, and take the dynamics from its gradient.

A plain network that predicts a system's time derivatives (dq/dt, dp/dt) from
its state (q, p) learns any vector field; integrated for long, its small
errors let the energy creep, and orbits spiral in or out. Greydanus, Dzamba
and Yosinski (2019) let the network learn a scalar H(q, p) instead and output
Hamilton's equations, the symplectic gradient ``(dH/dp, -dH/dq)``: every field
it can represent conserves its own H exactly (dH/dt = dH/dq dq/dt + dH/dp
dp/dt = 0), so a roll-out stays on a level set of the learned energy, and the
true energy no longer drifts.

Prediction paths run models under ``torch.no_grad`` (``quanta.train.loop``)
and possibly ``torch.inference_mode``; the gradient of H is still needed
there, so :meth:`HamiltonianNetwork.forward` computes it with grad mode (and
inference mode off) inside, and builds the graph of the gradient
(``create_graph``) only when the caller records gradients, as training does.
The gradient is the prediction, so it is computed in float32 even under
bf16 autocast (quanta's default on GPUs that support it): bf16's three
significant digits would show as energy drift.
"""

from __future__ import annotations

import torch
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.hints import Size, Widths
from quanta.models.init import Init
from quanta.models.mlp import MLP
from quanta.registry import checked


class HamiltonianNetwork(nn.Module):
    """Hamiltonian neural network: an MLP learns H(q, p); the output is its symplectic gradient

    The state ``x = (q_1 ... q_n, p_1 ... p_n)`` (D = 2n coordinates, the
    positions first, as the ``dynamics`` source lays them out) goes through an
    MLP with one output, the learned energy H; the forward pass returns Hamilton's
    equations ``(dH/dp, -dH/dq)``, computed by ``torch.autograd.grad``. Train it
    as task ``regression`` on the time derivatives (the ``dynamics`` source's
    ``derivatives`` view): the loss is the squared error of the predicted
    derivatives, as in the paper.

    Units. quanta standardises inputs per feature and regression targets per
    target by default: the network would see ``x' = (x - mu) / sigma`` and
    learn ``y' = (dx/dt - m) / s``, and its field in the data's units would be
    ``dq_i/dt = s_(q_i) sigma_(p_i) dH/dp_i + m``, ``dp_i/dt = -s_(p_i)
    sigma_(q_i) dH/dq_i + m``: Hamiltonian only where the factors of q and p
    agree, which nothing ensures (their spreads, and their derivatives',
    differ), so the conservation law would be lost. The model therefore undoes
    both: it declares ``undoes_scalings``, so the trainer hands it the fitted
    scalings (:meth:`set_scalings`, buffers saved with the weights) before
    training; H becomes a function of the physical state, its symplectic
    gradient is taken there and scaled as the targets were. quanta's defaults
    are right for it, and so are the scalings switched off (``data:
    {standardize: false}``, ``train: {standardize_targets: false}``). Measured on
    the mass-spring (1000 samples, hidden 32-32 tanh, 60 epochs, 400 RK4 steps
    of 0.25): energy MSE 9.2e-5 with the scalings undone and 5.3e-5 with them
    off, against 9.3e-3 and 1.2e-3 for an MLP; after 20 epochs the scaled
    HNN has not yet converged (8.0e-4 against 1.2e-4 unscaled).

    Args:
        in_features: D, the number of phase-space coordinates (even).
        out_features: number of outputs: D (one derivative per coordinate).
        hidden: widths of the hidden layers of the energy network (the
            paper: two layers of 200).
        activation: nonlinearity of the energy network; a smooth one (the
            paper's ``tanh``) gives a smooth field, and training differentiates
            through the gradient, so its second derivative matters too.
        init: weight initialisation of the energy network (see
            :mod:`quanta.models.init`).

    Shapes:
        - input ``x``: ``[N, D]``, the state ``(q..., p...)``.
        - output: ``[N, D]``, ``(dq/dt, dp/dt) = (dH/dp, -dH/dq)``.
        - :meth:`hamiltonian`: ``[N]``, the learned energy.

    Reference:
        S. Greydanus, M. Dzamba and J. Yosinski, "Hamiltonian neural
        networks", NeurIPS 2019, arXiv:1906.01563.
    """

    inputs = ("x",)  # the batch arrays forward() takes, in order
    undoes_scalings = True  # Network.fit calls set_scalings with the fitted input and target scalings

    @checked("hnn")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 2,
        hidden: Widths = (200, 200),
        activation: Activation = "tanh",
        init: Init = "default",
    ) -> None:
        super().__init__()
        if in_features % 2:
            raise UserError(
                f"hnn: the inputs must be phase-space coordinates (q..., p...), an even "
                f"number of features; received {in_features}"
            )
        if out_features != in_features:
            raise UserError(
                f"hnn: the targets must be the time derivatives of the {in_features} "
                f"coordinates ({in_features} outputs); received {out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
        self.hidden = hidden
        self.activation = activation
        self.init = init
        self.energy = MLP(in_features, 1, hidden=hidden, activation=activation, init=init)
        # the scalings of inputs and targets to undo (set_scalings); the identity by default
        self.register_buffer("input_mean", torch.zeros(in_features))
        self.register_buffer("input_scale", torch.ones(in_features))
        self.register_buffer("target_mean", torch.zeros(in_features))
        self.register_buffer("target_scale", torch.ones(in_features))

    @classmethod
    def for_data(
        cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params
    ) -> HamiltonianNetwork:
        """An HNN for states ``x`` of per-sample shape ``(D,)``."""
        shape = tuple(shapes["x"])
        if len(shape) != 1:
            raise UserError(
                f"hnn: the inputs must be one state vector (q..., p...) per sample; "
                f"received samples of shape {list(shape)}"
            )
        return cls(in_features=shape[0], out_features=out_features, **params)

    def set_scalings(
        self, input_mean=None, input_scale=None, target_mean=None, target_scale=None
    ) -> HamiltonianNetwork:
        """Tell the model how its inputs and targets were scaled, so that it undoes both.

        Inputs arrive as ``(x - input_mean) / input_scale`` and the targets were
        ``(dx/dt - target_mean) / target_scale`` (per coordinate, ``[D]``; None
        keeps the identity). The buffers are saved with the weights. Returns self.
        """
        for name, value in (
            ("input_mean", input_mean),
            ("input_scale", input_scale),
            ("target_mean", target_mean),
            ("target_scale", target_scale),
        ):
            if value is not None:
                buffer = getattr(self, name)
                buffer.copy_(torch.as_tensor(value, dtype=buffer.dtype).reshape(buffer.shape))
        return self

    def hamiltonian(self, x: torch.Tensor) -> torch.Tensor:
        """The learned energy H ``[N]`` of (scaled) states ``x`` ``[N, D]``."""
        return self.energy(x).squeeze(-1)  # [N]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The symplectic gradient ``(dH/dp, -dH/dq)`` ``[N, D]`` of states ``[N, D]``."""
        # training (or a caller's autograd) differentiates the output: build the gradient's graph
        graph = torch.is_grad_enabled()
        full_precision = torch.autocast(x.device.type, enabled=False)
        with torch.inference_mode(False), torch.enable_grad(), full_precision:
            state = x.reshape(x.shape[0], self.in_features)
            if state.dtype in (torch.float16, torch.bfloat16):
                state = state.float()
            if not state.requires_grad:  # a clone is also an ordinary tensor under inference mode
                state = state.clone().requires_grad_(True)
            (gradient,) = torch.autograd.grad(
                self.hamiltonian(state).sum(), state, create_graph=graph
            )
        gradient = gradient / self.input_scale  # dH/dx in the inputs' own units, [N, D]
        n = self.in_features // 2
        field = torch.cat([gradient[:, n:], -gradient[:, :n]], dim=1)  # (dH/dp, -dH/dq), [N, D]
        output = (field - self.target_mean) / self.target_scale
        return output if graph else output.detach()


__all__ = ["HamiltonianNetwork"]
