"""Mixture of experts: several small networks and a gate that chooses between them per sample.

When a different simple law holds in different parts of the input space (the
barrel and the endcaps of a calorimeter, two running periods, two production
mechanisms), one network must bend itself to fit all of them at once. A
mixture of experts (Jacobs, Jordan, Nowlan & Hinton 1991) divides the work
instead: ``K`` expert networks each see every input, and a gating network
gives per-sample weights ``g_k(x)`` (a softmax, so they are positive and sum
to one) saying how much each expert is trusted at ``x``. Trained end to end,
the gate learns where the regimes are and the experts each learn one of them.

How the experts are combined (``mix``) depends on what the outputs mean; the
tasks' losses take raw outputs (values for ``regression``, logits for
``binary`` and ``multiclass``):

- ``outputs``: the gate-weighted sum ``sum_k g_k o_k`` of the raw outputs. For
  regression this is the prediction the mean squared error is taken of; for
  classification it mixes logits, a normalised weighted geometric mean of the
  experts' class probabilities (of their odds, for one logit). Every expert
  then gets the gradient of the blend,
  scaled by its gate weight: the experts *cooperate*.
- ``probabilities``: the mixture model of Jacobs et al. for classification,
  ``p = sum_k g_k p_k`` with ``p_k`` the sigmoid (one output) or softmax
  (several outputs) of expert ``k``'s logits. The model returns the logits of
  ``p`` (log-odds, or log-probabilities), computed with log-sum-exp, so that
  the binary and multiclass cross-entropies become the negative
  log-likelihood of the mixture. The gradient reaching each expert is then
  weighted by its posterior responsibility for the sample: the experts
  *compete*, which is what makes them specialise. Not for regression.

Two things keep a gate from failing the two ways it fails:

- *Collapse onto one expert* (the gate gives one expert all the weight
  everywhere; the others, getting no gradient, never learn). With
  ``centre_gate`` the gate's logits pass through a mean-only batch
  normalisation (Salimans & Kingma 2016): in training each expert's logit has
  its batch mean subtracted, in evaluation its running mean. A preference
  for one expert over all inputs is thereby removed; the gate can only say
  *where* each expert is better. It is a constraint on the gate, not a loss
  term: quanta has no way yet for a model to add a term to the task's loss,
  so there is no load-balancing loss (Shazeer et al. 2017).
- *Indecision*. With ``mix: outputs`` and a mean squared error an undecided
  gate (weights 0.6 and 0.4 in one region, 0.5 and 0.5 in the other)
  blending two far-apart experts fits as well as one that sends each region
  to its own expert, and gradient descent tends to stop at such blends.
  ``gate_noise`` adds Gaussian noise of that standard deviation to the gate's
  logits in training, never in evaluation (a fixed-width form of the noisy
  gating of Shazeer et al.): a blend of two different experts then jitters
  with the noise and costs loss, while a decided gate (weights near 0 or 1)
  hardly moves, so training is pushed towards experts that each own a region.

On ``energy_calibration`` (two linear experts, ten seeds) both matter: with
neither, 8 of the 10 gates send fewer than 90 % of a region's particles to one
expert; without the centring 3 of 10, without the noise 3 of 10; with both,
every gate sends at least 97 % of each region to its own expert.

The gate's last layer starts at zero, so every expert starts with weight
``1/K``. :meth:`MixtureOfExperts.gate_weights` shows how the gate splits the
samples.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from quanta.models.activations import Activation
from quanta.models.hints import Probability, Size, Widths
from quanta.models.init import Init
from quanta.models.mlp import MLP
from quanta.registry import checked

Mix = Literal["outputs", "probabilities"]


class MixtureOfExperts(nn.Module):
    """Mixture of experts: a gating network weighs the outputs of several expert networks per sample

    ``K`` experts, each an :class:`~quanta.models.mlp.MLP` with hidden widths
    ``hidden`` (``[]``: linear experts, as in the hierarchical mixtures of
    experts of Jordan & Jacobs), and a gate, an
    MLP with hidden widths ``gate_hidden`` (``[]``: a linear gate, softmax
    regression) giving ``K`` logits per sample; its softmax is the weights
    ``g_k(x)``. The output combines the experts as ``mix`` says (see the
    module docstring): ``outputs`` for regression (and a logit blend for
    classification), ``probabilities`` for the mixture likelihood of a
    binary or multiclass classification.

    Args:
        in_features: number of input features per sample (after flattening).
        out_features: number of outputs per sample (1 for binary
            classification or scalar regression, C for C classes).
        experts: number of experts K (>= 1; 1 is a single expert with a gate
            that has nothing to choose).
        hidden: hidden widths of every expert, input side first; ``[]`` gives
            linear experts.
        gate_hidden: hidden widths of the gating network; ``[]`` gives a
            linear gate, whose regions are separated by hyperplanes.
        activation: nonlinearity of the hidden layers of experts and gate
            (``quanta.models.activations``).
        dropout: dropout in the experts' hidden layers, in [0, 1) (never in the gate).
        init: weight initialisation of experts and gate (``default``, ``xavier``
            or ``he``); the gate's output layer always starts at zero (equal weights).
        centre_gate: subtract each expert's mean logit over the batch (its
            running mean in evaluation), so that the gate cannot hand one
            expert every sample (module docstring).
        gate_noise: standard deviation of the Gaussian noise added to the
            gate's logits in training (>= 0; 0: none); it pushes the gate to
            decide between the experts (module docstring).
        mix: ``outputs`` (gate-weighted sum of the raw outputs) or
            ``probabilities`` (mixture of the experts' class probabilities,
            returned as logits; binary and multiclass only).

    Shapes:
        - input ``x``: ``[N, in_features]``, or ``[N, d1, d2, ...]`` with
          ``d1 * d2 * ... == in_features``.
        - output: ``[N, out_features]``.
        - :meth:`gate_weights`: ``[N, K]``; :meth:`expert_outputs`: ``[N, K, out_features]``.

    References:
        R. A. Jacobs, M. I. Jordan, S. J. Nowlan and G. E. Hinton, "Adaptive
        mixtures of local experts", Neural Comput. 3 (1991) 79.
        M. I. Jordan and R. A. Jacobs, "Hierarchical mixtures of experts and
        the EM algorithm", Neural Comput. 6 (1994) 181.
        N. Shazeer et al., "Outrageously large neural networks: the
        sparsely-gated mixture-of-experts layer", ICLR 2017, arXiv:1701.06538.
        T. Salimans and D. P. Kingma, "Weight normalization", NeurIPS 2016,
        arXiv:1602.07868 (mean-only batch normalisation).
    """

    inputs = ("x",)  # the batch arrays forward() takes, in order

    @checked("mixture_of_experts")
    def __init__(
        self,
        in_features: Size,
        out_features: Size = 1,
        experts: Size = 4,
        hidden: Widths = (32,),
        gate_hidden: Widths = (32,),
        activation: Activation = "relu",
        dropout: Probability = 0.0,
        init: Init = "default",
        centre_gate: bool = True,
        gate_noise: Annotated[float, Field(ge=0, allow_inf_nan=False, description="a number >= 0")] = 0.25,
        mix: Annotated[Mix, Field(description="one of outputs, probabilities")] = "outputs",
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.experts = experts
        self.hidden = hidden
        self.gate_hidden = gate_hidden
        self.activation = activation
        self.dropout = dropout
        self.init = init
        self.centre_gate = centre_gate
        self.gate_noise = gate_noise
        self.mix = mix
        self.expert_networks = nn.ModuleList(
            MLP(in_features, out_features, hidden=hidden, activation=activation, dropout=dropout, init=init)
            for _ in range(experts))
        self.gate = MLP(in_features, experts, hidden=gate_hidden, activation=activation, init=init)
        last = self.gate.layers[-1]
        nn.init.zeros_(last.weight)  # equal weights 1/K at the start: no expert is favoured
        nn.init.zeros_(last.bias)
        # running mean of each expert's logit over the training batches (used by centre_gate in evaluation)
        self.register_buffer("gate_mean", torch.zeros(experts))

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> MixtureOfExperts:
        """A mixture for inputs ``x`` of per-sample shape ``shapes["x"]`` (flattened)."""
        return cls(in_features=math.prod(shapes["x"]), out_features=out_features, **params)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.in_features)  # [N, ...] -> [N, in_features]

    def gate_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The gate's logits, centred if ``centre_gate``: ``[N, K]`` (no noise).

        Centred on the batch mean of each expert's logit in training, on the
        running mean in evaluation.
        """
        logits = self.gate(self._flat(x)).float()  # [N, K]
        if not self.centre_gate:
            return logits
        return logits - (logits.mean(dim=0) if self.training else self.gate_mean)

    def gate_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The gate's per-sample weights over the experts, ``g_k(x)``: ``[N, K]``, rows sum to 1.

        ``x`` as the model sees it (standardised, if the network was trained
        with standardised inputs); no noise is added. Call ``model.eval()``
        first for the weights the trained model predicts with.
        """
        return torch.softmax(self.gate_logits(x), dim=1)  # [N, K]

    def expert_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Every expert's raw outputs: ``[N, K, out_features]``."""
        x = self._flat(x)
        return torch.stack([expert(x) for expert in self.expert_networks], dim=1).float()  # [N, K, out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs ``[N, out_features]``: the experts combined by the gate's weights."""
        x = self._flat(x)
        logits = self.gate(x).float()  # [N, K]
        if self.centre_gate and self.training:
            mean = logits.mean(dim=0)  # [K]
            with torch.no_grad():  # the running mean evaluation centres on (momentum 0.1, as batch norm)
                self.gate_mean.lerp_(mean, 0.1)
            logits = logits - mean
        elif self.centre_gate:
            logits = logits - self.gate_mean
        if self.training and self.gate_noise > 0:
            logits = logits + self.gate_noise * torch.randn_like(logits)
        outputs = torch.stack([expert(x) for expert in self.expert_networks], dim=1).float()  # [N, K, out]
        if self.mix == "outputs":
            weights = torch.softmax(logits, dim=1)  # [N, K]
            return (weights.unsqueeze(2) * outputs).sum(dim=1)  # [N, out], in float32 under autocast too
        log_gate = torch.log_softmax(logits, dim=1).unsqueeze(2)  # [N, K, 1]
        if self.out_features == 1:  # binary: mix sigmoid probabilities, return the mixture's log-odds
            log_signal = torch.logsumexp(log_gate + F.logsigmoid(outputs), dim=1)  # [N, 1]
            log_background = torch.logsumexp(log_gate + F.logsigmoid(-outputs), dim=1)  # [N, 1]
            return log_signal - log_background
        # classes: mix softmax probabilities; log p is a valid logit vector (softmax(log p) = p)
        return torch.logsumexp(log_gate + F.log_softmax(outputs, dim=2), dim=1)  # [N, C]


__all__ = ["MixtureOfExperts"]
