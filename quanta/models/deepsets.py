"""Deep Sets and the Particle / Energy Flow Networks: functions of sets, by sum decomposition.

Any function of a set that does not depend on the order of its elements can
be written as ``rho(sum_i phi(x_i))`` (Zaheer et al. 2017): a per-element
network ``phi`` maps each element to a latent vector, a symmetric pooling
adds them up, and a set-level network ``rho`` maps the sum to the output. In
jet physics this is the Particle Flow Network (PFN) of Komiske, Metodiev and
Thaler, which reads a jet as the set of its constituents. Their Energy Flow
Network (EFN) weights each constituent's latent vector by its momentum
fraction ``z_i = pT_i / sum_j pT_j`` and gives ``phi`` only the angular
coordinates, which makes the output infrared and collinear safe: a soft
particle (z -> 0) or a collinear split (same angles, z shared) leaves it
unchanged.

Reference:
    M. Zaheer et al., "Deep Sets", NeurIPS 2017, arXiv:1703.06114.
    P. T. Komiske, E. M. Metodiev and J. Thaler, "Energy Flow Networks: Deep
    Sets for Particle Jets", JHEP 01 (2019) 121, arXiv:1810.05165.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.graph import masked_mean, masked_sum
from quanta.models.hints import Probability, Size, Stages, Widths
from quanta.registry import checked

Pooling = Literal["sum", "mean", "energy_weighted"]
POOLINGS: tuple[str, ...] = get_args(Pooling)


def dense_stack(in_features: int, widths: tuple[int, ...], activation: str,
                dropout: float = 0.0, last_activation: bool = True) -> nn.Sequential:
    """``Linear -> activation (-> dropout)`` per width; the last layer without activation if asked.

    Applies to the last axis, so it serves per-element (``[N, P, F]``) and
    per-set (``[N, F]``) networks alike.
    """
    layers: list[nn.Module] = []
    width_in = in_features
    for i, width in enumerate(widths):
        layers.append(nn.Linear(width_in, width))
        if last_activation or i < len(widths) - 1:
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        width_in = width
    return nn.Sequential(*layers)


class DeepSets(nn.Module):
    """Deep Sets / Particle Flow Network: per-element network, masked sum, set-level network

    ``phi`` (dense layers, activation after each) embeds every valid element,
    the pooling combines the embeddings of one set, ``rho`` (dense layers,
    then a plain linear output layer) maps the pooled vector to the outputs.
    Padded elements take no part, so the output depends neither on the order
    of the elements nor on the amount of padding.

    Poolings:
        - ``"sum"``: ``sum_i phi(x_i)`` (Deep Sets, the PFN); counts matter,
          as in jets, where the multiplicity is a strong feature.
        - ``"mean"``: the average, for sets whose size should not matter.
        - ``"energy_weighted"``: the EFN, ``sum_i z_i phi(angles_i)``. ``phi``
          sees only the features ``angular_features`` (default 0, 1:
          delta_eta, delta_phi of the jets ``constituents`` view) and the
          weights are ``z_i = softmax_i(beta * x_i[weight_feature])`` over the
          valid elements, with ``weight_feature`` = 4 (log_pt_rel, i.e.
          ln(pT_i / pT_jet)) by default. With ``beta = 1`` on unstandardised
          inputs this is exactly ``z_i = pT_i / sum_j pT_j``; ``beta`` is
          learned (starting at 1) so that the weights also come out right
          after quanta's standardisation, which divides the log by its spread.

    Args:
        in_features: features per element ``F``.
        out_features: outputs per set.
        phi: widths of the per-element network; the last one is the latent size.
        rho: hidden widths of the set-level network (a final linear layer
            to ``out_features`` follows).
        pooling: ``"sum"``, ``"mean"`` or ``"energy_weighted"`` (see above).
        weight_feature: index of the log-energy-fraction feature (energy_weighted).
        angular_features: indices of the features ``phi`` sees (energy_weighted).
        activation: nonlinearity, one of ``quanta.models.activations.ACTIVATIONS``.
        dropout: dropout in ``rho``, in [0, 1).

    Shapes:
        - input ``x``: ``[N, P, F]``; ``mask``: ``[N, P]`` bool, False for padding.
        - output: ``[N, out_features]``.
    """

    inputs = ("x", "mask")  # the batch arrays forward() takes, in order

    @checked("deepsets")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        phi: Stages = (64, 64, 64),
        rho: Widths = (64, 64),
        pooling: Annotated[Pooling, Field(description="one of sum, mean, energy_weighted")] = "sum",
        weight_feature: int = 4,
        angular_features: tuple[int, ...] = (0, 1),
        activation: Activation = "relu",
        dropout: Probability = 0.0,
    ) -> None:
        super().__init__()
        if pooling == "energy_weighted":
            for index in (weight_feature, *angular_features):
                if not 0 <= index < in_features:
                    raise UserError(f"deepsets: feature index {index} is outside the {in_features} "
                                    "input features (weight_feature, angular_features)")
        self.in_features, self.out_features = in_features, out_features
        self.pooling, self.weight_feature, self.angular_features = pooling, weight_feature, angular_features

        phi_in = len(angular_features) if pooling == "energy_weighted" else in_features
        self.phi = dense_stack(phi_in, phi, activation)
        self.rho = nn.Sequential(dense_stack(phi[-1], rho, activation, dropout),
                                 nn.Linear(rho[-1] if rho else phi[-1], out_features))
        if pooling == "energy_weighted":
            self.register_buffer("angular_index", torch.tensor(angular_features, dtype=torch.long))
            self.beta = nn.Parameter(torch.ones(()))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> DeepSets:
        """Deep Sets for sets ``x`` of per-sample shape ``(P, F)``."""
        if len(shapes["x"]) != 2:
            raise UserError(f"deepsets: inputs must be sets x[N, P, F] with a mask, received per-sample "
                            f"shape {shapes['x']}")
        return cls(in_features=shapes["x"][-1], out_features=out_features, **params)

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The pooled latent vector of each set ``[N, phi[-1]]``."""
        mask = mask.bool()
        if self.pooling == "energy_weighted":
            angles = x.index_select(-1, self.angular_index)  # [N, P, A]
            logits = self.beta * x[..., self.weight_feature]  # [N, P]
            # padding gets the lowest finite logit (weight 0), so an empty set gives 0, not NaN
            z = torch.softmax(logits.masked_fill(~mask, torch.finfo(logits.dtype).min), dim=-1)  # [N, P]
            return masked_sum(self.phi(angles) * z.unsqueeze(-1), mask)  # [N, L]
        latent = self.phi(x)  # [N, P, L]
        return masked_sum(latent, mask) if self.pooling == "sum" else masked_mean(latent, mask)  # [N, L]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for sets ``x[N, P, F]`` with ``mask[N, P]``."""
        return self.rho(self.forward_features(x, mask))  # [N, out_features]


__all__ = ["POOLINGS", "DeepSets", "dense_stack"]
