"""The variational objective: train a VAE on the evidence lower bound (Kingma and Welling 2014).

For each sample the loss is the negative ELBO with a KL weight ``beta``
(Higgins et al. 2017's beta-VAE; ``beta = 1`` is the ELBO itself)::

    loss = sum_d (r_d - u_d)^2  +  beta * KL(N(mu, sigma^2) || N(0, I))
    KL   = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)

where ``u = model.representation(x)`` is the input as the decoder's
likelihood sees it (the standardised ``x``, flattened, or the log of the
energies: :mod:`quanta.models.vae`) and ``r`` the decoder's output. The
reconstruction term is the model's Gaussian log-likelihood
(``model.reconstruction_term``): of fixed variance, the squared error summed
over the features (dividing the loss by ``beta`` shows
the variance it implies, ``sigma_x^2 = beta / 2``: a small ``beta`` asks for
sharp reconstructions, a large one for a code close to the prior). Training
draws the code with the reparameterisation trick ``z = mu + sigma * eps``
(``eps`` from torch's global generator, which checkpoints save); evaluation
uses ``z = mu``, so that scores and validation metrics are deterministic.

``forward`` gives per sample ``[score, loss, reconstruction, kl]``; the
score saved as the prediction is the loss (or, with the task's
``anomaly_score: reconstruction``, the reconstruction term alone). Validation metrics:
``loss`` (monitored, minimised), ``reconstruction`` and ``kl``, weighted means.
"""

from __future__ import annotations

import torch

from quanta.errors import UserError
from quanta.tasks.base import reduce
from quanta.tasks.generation import Objective


class Variational(Objective):
    """The negative evidence lower bound of a VAE, with the KL term weighted by the task's ``beta``."""

    monitor = "loss"
    higher_is_better = False

    def optimised_parts(self, model: torch.nn.Module) -> dict[str, torch.nn.Module]:
        module = getattr(model, "_orig_mod", model)
        if not all(callable(getattr(module, name, None)) for name in ("encode", "decode", "representation",
                                                                  "reconstruction_term")):
            raise UserError(f"task 'generation': objective 'vae' trains a variational autoencoder (model vae); "
                            f"model {type(module).__name__} has no encoder and decoder")
        return {"model": model}

    def terms(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
              inputs: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample reconstruction error and KL divergence ``([N], [N])``, in float32.

        The code is drawn (reparameterised) in training mode and is the mean in eval mode.
        """
        module = getattr(model, "_orig_mod", model)
        reconstruction, mean, logvar = model(*(batch[name] for name in inputs))  # [N, D], [N, Z], [N, Z]
        target = module.representation(batch["x"]).float()  # [N, D]
        error = module.reconstruction_term(reconstruction, target)  # [N], the model's likelihood
        mean, logvar = mean.float(), logvar.float()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)  # [N]
        return error, kl

    def training_step(self, state, batch: dict[str, torch.Tensor], inputs: tuple[str, ...]) -> torch.Tensor:
        with state.autocast():
            error, kl = self.terms(state.model, batch, inputs)
        loss = reduce(error + self.task.beta * kl, batch.get("weight"))
        state.step("model", loss)
        return loss.detach()

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                inputs: tuple[str, ...]) -> torch.Tensor:
        error, kl = self.terms(model, batch, inputs)
        loss = error + self.task.beta * kl
        score = error if self.task.anomaly_score == "reconstruction" else loss
        return torch.stack([score, loss, error, kl], dim=1)  # [N, 4]

    def metrics(self, output: torch.Tensor, weight: torch.Tensor | None) -> dict[str, torch.Tensor]:
        return {"loss": reduce(output[:, 1], weight), "reconstruction": reduce(output[:, 2], weight),
                "kl": reduce(output[:, 3], weight)}


__all__ = ["Variational"]
