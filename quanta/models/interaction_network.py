"""The interaction network: relational reasoning on graphs, used to find particle tracks.

Battaglia et al. (2016) model a system of objects and their relations with
two learned functions applied everywhere: a *relation* (edge) model that
computes the effect along each edge from the two objects it joins and the
edge's own attributes, and an *object* (node) model that updates each
object from its state and the sum of the effects it receives. Repeated a few
times, information travels several edges far. The HEP.TrkX and Exa.TrkX
projects turned this into a track finder: the hits of a tracker event are
the nodes, candidate hit pairs on adjacent layers are the edges, and after a
few rounds of message passing an edge classifier says which pairs are real
track segments. Connected components of the kept edges are the track
candidates.

Reference:
    P. W. Battaglia, R. Pascanu, M. Lai, D. Rezende and K. Kavukcuoglu,
    "Interaction networks for learning about objects, relations and
    physics", NeurIPS 2016, arXiv:1612.00222.
    S. Farrell et al., "Novel deep learning methods for track
    reconstruction", arXiv:1810.06111 (HEP.TrkX).
    G. DeZoort et al., "Charged particle tracking via edge-classifying
    interaction networks", Comput. Softw. Big Sci. 5 (2021) 26,
    arXiv:2103.16701.
"""

from __future__ import annotations

import torch
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.graph import MaskedBatchNorm, edge_endpoints_valid, gather, scatter_sum
from quanta.models.hints import NonNegative, Size
from quanta.registry import checked


def mlp(width_in: int, widths: tuple[int, ...], activation: str, layer_norm: bool = True) -> nn.Sequential:
    """``Linear -> activation`` per width, the last layer linear, then an optional LayerNorm."""
    layers: list[nn.Module] = []
    for i, width in enumerate(widths):
        layers.append(nn.Linear(width_in, width))
        if i < len(widths) - 1:
            layers.append(make_activation(activation))
        width_in = width
    if layer_norm:
        layers.append(nn.LayerNorm(width_in))
    return nn.Sequential(*layers)


class InteractionNetwork(nn.Module):
    """Interaction network for edge classification on hit graphs

    Encoders map node features (``x``, normalised over valid hits by a masked
    batch norm) and edge features (``edge_features``, normalised over valid
    edges; or, without edge features, the two endpoints' node features) to
    ``hidden`` features. Each of ``steps`` rounds then applies, with
    residual connections,

    - the relation model: ``e_ij <- e_ij + R(h_i, h_j, e_ij)`` for every
      edge from node ``i`` (inner hit) to node ``j`` (outer hit);
    - the object model: ``h_i <- h_i + O(h_i, sum_in e, sum_out e)``, the
      sums over the valid edges arriving at and leaving ``i`` kept apart
      (as in the Exa.TrkX interaction network), so a hit can tell its inner
      from its outer neighbours.

    Finally the edge classifier ``C(h_i, h_j, e_ij)`` emits one logit per
    edge slot. Train it with task ``binary`` on the per-edge labels
    ``y[N, E]`` with ``target_mask`` = the edge mask (the tracks ``graph``
    view provides ``edge_mask``; add ``target_mask`` as a copy of it).
    Padded edges send nothing and their logits are 0.

    Args:
        in_features: features per node ``F`` (6 for the tracks ``graph`` view:
            x, y, z, r, phi, layer).
        out_features: outputs per edge (1 for edge classification).
        edge_in_features: features per edge ``G`` (8 in the tracks view; 0 for
            none). Set from the data's ``edge_features``.
        hidden: node and edge representation width.
        steps: rounds of relation and object updates.
        layers: depth of each of the MLPs (encoders, R, O, classifier).
        activation: nonlinearity (``quanta.models.activations``).

    Shapes:
        - ``x``: ``[N, H, F]``; ``mask``: ``[N, H]`` bool.
        - ``edge_index``: ``[N, E, 2]`` int64 (inner, outer hit slot);
          ``edge_mask``: ``[N, E]`` bool; ``edge_features``: ``[N, E, G]``.
        - output: ``[N, E]`` edge logits (``[N, E, out_features]`` if out_features > 1).
    """

    inputs: tuple[str, ...] = ("x", "mask", "edge_index", "edge_mask", "edge_features")  # per instance

    @checked("interaction_network")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        edge_in_features: NonNegative = 0,
        hidden: Size = 64,
        steps: Size = 3,
        layers: Size = 2,
        activation: Activation = "relu",
    ) -> None:
        super().__init__()
        self.in_features, self.out_features, self.edge_in_features = in_features, out_features, edge_in_features
        self.hidden, self.steps = hidden, steps
        self.inputs = ("x", "mask", "edge_index", "edge_mask") + (("edge_features",) if edge_in_features else ())

        widths = (hidden,) * layers
        self.node_norm = MaskedBatchNorm(in_features)
        self.node_encoder = mlp(in_features, widths, activation)
        if edge_in_features:
            self.edge_norm = MaskedBatchNorm(edge_in_features)
            self.edge_encoder = mlp(edge_in_features, widths, activation)
        else:
            self.edge_encoder = mlp(2 * in_features, widths, activation)
        self.relation = nn.ModuleList(mlp(3 * hidden, widths, activation) for _ in range(steps))
        self.object = nn.ModuleList(mlp(3 * hidden, widths, activation) for _ in range(steps))
        self.classifier = mlp(3 * hidden, (hidden,) * (layers - 1) + (out_features,), activation,
                              layer_norm=False)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int,
                 **params) -> InteractionNetwork:
        """An interaction network for hit graphs (``x``, ``edge_index`` and, if present, ``edge_features``)."""
        missing = [name for name in ("mask", "edge_index", "edge_mask") if name not in shapes]
        if len(shapes["x"]) != 2 or missing:
            raise UserError("interaction_network: needs hit graphs x[N, H, F] with mask, edge_index and "
                            f"edge_mask (the tracks 'graph' view); missing {missing or 'nothing'}, "
                            f"x per-sample shape {shapes['x']}")
        # the data decide (an experiment's resolved config carries the default 0 along)
        params["edge_in_features"] = shapes["edge_features"][-1] if "edge_features" in shapes else 0
        return cls(in_features=shapes["x"][-1], out_features=out_features, **params)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, edge_index: torch.Tensor, edge_mask: torch.Tensor,
                edge_features: torch.Tensor | None = None) -> torch.Tensor:
        """Edge logits ``[N, E]`` (see the class docstring for shapes)."""
        mask = mask.bool()
        edge_index = edge_index.long()
        n_nodes = x.shape[1]
        valid = edge_endpoints_valid(edge_index, edge_mask, mask)  # [N, E]
        inner, outer = edge_index[..., 0], edge_index[..., 1]  # [N, E] each
        x = self.node_norm(x, mask)  # [N, H, F]
        h = self.node_encoder(x)  # [N, H, D]
        if self.edge_in_features:
            if edge_features is None:
                raise UserError("interaction_network: this model was built with edge features; pass them")
            e = self.edge_encoder(self.edge_norm(edge_features.to(x.dtype), valid))  # [N, E, D]
        else:
            e = self.edge_encoder(torch.cat([gather(x, inner), gather(x, outer)], dim=-1))  # [N, E, D]
        for relation, update in zip(self.relation, self.object, strict=True):
            e = e + relation(torch.cat([gather(h, inner), gather(h, outer), e], dim=-1))  # [N, E, D]
            arriving = scatter_sum(e, outer, valid, n_nodes)  # [N, H, D]
            leaving = scatter_sum(e, inner, valid, n_nodes)  # [N, H, D]
            h = h + update(torch.cat([h, arriving, leaving], dim=-1))  # [N, H, D]
        logits = self.classifier(torch.cat([gather(h, inner), gather(h, outer), e], dim=-1))  # [N, E, out]
        logits = logits * valid.unsqueeze(-1).to(logits.dtype)
        return logits.squeeze(-1) if self.out_features == 1 else logits  # [N, E] or [N, E, out]


__all__ = ["InteractionNetwork"]
