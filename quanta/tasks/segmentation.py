"""Semantic segmentation: a class label for every pixel of an image.

Which pixels of a calorimeter image belong to the electron's shower and
which to the pion's, which detector cells are noise, where the cell nuclei
of a micrograph are: the answer is a label map of the image's size. A
fully convolutional network (a U-Net) emits K logits per pixel, class axis
first as convolutions produce them, ``[N, K, *S]``; the loss is the
cross-entropy at every pixel, averaged.

The metrics are the pixel accuracy and the *mean intersection over union*
(mean IoU, the Jaccard index averaged over classes): for class k,
``IoU_k = TP_k / (TP_k + FP_k + FN_k)`` counted over all pixels evaluated.
Accuracy is dominated by the background class when the objects are small
(predicting "background" everywhere scores 95 % on a 5 %-foreground image);
mean IoU weighs each class equally and is the figure of merit of the field
(PASCAL VOC, Cityscapes).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from quanta.errors import UserError
from quanta.tasks.base import Task, reduce, require_integer_labels
from quanta.tasks.evaluation import SEGMENTATION


class Segmentation(Task):
    """Per-pixel classification of images: cross-entropy over K classes at every pixel

    Targets are label maps ``y[N, *S]`` (integers 0 ... K-1; S: 1 to 3
    spatial axes); the model emits logits ``[N, K, *S]``. An optional
    ``target_mask`` (bool, the shape of ``y``) leaves pixels out of loss and
    metrics (unlabelled or padded regions). The scores are the class
    probabilities with the class axis *last*, ``[N, *S, K]``, the layout of
    :class:`~quanta.tasks.multiclass.Multiclass` per-element scores, so that
    evaluation reads one row of K probabilities per pixel. The monitored
    metric is ``mean_iou``; ``accuracy`` is also reported.

    Args:
        classes: the number of classes K; None takes ``max(y) + 1`` of the
            training targets (set it when a class may be missing there).
        class_weights: a weight per class in the loss (K values; rare
            classes up-weighted against a dominant background); None weighs
            all equally. The loss is then the weighted mean over pixels.
    """

    name = "segmentation"
    evaluation = SEGMENTATION
    monitor = "mean_iou"
    higher_is_better = True

    def __init__(self, classes: int | None = None, class_weights: tuple[float, ...] | None = None) -> None:
        super().__init__()
        if classes is not None and (isinstance(classes, bool) or not isinstance(classes, int) or classes < 2):
            raise UserError(f"task 'segmentation': classes must be an integer >= 2, received {classes!r}")
        if class_weights is not None:
            class_weights = tuple(float(w) for w in class_weights)
            if classes is not None and len(class_weights) != classes:
                raise UserError(f"task 'segmentation': class_weights needs {classes} values (one per class), "
                                f"received {len(class_weights)}")
            if any(w < 0 or not math.isfinite(w) for w in class_weights) or sum(class_weights) <= 0:
                raise UserError("task 'segmentation': class_weights must be finite, >= 0 and not all 0, "
                                f"received {list(class_weights)}")
        self.classes = classes
        self.class_weights = class_weights

    # -- data ------------------------------------------------------------------
    def check_targets(self, y: np.ndarray, where: str) -> np.ndarray:
        labels = require_integer_labels(y, where, "a class index 0..K-1 per pixel")
        if not 2 <= labels.ndim <= 4:
            raise UserError(f"{where}: task 'segmentation' needs label maps y[N, *S] (1-3 spatial axes), "
                            f"received shape {y.shape}; use task 'multiclass' for one label per sample")
        if labels.min() < 0:
            raise UserError(f"{where}: class labels must be 0..K-1, received {int(labels.min())}")
        top = int(labels.max())
        if self.classes is not None and top >= self.classes:
            raise UserError(f"{where}: classes={self.classes} but the labels reach {top}")
        if self.class_weights is not None and top >= len(self.class_weights):
            raise UserError(f"{where}: class_weights has {len(self.class_weights)} values but the labels "
                            f"reach {top}")
        if self.classes is None and top < 1:
            raise UserError(f"{where}: task 'segmentation' needs at least two classes, received only label 0")
        return labels

    def out_features(self, y: np.ndarray) -> int:
        if self.classes is not None:
            return self.classes
        if self.class_weights is not None:
            return len(self.class_weights)
        return int(y.max()) + 1

    # -- training --------------------------------------------------------------
    def loss(self, output, target, weight=None, mask=None):
        logits = output.float()  # [N, K, *S]
        if weight is None and mask is None and self.class_weights is None:
            return F.cross_entropy(logits, target)  # one fused kernel in the hot loop
        per_pixel = F.cross_entropy(logits, target, reduction="none")  # [N, *S]
        if self.class_weights is None:
            return reduce(per_pixel, weight, mask)
        w = torch.as_tensor(self.class_weights, device=logits.device, dtype=logits.dtype)[target]  # [N, *S]
        if weight is not None:
            w = w * weight.to(w.dtype).reshape(-1, *([1] * (w.ndim - 1)))
        if mask is not None:
            w = w * mask.reshape(target.shape).to(w.dtype)
        return (per_pixel * w).sum() / w.sum().clamp_min(torch.finfo(w.dtype).tiny)

    # -- prediction and validation ---------------------------------------------
    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """Class probabilities, class axis last: ``[N, K, *S] -> [N, *S, K]``."""
        return torch.softmax(output.float(), dim=1).movedim(1, -1)

    def metrics(self, output, target, weight=None, mask=None):
        classes = output.shape[1]
        predicted = output.argmax(dim=1)  # [N, *S]
        correct = (predicted == target).float()
        matrix = confusion(predicted, target, classes, weight, mask)
        return {"loss": self.loss(output, target, weight, mask).detach(),
                "accuracy": reduce(correct, weight, mask),
                "mean_iou": mean_iou(matrix)}

    def describe(self) -> dict:
        return {**super().describe(), "classes": self.classes}


def confusion(predicted: torch.Tensor, target: torch.Tensor, classes: int, weight: torch.Tensor | None = None,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted confusion matrix on the device: entry ``[true, predicted]``.

    Shapes: predicted [N, *S], target [N, *S] (labels 0..K-1), weight [N] or
    None, mask [N, *S] or None -> [K, K].
    """
    w = torch.ones(target.shape, device=target.device)
    if weight is not None:
        w = w * weight.float().reshape(-1, *([1] * (target.ndim - 1)))
    if mask is not None:
        w = w * mask.reshape(target.shape).float()
    index = (target * classes + predicted).reshape(-1)  # [N * prod(S)]
    counts = torch.bincount(index, weights=w.reshape(-1), minlength=classes * classes)
    return counts.reshape(classes, classes)


def mean_iou(matrix: torch.Tensor) -> torch.Tensor:
    """Mean over classes of TP / (TP + FP + FN), from a ``[K, K]`` confusion matrix.

    Classes absent from both truth and prediction (union 0) are left out of
    the mean.
    """
    tp = matrix.diagonal()
    union = matrix.sum(0) + matrix.sum(1) - tp  # TP + FP + FN
    present = union > 0
    iou = tp / union.clamp_min(torch.finfo(matrix.dtype).tiny)
    return (iou * present).sum() / present.sum().clamp_min(1)


__all__ = ["Segmentation", "confusion", "mean_iou"]
