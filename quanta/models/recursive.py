"""QCD-aware recursive neural network: a jet embedded by recursing over its clustering tree.

Louppe, Cho, Becot and Cranmer read a jet as the binary tree of its
sequential recombination (kt reclustering worked best) and embed it bottom
up with one shared cell: every node k gets a projection of its own
four-momentum features o_k,

    u_k = act(W_u o_k + b_u),

a leaf's embedding is h_k = u_k, and an inner node combines its children's
embeddings with its own projection,

    h_k = act(W_h [h_left; h_right; u_k] + b_h).

The root's embedding (the whole jet) feeds a dense classifier. In the
gated variant (their "gated RecNN") reset gates r = sigmoid(W_r [h_L; h_R;
u_k]) scale what enters the candidate h~ = act(W_h [r_L h_L; r_R h_R; r_N
u_k]), and softmax-normalised update gates z (one per unit and source) mix
h_k = z_H h~ + z_L h_L + z_R h_R + z_N u_k, so a node can pass a child's
embedding on unchanged.

The recursion runs level by level: all nodes of one level (0 for leaves,
1 + the larger level of the children for inner nodes) of all jets in the batch
are computed together, one gather of the children's embeddings and one
matrix product per level, with no Python loop over jets or nodes. A tree is
read as the jets source's ``tree`` view stores it (``x, mask, children,
level``; the root the last real node), so the output depends on the tree
alone, not on which slots its nodes occupy.

Reference:
    G. Louppe, K. Cho, C. Becot and K. Cranmer, "QCD-aware recursive neural
    networks for jet physics", JHEP 01 (2019) 057, arXiv:1702.00748.
"""

from __future__ import annotations

import torch
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.deepsets import dense_stack
from quanta.models.hints import Probability, Size, Widths
from quanta.registry import checked

TREE_ARRAYS = ("x", "mask", "children", "level")


class RecursiveJet(nn.Module):
    """QCD-aware recursive network: a jet embedded bottom up over its kt clustering tree

    Args:
        in_features: features per node ``F``.
        out_features: outputs per jet.
        hidden: size of the node embeddings h and projections u (40 in the paper).
        head: hidden widths of the classifier on the root embedding (a final
            linear layer to ``out_features`` follows).
        activation: nonlinearity of u, h and the head, one of
            ``quanta.models.activations.ACTIVATIONS`` (ReLU in the paper).
        gated: use the gated cell (reset and update gates) instead of the simple one.
        dropout: dropout in the head, in [0, 1).

    Shapes:
        - ``x``: ``[N, M, F]`` node features; ``mask``: ``[N, M]`` bool, False for padding;
        - ``children``: ``[N, M, 2]`` int64 slots of each node's children (-1: none);
        - ``level``: ``[N, M]`` int64, 0 for leaves (padding: any value, masked);
        - output: ``[N, out_features]``.
        The root of each tree is its last real node, slot ``mask.sum() - 1``.
    """

    inputs = TREE_ARRAYS  # the batch arrays forward() takes, in order

    @checked("recursive_jet")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        hidden: Size = 40,
        head: Widths = (64, 64),
        activation: Activation = "relu",
        gated: bool = False,
        dropout: Probability = 0.0,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features, self.hidden, self.gated = (
            in_features, out_features, hidden, gated)
        self.project = nn.Sequential(nn.Linear(in_features, hidden), make_activation(activation))
        self.combine = nn.Linear(3 * hidden, hidden)  # W_h on [h_left; h_right; u_k]
        self.act = make_activation(activation)
        if gated:
            self.reset = nn.Linear(3 * hidden, 3 * hidden)  # r_L, r_R, r_N
            self.update = nn.Linear(4 * hidden, 4 * hidden)  # z_H, z_L, z_R, z_N before the softmax
        self.head = nn.Sequential(dense_stack(hidden, head, activation, dropout),
                                  nn.Linear(head[-1] if head else hidden, out_features))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int,
                 **params) -> RecursiveJet:
        """A recursive network for trees with node features ``x`` of per-sample shape ``(M, F)``."""
        missing = [name for name in TREE_ARRAYS if name not in shapes]
        x = shapes.get("x", ())
        if missing or len(x) != 2 or shapes["children"] != (x[0], 2) or shapes["level"] != x[:1]:
            raise UserError(
                "recursive_jet: inputs must be trees x[N, M, F] with mask[N, M], children[N, M, 2] "
                f"and level[N, M] (the jets source's tree view); received arrays "
                f"{ {name: shape for name, shape in shapes.items()} }")
        return cls(in_features=x[-1], out_features=out_features, **params)

    def cell(self, left: torch.Tensor, right: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        """Embeddings ``[K, H]`` of K inner nodes from their children's and their own projection."""
        joined = torch.cat([left, right, own], dim=-1)  # [K, 3H]
        if not self.gated:
            return self.act(self.combine(joined))
        r = torch.sigmoid(self.reset(joined))  # [K, 3H]
        candidate = self.act(self.combine(r * joined))  # [K, H]
        z = self.update(torch.cat([candidate, joined], dim=-1))  # [K, 4H]
        z = torch.softmax(z.unflatten(-1, (4, self.hidden)), dim=-2)  # [K, 4, H], over the sources
        sources = torch.stack([candidate, left, right, own], dim=-2)  # [K, 4, H]
        return (z * sources).sum(dim=-2)

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor, children: torch.Tensor,
                         level: torch.Tensor) -> torch.Tensor:
        """The root embedding of each tree ``[N, hidden]``."""
        mask = mask.bool()
        n_jets, slots = mask.shape
        own = self.project(x) * mask.unsqueeze(-1).to(x.dtype)  # u for every node [N, M, H]
        own = own.reshape(n_jets * slots, self.hidden)  # flat: node k of jet j is row j * M + k
        first = torch.arange(n_jets, device=x.device) * slots  # [N], row of each jet's slot 0
        inner = mask & (level > 0)
        level = torch.where(inner, level.long(), 0).reshape(-1)  # 0 for leaves and padding
        rows = first[:, None, None] + children.long().clamp(min=0)  # [N, M, 2], -1 never read
        left, right = rows[..., 0].reshape(-1), rows[..., 1].reshape(-1)
        h = own  # leaves: h = u; inner nodes are filled in level by level
        depth = int(level.max()) if level.numel() else 0
        for step in range(1, depth + 1):
            node = torch.nonzero(level == step).squeeze(1)  # [K] rows of this level, all jets
            new = self.cell(h.index_select(0, left.index_select(0, node)),  # [K, H], all from
                            h.index_select(0, right.index_select(0, node)),  # lower levels
                            own.index_select(0, node))
            h = h.index_copy(0, node, new)
        root = (mask.sum(dim=1) - 1).clamp(min=0)  # [N], the last real node
        return h.index_select(0, first + root)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, children: torch.Tensor,
                level: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]`` for trees ``x[N, M, F]`` (see Shapes)."""
        return self.head(self.forward_features(x, mask, children, level))


__all__ = ["TREE_ARRAYS", "RecursiveJet"]
