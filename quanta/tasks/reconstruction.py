"""Image-to-image regression: denoising, super-resolution, inpainting.

The model maps an input image (or signal, or volume) to a target image of
the same layout, ``y[N, C, *S]`` with channels first; the loss is the mean
squared error over pixels. A *multi-scale* loss adds the error at coarser
resolutions: fitting the image's large-scale structure first steers
training away from blurry local minima, and for super-resolution it checks
that the output is consistent with the coarse image it came from (Lai et al.,
LapSRN; Zhao et al. on losses for image restoration). Two ways:

- ``multiscale="pool"`` (any model): output and target are both
  average-pooled by 2, 4, ... and compared at each scale;
- ``multiscale="model"``: the task asks the model for its own coarse
  predictions through the documented method ``model.multiscale(*inputs)``
  (a list of outputs, finest first, as :meth:`quanta.models.unet.UNet.multiscale`
  returns) and compares each with the target average-pooled to its size —
  deep supervision of the decoder. The trainer knows nothing of this: the
  task's :meth:`Reconstruction.training_loss` makes the call.

Image quality is reported as the peak signal-to-noise ratio,
``PSNR = 10 log10(range^2 / MSE)`` in dB, the figure of merit of image
restoration: +3 dB halves the squared error. ``range`` is ``data_range``
when given, otherwise max - min of the targets being evaluated (the valid
split during training, each split in the final evaluation, as
:func:`quanta.evaluate.images.reconstruction_metrics` does).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from quanta.errors import UserError
from quanta.tasks.base import Task
from quanta.tasks.evaluation import RECONSTRUCTION

SOURCES = ("pool", "model")
_ADAPTIVE_POOL = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}


class Reconstruction(Task):
    """Image-to-image regression (denoising, super-resolution): pixel MSE, optional multi-scale loss

    Targets are images ``y[N, C, *S]`` (channels first; 1 to 3 spatial axes:
    signals ``[N, C, L]``, images ``[N, C, H, W]``, volumes
    ``[N, C, D, H, W]``); the model emits outputs of the same shape (C
    output channels). An optional ``target_mask`` of the targets' shape
    leaves pixels out of loss and metrics (dead detector cells, a beam stop).

    Loss with ``scales = S``: ``sum_s w_s MSE_s / sum_s w_s`` over s = 0 ... S-1,
    where ``MSE_0`` is the pixel MSE and ``MSE_s`` compares output and target
    at ``1 / 2**s`` of the resolution (see the module docstring; with a mask,
    the coarse pixels are masked means weighted by their unmasked fraction).
    Scores are the output images; the monitored metric is ``psnr`` (dB,
    higher is better); ``mse`` is the full-resolution pixel MSE.

    Args:
        scales: number of resolutions in the loss (1: pixel MSE only).
        scale_weights: weight ``w_s`` of each scale, finest first (``scales``
            values); None weighs all scales equally.
        multiscale: where the coarse predictions come from: ``"pool"``
            (average-pool the output) or ``"model"`` (the model's
            ``multiscale(*inputs)`` method; it must return at least
            ``scales`` outputs).
        data_range: the peak-to-peak range of the pixel values in the PSNR
            (1 for images in [0, 1]); None takes max - min of the targets
            evaluated.
    """

    name = "reconstruction"
    evaluation = RECONSTRUCTION
    monitor = "psnr"
    higher_is_better = True

    def __init__(self, scales: int = 1, scale_weights: tuple[float, ...] | None = None,
                 multiscale: Literal["pool", "model"] = "pool", data_range: float | None = None) -> None:
        super().__init__()
        if isinstance(scales, bool) or not isinstance(scales, int) or scales < 1:
            raise UserError(f"task 'reconstruction': scales must be an integer >= 1, received {scales!r}")
        if scale_weights is not None:
            scale_weights = tuple(float(w) for w in scale_weights)
            if len(scale_weights) != scales:
                raise UserError(f"task 'reconstruction': scale_weights needs {scales} values (one per scale), "
                                f"received {len(scale_weights)}")
            if any(w < 0 or not math.isfinite(w) for w in scale_weights) or sum(scale_weights) <= 0:
                raise UserError("task 'reconstruction': scale_weights must be finite, >= 0 and not all 0, "
                                f"received {list(scale_weights)}")
        if multiscale not in SOURCES:
            raise UserError(f"task 'reconstruction': multiscale must be one of {', '.join(SOURCES)}, "
                            f"received {multiscale!r}")
        if data_range is not None and not (math.isfinite(data_range) and data_range > 0):
            raise UserError(f"task 'reconstruction': data_range must be a positive number, received {data_range!r}")
        self.scales = scales
        self.scale_weights = scale_weights
        self.multiscale = multiscale
        self.data_range = data_range

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        if y.dtype.kind not in "biuf":
            raise UserError(f"{where}: task 'reconstruction' needs numeric target images, received dtype {y.dtype}")
        if not 3 <= y.ndim <= 5:
            raise UserError(f"{where}: task 'reconstruction' needs target images y[N, C, *S] (channels first, "
                            f"1-3 spatial axes), received shape {y.shape}; use task 'regression' for "
                            "per-sample values")
        smallest = min(y.shape[2:])
        if self.scales > 1 and smallest < 2 ** (self.scales - 1):
            raise UserError(f"{where}: scales={self.scales} needs spatial sizes >= {2 ** (self.scales - 1)}, "
                            f"received shape {y.shape}")
        return y.astype(np.float32)

    def out_features(self, y: np.ndarray) -> int:
        return int(y.shape[1])

    # -- training --------------------------------------------------------------
    def _weights(self) -> tuple[float, ...]:
        return self.scale_weights if self.scale_weights is not None else (1.0,) * self.scales

    def _combined(self, outputs: list[torch.Tensor], target: torch.Tensor, weight: torch.Tensor | None,
                  mask: torch.Tensor | None) -> torch.Tensor:
        """Weighted mean over scales of the MSE of each output against the target pooled to its size."""
        target = target.float()
        valid = None if mask is None else _expand(mask, target).to(target.dtype)
        total = target.new_zeros(())
        for w, output in zip(self._weights(), outputs, strict=False):
            if w == 0:
                continue
            total = total + w * _scale_mse(output.float(), target, weight, valid)
        return total / sum(self._weights())

    def loss(self, output, target, weight=None, mask=None):
        """Multi-scale MSE with average-pooled outputs (the pixel MSE when ``scales == 1``)."""
        output = _matched(output, target)
        valid = None if mask is None else _expand(mask, target).to(output.dtype)
        outputs = [output if s == 0 else _masked_pool(output, valid, _coarse(target.shape[2:], s))
                   for s in range(self.scales)]
        return self._combined(outputs, target, weight, mask)

    def training_loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor],
                      inputs: tuple[str, ...]) -> torch.Tensor:
        """The batch loss; with ``multiscale="model"`` the model's coarse outputs enter it."""
        if self.scales == 1 or self.multiscale == "pool":
            return super().training_loss(model, batch, inputs)
        method = getattr(model, "multiscale", None)
        if not callable(method):
            raise UserError(f"task 'reconstruction': multiscale='model' needs a model with a multiscale(x) "
                            f"method returning outputs finest first (e.g. unet); {type(model).__name__} has "
                            "none. Use multiscale='pool'")
        outputs = list(method(*(batch[name] for name in inputs)))
        if len(outputs) < self.scales:
            raise UserError(f"task 'reconstruction': scales={self.scales} but the model's multiscale() gives "
                            f"{len(outputs)} outputs; lower scales or deepen the model")
        return self._combined(outputs[:self.scales], batch["y"], batch.get("weight"), batch.get("target_mask"))

    # -- prediction and validation ---------------------------------------------
    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """The output images, ``[N, C, *S]``."""
        return output.float()

    def metrics(self, output, target, weight=None, mask=None):
        output = _matched(output, target)
        valid = None if mask is None else _expand(mask, target).to(target.dtype)
        mse = _scale_mse(output, target.float(), weight, valid)
        if self.data_range is not None:
            peak = torch.as_tensor(self.data_range, dtype=mse.dtype, device=mse.device)
        else:
            values = target if mask is None else target[_expand(mask, target).bool()]
            peak = values.max() - values.min()
        psnr = 10 * torch.log10(peak.float().pow(2) / mse.clamp_min(torch.finfo(mse.dtype).tiny))
        return {"loss": self.loss(output, target, weight, mask).detach(), "mse": mse.detach(),
                "psnr": psnr.detach()}

    def describe(self) -> dict:
        return {**super().describe(), "scales": self.scales, "multiscale": self.multiscale}


def _matched(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The output as float with the targets' shape, or a one-line error (a model without ``upscale``)."""
    if output.numel() != target.numel():
        raise UserError(f"task 'reconstruction': the model's output {tuple(output.shape)} does not match the "
                        f"target images {tuple(target.shape)}; for super-resolution give the model an "
                        "upscale factor (unet: upscale)")
    return output.float().reshape(target.shape)


def _expand(mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A mask of the targets' shape: ``[N, C, *S]`` as is, ``[N, *S]`` broadcast over the channels."""
    if mask.shape == target.shape:
        return mask
    if mask.numel() == target.numel():
        return mask.reshape(target.shape)
    return mask.reshape(target.shape[0], 1, *target.shape[2:]).expand(target.shape)


def _coarse(size: torch.Size, s: int) -> tuple[int, ...]:
    """Spatial size at scale ``s``: the full size floored by ``2**s``."""
    return tuple(max(1, n // 2**s) for n in size)


def _pool(x: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """Average-pool ``[N, C, *S]`` to ``[N, C, *size]`` (exact 2^s x 2^s means when S divides)."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return _ADAPTIVE_POOL[x.ndim - 2](x, size)


def _masked_pool(x: torch.Tensor, valid: torch.Tensor | None, size: tuple[int, ...]) -> torch.Tensor:
    """Mean of the unmasked pixels of ``x [N, C, *S]`` in each coarse pixel of ``[N, C, *size]``."""
    if valid is None:
        return _pool(x, size)
    return _pool(x * valid, size) / _pool(valid, size).clamp_min(1e-12)


def _scale_mse(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
               valid: torch.Tensor | None) -> torch.Tensor:
    """MSE of ``output [N, C, *s]`` against ``target [N, C, *S]`` average-pooled to size ``s``.

    With a mask ``valid [N, C, *S]`` (0/1) a coarse target pixel is the mean
    of its unmasked pixels, and its squared error counts with the unmasked
    fraction (a fully masked coarse pixel does not count). A per-sample
    ``weight [N]`` weighs every pixel of its sample.
    """
    size = tuple(output.shape[2:])
    squared = (output - _masked_pool(target, valid, size)).pow(2)  # [N, C, *s]
    w = None if valid is None else _pool(valid, size)  # the unmasked fraction of each coarse pixel
    if weight is not None:
        per_sample = weight.to(squared.dtype).reshape(-1, *([1] * (squared.ndim - 1)))
        w = per_sample.expand_as(squared) if w is None else w * per_sample
    if w is None:
        return squared.mean()
    return (squared * w).sum() / w.sum().clamp_min(torch.finfo(squared.dtype).tiny)


__all__ = ["Reconstruction"]
