"""The message-passing neural network (MPNN): nodes exchange learned messages, a GRU updates them.

Gilmer et al. (2017) unified the graph networks of chemistry under one
scheme. Every node ``i`` has a state ``h_i``. In each of ``T`` steps every
edge ``j -> i`` carries a message that depends on the sender's state and on
the edge, the messages arriving at a node are summed, and a GRU folds the sum
into the node's state:

    m_{j->i} = sigma(A_ij f(h_j)),     h_i <- GRU(h_i, sum_j m_{j->i}),

with ``f`` a learned feature map of the sender and ``A_ij`` a matrix computed
from the edge by an *edge network* (Gilmer's best variant). After ``T`` steps
a readout gives the outputs: a masked sum over the nodes and a dense
network for one output per graph, or the dense network per node. Because the
same functions act on every edge and node and the sum is symmetric, the
graph output does not depend on the order of the nodes.

Reference:
    J. Gilmer, S. S. Schoenholz, P. F. Riley, O. Vinyals and G. E. Dahl,
    "Neural message passing for quantum chemistry", ICML 2017, arXiv:1704.01212.
    K. Cho et al., "Learning phrase representations using RNN
    encoder-decoder for statistical machine translation", EMNLP 2014 (GRU).
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.graph import edge_endpoints_valid, gather, masked_sum, scatter_sum
from quanta.models.hints import NonNegative, Size, Widths
from quanta.registry import checked

Graph = Literal["complete", "given"]
GRAPHS: tuple[str, ...] = get_args(Graph)
EdgeNetwork = Literal["matrix", "gate"]
EDGE_NETWORKS: tuple[str, ...] = get_args(EdgeNetwork)
Readout = Literal["graph", "node"]
READOUTS: tuple[str, ...] = get_args(Readout)


class MPNN(nn.Module):
    """Message-passing neural network with GRU vertex update

    The graph:
        - ``graph="complete"``: every valid element of a set sends a message
          to every other (no self-loops); inputs ``x``, ``mask``. The edge
          network reads the pair of the elements' input features,
          ``e_ij = (x_i, x_j - x_i)``.
        - ``graph="given"``: the edges of ``edge_index[N, E, 2]`` (node slots,
          sender first) with ``edge_mask[N, E]``; inputs ``x``, ``mask``,
          ``edge_index``, ``edge_mask`` and, where the data set has them,
          ``edge_features[N, E, G]`` (``edge_in_features = G`` is then set from
          the data). The edge network reads ``(x_i, x_j - x_i, edge_features)``.
          With ``directed=False`` every edge also carries messages from its
          second node to its first (the tracks ``graph`` view lists each hit
          pair once).

    The edge network:
        - ``edge_network="matrix"``: Gilmer's ``A_ij``, a full
          ``hidden x hidden`` matrix per edge, linear in the edge network's
          last hidden layer ``u_ij`` (``edge_hidden`` units): ``A_ij f(h_j) =
          sum_k u_ijk W_k f(h_j)``. The per-edge matrices are never built: the
          node products ``W_k f(h_j)`` are computed once per node and
          combined per edge (on a complete graph a batched matmul; on a given
          graph memory grows as ``E * edge_hidden * hidden``).
        - ``edge_network="gate"``: a diagonal ``A_ij``, one gate per channel,
          ``A_ij f(h_j) = g(e_ij) * f(h_j)``: cheaper for large graphs.

    Node states start as ``h^0 = W x`` (``hidden`` features); ``f`` is a
    dense layer with ``activation``, ``sigma`` the same activation. The
    readout is ``MLP(sum_i [h_i^T, h_i^0])`` per graph (``readout="graph"``,
    output ``[N, out_features]``) or ``MLP([h_i^T, h_i^0])`` per node
    (``readout="node"``, output ``[N, P, out_features]``, e.g. per-hit labels
    with a ``target_mask``). Padded nodes and edges send nothing.

    Args:
        in_features: features per node ``F``.
        out_features: outputs per graph (or per node).
        hidden: node-state width.
        steps: message-passing steps ``T``.
        graph: ``"complete"`` or ``"given"`` (see above).
        directed: on a given graph, send messages only from the first node
            of each edge to the second.
        edge_in_features: edge features per edge (given graphs; set from the data).
        edge_network: ``"matrix"`` or ``"gate"`` (see above).
        edge_hidden: hidden width of the edge network.
        readout: ``"graph"`` or ``"node"``.
        head: hidden widths of the readout network (a linear output follows).
        activation: nonlinearity (``quanta.models.activations``).

    Shapes:
        - ``x``: ``[N, P, F]``; ``mask``: ``[N, P]`` bool.
        - given graph: ``edge_index`` ``[N, E, 2]`` int64, ``edge_mask``
          ``[N, E]`` bool, ``edge_features`` ``[N, E, G]``.
        - output: ``[N, out_features]`` (graph readout) or
          ``[N, P, out_features]`` (node readout).
    """

    inputs: tuple[str, ...] = ("x", "mask")  # set per instance from the graph kind (see __init__)

    @checked("mpnn")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        hidden: Size = 64,
        steps: Size = 3,
        graph: Annotated[Graph, Field(description="one of complete, given")] = "complete",
        directed: bool = False,
        edge_in_features: NonNegative = 0,
        edge_network: Annotated[EdgeNetwork, Field(description="one of matrix, gate")] = "matrix",
        edge_hidden: Size = 16,
        readout: Annotated[Readout, Field(description="one of graph, node")] = "graph",
        head: Widths = (64,),
        activation: Activation = "relu",
    ) -> None:
        super().__init__()
        if graph == "complete" and edge_in_features:
            raise UserError("mpnn: edge features need graph='given' (with an edge_index)")
        self.in_features, self.out_features, self.hidden, self.steps = in_features, out_features, hidden, steps
        self.graph, self.directed, self.edge_in_features = graph, directed, edge_in_features
        self.edge_network_kind, self.edge_hidden, self.readout = edge_network, edge_hidden, readout
        self.inputs = ("x", "mask") if graph == "complete" else (
            ("x", "mask", "edge_index", "edge_mask") + (("edge_features",) if edge_in_features else ()))

        self.embed = nn.Linear(in_features, hidden)
        self.sender = nn.Sequential(nn.Linear(hidden, hidden), make_activation(activation))  # f
        pair_width = 2 * in_features + edge_in_features
        if edge_network == "matrix":
            self.edge_network = nn.Sequential(nn.Linear(pair_width, edge_hidden), make_activation(activation),
                                              nn.Linear(edge_hidden, edge_hidden))  # u_ij
            # W_k for k = 1..edge_hidden, plus a bias matrix B: A_ij = sum_k u_ijk W_k + B
            self.matrices = nn.Linear(hidden, (edge_hidden + 1) * hidden, bias=False)
        else:
            self.edge_network = nn.Sequential(nn.Linear(pair_width, edge_hidden), make_activation(activation),
                                              nn.Linear(edge_hidden, hidden))  # g(e_ij)
        self.message_activation = make_activation(activation)  # sigma
        self.update = nn.GRUCell(hidden, hidden)
        layers: list[nn.Module] = []
        width_in = 2 * hidden
        for width in head:
            layers += [nn.Linear(width_in, width), make_activation(activation)]
            width_in = width
        self.head = nn.Sequential(*layers, nn.Linear(width_in, out_features))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> MPNN:
        """An MPNN for node features ``x`` of per-sample shape ``(P, F)`` (and edge arrays if given)."""
        if len(shapes["x"]) != 2:
            raise UserError(f"mpnn: inputs must be node sets x[N, P, F] with a mask, received per-sample "
                            f"shape {shapes['x']}")
        # the data decide (an experiment's resolved config carries the default 0 along)
        params["edge_in_features"] = 0
        if params.get("graph") == "given":
            missing = [name for name in ("edge_index", "edge_mask") if name not in shapes]
            if missing:
                raise UserError(f"mpnn: graph 'given' needs the arrays {', '.join(missing)} in the data set")
            if "edge_features" in shapes:
                params["edge_in_features"] = shapes["edge_features"][-1]
        return cls(in_features=shapes["x"][-1], out_features=out_features, **params)

    # -- messages ------------------------------------------------------------------------------
    def _node_terms(self, h: torch.Tensor) -> torch.Tensor:
        """Per sender: ``f(h_j)`` (gate) or the stacked ``W_k f(h_j)`` and ``B f(h_j)`` (matrix)."""
        sent = self.sender(h)  # [N, P, D]
        if self.edge_network_kind == "gate":
            return sent
        return self.matrices(sent).unflatten(-1, (self.edge_hidden + 1, self.hidden))  # [N, P, K + 1, D]

    def _complete_messages(self, h: torch.Tensor, u: torch.Tensor, pair_mask: torch.Tensor) -> torch.Tensor:
        """Summed messages on the complete graph: ``[N, P, D]``; ``u`` is ``[N, P(i), P(j), K]``."""
        terms = self._node_terms(h)
        if self.edge_network_kind == "gate":
            messages = u * terms.unsqueeze(1)  # [N, P(i), P(j), D]
        else:
            n, p = h.shape[:2]
            # sum_k u_ijk (W_k f(h_j)) as a batched matmul over (event, sender j)
            per_sender = u.permute(0, 2, 1, 3).reshape(n * p, p, self.edge_hidden)  # [N*P(j), P(i), K]
            weights = terms[:, :, :-1].reshape(n * p, self.edge_hidden, self.hidden)  # [N*P(j), K, D]
            messages = torch.bmm(per_sender, weights).reshape(n, p, p, self.hidden).transpose(1, 2)  # [N, i, j, D]
            messages = messages + terms[:, :, -1].unsqueeze(1)  # + B f(h_j)
        return masked_sum(self.message_activation(messages), pair_mask)  # [N, P(i), D]

    def _edge_messages(self, h: torch.Tensor, u: torch.Tensor, sender: torch.Tensor, receiver: torch.Tensor,
                       edge_mask: torch.Tensor) -> torch.Tensor:
        """Summed messages along given edges: ``[N, P, D]``; ``u`` is ``[N, E, K]``."""
        terms = gather(self._node_terms(h).flatten(2), sender)  # [N, E, (K+1) D] or [N, E, D]
        if self.edge_network_kind == "gate":
            messages = u * terms  # [N, E, D]
        else:
            terms = terms.unflatten(-1, (self.edge_hidden + 1, self.hidden))  # [N, E, K + 1, D]
            messages = torch.einsum("nek,nekd->ned", u, terms[:, :, :-1]) + terms[:, :, -1]  # [N, E, D]
        return scatter_sum(self.message_activation(messages), receiver, edge_mask, h.shape[1])  # [N, P, D]

    # -- forward -------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mask: torch.Tensor, edge_index: torch.Tensor | None = None,
                edge_mask: torch.Tensor | None = None, edge_features: torch.Tensor | None = None) -> torch.Tensor:
        """Raw outputs (graph ``[N, out_features]`` or node ``[N, P, out_features]``)."""
        mask = mask.bool()
        n, p, _ = x.shape
        if self.graph == "complete":
            pairs = torch.cat([x.unsqueeze(2).expand(-1, -1, p, -1),
                               x.unsqueeze(1) - x.unsqueeze(2)], dim=-1)  # [N, P(i), P(j), 2F]
            u = self.edge_network(pairs)  # [N, P, P, K or D]
            self_loop = torch.eye(p, dtype=torch.bool, device=x.device)
            pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1) & ~self_loop  # [N, P, P]
        else:
            if edge_index is None or edge_mask is None:
                raise UserError("mpnn: graph 'given' needs edge_index and edge_mask")
            edge_index = edge_index.long()
            valid = edge_endpoints_valid(edge_index, edge_mask, mask)  # [N, E]
            sender, receiver = edge_index[..., 0], edge_index[..., 1]  # [N, E] each
            if not self.directed:  # each edge also runs backwards
                sender, receiver = torch.cat([sender, receiver], 1), torch.cat([receiver, sender], 1)  # [N, 2E]
                valid = torch.cat([valid, valid], 1)
                if edge_features is not None:
                    edge_features = torch.cat([edge_features, edge_features], 1)
            x_receiver, x_sender = gather(x, receiver), gather(x, sender)  # [N, E', F] each
            parts = [x_receiver, x_sender - x_receiver]
            if self.edge_in_features:
                if edge_features is None:
                    raise UserError("mpnn: this model was built with edge features; pass edge_features")
                parts.append(edge_features.to(x.dtype))
            u = self.edge_network(torch.cat(parts, dim=-1))  # [N, E', K or D]

        h0 = self.embed(x) * mask.unsqueeze(-1).to(x.dtype)  # [N, P, D]
        h = h0
        for _ in range(self.steps):
            if self.graph == "complete":
                incoming = self._complete_messages(h, u, pair_mask)  # [N, P, D]
            else:
                incoming = self._edge_messages(h, u, sender, receiver, valid)  # [N, P, D]
            h = self.update(incoming.reshape(n * p, -1), h.reshape(n * p, -1)).reshape(n, p, -1)  # [N, P, D]
            h = h * mask.unsqueeze(-1).to(h.dtype)
        state = torch.cat([h, h0], dim=-1)  # [N, P, 2D]
        if self.readout == "node":
            return self.head(state)  # [N, P, out_features]
        return self.head(masked_sum(state, mask))  # [N, out_features]


__all__ = ["EDGE_NETWORKS", "GRAPHS", "MPNN", "READOUTS"]
