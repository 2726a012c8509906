"""The variational autoencoder: a Gaussian code learned with the decoder that generates from it.

An encoder maps each input to a Gaussian ``q(z|x) = N(mu(x), sigma^2(x))`` in
a small latent space; a decoder maps a code ``z`` back to the inputs. Trained
on the evidence lower bound (the ``generation`` task's ``vae`` objective,
:mod:`quanta.tasks.variational`), the codes of the training data fill the
prior ``N(0, I)``, so decoding draws from the prior generates new samples,
and the code is a space in which to interpolate between inputs and to move
them along a "turn vector" (the difference of two groups' mean codes), the
lectures' latent arithmetic.

Both networks are MLPs (:class:`quanta.models.mlp.MLP`) on the flattened
inputs, so any input shape works (tables, images, calorimeter volumes); the
output is reshaped back. A conditional VAE (Sohn, Lee and Yan 2015) appends
the transformed condition (``log`` of a positive value such as the incident
energy, ``log(E / 1 GeV)`` for energies in GeV, or the value itself) to the
inputs of both networks, and generates for a condition given.

The likelihood's representation of the inputs (:meth:`VAE.representation`):

- ``standardised``: the standardised ``x`` that quanta hands every model;
- ``log``: ``log(1 + E / epsilon)`` of the raw, non-negative values ``E``
  (calorimeter cell energies: heavy-tailed, mostly zero). The model declares
  ``undoes_scalings``, so training hands it the fitted standardisation
  (:meth:`VAE.set_scalings`, buffers saved with the weights) and it works
  on the raw energies; generated cells are ``epsilon (exp(r) - 1)`` with
  ``r`` clipped at 0 (exact zeros where the decoder says "nothing"),
  returned standardised as quanta expects of every generative model.

Samples are the decoder's output for codes drawn from the prior, not
blurred by the likelihood's noise.

Reference:
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014;
    K. Sohn, H. Lee and X. Yan, "Learning Structured Output Representation
    using Deep Conditional Generative Models", NeurIPS 2015.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.hints import Size, Widths
from quanta.models.mlp import MLP
from quanta.models.readout import ZeroSuppression
from quanta.registry import checked

Representation = Literal["standardised", "log"]


class VAE(nn.Module):
    """Variational autoencoder: a dense Gaussian encoder and decoder; samples from the prior, optionally conditioned

    Args:
        input_shape: per-sample shape of ``x`` (flattened inside, D values).
        latent: size Z of the code.
        hidden: widths of the encoder's hidden layers, input side first; the
            decoder mirrors them.
        activation: nonlinearity of both networks (``quanta.models.activations``).
        condition: name of a per-sample data-set array to condition on (e.g.
            ``energy``), or None; quanta does not standardise it.
        condition_transform: ``log`` (the condition must be positive; values
            below 1e-12 are taken as 1e-12) or ``identity``.
        representation: what the reconstruction term compares: ``standardised``
            inputs or ``log`` of the raw non-negative values (see the module).
        epsilon: the ``log`` representation's scale, in the inputs' own units
            (0.01: 10 MeV for energies in GeV, below a calorimeter cell's threshold).
        likelihood: the decoder's distribution of each input element given the
            code. ``gaussian``: of fixed variance, the reconstruction term is the
            squared error and samples are the decoder's means. ``heteroscedastic``:
            the decoder also gives a log-variance per element, and samples are drawn
            from that Gaussian. ``zero_inflated`` (with ``representation: log``, for
            non-negative inputs with exact zeros, such as zero-suppressed calorimeter
            cells): the decoder gives each element's probability of being non-zero
            and its log energy when it is, the term is their Bernoulli and Gaussian
            negative log-likelihoods, and samples draw which cells fire, so that a
            cell hit in a third of the showers is not averaged below threshold.
        threshold: generated values below it, in the inputs' own units, read 0:
            a readout's zero suppression (:mod:`quanta.models.readout`; the
            ``calorimeter`` source's 0.5 MIP is 0.017 GeV); None: none.

    Shapes:
        - input ``x``: ``[N, *input_shape]`` (standardised by quanta), and the
          condition ``[N]`` when there is one.
        - output of ``forward``: ``(reconstruction [N, D], mean [N, Z], logvar
          [N, Z])``, the reconstruction in the :meth:`representation`'s units;
          the code is drawn in training mode and is the mean in eval mode.
        - :meth:`sample`: ``[n, *input_shape]`` in the standardised units.
    """

    objective = "vae"  # the generation task trains it on the ELBO (quanta.tasks.variational)
    undoes_scalings = True  # Network.fit hands it the input standardisation (used by representation "log")

    @checked("vae")
    def __init__(
        self,
        input_shape: tuple[int, ...],
        latent: Size = 8,
        hidden: Widths = (128, 128),
        activation: Activation = "relu",
        condition: Annotated[str | None, Field(min_length=1, description="the name of a per-sample array of "
                                               "the data (e.g. energy) or null")] = None,
        condition_transform: Annotated[Literal["log", "identity"],
                                       Field(description="one of log, identity")] = "log",
        representation: Annotated[Representation, Field(description="one of standardised, log")] = "standardised",
        epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False, description="a number > 0")] = 0.01,
        threshold: Annotated[float | None, Field(allow_inf_nan=False, description="a number or null")] = None,
        likelihood: Annotated[Literal["gaussian", "heteroscedastic", "zero_inflated"],
                              Field(description="one of gaussian, heteroscedastic, zero_inflated")] = "gaussian",
    ) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.in_features = math.prod(self.input_shape)
        self.latent = latent
        self.hidden = tuple(hidden)
        self.activation = activation
        self.condition = condition
        self.condition_transform = condition_transform
        self.representation_kind = representation
        self.epsilon = epsilon
        self.conditions: tuple[str, ...] = (condition,) if condition else ()
        self.inputs: tuple[str, ...] = ("x", *self.conditions)  # forward(x, *conditions)
        extra = len(self.conditions)
        self.encoder = MLP(self.in_features + extra, 2 * latent, self.hidden, activation)
        if likelihood == "zero_inflated" and representation != "log":
            raise UserError("vae: likelihood zero_inflated models exact zeros of non-negative inputs in "
                            "their log representation; give representation: log")
        self.likelihood = likelihood
        # per element: the mean, and a log-variance (heteroscedastic) or a logit of being non-zero
        outputs = self.in_features * (1 if likelihood == "gaussian" else 2)
        self.decoder = MLP(latent + extra, outputs, self.hidden[::-1], activation)
        # the inputs' standardisation, one value per input (identity until set_scalings), and the
        # readout's zero suppression of generated samples
        self.readout = ZeroSuppression(self.input_shape, threshold)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> VAE:
        """A VAE for inputs ``x`` of per-sample shape ``shapes["x"]``; ``out_features`` is not used
        (it reconstructs and generates ``x`` itself)."""
        condition = params.get("condition")
        if condition is not None:
            if condition == "x" or condition not in shapes:
                arrays = ", ".join(name for name in shapes if name != "x") or "none"
                raise UserError(f"vae: condition '{condition}' is not an array of the data besides x; "
                                f"arrays: {arrays}")
            if tuple(shapes[condition]) != ():
                raise UserError(f"vae: condition '{condition}' must be one value per sample; its samples "
                                f"have shape {list(shapes[condition])}")
        return cls(input_shape=tuple(shapes["x"]), **params)

    def set_scalings(self, input_mean=None, input_scale=None, target_mean=None, target_scale=None) -> VAE:
        """The fitted standardisation of ``x`` (per channel or feature), so that ``log`` sees raw values.

        quanta standardises images ``[C, ...]`` per channel and tables and sets per
        last axis (:class:`quanta.data.transforms.Standardize`); the values are
        spread over every input. Targets have no scaling here. Returns self.
        """
        self.readout.set_scalings(input_mean, input_scale)
        return self

    # -- the representation of the inputs -----------------------------------------------
    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[N, *input_shape]`` as the reconstruction term compares it: ``[N, D]``."""
        flat = x.reshape(x.shape[0], self.in_features)  # [N, D]
        if self.representation_kind == "standardised":
            return flat
        raw = flat * self.readout.input_scale + self.readout.input_mean  # the inputs' own units
        return torch.log1p(raw.clamp_min(0.0) / self.epsilon)

    def _inputs_from(self, values: torch.Tensor) -> torch.Tensor:
        """Decoder outputs ``[N, D]`` in the representation -> standardised ``x`` ``[N, *input_shape]``."""
        if self.representation_kind == "log":
            raw = self.epsilon * torch.expm1(values.clamp_min(0.0))
            values = (raw - self.readout.input_mean) / self.readout.input_scale
        return values.reshape(values.shape[0], *self.input_shape)

    def _condition(self, conditions: tuple[torch.Tensor, ...], n: int) -> torch.Tensor | None:
        """The transformed condition ``[N, 1]``, or None for an unconditional model."""
        if not self.conditions:
            if conditions:
                raise UserError("vae: the model is not conditional; give no condition")
            return None
        if len(conditions) != 1:
            raise UserError(f"vae: the model is conditioned on {self.condition}; give it")
        value = conditions[0].reshape(n, 1).float()  # [N, 1]
        return torch.log(value.clamp_min(1e-12)) if self.condition_transform == "log" else value

    # -- encoder and decoder ------------------------------------------------------------
    def _encode(self, u: torch.Tensor, c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(u if c is None else torch.cat([u, c.to(u.dtype)], dim=1))  # [N, 2Z]
        mean, logvar = h.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)  # exp stays finite

    def _decode(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.decoder(z if c is None else torch.cat([z, c.to(z.dtype)], dim=1))  # [N, D]

    def _means(self, decoded: torch.Tensor) -> torch.Tensor:
        """The decoder's means ``[N, D]`` (its outputs, or their first half with a learned variance)."""
        return decoded[:, :self.in_features]

    def reconstruction_term(self, decoded: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The per-sample reconstruction term ``[N]`` of the ELBO, float32, against ``target [N, D]``.

        ``gaussian``: ``sum_d (r_d - u_d)^2``, the negative log-likelihood of
        variance 1/2 up to a constant. ``heteroscedastic``: ``sum_d (r_d - u_d)^2 /
        (2 s_d^2) + 1/2 log(2 s_d^2)``, the same at ``s_d^2 = 1/2``, ``log s_d^2``
        the decoder's second half (clamped to [-10, 5]). ``zero_inflated``: the
        binary cross-entropy of the second half (logits) against ``u_d > 0``, plus
        ``(r_d - u_d)^2`` over the non-zero elements.
        """
        decoded, target = decoded.float(), target.float()
        squared = (self._means(decoded) - target).pow(2)  # [N, D]
        second = decoded[:, self.in_features:]  # [N, D] or empty
        if self.likelihood == "gaussian":
            return squared.sum(dim=1)
        if self.likelihood == "heteroscedastic":
            logvar = second.clamp(-10.0, 5.0)
            return (0.5 * squared * torch.exp(-logvar) + 0.5 * (logvar + math.log(2.0))).sum(dim=1)
        fired = (target > 0).to(squared.dtype)  # log1p(E / eps) > 0: a non-zero cell
        bernoulli = nn.functional.binary_cross_entropy_with_logits(second, fired, reduction="none")
        return (bernoulli + fired * squared).sum(dim=1)

    def encode(self, x: torch.Tensor, *conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The code's mean and log-variance ``([N, Z], [N, Z])`` for standardised ``x``."""
        return self._encode(self.representation(x), self._condition(conditions, x.shape[0]))

    def decode(self, z: torch.Tensor, *conditions: torch.Tensor) -> torch.Tensor:
        """Codes ``[N, Z]`` -> inputs ``[N, *input_shape]`` in the standardised units."""
        return self._inputs_from(self._means(self._decode(z, self._condition(conditions, z.shape[0]))))

    def forward(self, x: torch.Tensor, *conditions: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(reconstruction [N, D], mean [N, Z], logvar [N, Z])``: the code drawn when training."""
        c = self._condition(conditions, x.shape[0])
        mean, logvar = self._encode(self.representation(x), c)
        z = mean
        if self.training:  # the reparameterisation trick: z = mu + sigma * eps, eps ~ N(0, I)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        return self._decode(z, c), mean, logvar

    # -- generation and latent arithmetic -------------------------------------------------
    def sample(self, n: int, condition: dict[str, torch.Tensor] | None,
               generator: torch.Generator) -> torch.Tensor:
        """``n`` new samples ``[n, *input_shape]`` (standardised): codes from N(0, I) decoded.

        ``condition`` holds the model's condition as ``{name: [n]}`` (raw units).
        """
        if self.conditions and not condition:
            raise UserError(f"vae: the model is conditioned on {self.condition}; give it")
        device = self.readout.input_mean.device
        z = torch.randn((n, self.latent), generator=generator, device=device)  # [n, Z]
        values = tuple(condition[name].to(device) for name in self.conditions)
        decoded = self._decode(z, self._condition(values, n))
        means = self._means(decoded)
        second = decoded[:, self.in_features:]
        if self.likelihood == "heteroscedastic":  # x ~ p(x | z): the decoder's own spread
            spread = torch.exp(0.5 * second.clamp(-10.0, 5.0))
            means = means + spread * torch.randn(means.shape, generator=generator, device=device)
        elif self.likelihood == "zero_inflated":  # which elements fire, then their log energy
            fired = torch.rand(means.shape, generator=generator, device=device) < torch.sigmoid(second)
            means = torch.where(fired, means.clamp_min(0.0), torch.zeros_like(means))
        samples = self._inputs_from(means)
        return samples if self.training else self.readout(samples)  # zero suppression: final samples

    @torch.no_grad()
    def interpolate(self, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 8,
                    *conditions: torch.Tensor) -> torch.Tensor:
        """Decoded points on the straight line between the codes of ``x_a`` and ``x_b``.

        ``x_a``, ``x_b``: ``[N, *input_shape]`` pairs (standardised); the codes are
        the encoders' means; ``conditions`` (``[N]``, raw) hold for both ends.
        Returns ``[N, steps, *input_shape]``: step 0 decodes ``x_a``'s code, the last ``x_b``'s.
        """
        if steps < 2:
            raise UserError(f"vae: interpolate needs steps >= 2 (both ends), received {steps}")
        mean_a, _ = self.encode(x_a, *conditions)
        mean_b, _ = self.encode(x_b, *conditions)
        t = torch.linspace(0.0, 1.0, steps, device=mean_a.device).reshape(1, steps, 1)
        codes = (1 - t) * mean_a[:, None] + t * mean_b[:, None]  # [N, steps, Z]
        n = x_a.shape[0]
        repeated = tuple(c.reshape(n, 1).expand(n, steps).reshape(-1) for c in conditions)
        decoded = self.decode(codes.reshape(n * steps, self.latent), *repeated)
        return decoded.reshape(n, steps, *self.input_shape)

    @torch.no_grad()
    def turn_vector(self, x_from: torch.Tensor, x_to: torch.Tensor,
                    conditions_from: tuple[torch.Tensor, ...] = (),
                    conditions_to: tuple[torch.Tensor, ...] = ()) -> torch.Tensor:
        """The mean code of ``x_to`` minus that of ``x_from`` ``[Z]``: the direction that turns one
        group into the other (e.g. electron showers into pion showers)."""
        to, start = self.encode(x_to, *conditions_to)[0], self.encode(x_from, *conditions_from)[0]
        return to.mean(dim=0) - start.mean(dim=0)  # [Z]

    @torch.no_grad()
    def apply_vector(self, x: torch.Tensor, vector: torch.Tensor, scale: float = 1.0,
                     *conditions: torch.Tensor) -> torch.Tensor:
        """``x`` moved by ``scale`` times ``vector`` in the code and decoded: ``[N, *input_shape]``."""
        mean, _ = self.encode(x, *conditions)
        return self.decode(mean + scale * vector.to(mean), *conditions)


__all__ = ["VAE"]
