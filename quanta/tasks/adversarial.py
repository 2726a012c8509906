"""Adversarial objectives of the generation task: the original GAN and WGAN-GP.

A generator ``G`` and a critic ``D`` (a model with ``model.generator``,
``model.critic``, ``model(x, *conditions)`` = the critic's value and
``model.sample(n, condition, generator)``, such as ``quanta.models.gan``) are
trained against each other, each by its own optimiser (parts ``generator``
and ``critic``; the trainer's schedule applies to both).

- ``gan`` (Goodfellow et al. 2014): the critic is a discriminator whose value
  is the logit of "this sample is data", trained by binary cross-entropy
  (data labelled 1, generated samples 0). The generator uses the paper's
  *non-saturating* loss ``-log D(G(z))`` (BCE of its samples labelled 1),
  whose gradient stays large while the discriminator still wins easily.
- ``wgan_gp`` (Gulrajani et al. 2017): the critic approximates the
  Kantorovich potential of the Wasserstein-1 distance. Its loss is
  ``E[d(fake)] - E[d(real)] + lambda * E[(||grad d(x_hat)||_2 - 1)^2]``, the
  gradient penalty taken on random interpolates ``x_hat = e x + (1 - e) G(z)``,
  ``e ~ U(0, 1)`` per sample (in float32, outside mixed precision); the
  generator's loss is ``-E[d(G(z))]``. The paper trains with Adam (lr 1e-4,
  betas (0.5, 0.9)): ``train: {optimizer: adam, lr: 0.0001, betas: [0.5, 0.9]}``.

**Steps.** Training batches are counted: the critic steps on every batch, the
generator after every ``critic_steps``-th critic step (batches ``critic_steps``,
``2 critic_steps``, ...; Algorithm 1 of both papers, with ``n_critic`` = 5 for
WGAN-GP and ``k`` = 1 in Goodfellow et al.'s experiments), on fresh noise. The
count runs on across epochs and is kept in the critic optimiser's first
parameter group (:data:`COUNTER`), so checkpoints save it with the optimiser.
All noise (latents, interpolation weights) comes from torch's global RNG,
which checkpoints save too: a resumed run continues bit-for-bit.

**Weights.** Per-sample weights weigh the data's terms (the critic's mean on
real samples, their cross-entropy); generated samples and the penalty are
unweighted.

**Predictions and validation.** :meth:`Adversarial.forward` gives one row per
sample: column 0 is minus the critic's value of the sample, the score quanta
saves (the critic rates data high, so its negative is large for samples unlike
the training data: an anomaly score, as the generation task's scores are);
column 1 minus the critic's value of a generated sample drawn with the batch's
own conditions from a generator seeded with :data:`VALIDATION_SEED` (the same
noise every epoch); then the projections of the real and of the generated
sample on :data:`PROJECTIONS` fixed random unit directions (in the
standardised units). :meth:`metrics` gives

- ``sliced_wasserstein``, also the validation ``loss`` and the monitored
  metric (lower is better): the mean over the directions of the 1-D
  Wasserstein distance between the projected real and generated samples
  (Rabin et al. 2011; unweighted). It judges the generator without the
  critic, whose own estimates grow as the critic learns: the best epoch by a
  critic's estimate would be one of the first.
- for WGAN-GP, ``wasserstein`` = ``E_w[d(real)] - E[d(fake)]`` (the critic's
  estimate of the distance) and ``critic_real`` = ``E_w[d(real)]`` (its drift);
  for the GAN, ``discriminator_loss`` (the cross-entropy of real and generated
  samples) and ``js_divergence`` = ``(log 4 - discriminator_loss) / 2``, the
  Jensen-Shannon divergence it implies (exact for the optimal discriminator).

**Guards.** Before every optimiser step the losses must be finite and the
critic's values within ``±``:data:`CRITIC_BOUND` (a diverging critic), and
before every generator step the generated batch's spread (the root of its
total variance) must be at least :data:`COLLAPSE_FRACTION` of the data batch's
(a collapsed generator; watched after :data:`COLLAPSE_WARMUP` generator steps). Otherwise training stops with a one-line error naming
the method, before any weight is changed by the offending loss. Each check
reads a few numbers from the device (one sync per step).

References:
    I. Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014,
    arXiv:1406.2661; I. Gulrajani et al., "Improved Training of Wasserstein
    GANs", NeurIPS 2017, arXiv:1704.00028; J. Rabin, G. Peyré, J. Delon and
    M. Bernot, "Wasserstein Barycenter and its Application to Texture
    Mixing", SSVM 2011 (the sliced distance).
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from quanta.errors import TrainingFailed
from quanta.tasks.base import reduce
from quanta.tasks.generation import Objective

#: the key of the critic optimiser's first parameter group that counts training batches
COUNTER = "adversarial_batches"
#: seed of the generator drawing the validation fakes (the same fakes every epoch) and the directions
VALIDATION_SEED = 20_140_610
#: random directions on which validation compares real and generated samples (sliced Wasserstein)
PROJECTIONS = 32
#: the critic's values beyond ±this bound mean it has diverged (a working critic stays far below)
CRITIC_BOUND = 1e6
#: a generated batch spreading less than this fraction of the data batch's has collapsed
COLLAPSE_FRACTION = 0.01
#: generator steps before the collapse guard watches: a freshly initialised generator may start
#: with a small spread (samples near one point in its representation) without having collapsed
COLLAPSE_WARMUP = 50


class AdversarialFailure(TrainingFailed):
    """Adversarial training failed (a diverging critic, a collapsing generator); one line, named by method."""


class Adversarial(Objective):
    """Adversarial objective of the generation task: the original GAN or WGAN-GP, two optimisers.

    Args:
        task: the generation task; reads ``task.critic_steps`` (critic steps
            per generator step; None: 5 for WGAN-GP, 1 for the GAN) and ``task.gradient_penalty`` (WGAN-GP's lambda).
        wasserstein: WGAN-GP (True) or the original GAN with the
            non-saturating generator loss (False).
    """

    def __init__(self, task, wasserstein: bool):
        super().__init__(task)
        self.wasserstein = wasserstein
        # Algorithm 1 of both papers: n_critic = 5 for WGAN-GP, one and one for the original GAN
        self.critic_steps = task.critic_steps or (5 if wasserstein else 1)
        self.monitor = "sliced_wasserstein"
        self.higher_is_better = False

    def optimised_parts(self, model: torch.nn.Module) -> dict[str, torch.nn.Module]:
        """``{"generator": model.generator, "critic": model.critic}``: one optimiser each."""
        return {"generator": model.generator, "critic": model.critic}

    # -- training ---------------------------------------------------------------------
    def training_step(self, state, batch: dict[str, torch.Tensor], inputs: tuple[str, ...]) -> torch.Tensor:
        """One critic step, and a generator step on every ``critic_steps``-th batch; returns the critic's loss."""
        module = state.module
        real = batch["x"]  # [N, *shape]
        conditions = [batch[name] for name in inputs[1:]]  # each [N]
        condition = dict(zip(inputs[1:], conditions, strict=True)) or None
        weight = batch.get("weight")
        n = real.shape[0]
        group = state.optimizers["critic"].param_groups[0]
        count = group.get(COUNTER, 0) + 1  # this batch's number, counted from the first epoch on
        group[COUNTER] = count

        with torch.no_grad(), state.autocast():
            fake = module.sample(n, condition)  # [N, *shape], global RNG
        with state.autocast():
            real_values = state.model(real, *conditions).float().reshape(n)  # [N]
            fake_values = state.model(fake, *conditions).float().reshape(n)  # [N]
        if self.wasserstein:
            penalty = self._gradient_penalty(module, real, fake, conditions)  # uncompiled: a double backward
            critic_loss = fake_values.mean() - reduce(real_values, weight) + self.task.gradient_penalty * penalty
        else:
            critic_loss = _cross_entropy(real_values, 1.0, weight) + _cross_entropy(fake_values, 0.0, None)
        bound = torch.maximum(real_values.detach().abs().max(), fake_values.detach().abs().max())
        loss_value, largest = torch.stack([critic_loss.detach(), bound]).tolist()
        if not math.isfinite(loss_value):
            raise AdversarialFailure(f"the critic diverged: its loss became {loss_value} at training batch {count}; "
                           "try a smaller lr, clip_grad_norm or another objective")
        if largest > CRITIC_BOUND:
            raise AdversarialFailure(f"the critic diverged: its values reached {largest:.3g}, beyond ±{CRITIC_BOUND:.0e}, "
                           f"at training batch {count}; try a smaller lr or clip_grad_norm")
        state.step("critic", critic_loss)

        if count % self.critic_steps == 0:
            with state.autocast():
                fake = module.sample(n, condition)  # fresh noise, gradients through the generator
                values = state.model(fake, *conditions).float().reshape(n)  # [N]
            generator_loss = -values.mean() if self.wasserstein else _cross_entropy(values, 1.0, None)
            spread = _spread(fake.detach().float(), real.float())
            loss_value, ratio = torch.stack([generator_loss.detach(), spread]).tolist()
            if not math.isfinite(loss_value):
                raise AdversarialFailure(f"the generator diverged: its loss became {loss_value} at training batch {count}; "
                               "try a smaller lr or clip_grad_norm")
            if ratio < COLLAPSE_FRACTION and count // self.critic_steps > COLLAPSE_WARMUP:
                other = "" if self.wasserstein else " or objective wgan_gp"
                raise AdversarialFailure(f"the generator collapsed: its samples spread {ratio:.2g} times as wide as the "
                               f"data's (below {COLLAPSE_FRACTION}) at training batch {count}; try a smaller "
                               f"lr, another seed{other}")
            state.step("generator", generator_loss)
        return critic_loss.detach()

    def _gradient_penalty(self, critic, real: torch.Tensor, fake: torch.Tensor,
                          conditions: list[torch.Tensor]) -> torch.Tensor:
        """``E[(||grad_x d(x_hat)||_2 - 1)^2]`` on interpolates ``x_hat = e real + (1 - e) fake`` (float32)."""
        n = real.shape[0]
        e = torch.rand(n, *([1] * (real.ndim - 1)), device=real.device)  # [N, 1, ...], global RNG
        x_hat = (e * real.float() + (1 - e) * fake.float()).requires_grad_(True)  # [N, *shape]
        values = critic(x_hat, *conditions).float()  # [N, 1]
        (gradient,) = torch.autograd.grad(values.sum(), x_hat, create_graph=True)  # [N, *shape]
        norms = gradient.reshape(n, -1).norm(dim=1)  # [N]
        return ((norms - 1) ** 2).mean()

    # -- prediction and validation --------------------------------------------------------
    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                inputs: tuple[str, ...]) -> torch.Tensor:
        """Rows ``[N, 2 + 2 P]``: minus the critic's value of each real sample (the saved score) and of a
        generated one, then the real and the generated sample projected on the ``P`` fixed directions."""
        real = batch["x"]
        conditions = [batch[name] for name in inputs[1:]]
        condition = dict(zip(inputs[1:], conditions, strict=True)) or None
        n = real.shape[0]
        generator = torch.Generator(real.device).manual_seed(VALIDATION_SEED)
        fake = model.sample(n, condition, generator)  # [N, *shape]
        real_values = model(real, *conditions).float().reshape(n, 1)  # [N, 1]
        fake_values = model(fake, *conditions).float().reshape(n, 1)  # [N, 1]
        directions = _directions(real[0].numel(), real.device)  # [F, P]
        real_projected = real.reshape(n, -1).float() @ directions  # [N, P]
        fake_projected = fake.reshape(n, -1).float() @ directions  # [N, P]
        return torch.cat([-real_values, -fake_values, real_projected, fake_projected], dim=1)

    def metrics(self, output: torch.Tensor, weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Validation metrics of :meth:`forward`'s rows for a whole split, as 0-d tensors."""
        real_values, fake_values = -output[:, 0].float(), -output[:, 1].float()  # the critic's values
        real_projected, fake_projected = output[:, 2:].float().chunk(2, dim=1)  # [N, P] each
        sorted_real, sorted_fake = real_projected.sort(dim=0).values, fake_projected.sort(dim=0).values
        sliced = (sorted_real - sorted_fake).abs().mean().detach()  # W1 of equal-sized samples per direction
        metrics = {"loss": sliced, "sliced_wasserstein": sliced}
        if self.wasserstein:
            critic_real = reduce(real_values, weight)
            metrics.update(wasserstein=(critic_real - fake_values.mean()).detach(), critic_real=critic_real.detach())
        else:
            loss = _cross_entropy(real_values, 1.0, weight) + _cross_entropy(fake_values, 0.0, None)
            metrics.update(js_divergence=((math.log(4.0) - loss) / 2).detach(), discriminator_loss=loss.detach())
        return metrics


@functools.cache
def _projection_directions(features: int) -> torch.Tensor:
    """The fixed directions on the CPU, drawn once per input size."""
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    directions = torch.randn(features, PROJECTIONS, generator=generator)  # [F, P]
    return directions / directions.norm(dim=0, keepdim=True)


def _directions(features: int, device: torch.device) -> torch.Tensor:
    """:data:`PROJECTIONS` fixed random unit vectors in the ``features``-dimensional input space, ``[F, P]``."""
    return _projection_directions(features).to(device)


def _cross_entropy(logits: torch.Tensor, label: float, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean binary cross-entropy of ``logits [N]`` against one ``label`` for all, weighted per sample."""
    values = F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label), reduction="none")
    return reduce(values, weight)


def _spread(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``sqrt(total variance of fake / total variance of real)`` over a batch (inf where the data have none)."""
    fake_variance = fake.reshape(fake.shape[0], -1).var(dim=0, unbiased=False).sum()
    real_variance = real.reshape(real.shape[0], -1).var(dim=0, unbiased=False).sum()
    ratio = (fake_variance / real_variance).sqrt()
    return torch.where(real_variance > 0, ratio, torch.full_like(ratio, math.inf))


__all__ = ["COLLAPSE_FRACTION", "COLLAPSE_WARMUP", "COUNTER", "CRITIC_BOUND", "PROJECTIONS", "VALIDATION_SEED", "Adversarial",
           "AdversarialFailure"]
