"""A pre-trained encoder with a new head: learn features from unlabelled data, then fine-tune.

The second recipe of semi-supervised learning: train an encoder where labels
are not needed (an ``autoencoder`` under task ``autoencoding``, or a network
under ``embedding`` or ``metric_learning``) on the large unlabelled sample, in
its own experiment; then put a fresh dense head on its codes and train both
(``freeze: false``: fine-tuning, best with a smaller learning rate for the
encoder, ``train: {lr_groups: {"encoder.*": 0.1}}``) or the head alone
(``freeze: true``: a linear or shallow probe) on the few labelled samples.

``path`` is the method folder of that network in its run directory
(``runs/<name>/<time>/<method>``), read as ``quanta predict`` reads one (its
``model.safetensors``, which checks itself); its model must have
``encode(x)``. The encoder learned on inputs standardised with its own run's
statistics; this model keeps them and undoes the new network's own
standardisation first (``undoes_scalings``), so the encoder sees its inputs
exactly as in pre-training even where the two training splits differ. The
folder is read again whenever the network is rebuilt (``quanta predict``,
export): keep it. Parameters of the source model that ``encode`` does not use
(an autoencoder's decoder) are kept frozen and take no part in training.

Reference:
    D. Erhan et al., "Why does unsupervised pre-training help deep learning?",
    JMLR 11, 625 (2010); G. E. Hinton and R. R. Salakhutdinov, Science 313, 504 (2006).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import AfterValidator, Field
from torch import nn

from quanta.errors import UserError
from quanta.models.activations import Activation
from quanta.models.activations import activation as make_activation
from quanta.models.hints import Probability, Size, Widths
from quanta.registry import checked

#: the weights file of a trained network in its method folder (quanta.train.transfer.MODEL_FILE)
MODEL_FILE = "model.safetensors"


def _network_folder(path: str | None) -> str | None:
    """``path`` if it holds a saved network (checked when the experiment is resolved, before any work)."""
    if path is not None and not (Path(path).expanduser() / MODEL_FILE).is_file():
        raise ValueError(f"no {MODEL_FILE} in {path}")
    return path


#: the type hint of ``path``: a method folder holding a trained network
NetworkFolder = Annotated[str | None, AfterValidator(_network_folder),
                          Field(description="the folder of a trained network (RUN_DIR/<method>, "
                                            "with its model.safetensors) whose model has encode(x)")]


class Pretrained(nn.Module):
    """Pre-trained encoder with a new head: the codes of another run's network, then dense layers, fine-tuned

    Args:
        path: the method folder of a trained network whose model has ``encode(x)``.
        out_features: outputs of the new head (1 for binary classification, K for K classes).
        head: hidden widths of the new head; ``()`` gives a linear head on the codes.
        activation: nonlinearity after each hidden layer of the head.
        dropout: dropout probability in the head.
        freeze: keep the encoder's weights as pre-trained and train the head alone.

    Shapes:
        - input ``x``: the per-sample shape the encoder was trained on, ``[N, ...]``
          (``mask [N, P]`` too for padded sets).
        - output: ``[N, out_features]``.
    """

    inputs: tuple[str, ...] = ("x",)
    undoes_scalings = True  # it maps this network's standardised inputs to the encoder's own

    @checked("pretrained")
    def __init__(
        self,
        path: NetworkFolder = None,
        out_features: Size = 1,
        head: Widths = (32,),
        activation: Activation = "relu",
        dropout: Probability = 0.0,
        freeze: bool = False,
    ) -> None:
        super().__init__()
        source = load_source(path)
        self.path, self.freeze = str(path), freeze
        self.encoder = source.model.float()
        self.input_shape = tuple(source.spec["shapes"]["x"]) if source.spec else None
        transform, channels = source.transform, _channel_count(self.input_shape)
        mean = torch.as_tensor(transform.mean_) if transform is not None else torch.zeros(channels)
        scale = torch.as_tensor(transform.scale_) if transform is not None else torch.ones(channels)
        self.register_buffer("source_mean", mean.float().clone())
        self.register_buffer("source_scale", scale.float().clone())
        self.register_buffer("input_mean", torch.zeros_like(self.source_mean))  # raw inputs, until
        self.register_buffer("input_scale", torch.ones_like(self.source_scale))  # set_scalings
        code = self._train_only_the_encoding_part()
        layers: list[nn.Module] = []
        width = code
        for hidden in head:
            layers += [nn.Linear(width, hidden), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.head = nn.Sequential(*layers)

    def _train_only_the_encoding_part(self) -> int:
        """Freeze the source parameters ``encode`` leaves out (all of them with ``freeze``);
        returns the code width."""
        shape = self.input_shape or (1,)
        probe = torch.zeros(2, *shape)
        parameters = list(self.encoder.parameters())
        for parameter in parameters:
            parameter.requires_grad_(True)
            parameter.grad = None
        code = self.encoder.encode(probe).reshape(2, -1)
        used = set()
        if code.requires_grad:
            grads = torch.autograd.grad(code.sum(), parameters, allow_unused=True)
            used = {id(p) for p, g in zip(parameters, grads, strict=True) if g is not None}
        for parameter in parameters:
            parameter.requires_grad_(id(parameter) in used and not self.freeze)
        return int(code.shape[1])

    @classmethod
    def for_data(cls, shapes: dict[str, tuple[int, ...]], out_features: int, **params: Any) -> Pretrained:
        """The model for inputs ``shapes["x"]``, which must be the shape the encoder was trained on."""
        model = cls(out_features=max(out_features, 1), **params)
        if "x" not in shapes:
            raise UserError("pretrained: the data need inputs x for the encoder")
        if model.input_shape is not None and tuple(shapes["x"]) != model.input_shape:
            raise UserError(f"pretrained: the encoder at {model.path} was trained on inputs of shape "
                            f"{list(model.input_shape)}; these data have {list(shapes['x'])}")
        if "mask" in shapes and len(shapes["x"]) == 2:  # padded sets: padded slots stay zero
            model.inputs = ("x", "mask")
        return model

    def set_scalings(self, input_mean=None, input_scale=None, target_mean=None, target_scale=None) -> Pretrained:
        """This network's input standardisation (per channel), undone before the encoder's own."""
        for buffer, value in ((self.input_mean, input_mean), (self.input_scale, input_scale)):
            if value is not None:
                value = torch.as_tensor(value, dtype=buffer.dtype).reshape(-1)
                if value.numel() != buffer.numel():
                    raise UserError(f"pretrained: these inputs have {value.numel()} channels, the "
                                    f"encoder at {self.path} was trained on {buffer.numel()}")
                buffer.copy_(value)
        return self

    def _channels(self, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.ndim
        shape[1 if x.ndim >= 4 else x.ndim - 1] = -1
        return values.reshape(shape)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Head outputs ``[N, out_features]`` of inputs ``x`` standardised as in pre-training."""
        raw = x * self._channels(self.input_scale, x) + self._channels(self.input_mean, x)
        seen = (raw - self._channels(self.source_mean, x)) / self._channels(self.source_scale, x)
        if mask is not None:
            seen = seen * mask.unsqueeze(-1).to(seen.dtype)
        code = self.encoder.encode(seen)
        return self.head(code.reshape(code.shape[0], -1))


def _channel_count(shape: tuple[int, ...] | None) -> int:
    """Channels of per-sample inputs ``shape`` as :class:`~quanta.data.transforms.Standardize` counts
    them: an image's first axis, else the last (features of a table, a set or a sequence)."""
    if not shape:
        return 1
    return int(shape[0] if len(shape) >= 3 else shape[-1])


def load_source(path: str | Path | None) -> Any:
    """The trained network saved in method folder ``path``, checked to have ``encode``, on the CPU."""
    from quanta.train.network import Network

    if path is None:
        raise UserError("pretrained: path must name the folder of a trained network (RUN_DIR/<method>) "
                        "whose model has encode(x); received none")
    folder = Path(path).expanduser()
    if not (folder / MODEL_FILE).is_file():
        raise UserError(f"pretrained: path {path} is not the folder of a trained network (no "
                        f"{MODEL_FILE}; give RUN_DIR/<method> of a finished run)")
    source = Network.load(folder, device="cpu")
    if not callable(getattr(source.model, "encode", None)):
        raise UserError(f"pretrained: the network at {path} ({type(source.model).__name__}) has no "
                        "encode(x); pre-train an encoder (autoencoder, conv_autoencoder)")
    return source


__all__ = ["Pretrained", "load_source"]
