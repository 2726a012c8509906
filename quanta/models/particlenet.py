"""ParticleNet: a jet as a particle cloud, learned with EdgeConv on dynamic k-nearest-neighbour graphs.

Dynamic graph CNNs (Wang et al. 2019) treat a point cloud as a graph that is
rebuilt in every block: each point is linked to its k nearest neighbours,
an *edge convolution* computes a feature for every link from the centre
and the neighbour's offset, ``h(x_i, x_j - x_i)`` (a shared MLP), and the
centre takes the mean over its links. The first graph is built in the
physical coordinates; later graphs in the learned feature space, so that
points far apart in the detector but alike in what they are get connected.
ParticleNet (Qu & Gouskos 2020) applies this to jets: the particles are the
points, the first block's coordinates are (Δη, Δφ) to the jet axis, each
block has a shortcut connection (ResNet-style), and a global average over
the particles feeds a dense classifier. The result is invariant to the order
of the particles.

Reference:
    H. Qu and L. Gouskos, "ParticleNet: jet tagging via particle clouds",
    Phys. Rev. D 101 (2020) 056019, arXiv:1902.08570.
    Y. Wang et al., "Dynamic graph CNN for learning on point clouds", ACM
    Trans. Graph. 38 (2019) 146, arXiv:1801.07829.
"""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.graph import MaskedBatchNorm, gather, knn, masked_mean
from quanta.models.hints import Probability, Size, Widths
from quanta.registry import checked

#: the three EdgeConv blocks of the paper's ParticleNet (ParticleNet-Lite: k=7, ((32,)*3, (64,)*3), head (128,))
PARTICLENET_CHANNELS = ((64, 64, 64), (128, 128, 128), (256, 256, 256))
Channels = Annotated[tuple[Annotated[tuple[Annotated[int, Field(ge=1)], ...], Field(min_length=1)], ...],
                     Field(min_length=1, description="at least one block of positive widths")]


class EdgeConvBlock(nn.Module):
    """One EdgeConv block: kNN graph, edge MLP on ``(x_i, x_j - x_i)``, mean over neighbours, shortcut.

    Each edge layer is ``Linear -> masked batch norm -> activation``. The first
    one is evaluated per point rather than per edge, using
    ``W [x_i, x_j - x_i] = (W_a - W_b) x_i + W_b x_j``: two per-point products
    and a gather instead of a product on ``k`` times as many edge rows.

    Args:
        in_features: features per point.
        channels: widths of the edge MLP; the last is the block's output width.
        k: neighbours per point.
        activation: nonlinearity (``quanta.models.activations``).

    Shapes:
        - ``points``: ``[N, P, D]`` (where the neighbours are found);
          ``x``: ``[N, P, in_features]``; ``mask``: ``[N, P]``.
        - output: ``[N, P, channels[-1]]``, zero for padded points.
    """

    def __init__(self, in_features: int, channels: tuple[int, ...], k: int, activation: str = "relu") -> None:
        super().__init__()
        self.k = k
        self.centre = nn.Linear(in_features, channels[0], bias=False)
        self.neighbour = nn.Linear(in_features, channels[0], bias=False)
        self.norms = nn.ModuleList(MaskedBatchNorm(width) for width in channels)
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(channels[:-1], channels[1:],
                                                                                strict=True))
        self.activations = nn.ModuleList(make_activation(activation) for _ in channels)
        self.shortcut = nn.Linear(in_features, channels[-1], bias=False)
        self.shortcut_norm = MaskedBatchNorm(channels[-1])
        self.output_activation = make_activation(activation)

    def forward(self, points: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        k = min(self.k, x.shape[1] - 1) if x.shape[1] > 1 else 1
        index, neighbours = knn(points, mask, k, include_self=x.shape[1] == 1)  # [N, P, k] each
        centre = self.centre(x) - self.neighbour(x)  # [N, P, C0]: (W_a - W_b) x_i
        h = centre.unsqueeze(2) + gather(self.neighbour(x), index)  # [N, P, k, C0]
        h = self.activations[0](self.norms[0](h, neighbours))
        for layer, norm, act in zip(self.layers, self.norms[1:], self.activations[1:], strict=True):
            h = act(norm(layer(h), neighbours))  # [N, P, k, C]
        h = masked_mean(h, neighbours)  # [N, P, C]: mean over the valid neighbours
        shortcut = self.shortcut_norm(self.shortcut(x), mask)  # [N, P, C]
        return self.output_activation(h + shortcut) * mask.unsqueeze(-1).to(h.dtype)  # [N, P, C]


class ParticleNet(nn.Module):
    """ParticleNet: EdgeConv blocks on dynamic k-nearest-neighbour graphs

    The particle features are normalised over valid particles (a masked
    batch norm), then pass ``len(channels)`` EdgeConv blocks. Block 1 finds
    the ``k`` nearest neighbours in the features ``coordinates`` — by
    default indices 0 and 1, the delta_eta and delta_phi of the jets
    ``constituents`` view (delta_eta, delta_phi, log_pt, log_e, log_pt_rel,
    log_e_rel, delta_r), so distance is ΔR to within quanta's per-feature
    standardisation (whose nearly equal scales for the two angles keep the
    neighbour order close to that of ΔR) — and every later block in the
    output features of the block before. A masked mean over the valid
    particles feeds the dense head (``head`` widths with dropout, then a
    linear output). Padded particles are never neighbours and never enter a
    mean, so the output depends neither on padding nor on particle order.

    The defaults are the paper's ParticleNet (k = 16, channels
    ((64,)*3, (128,)*3, (256,)*3), head (256,) with dropout 0.1, about 370k
    parameters); ParticleNet-Lite is ``k=7, channels=((32,)*3, (64,)*3),
    head=(128,)``. Sets with at most ``k`` particles use all the others as
    neighbours.

    Args:
        in_features: features per particle ``F``.
        out_features: outputs per jet.
        k: neighbours per particle in every block.
        channels: per block, the widths of its edge MLP.
        coordinates: feature indices in which block 1 finds neighbours.
        head: hidden widths of the dense head.
        dropout: dropout after each hidden layer of the head, in [0, 1).
        activation: nonlinearity (``quanta.models.activations``); ReLU in the paper.

    Shapes:
        - input ``x``: ``[N, P, F]``; ``mask``: ``[N, P]`` bool, False for padding.
        - output: ``[N, out_features]``.
    """

    inputs = ("x", "mask")  # the batch arrays forward() takes, in order

    @checked("particlenet")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        k: Size = 16,
        channels: Channels = PARTICLENET_CHANNELS,
        coordinates: Annotated[tuple[int, ...], Field(min_length=1, description="one or more feature indices")] = (0, 1),
        head: Widths = (256,),
        dropout: Probability = 0.1,
        activation: Activation = "relu",
    ) -> None:
        super().__init__()
        if not all(0 <= i < in_features for i in coordinates):
            raise UserError(f"particlenet: coordinates must be feature indices below in_features = "
                            f"{in_features}, received {coordinates}")
        self.in_features, self.out_features, self.k = in_features, out_features, k
        self.channels, self.coordinates = channels, coordinates

        self.input_norm = MaskedBatchNorm(in_features)
        widths_in = (in_features, *(block[-1] for block in channels[:-1]))
        self.blocks = nn.ModuleList(EdgeConvBlock(w, block, k, activation)
                                    for w, block in zip(widths_in, channels, strict=True))
        layers: list[nn.Module] = []
        width_in = channels[-1][-1]
        for width in head:
            layers += [nn.Linear(width_in, width), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width_in = width
        self.head = nn.Sequential(*layers, nn.Linear(width_in, out_features))
        self.register_buffer("coordinate_index", torch.tensor(coordinates, dtype=torch.long))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> ParticleNet:
        """ParticleNet for particle clouds ``x`` of per-sample shape ``(P, F)``."""
        if len(shapes["x"]) != 2:
            raise UserError(f"particlenet: inputs must be particle sets x[N, P, F] with a mask, received "
                            f"per-sample shape {shapes['x']}")
        return cls(in_features=shapes["x"][-1], out_features=out_features, **params)

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The jet representation ``[N, channels[-1][-1]]`` (mean over valid particles)."""
        mask = mask.bool()
        points = x.index_select(-1, self.coordinate_index)  # [N, P, D]
        h = self.input_norm(x, mask)  # [N, P, F]
        for i, block in enumerate(self.blocks):
            h = block(points if i == 0 else h, h, mask)  # [N, P, C]
        return masked_mean(h, mask)  # [N, C]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for particle sets ``x[N, P, F]`` with ``mask[N, P]``."""
        return self.head(self.forward_features(x, mask))  # [N, out_features]


__all__ = ["PARTICLENET_CHANNELS", "EdgeConvBlock", "ParticleNet"]
