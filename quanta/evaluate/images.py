"""Metrics of image-to-image tasks: reconstruction quality (MSE, PSNR) and segmentation (accuracy, mean IoU).

They read predictions as an experiment saves them (``quanta.tasks.evaluation.per_element``):

- reconstruction: ``y`` and ``prediction`` float[N, P], one row of P pixel
  values per image (``[N, C, H, W]`` flattened), or float[M] for the
  unmasked pixels of masked images;
- segmentation: ``y`` int[N, P] (P pixels per image) or int[M] (unmasked
  pixels), with ``score`` holding K class probabilities per pixel, class
  last: float[N, P * K], float[N, P, K] or float[M, K].

PSNR (peak signal-to-noise ratio) is ``10 log10(range^2 / MSE)`` in dB with
the MSE over all pixels; ``range`` is ``data_range`` or, by default, max - min
of the true pixel values, as the reconstruction task computes it during
training. Mean IoU averages, over the classes present in truth or
prediction, the intersection over union ``TP / (TP + FP + FN)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from quanta.errors import UserError
from quanta.evaluate._inputs import as_finite, as_weight, same_length


def _pixels(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None) -> tuple[np.ndarray, np.ndarray,
                                                                                      np.ndarray]:
    """``(y, prediction, weight)`` as float[N, P], float[N, P], float[N] (a 1-D input is N pixels, P = 1)."""
    t = as_finite("y", y, ndim=(1, 2, 3, 4, 5))
    p = as_finite("prediction", prediction, ndim=(1, 2, 3, 4, 5))
    n = same_length(y=t, prediction=p)
    t, p = t.reshape(n, -1), p.reshape(n, -1)
    if t.shape != p.shape:
        raise UserError(f"prediction: expected one value per pixel like y {t.shape}, received {p.shape}")
    w = as_weight(weight, n)
    if np.sum(w) <= 0:
        raise UserError("weight: the weights must have a positive sum")
    return t, p, w


def mse(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Mean squared error over all pixels, each image weighted by its sample weight."""
    t, p, w = _pixels(y, prediction, weight)
    return float(np.sum(w[:, None] * (p - t) ** 2) / (np.sum(w) * t.shape[1]))


def psnr(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None,
         data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(range^2 / MSE)``; ``inf`` for a perfect prediction."""
    t = as_finite("y", y, ndim=(1, 2, 3, 4, 5))
    peak = float(np.ptp(t)) if data_range is None else float(data_range)
    if peak <= 0:
        raise UserError("y: constant true values give no PSNR range; pass data_range")
    error = mse(y, prediction, weight)
    return float("inf") if error == 0 else float(10 * np.log10(peak**2 / error))


def reconstruction_metrics(y: ArrayLike, prediction: ArrayLike, weight: ArrayLike | None = None,
                           data_range: float | None = None) -> dict[str, float]:
    """``{"mse", "rmse", "psnr"}`` of reconstructed images against the true ones.

    A perfect reconstruction has no finite PSNR: ``psnr`` is then left out (metrics are finite).
    """
    error = mse(y, prediction, weight)
    metrics = {"mse": error, "rmse": float(np.sqrt(error))}
    if error > 0:
        metrics["psnr"] = psnr(y, prediction, weight, data_range)
    return metrics


def _labelled_pixels(y: ArrayLike, score: ArrayLike,
                     weight: ArrayLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels, probabilities, weight)`` per pixel: int[M], float[M, K], float[M]."""
    labels = np.asarray(y)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise UserError("y: segmentation labels must be whole numbers (class indices 0..K-1)")
    elif labels.dtype.kind not in "biu":
        raise UserError(f"y: segmentation labels must be integers, received dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    probabilities = as_finite("score", score, ndim=(1, 2, 3, 4, 5))
    n = same_length(y=labels, score=probabilities)
    pixels = labels.size
    classes, rest = divmod(probabilities.size, pixels)
    if rest or classes < 2:
        raise UserError(f"score: expected K >= 2 class probabilities per pixel of y {labels.shape}, "
                        f"received shape {probabilities.shape}")
    if labels.min() < 0 or labels.max() >= classes:
        raise UserError(f"y: class labels must be 0..{classes - 1}, received {labels.min()}..{labels.max()}")
    w = as_weight(weight, n)
    per_pixel = np.repeat(w, pixels // n)  # each sample's weight on each of its pixels
    return labels.reshape(-1), probabilities.reshape(pixels, classes), per_pixel


def confusion_counts(y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None) -> np.ndarray:
    """Weighted confusion matrix of pixels, float[K, K], entry ``[true, predicted]``."""
    labels, probabilities, w = _labelled_pixels(y, score, weight)
    classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    return np.bincount(labels * classes + predicted, weights=w, minlength=classes**2).reshape(classes, classes)


def _iou(matrix: np.ndarray) -> np.ndarray:
    tp = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - tp  # TP + FP + FN
    return np.where(union > 0, tp / np.where(union > 0, union, 1), np.nan)


def iou_per_class(y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None) -> np.ndarray:
    """Intersection over union per class, float[K]; NaN for a class absent from truth and prediction."""
    return _iou(confusion_counts(y, score, weight))


def segmentation_metrics(y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None) -> dict[str, float]:
    """``{"accuracy", "mean_iou", "iou_0", ..., "iou_<K-1>"}`` over all pixels.

    A class absent from truth and prediction has no IoU: its ``iou_<k>`` is left
    out, and ``mean_iou`` averages the classes that have one (metrics are finite).
    """
    matrix = confusion_counts(y, score, weight)
    iou = _iou(matrix)
    metrics = {"accuracy": float(np.trace(matrix) / matrix.sum())}
    if np.isfinite(iou).any():
        metrics["mean_iou"] = float(np.nanmean(iou))
    metrics.update({f"iou_{k}": float(value) for k, value in enumerate(iou) if np.isfinite(value)})
    return metrics


__all__ = ["confusion_counts", "iou_per_class", "mse", "psnr", "reconstruction_metrics", "segmentation_metrics"]
