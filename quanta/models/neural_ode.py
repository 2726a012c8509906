"""Neural ordinary differential equations (Chen, Rubanova, Bettencourt & Duvenaud 2018).

A residual network updates its hidden state in steps, ``h_{k+1} = h_k + f(h_k)``;
in the limit of many small steps the state follows an ordinary differential
equation ``dh/dt = f(h, t)`` whose vector field ``f`` is a small network. The
output is the state at the end time, found by an ODE solver (here torchdiffeq's,
adaptive Dormand-Prince ``dopri5`` by default): depth becomes continuous, and
the solver spends as many evaluations of ``f`` (the NFE, the cost) as the
tolerances ``rtol``/``atol`` need. Gradients come either by backpropagating
through the solver's operations (memory growing with the number of steps) or by
the adjoint method, which solves a second ODE backwards in time for the
gradients (memory O(1) in depth, at the price of more evaluations and of
gradients exact only to the solver's tolerance).

- :class:`VectorField`: the MLP ``f(h, t)``, counting its evaluations;
- :class:`ODEBlock`: a drop-in continuous-depth block ``h(0) -> h(1)``, and the
  states at any times (:meth:`ODEBlock.trajectory`);
- :class:`ODENet` (registered ``ode_net``): input layer, ODE block, head, for
  features ``x[N, F]`` (classification or regression);
- :class:`ODETrajectory` (registered ``ode_trajectory``): learns the vector
  field of a dynamical system from initial states and the states at
  ``t = dt, 2 dt, ..., T dt`` (the ``trajectories`` view of the ``dynamics``
  source).

torchdiffeq is imported when a block is integrated, not when this module is.

References:
    R. T. Q. Chen, Y. Rubanova, J. Bettencourt and D. Duvenaud, "Neural
    ordinary differential equations", NeurIPS 2018, arXiv:1806.07366.
    E. Dupont, A. Doucet and Y. W. Teh, "Augmented neural ODEs", NeurIPS 2019,
    arXiv:1904.01681 (why the input layer lifts the features to ``width``:
    a flow cannot untangle classes in the features' own dimension).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, get_args

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError, unknown_name
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.hints import Size, Widths
from quanta.registry import checked

SolverName = Literal["dopri5", "bosh3", "fehlberg2", "adaptive_heun", "rk4", "midpoint", "euler"]
SOLVERS: tuple[str, ...] = get_args(SolverName)
"""The torchdiffeq solvers a model may use: adaptive ones first, then fixed-step ones.

torchdiffeq's ``dopri8`` is left out: on a linear test field its error at rtol 1e-9 is ~1e3 times
``dopri5``'s (5e-7 against 3e-10), its step control does not meet the tolerances asked for.
"""
FIXED_STEP: tuple[str, ...] = ("rk4", "midpoint", "euler")
"""Solvers that take steps of ``step_size`` rather than choosing them from the tolerances."""

Solver = Annotated[SolverName, Field(description=f"one of {', '.join(SOLVERS)}")]
Tolerance = Annotated[
    float, Field(gt=0, lt=1, allow_inf_nan=False, description="a number in (0, 1)")
]
StepSize = Annotated[float, Field(gt=0, allow_inf_nan=False, description="a number > 0")]
Steps = Annotated[int | None, Field(ge=1, description="a positive integer, or null to infer it")]
Readout = Annotated[Literal["affine", "identity"], Field(description="one of affine, identity")]


class VectorField(nn.Module):
    """The vector field ``f(h, t)`` of a neural ODE: an MLP, counting its evaluations.

    Args:
        width: size of the state ``h``.
        hidden: widths of the MLP's hidden layers.
        activation: nonlinearity after each hidden layer (``quanta.models.activations``);
            a smooth one (``tanh``, ``softplus``, ``silu``) keeps adaptive steps large.
        time_dependent: feed the time ``t`` to the MLP as one more input (a
            non-autonomous field); otherwise ``f`` depends on ``h`` only.

    Shapes:
        - ``t``: a scalar tensor; ``h``: ``[N, width]``; output ``[N, width]``.

    ``evaluations`` counts the calls since the field was built (forward solves,
    and the backward solves of the adjoint method); :class:`ODEBlock` reads it.
    """

    def __init__(
        self,
        width: int,
        hidden: tuple[int, ...] = (64,),
        activation: str = "tanh",
        time_dependent: bool = False,
    ) -> None:
        super().__init__()
        self.time_dependent = time_dependent
        layers: list[nn.Module] = []
        width_in = width + int(time_dependent)
        for size in hidden:
            layers += [nn.Linear(width_in, size), make_activation(activation)]
            width_in = size
        layers.append(nn.Linear(width_in, width))
        self.layers = nn.Sequential(*layers)
        self.evaluations = 0

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``dh/dt`` ``[N, width]`` at time ``t`` (scalar) and state ``h`` ``[N, width]``."""
        self.evaluations += 1
        if self.time_dependent:
            h = torch.cat([h, t.to(h).expand(h.shape[0], 1)], dim=1)  # [N, width + 1]
        return self.layers(h)


class ODEBlock(nn.Module):
    """A continuous-depth block: the state ``h(1)`` of ``dh/dt = f(h, t)`` from ``h(0)``.

    Args:
        field: the vector field ``f`` (a :class:`VectorField`, or any module
            ``f(t, h)`` with an ``evaluations`` counter).
        method: the torchdiffeq solver (:data:`SOLVERS`): adaptive ones choose
            their steps to meet ``rtol``/``atol``; fixed-step ones (:data:`FIXED_STEP`)
            take steps of ``step_size``.
        rtol, atol: relative and absolute tolerances of adaptive solvers (per step,
            on each state component).
        step_size: the time step of fixed-step solvers (the block spans time 1).
        adjoint: gradients by the adjoint method (``torchdiffeq.odeint_adjoint``:
            memory O(1) in the number of steps, more evaluations, gradients to
            solver tolerance) instead of backpropagation through the solver.

    Shapes:
        - input ``h``: ``[N, width]``; output ``h(1)``: ``[N, width]``.

    Cost: after each call, ``nfe`` is the number of evaluations of ``f`` that the
    forward solve took; after a backward pass, ``nfe_backward`` those that the
    gradients took (0 without the adjoint: backpropagation reuses the recorded
    operations).
    """

    def __init__(
        self,
        field: nn.Module,
        method: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        step_size: float = 0.1,
        adjoint: bool = False,
    ) -> None:
        super().__init__()
        if method not in SOLVERS:
            raise unknown_name("method", method, SOLVERS)
        self.field = field
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.step_size = step_size
        self.adjoint = adjoint
        self.nfe = 0
        self._evaluations_after_forward = 0

    @property
    def nfe_backward(self) -> int:
        """Evaluations of ``f`` since the last forward solve ended (its backward pass)."""
        return self.field.evaluations - self._evaluations_after_forward

    def trajectory(self, h: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """The states at ``times`` (``[K]``, increasing, ``times[0]`` the start): ``[K, N, width]``.

        ``times`` are in the field's time unit; the result's first entry is ``h`` itself.
        """
        import torchdiffeq

        times = times.to(device=h.device, dtype=h.dtype)
        options = {"step_size": self.step_size} if self.method in FIXED_STEP else None
        solve = torchdiffeq.odeint_adjoint if self.adjoint else torchdiffeq.odeint
        start = self.field.evaluations
        states = solve(
            self.field,
            h,
            times,
            rtol=self.rtol,
            atol=self.atol,
            method=self.method,
            options=options,
        )
        self._evaluations_after_forward = self.field.evaluations
        self.nfe = self._evaluations_after_forward - start
        return states

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``h(1)`` ``[N, width]`` for ``h(0) = h`` ``[N, width]``."""
        return self.trajectory(h, torch.tensor([0.0, 1.0]))[-1]


class ODENet(nn.Module):
    """Neural ODE network: input layer, a continuous-depth ODE block, a dense head

    ``x -> Linear(F, width) -> ODEBlock (dh/dt = f(h, t), t from 0 to 1) -> Linear(width, out)``.
    The input layer lifts the features to ``width`` dimensions (an augmented
    neural ODE: the flow of an ODE is a continuous bijection, so it can separate
    classes only with room beside the features); the head gives raw outputs
    (logits or values), the task owns the loss.

    Args:
        in_features: features per sample (after flattening).
        out_features: outputs per sample.
        width: size of the ODE state.
        hidden: widths of the vector field's hidden layers.
        activation: nonlinearity of the vector field (``quanta.models.activations``).
        time_dependent: give the vector field the time as one more input.
        method: the torchdiffeq solver, see :data:`SOLVERS`.
        rtol, atol: tolerances of adaptive solvers.
        step_size: the time step of fixed-step solvers (``rk4``, ``midpoint``, ``euler``).
        adjoint: adjoint gradients (memory O(1) in depth) instead of backpropagation
            through the solver.

    Shapes:
        - input ``x``: ``[N, in_features]`` or ``[N, d1, d2, ...]`` (flattened);
        - output: ``[N, out_features]``.

    ``model.block.nfe`` is the number of vector-field evaluations of the last forward pass.
    """

    inputs = ("x",)

    @checked("ode_net")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        width: Size = 16,
        hidden: Widths = (32,),
        activation: Activation = "tanh",
        time_dependent: bool = True,
        method: Solver = "dopri5",
        rtol: Tolerance = 1e-3,
        atol: Tolerance = 1e-4,
        step_size: StepSize = 0.1,
        adjoint: bool = False,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.width = width
        self.hidden = hidden
        self.activation = activation
        self.time_dependent = time_dependent
        self.input_layer = nn.Linear(in_features, width)
        field = VectorField(width, hidden, activation, time_dependent)
        self.block = ODEBlock(field, method, rtol, atol, step_size, adjoint)
        self.head = nn.Linear(width, out_features)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> ODENet:
        """An ODE network for inputs ``x`` of per-sample shape ``shapes["x"]`` (flattened)."""
        return cls(in_features=math.prod(shapes["x"]), out_features=out_features, **params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for inputs ``[N, ...]``."""
        h = self.input_layer(x.reshape(x.shape[0], self.in_features))  # [N, width]
        return self.head(self.block(h))  # [N, width] -> [N, out_features]


class ODETrajectory(nn.Module):
    """Neural ODE of a dynamical system: learns dz/dt = f(z) and integrates initial states in time

    From the initial states ``x[N, D]`` the model integrates ``dz/dt = f(z)``
    (``f`` an MLP) and returns the states at ``t = dt, 2 dt, ..., steps * dt``,
    time-major: ``y[N, steps * D]`` holds the D numbers at ``t1``, then those at
    ``t2``, ... - the layout of the ``trajectories`` view of the ``dynamics``
    source. Trained as task ``regression`` on that view, the loss is the mean
    squared error of the whole trajectory.

    Scalings. quanta standardises a network's inputs by default (each state
    coordinate d: ``(x_d - m_d) / s_d``, training-split statistics) and scales
    regression targets (each output j: ``(y_j - M_j) / S_j``, one mean and
    scale per time and coordinate); predictions are scaled back. The model
    never sees these statistics, so:

    - ``readout: affine`` (the default) integrates the field in the
      standardised coordinates (an affine change of coordinates of an ODE is an
      ODE) and maps the state at each time ``t_k`` to the outputs through its
      own learned affine map per time and coordinate, ``a_kd z_d(t_k) + b_kd``
      (started at ``a = 1, b = 0``). The scaled targets are exactly such a map
      of the state (``a_kd = s_d / S_kd``, ``b_kd = (m_d - M_kd) / S_kd``), so
      the model is exact under the default scalings, and with them switched off.
    - ``readout: identity`` returns the states themselves: right only when both
      scalings are off - in an experiment ``data: {standardize: false}`` and the
      entry's ``train: {standardize_targets: false}``; in Python
      ``quanta.fit(..., standardize=False, standardize_targets=False)``. Then
      ``f`` is the system's vector field in its own units, readable as
      ``model.block.field(t, z)``.

    Time. ``dt`` sets the field's time unit: give the source's ``dt`` (its
    ``info``) to read ``f`` as ``dz/dt``; any other value fits the same
    trajectories with ``f`` scaled by ``dt_source / dt``.

    Args:
        in_features: the state size D.
        out_features: outputs per sample, ``steps * D``.
        steps: the number of times T; ``None`` takes ``out_features / D`` (give it with
            a Gaussian likelihood, whose outputs are twice the targets: it is refused).
        dt: the time between outputs (the first output is at ``dt``).
        hidden: widths of the vector field's hidden layers.
        activation: nonlinearity of the vector field (``quanta.models.activations``).
        time_dependent: give the field the time as one more input (a driven system);
            an isolated system's field is autonomous.
        readout: ``affine`` or ``identity``, see Scalings above.
        method: the torchdiffeq solver, see :data:`SOLVERS`.
        rtol, atol: tolerances of adaptive solvers.
        step_size: the time step of fixed-step solvers, in the units of ``dt``.
        adjoint: adjoint gradients (memory O(1) in the number of steps).

    Shapes:
        - input ``x``: ``[N, D]`` initial states;
        - output: ``[N, steps * D]``, time-major.
    """

    inputs = ("x",)

    @checked("ode_trajectory")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        steps: Steps = None,
        dt: StepSize = 0.1,
        hidden: Widths = (64, 64),
        activation: Activation = "tanh",
        time_dependent: bool = False,
        readout: Readout = "affine",
        method: Solver = "dopri5",
        rtol: Tolerance = 1e-4,
        atol: Tolerance = 1e-5,
        step_size: StepSize = 0.05,
        adjoint: bool = False,
    ) -> None:
        super().__init__()
        state = in_features
        if out_features % state:
            raise UserError(
                f"ode_trajectory: out_features ({out_features}) must be a multiple of "
                f"the state size ({state}): targets y[N, steps * {state}], time-major"
            )
        if steps is not None and out_features != steps * state:
            raise UserError(
                f"ode_trajectory: steps ({steps}) x state size ({state}) = "
                f"{steps * state} outputs, but the targets have {out_features} per "
                f"sample: set steps: {out_features // state} (the data's) or leave it "
                "out (task regression, likelihood none)"
            )
        steps = out_features // state if steps is None else steps
        self.in_features = in_features
        self.out_features = out_features
        self.steps = steps
        self.dt = dt
        self.readout = readout
        field = VectorField(state, hidden, activation, time_dependent)
        self.block = ODEBlock(field, method, rtol, atol, step_size, adjoint)
        if readout == "affine":
            self.gain = nn.Parameter(torch.ones(steps, state))
            self.offset = nn.Parameter(torch.zeros(steps, state))
        self.register_buffer(
            "times", dt * torch.arange(steps + 1, dtype=torch.float32), persistent=False
        )

    @classmethod
    def for_data(
        cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params
    ) -> ODETrajectory:
        """A trajectory model for initial states ``x`` of per-sample shape ``(D,)``."""
        shape = tuple(shapes["x"])
        if len(shape) != 1:
            raise UserError(
                f"ode_trajectory: inputs must be states x[N, D], received per-sample "
                f"shape {list(shape)}"
            )
        return cls(in_features=shape[0], out_features=out_features, **params)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """The integrated states ``[N, steps, D]`` at ``dt, ..., steps * dt`` from ``x[N, D]``."""
        states = self.block.trajectory(x, self.times)  # [steps + 1, N, D], the first is x
        return states[1:].transpose(0, 1)  # [N, steps, D]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs ``[N, steps * D]`` (time-major) for initial states ``x`` ``[N, D]``."""
        states = self.states(x.reshape(x.shape[0], self.in_features))
        if self.readout == "affine":
            states = states * self.gain + self.offset  # [N, steps, D]
        return states.reshape(x.shape[0], self.out_features)


__all__ = ["FIXED_STEP", "ODEBlock", "ODENet", "ODETrajectory", "SOLVERS", "VectorField"]
