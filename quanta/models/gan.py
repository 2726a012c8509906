"""Generative adversarial network: a generator of samples and a critic that tells them from data.

A generator ``G`` maps latent noise ``z ~ N(0, 1)`` to a sample; a critic
``D`` (the "discriminator" of Goodfellow et al. 2014) gives each sample a
real number. What that number means is the objective's business, not the
model's: the logit of "this is data" for the original GAN, or the
Kantorovich potential whose difference between data and samples estimates
the Wasserstein distance for WGAN-GP (Gulrajani et al. 2017), which is why the
critic has no batch normalisation (the gradient penalty is taken per sample).
The objectives live in :mod:`quanta.tasks.adversarial`.

Both networks are dense: samples of any shape are flattened for the critic
and the generator's output is reshaped back to the input shape. A
conditional GAN is conditioned on one per-sample array of the data set
(``condition="energy"``): both networks receive its transform (``log``:
``log(value / 1 unit)``, for a positive quantity such as an energy in GeV
spanning decades; ``identity``: the value itself) beside their inputs.
Conditions are never standardised by quanta; this transform is all they get.

For showers in a calorimeter the energy sets the scale of the whole sample:
with ``scale_by_condition`` the generator draws ``x / E`` (the shower per GeV
of incident energy), multiplied by the condition's value ``E``, and the critic
judges ``x / E``, so neither network has to learn a scale spanning decades.
This is for samples in their own units (``standardize: false``, as for
CaloGAN, Paganini et al. 2018), where the generator's ``output: relu`` also
gives exact zeros for empty cells.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.hints import Probability, Size, Widths
from quanta.models.readout import ZeroSuppression
from quanta.registry import checked

#: negative slope of the critic's leaky ReLUs (Radford et al. 2016's choice, kept by WGAN-GP)
CRITIC_SLOPE = 0.2

ConditionTransform = Literal["log", "identity"]


class Generator(nn.Module):
    """Dense generator: ``[z, c] -> hidden layers -> out_features`` with an optional output non-linearity.

    Shapes: ``z [N, latent]``, ``c [N, conditions]`` (or None) -> ``[N, out_features]``.
    """

    def __init__(self, latent: int, conditions: int, out_features: int, hidden: tuple[int, ...],
                 activation: str, output: str) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = latent + conditions
        for width in hidden:
            layers += [nn.Linear(width_in, width), make_activation(activation)]
            width_in = width
        layers += [nn.Linear(width_in, out_features), make_activation(output)]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = z if c is None else torch.cat([z, c], dim=1)  # [N, latent + conditions]
        return self.layers(h)  # [N, out_features]


class Critic(nn.Module):
    """Dense critic: ``[x, c] -> (linear, leaky ReLU, dropout) x hidden -> one value``, no normalisation.

    With ``spectral_norm`` every linear layer's weight is divided by its
    largest singular value (Miyato et al. 2018), bounding the critic's
    Lipschitz constant by construction.

    Shapes: ``x [N, in_features]``, ``c [N, conditions]`` (or None) -> ``[N, 1]``.
    """

    def __init__(self, in_features: int, conditions: int, hidden: tuple[int, ...], dropout: float,
                 spectral_norm: bool) -> None:
        super().__init__()

        def linear(width_in: int, width_out: int) -> nn.Module:
            layer = nn.Linear(width_in, width_out)
            return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer

        layers: list[nn.Module] = []
        width_in = in_features + conditions
        for width in hidden:
            layers += [linear(width_in, width), nn.LeakyReLU(CRITIC_SLOPE)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width_in = width
        layers.append(linear(width_in, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = x if c is None else torch.cat([x, c], dim=1)  # [N, in_features + conditions]
        return self.layers(h)  # [N, 1]


class GAN(nn.Module):
    """Generative adversarial network: a dense generator and a dense critic, optionally conditional

    ``forward(x, *conditions)`` is the critic's value of samples ``x`` (what
    quanta saves as each sample's score); ``sample(n, condition, generator)``
    draws ``n`` new samples from the generator, in the units the model was
    trained in. The objective (``objective = "wgan_gp"`` by default, or the
    original ``"gan"``) trains ``generator`` and ``critic`` with one optimiser
    each (:mod:`quanta.tasks.adversarial`).

    Args:
        input_shape: per-sample shape of the samples ``x``.
        latent: dimension of the generator's Gaussian noise ``z``.
        generator_hidden: widths of the generator's hidden layers.
        critic_hidden: widths of the critic's hidden layers (leaky ReLU, slope 0.2).
        activation: the generator's hidden non-linearity.
        output: the generator's output non-linearity (``identity``: samples
            anywhere, right for standardised inputs).
        dropout: dropout after each of the critic's hidden layers, in [0, 1).
        spectral_norm: spectral normalisation of the critic's layers.
        condition: the data-set array (one value per sample) both networks
            are conditioned on, e.g. ``energy``; None for an unconditional GAN.
        condition_transform: ``log`` (a positive quantity; ``log(value)``) or
            ``identity``.
        scale_by_condition: generate and judge ``x / condition`` (a
            calorimeter shower per unit of incident energy); needs a condition.
        representation: ``identity``, or ``log``: the generator draws and the critic
            judges ``u = log(1 + x / epsilon)`` of the data's own units (cell energies
            spanning decades; ``x = epsilon (exp(u) - 1)``, non-negative).
        epsilon: the ``log`` representation's scale in the data's units (0.01: 10 MeV).
        threshold: generated values below it, in the inputs' own units, read 0
            in the final samples (not in training's): a readout's zero
            suppression (:mod:`quanta.models.readout`; the ``calorimeter``
            source's 0.5 MIP is 0.017 GeV); None: none.

    Shapes:
        - input ``x``: ``[N, *input_shape]``; a condition: ``[N]``.
        - output: ``[N, 1]``, the critic's value; ``sample``: ``[n, *input_shape]``.

    References:
        I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
        arXiv:1406.2661; I. Gulrajani et al., "Improved Training of
        Wasserstein GANs", NeurIPS 2017, arXiv:1704.00028; M. Mirza and
        S. Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784;
        M. Paganini, L. de Oliveira and B. Nachman, "CaloGAN", Phys. Rev. D 97,
        014021 (2018), arXiv:1712.10321.
    """

    inputs: tuple[str, ...] = ("x",)
    #: the adversarial objective a generation task uses for this model unless told otherwise
    objective = "wgan_gp"
    undoes_scalings = True  # Network.fit hands it the input standardisation (threshold, representation log)

    @checked("gan")
    def __init__(
        self,
        input_shape: tuple[int, ...],
        latent: Size = 16,
        generator_hidden: Widths = (128, 128),
        critic_hidden: Widths = (128, 128),
        activation: Activation = "relu",
        output: Activation = "identity",
        dropout: Probability = 0.0,
        spectral_norm: bool = False,
        condition: str | None = None,
        condition_transform: Annotated[ConditionTransform, Field(description="one of log, identity")] = "log",
        scale_by_condition: bool = False,
        threshold: Annotated[float | None, Field(allow_inf_nan=False, description="a number or null")] = None,
        representation: Annotated[Literal["identity", "log"], Field(description="one of identity, log")] = "identity",
        epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False, description="a number > 0")] = 0.01,
    ) -> None:
        super().__init__()
        self.representation = representation
        self.epsilon = epsilon
        self.input_shape = tuple(input_shape)
        self.readout = ZeroSuppression(self.input_shape, threshold)  # of the final samples
        self.latent = latent
        self.generator_hidden = generator_hidden
        self.critic_hidden = critic_hidden
        self.activation = activation
        self.output = output
        self.dropout = dropout
        self.spectral_norm = spectral_norm
        self.condition = condition
        self.condition_transform = condition_transform
        if scale_by_condition and not condition:
            raise UserError("gan: scale_by_condition divides the samples by their condition; give a condition "
                            "(e.g. condition: energy)")
        self.scale_by_condition = scale_by_condition
        self.conditions: tuple[str, ...] = (condition,) if condition else ()
        self.inputs = ("x", *self.conditions)
        features = math.prod(self.input_shape)
        self.generator = Generator(latent, len(self.conditions), features, generator_hidden, activation,
                                   output)
        self.critic = Critic(features, len(self.conditions), critic_hidden, dropout, spectral_norm)

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params) -> GAN:
        """A GAN for samples ``x`` of per-sample shape ``shapes["x"]`` (``out_features`` is not used).

        A ``condition`` must name an array of the data with one value per sample.
        """
        condition = params.get("condition")
        if condition is not None:
            if condition not in shapes or condition == "x":
                arrays = ", ".join(sorted(name for name, shape in shapes.items() if name != "x" and shape == ()))
                raise UserError(f"gan: condition must be an array of the data with one value per sample "
                                f"(available: {arrays or 'none'}); received {condition!r}")
            if shapes[condition] != ():
                raise UserError(f"gan: condition {condition!r} must hold one value per sample; it has shape "
                                f"{tuple(shapes[condition])} per sample")
        return cls(input_shape=tuple(shapes["x"]), **params)

    def condition_features(self, *conditions: torch.Tensor) -> torch.Tensor | None:
        """The networks' view of the conditions: ``[N, len(conditions)]`` after the transform, or None."""
        if not self.conditions:
            return None
        values = torch.stack([c.reshape(-1).float() for c in conditions], dim=1)  # [N, conditions]
        return values.log() if self.condition_transform == "log" else values

    def generate(self, z: torch.Tensor, *conditions: torch.Tensor) -> torch.Tensor:
        """Samples ``[N, *input_shape]`` for latent noise ``z [N, latent]`` and the conditions ``[N]``."""
        flat = self.generator(z, self.condition_features(*conditions))  # [N, features]
        if self.representation == "log":  # the generator's u = log(1 + x / eps) -> x
            flat = self.epsilon * torch.expm1(flat.clamp(0.0, 30.0))
        if self.scale_by_condition:
            flat = flat * conditions[0].reshape(-1, 1).to(flat.dtype)  # per unit of the condition -> x
        if self.representation == "log":  # the data's units -> the standardised units the model sees
            flat = (flat - self.readout.input_mean) / self.readout.input_scale
        return flat.reshape(z.shape[0], *self.input_shape)

    def set_scalings(self, input_mean=None, input_scale=None, target_mean=None, target_scale=None) -> GAN:
        """The fitted standardisation of ``x``, so that ``threshold`` acts in the data's units; returns self."""
        self.readout.set_scalings(input_mean, input_scale)
        return self

    def forward(self, x: torch.Tensor, *conditions: torch.Tensor) -> torch.Tensor:
        """The critic's value ``[N, 1]`` of samples ``x [N, *input_shape]``."""
        flat = x.reshape(x.shape[0], -1)  # [N, features]
        if self.representation == "log":
            flat = self.readout.raw(x)  # the data's own units
        if self.scale_by_condition:
            flat = flat / conditions[0].reshape(-1, 1).to(flat.dtype)  # x per unit of the condition
        if self.representation == "log":  # the critic judges u = log(1 + x / eps)
            flat = torch.log1p(flat.clamp_min(0.0) / self.epsilon)
        return self.critic(flat, self.condition_features(*conditions))

    def sample(self, n: int, condition: dict[str, torch.Tensor] | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples ``[n, *input_shape]`` drawn with ``generator`` (torch's global RNG when None).

        ``condition`` maps each of :attr:`conditions` to ``n`` values. Training
        draws from the global RNG (checkpointed); quanta's ``Network.sample``
        passes a seeded generator. Gradients flow unless called under no_grad.
        """
        device = next(self.parameters()).device
        if generator is not None:
            device = generator.device
        z = torch.randn(n, self.latent, generator=generator, device=device)  # [n, latent]
        values = [condition[name] for name in self.conditions] if self.conditions else []
        samples = self.generate(z, *values)
        return samples if self.training else self.readout(samples)  # training's fakes: not suppressed


__all__ = ["GAN", "Critic", "Generator"]
