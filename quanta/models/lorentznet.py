"""LorentzNet: a graph network on four-momenta that is equivariant under the Lorentz group.

A jet is a set of particles with four-momenta x_i = (E, px, py, pz). A boost
or rotation Λ changes every component but no Minkowski product
<x_i, x_j> = E_i E_j - p_i · p_j, and any function of the products alone is
Lorentz *invariant*; a sum of four-vectors with invariant coefficients,
Σ_j c_ij x_j, is Lorentz *covariant* (it turns into Σ_j c_ij Λ x_j). LorentzNet
(Gong, Meng, Qu, Li et al. 2022) builds every layer from these two pieces.
Each Lorentz group equivariant block (LGEB) holds per node i a vector of
scalars h_i and a four-vector x_i, and on the complete graph of the jet's
particles (no self-loops) computes

- the message  m_ij = φ_e(h_i, h_j, ψ(<x_i - x_j, x_i - x_j>), ψ(<x_i, x_j>)),
  with ψ(a) = sgn(a) ln(|a| + 1) to tame the invariants' many orders of
  magnitude, weighted by the edge weight w_ij = φ_m(m_ij) in (0, 1);
- the four-vector  x_i <- x_i + c Σ_j φ_x(m_ij) x_j   (covariant);
- the scalars      h_i <- h_i + φ_h(h_i, Σ_j w_ij m_ij, s_i)   (invariant),

s_i being the node's starting scalars. After the blocks, the scalars are
pooled over the particles and a decoder gives the jet's outputs; the
four-vectors never reach the output, so the output is exactly Lorentz
invariant (and invariant to the particles' order). The last block updates
no four-vector (its x would not be read), as in the paper.

Reference:
    S. Gong, Q. Meng, J. Zhang, H. Qu, C. Li, S. Qian, W. Du, Z.-M. Ma and
    T.-Y. Liu, "An efficient Lorentz equivariant graph neural network for jet
    tagging", JHEP 07 (2022) 030, arXiv:2201.08187.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.graph import MaskedBatchNorm, masked_mean, masked_sum
from quanta.models.hints import NonNegative, Probability, Size
from quanta.registry import checked

Pooling = Literal["mean", "sum"]
POOLINGS: tuple[str, ...] = get_args(Pooling)

#: the Minkowski metric diag(+1, -1, -1, -1) on (E, px, py, pz)
METRIC = (1.0, -1.0, -1.0, -1.0)
#: the node-type scalar of a particle and of a beam (the official code's labels)
PARTICLE, BEAM = -1.0, 1.0
#: edge entries (events x nodes^2 x hidden) above which evaluation runs the batch in chunks
EVALUATION_CHUNK = 1 << 24


def psi(a: torch.Tensor) -> torch.Tensor:
    """ψ(a) = sgn(a) ln(|a| + 1): the invariants' scale compressed, sign and zero kept."""
    return torch.sign(a) * torch.log1p(a.abs())


def minkowski_gram(x: torch.Tensor) -> torch.Tensor:
    """All Minkowski products ``<x_i, x_j>`` of the four-vectors ``x[N, P, 4]`` -> ``[N, P, P]``."""
    metric = x.new_tensor(METRIC)
    return (x * metric) @ x.transpose(1, 2)


def pair_invariants(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``ψ(<x_i - x_j, x_i - x_j>)`` and ``ψ(<x_i, x_j>)`` for every pair, each ``[N, P, P]``.

    The squared distance is ``<x_i, x_i> + <x_j, x_j> - 2 <x_i, x_j>``, from the
    Gram matrix (no ``[N, P, P, 4]`` difference tensor).
    """
    gram = minkowski_gram(x)  # [N, P, P]
    square = torch.diagonal(gram, dim1=1, dim2=2)  # [N, P]: <x_i, x_i>
    distance = square.unsqueeze(2) + square.unsqueeze(1) - 2 * gram  # [N, P, P]
    return psi(distance), psi(gram)


def invariant_mass_squared(p4: torch.Tensor) -> torch.Tensor:
    """``m² = E² - |p|²`` of four-momenta ``[..., 4]`` -> ``[...]``, as ``(E - |p|) (E + |p|)``.

    The product form loses less to cancellation than ``E² - |p|²`` for light particles.
    """
    energy, momentum = p4[..., 0], torch.linalg.vector_norm(p4[..., 1:], dim=-1)
    return (energy - momentum) * (energy + momentum)


class LGEB(nn.Module):
    """One Lorentz group equivariant block (module docstring) on a complete padded graph.

    ``φ_e`` is ``Linear (no bias) -> masked batch norm over the valid edges ->
    activation -> Linear -> activation``; its first layer is evaluated per node,
    ``W [h_i, h_j, a, b] = W_i h_i + W_j h_j + a w_a + b w_b``, and broadcast to
    the pairs. ``φ_m`` is ``Linear -> sigmoid``; ``φ_x`` is ``Linear ->
    activation -> Linear`` (the last without bias, initialised with gain 0.001 so
    that the four-vectors move little at first); ``φ_h`` is ``Linear -> masked
    batch norm over the valid nodes -> activation -> Linear``.

    Args:
        hidden: width of h and of the messages.
        scalars: number of starting node scalars s_i fed to every ``φ_h``.
        c_weight: the coefficient c of the four-vector update.
        update_vectors: False for the last block (no ``φ_x``, x returned as given).
        activation: nonlinearity (``quanta.models.activations``).

    Shapes:
        - ``h``: ``[N, P, hidden]``; ``x``: ``[N, P, 4]``; ``s``: ``[N, P, scalars]``;
          ``mask``: ``[N, P]`` bool.
        - output: ``(h, x)`` of the same shapes, zero at padded nodes.
    """

    def __init__(self, hidden: int, scalars: int, c_weight: float, update_vectors: bool = True,
                 activation: str = "relu") -> None:
        super().__init__()
        self.c_weight = c_weight
        self.edge_i = nn.Linear(hidden, hidden, bias=False)
        self.edge_j = nn.Linear(hidden, hidden, bias=False)
        self.edge_invariants = nn.Linear(2, hidden, bias=False)
        self.edge_norm = MaskedBatchNorm(hidden)
        self.phi_e = nn.Sequential(make_activation(activation), nn.Linear(hidden, hidden),
                                   make_activation(activation))
        self.phi_m = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid())
        self.phi_x: nn.Sequential | None = None
        if update_vectors:
            last = nn.Linear(hidden, 1, bias=False)
            nn.init.xavier_uniform_(last.weight, gain=0.001)
            self.phi_x = nn.Sequential(nn.Linear(hidden, hidden), make_activation(activation), last)
        self.node_in = nn.Linear(2 * hidden + scalars, hidden)
        self.node_norm = MaskedBatchNorm(hidden)
        self.node_out = nn.Sequential(make_activation(activation), nn.Linear(hidden, hidden))

    def forward(self, h: torch.Tensor, x: torch.Tensor, s: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = mask.shape[1]
        edges = mask.unsqueeze(2) & mask.unsqueeze(1)  # [N, P, P]
        edges = edges & ~torch.eye(p, dtype=torch.bool, device=mask.device)  # no self-loops
        edge_weight = edges.unsqueeze(-1).to(h.dtype)  # [N, P, P, 1]
        with torch.autocast(x.device.type, enabled=False):  # Minkowski algebra at x's precision
            distance, product = pair_invariants(x)  # [N, P, P] each
        e = (self.edge_i(h).unsqueeze(2) + self.edge_j(h).unsqueeze(1)
             + self.edge_invariants(torch.stack([distance, product], dim=-1)))  # [N, P, P, H]
        m = self.phi_e(self.edge_norm(e, edges))  # [N, P, P, H]
        m = m * self.phi_m(m) * edge_weight  # weighted messages, zero on absent edges
        if self.phi_x is not None:
            coefficients = (self.phi_x(m) * edge_weight).squeeze(-1)  # [N, P, P]
            with torch.autocast(x.device.type, enabled=False):
                x = x + self.c_weight * coefficients.to(x.dtype) @ x  # x_i + c Σ_j φ_x(m_ij) x_j
        update = self.node_in(torch.cat([h, m.sum(dim=2), s], dim=-1))  # [N, P, H]
        h = h + self.node_out(self.node_norm(update, mask))
        return h * mask.unsqueeze(-1).to(h.dtype), x


class LorentzNet(nn.Module):
    """LorentzNet: Lorentz group equivariant blocks on the particles' four-momenta

    The four-momenta ``p4`` (E, px, py, pz in GeV) are divided by
    ``energy_scale``, one constant for all four components, so the Lorentz
    structure is kept (quanta's input standardisation rescales each feature of
    ``x`` and never touches ``p4``, which would break it). The default, 1 GeV,
    keeps GeV: ψ already compresses the pair invariants of jet constituents,
    about 1e-4 to 1e5 GeV², to 0 to 12, while in units of 100 GeV they all fall
    below 0.05 and hardly move the first message layer (a plain training loop,
    700 jets of 20 constituents, hidden 16, 3 blocks, 5 epochs: test AUC 0.968
    in GeV, 0.67 in units of 100 GeV).

    Every particle starts from invariant scalars only: ψ(m²) of its mass
    squared in GeV², and its node type (particle -1, beam +1), embedded
    linearly to ``hidden`` (the paper uses particle type or mass). ``layers``
    blocks (:class:`LGEB`, module docstring) update scalars and four-vectors
    on the complete graph of the valid particles; the final scalars are
    pooled over the particles and the decoder ``Linear -> activation ->
    dropout -> Linear`` gives the outputs. Padded particles (``mask`` False)
    carry no message, no four-vector and no pooled scalars, so the output
    depends neither on padding nor on the particles' order, and by default it
    is exactly Lorentz invariant: a boost or rotation of every ``p4`` changes
    nothing (to rounding).

    The pooling is a mean over the valid particles (``"mean"``, the default)
    or their sum (``"sum"``, which keeps the multiplicity). The paper takes
    the mean over all padded slots, a sum divided by the slot count, which
    depends on the padding; the masked mean does not, and trained steadier
    than the sum in short runs (``quanta.fit``, 1000 jets of 16 constituents,
    hidden 16, 3 blocks, 3 epochs, seeds 1-3: test AUC 0.948-0.970, the sum
    0.885-0.971).

    Two options trade the symmetry for information, as documented:

    - ``beams=True`` adds the paper's two beam four-vectors
      (sqrt(1 + beam_mass²), 0, 0, ±1) in units of ``energy_scale`` as extra
      nodes of type beam: the network can then measure angles and rapidities to
      the beam axis, and stays invariant only under the transformations that
      leave both beams alone (rotations about the z axis).
    - ``particle_features=True`` also feeds the per-particle features ``x``
      (standardised by quanta; in the jets ``constituents`` view Δη, Δφ,
      ln pT, ...) as node scalars. These are frame-dependent, so the output is
      no longer Lorentz invariant.

    The defaults are the paper's top-tagging network (hidden 72, 6 blocks,
    c = 0.005, decoder dropout 0.2; 224k parameters with two outputs).
    Training and evaluation cost grow as particles² x hidden² per jet;
    evaluation without gradients runs large batches in chunks so that the edge
    tensors stay under ``EVALUATION_CHUNK`` entries.

    Args:
        out_features: outputs per jet.
        hidden: width of the node scalars h and of the messages.
        layers: Lorentz group equivariant blocks.
        c_weight: the coefficient c of each four-vector update, >= 0.
        energy_scale: GeV per unit of the four-vectors inside the network.
        pooling: ``"mean"`` (over the valid particles) or ``"sum"`` of the final scalars.
        dropout: dropout in the decoder, in [0, 1).
        activation: nonlinearity (``quanta.models.activations``); ReLU in the paper.
        beams: add the two beam four-vectors as nodes (breaks the invariance, above).
        beam_mass: the beams' mass in units of ``energy_scale`` (the official code's 1).
        particle_features: also feed ``x`` as node scalars (breaks the invariance, above).
        in_features: features per particle in ``x`` (set from the data; used only
            with ``particle_features``).

    Shapes:
        - input ``p4``: ``[N, P, 4]`` (E, px, py, pz) in GeV; ``mask``: ``[N, P]``
          bool, False for padding; with ``particle_features`` also ``x``: ``[N, P, F]``.
        - output: ``[N, out_features]``.
    """

    inputs: tuple[str, ...] = ("p4", "mask")  # the batch arrays forward() takes, in order

    @checked("lorentznet")
    def __init__(
        self,
        out_features: Size = 1,
        hidden: Size = 72,
        layers: Size = 6,
        c_weight: Annotated[float, Field(ge=0, description="a number >= 0")] = 5e-3,
        energy_scale: Annotated[float, Field(gt=0, description="an energy in GeV > 0")] = 1.0,
        pooling: Annotated[Pooling, Field(description="one of mean, sum")] = "mean",
        dropout: Probability = 0.2,
        activation: Activation = "relu",
        beams: bool = False,
        beam_mass: Annotated[float, Field(ge=0, description="a number >= 0")] = 1.0,
        particle_features: bool = False,
        in_features: NonNegative = 0,
    ) -> None:
        super().__init__()
        if particle_features and in_features == 0:
            raise UserError("lorentznet: particle_features needs per-particle features x[N, P, F] "
                            "(in_features >= 1); received in_features = 0")
        self.out_features, self.hidden, self.pooling = out_features, hidden, pooling
        self.energy_scale, self.beams = energy_scale, beams
        self.particle_features = particle_features
        self.in_features = in_features if particle_features else 0
        if particle_features:
            self.inputs = ("p4", "mask", "x")
        scalars = 2 + self.in_features  # ψ(m²), node type, [x]
        self.embedding = nn.Linear(scalars, hidden)
        self.blocks = nn.ModuleList(LGEB(hidden, scalars, c_weight, update_vectors=i < layers - 1,
                                         activation=activation) for i in range(layers))
        self.decoder = nn.Sequential(nn.Linear(hidden, hidden), make_activation(activation),
                                     nn.Dropout(dropout), nn.Linear(hidden, out_features))
        energy = (1.0 + beam_mass**2) ** 0.5
        self.register_buffer("beam_vectors", torch.tensor([[energy, 0.0, 0.0, 1.0],
                                                           [energy, 0.0, 0.0, -1.0]]))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int,
                 **params) -> LorentzNet:
        """LorentzNet for four-momenta ``p4`` of per-sample shape ``(P, 4)`` and ``mask`` ``(P,)``.

        With ``particle_features``, ``in_features`` is taken from ``x`` of shape ``(P, F)``.
        """
        p4 = shapes.get("p4")
        if p4 is None or len(p4) != 2 or p4[-1] != 4 or shapes.get("mask") != p4[:1]:
            given = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
            raise UserError(f"lorentznet: inputs must be four-momenta p4[N, P, 4] (E, px, py, pz) "
                            f"with a mask[N, P], as in the jets constituents view; received "
                            f"per-sample shapes {given}")
        if params.get("particle_features"):
            x = shapes.get("x", ())
            if len(x) != 2 or x[0] != p4[0]:
                raise UserError(f"lorentznet: particle_features needs per-particle features "
                                f"x[N, P, F] with P = {p4[0]}; received x of per-sample shape {x}")
            params["in_features"] = x[-1]
        return cls(out_features=out_features, **params)

    def node_inputs(self, p4: torch.Tensor, mask: torch.Tensor, x: torch.Tensor | None = None,
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The nodes' four-vectors ``[N, P', 4]``, first scalars ``[N, P', S]``, mask ``[N, P']``.

        Four-vectors in units of ``energy_scale``; scalars ψ(m² / GeV²), the node type and, with
        ``particle_features``, ``x``. ``P' = P + 2`` with ``beams`` (the beams last), else ``P``;
        padded nodes are zeros.
        """
        valid = mask.unsqueeze(-1).to(p4.dtype)  # [N, P, 1]
        vectors = p4 * valid / self.energy_scale  # [N, P, 4]
        columns = [psi(invariant_mass_squared(p4 * valid)), torch.full_like(p4[..., 0], PARTICLE)]
        if self.particle_features:
            columns += list(x.to(p4.dtype).unbind(-1))
        scalars = torch.stack(columns, dim=-1) * valid  # [N, P, S]
        if not self.beams:
            return vectors, scalars, mask
        n = p4.shape[0]
        beam_vectors = self.beam_vectors.to(p4.dtype).expand(n, -1, -1)  # [N, 2, 4]
        beam_scalars = torch.zeros(n, 2, scalars.shape[-1], dtype=p4.dtype, device=p4.device)
        beam_scalars[..., 0] = psi(invariant_mass_squared(beam_vectors * self.energy_scale))
        beam_scalars[..., 1] = BEAM
        return (torch.cat([vectors, beam_vectors], dim=1),
                torch.cat([scalars, beam_scalars], dim=1),
                torch.cat([mask, mask.new_ones(n, 2)], dim=1))

    def forward_features(self, p4: torch.Tensor, mask: torch.Tensor,
                         x: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled node scalars of each jet ``[N, hidden]``."""
        vectors, scalars, nodes = self.node_inputs(p4, mask.bool(), x)
        h = self.embedding(scalars) * nodes.unsqueeze(-1).to(scalars.dtype)  # [N, P', H]
        for block in self.blocks:
            h, vectors = block(h, vectors, scalars, nodes)
        particles = nodes.clone()
        if self.beams:
            particles[:, -2:] = False  # the beams are pooled by neither choice
        return masked_sum(h, particles) if self.pooling == "sum" else masked_mean(h, particles)

    def forward(self, p4: torch.Tensor, mask: torch.Tensor,
                x: torch.Tensor | None = None) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for four-momenta ``p4[N, P, 4]`` with ``mask[N, P]``.

        Without gradients in evaluation mode, a batch whose edge tensors would exceed
        ``EVALUATION_CHUNK`` entries runs in chunks of events (the same result: batch norm then
        uses its running statistics, so events do not interact).
        """
        nodes = mask.shape[1] + 2 * self.beams
        step = max(1, EVALUATION_CHUNK // (nodes * nodes * self.hidden))
        if self.training or torch.is_grad_enabled() or len(p4) <= step:
            return self.decoder(self.forward_features(p4, mask, x))
        chunks = (slice(i, i + step) for i in range(0, len(p4), step))
        return torch.cat([self.decoder(self.forward_features(p4[c], mask[c],
                                                             None if x is None else x[c]))
                          for c in chunks])


__all__ = ["LGEB", "POOLINGS", "LorentzNet", "invariant_mass_squared", "minkowski_gram",
           "pair_invariants", "psi"]
