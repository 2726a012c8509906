"""DropConnect: regularise a dense layer by dropping weights instead of units.

Dropout (Srivastava et al. 2014) zeroes whole units; DropConnect (Wan, Zeiler,
Zhang, LeCun & Fergus, "Regularization of Neural Networks using
DropConnect", ICML 2013) zeroes individual *connections*: during training
each weight ``W_ij`` is kept with probability ``1 - p``, so every sample sees
a random sparse sub-network of the dense layer. It generalises dropout
(dropping unit j's outputs = dropping row j of the next weight matrix).

Two simplifications, both common in practice and both documented here:

- the kept weights are scaled by ``1 / (1 - p)`` during training ("inverted"
  DropConnect), so that evaluation uses the plain weights — the mean network —
  instead of the paper's Gaussian moment-matching inference;
- by default one mask is drawn per mini-batch (all samples share it), which
  costs nothing beyond one Bernoulli draw of the weight's size; with
  ``per_sample=True`` every sample gets its own mask, as in the paper, at the
  cost of an ``[N, out, in]`` mask tensor.

:class:`DropConnectLinear` is a drop-in ``nn.Linear`` (same parameters and
state-dict keys, recognised by :mod:`quanta.models.init`). The dense models
take it through their ``drop_connect`` option (``mlp``, ``highway``,
``residual_mlp``) via :func:`dense`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from quanta.errors import UserError


class DropConnectLinear(nn.Linear):
    """A dense layer whose weights are randomly dropped (probability ``p``) during training.

    Args:
        in_features, out_features, bias: as for ``nn.Linear``.
        p: probability of dropping each weight during training, in [0, 1).
        per_sample: draw an independent mask for every sample (the paper)
            instead of one per batch.

    Shapes:
        - input: ``[N, *, in_features]``; output: ``[N, *, out_features]``
          (``per_sample`` needs 2-d input ``[N, in_features]``).

    Reference:
        L. Wan, M. Zeiler, S. Zhang, Y. LeCun and R. Fergus, "Regularization of
        Neural Networks using DropConnect", ICML 2013.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, p: float = 0.5,
                 per_sample: bool = False) -> None:
        if not 0.0 <= p < 1.0:
            raise UserError(f"drop_connect: the drop probability must be in [0, 1), received {p!r}")
        super().__init__(in_features, out_features, bias)
        self.p = p
        self.per_sample = per_sample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return F.linear(x, self.weight, self.bias)
        keep = 1.0 - self.p
        if not self.per_sample:
            mask = torch.rand_like(self.weight) < keep  # [out, in], shared by the batch
            return F.linear(x, self.weight * mask / keep, self.bias)
        mask = torch.rand(x.shape[0], *self.weight.shape, device=x.device) < keep  # [N, out, in]
        out = torch.einsum("oi,noi,ni->no", self.weight, mask.to(x.dtype), x) / keep  # [N, out]
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}, per_sample={self.per_sample}"


def dense(in_features: int, out_features: int, drop_connect: float = 0.0, bias: bool = True) -> nn.Linear:
    """``nn.Linear``, or :class:`DropConnectLinear` when ``drop_connect > 0``."""
    if drop_connect > 0:
        return DropConnectLinear(in_features, out_features, bias, p=drop_connect)
    return nn.Linear(in_features, out_features, bias)


__all__ = ["DropConnectLinear", "dense"]
