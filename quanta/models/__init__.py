"""Models: architectures as plain ``torch.nn.Module``s, registered by name.

A model does not know its loss or its data source. Each registered model class
has a ``for_data(input_shape, out_features, **params)`` class method that
builds it for a data set's per-sample input shape and the task's output size;
its constructor stays plain PyTorch. ``quanta models`` lists them. This
package never imports ``quanta.data``.
"""

from __future__ import annotations

from quanta.registry import Registry

MODELS = Registry("model", listing="quanta models")
MODELS.declare(
    "mlp",
    "quanta.models.mlp:MLP",
    "Multilayer perceptron: dense layers with a chosen activation, dropout, normalisation and init",
)


def register(name: str, description: str | None = None):
    """Decorator registering a user model class (it needs a ``for_data`` class method)."""
    return MODELS.register(name, description)


__all__ = ["DATA_ARGUMENTS", "MODELS", "register"]

#: constructor arguments that quanta derives from the data and the task (users do not set them)
DATA_ARGUMENTS = ("in_features", "out_features", "input_shape", "in_channels")
