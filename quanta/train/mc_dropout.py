"""Monte Carlo dropout: dropout left on at prediction, its passes a predictive distribution.

Gal & Ghahramani (2016) read a network trained with dropout as an
approximate Bayesian posterior over its weights: every forward pass with
dropout on draws one network from it, so the spread of T passes is an
uncertainty of the prediction (of the model, not of the data; a Gaussian
head adds the latter). A network predicts with ``train.mc_dropout: T``
passes, each seeded so that the predictions are reproducible.
"""

from __future__ import annotations

from torch import nn

from quanta.models.drop_connect import DropConnectLinear


def dropout_layers(model: nn.Module) -> list[nn.Module]:
    """The layers of ``model`` that drop units or weights in training (with a rate above 0)."""
    return [m for m in model.modules()
            if isinstance(m, (nn.modules.dropout._DropoutNd, DropConnectLinear)) and m.p > 0]
