"""Segmentation task: label checks, the per-pixel loss with masks and class weights, accuracy and mean IoU
on the device and in evaluation, and a U-Net telling disks from squares pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import quanta
from quanta.data.dataset import Dataset
from quanta.errors import UserError
from quanta.evaluate.images import confusion_counts, iou_per_class, segmentation_metrics
from quanta.tasks import TASKS
from quanta.tasks.segmentation import confusion, mean_iou

pytestmark = pytest.mark.usefixtures("one_thread")


def test_labels_and_parameters():
    task = TASKS.create("segmentation")
    y = task.check_targets(np.array([[[0, 1], [2, 2]], [[0, 0], [1, 0.0]]]), "y")
    assert y.dtype == np.int64 and task.out_features(y) == 3
    assert TASKS.create("segmentation", classes=5).out_features(y) == 5
    assert task.monitor == "mean_iou" and task.higher_is_better
    with pytest.raises(UserError, match="label maps"):
        task.check_targets(np.array([0, 1, 1]), "y")
    with pytest.raises(UserError, match="0..K-1"):
        task.check_targets(-np.ones((2, 3, 3)), "y")
    with pytest.raises(UserError, match="whole numbers"):
        task.check_targets(np.full((2, 3, 3), 0.5), "y")
    with pytest.raises(UserError, match="at least two classes"):
        task.check_targets(np.zeros((2, 3, 3)), "y")
    with pytest.raises(UserError, match="labels reach 2"):
        TASKS.create("segmentation", classes=2).check_targets(y, "y")
    with pytest.raises(UserError, match="class_weights needs 3"):
        TASKS.create("segmentation", classes=3, class_weights=[1.0, 2.0])


def test_loss_masks_and_class_weights():
    torch.manual_seed(0)
    logits, target = torch.randn(4, 3, 5, 6), torch.randint(0, 3, (4, 5, 6))
    task = TASKS.create("segmentation")
    assert task.loss(logits, target).item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-6)
    weights = (0.2, 1.0, 3.0)
    weighted = TASKS.create("segmentation", class_weights=weights)
    expected = F.cross_entropy(logits, target, weight=torch.tensor(weights))  # sum(w l) / sum(w)
    assert weighted.loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)
    mask = torch.rand(4, 5, 6) > 0.4
    garbage = torch.where(mask[:, None], logits, torch.full_like(logits, 50.0))
    for t in (task, weighted):
        assert t.loss(garbage, target, mask=mask).item() == pytest.approx(
            t.loss(logits, target, mask=mask).item(), rel=1e-5)
        masked, clean = t.metrics(garbage, target, mask=mask), t.metrics(logits, target, mask=mask)
        assert {k: v.item() for k, v in masked.items()} == pytest.approx({k: v.item() for k, v in clean.items()})
    per_pixel = F.cross_entropy(logits, target, reduction="none")
    assert task.loss(logits, target, mask=mask).item() == pytest.approx(per_pixel[mask].mean().item(), rel=1e-5)


def test_scores_put_the_class_axis_last():
    logits = torch.randn(2, 4, 3, 5)
    scores = TASKS.create("segmentation").scores(logits)
    assert scores.shape == (2, 3, 5, 4)
    assert torch.allclose(scores.sum(-1), torch.ones(2, 3, 5))
    assert torch.equal(scores.argmax(-1), logits.argmax(1))


def test_mean_iou_by_hand():
    # truth:     0 0 1 1     prediction: 0 1 1 1
    target = torch.tensor([[0, 0, 1, 1]])
    predicted = torch.tensor([[0, 1, 1, 1]])
    matrix = confusion(predicted, target, 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    # class 0: TP 1, union 2; class 1: TP 2, union 3; class 2 absent: left out
    assert mean_iou(matrix).item() == pytest.approx((1 / 2 + 2 / 3) / 2)
    logits = F.one_hot(predicted, 3).permute(0, 2, 1).float() * 5  # [1, 3, 4]
    metrics = TASKS.create("segmentation").metrics(logits, target)
    assert metrics["accuracy"].item() == pytest.approx(0.75)
    assert metrics["mean_iou"].item() == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_evaluation_matches_the_device_in_every_saved_layout():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 3, size=(6, 4, 5))
    logits = rng.normal(size=(6, 3, 4, 5)) + 2 * np.moveaxis(np.eye(3)[target], -1, 1)
    weight = rng.uniform(0.5, 2, size=6)
    task = TASKS.create("segmentation")
    t = torch.from_numpy
    device = task.metrics(t(logits), t(target), t(weight))
    scores = task.scores(t(logits)).numpy()  # [6, 4, 5, 3]
    # as quanta.tasks.evaluation.per_element gives them: one row per image, or one row per unmasked pixel
    flat = segmentation_metrics(target.reshape(6, -1), scores.reshape(6, -1), weight)
    nested = segmentation_metrics(target.reshape(6, -1), scores.reshape(6, 20, 3), weight)
    keep = np.ones((6, 4, 5), dtype=bool)
    pixels = segmentation_metrics(target[keep], scores[keep], np.broadcast_to(weight[:, None, None], keep.shape)[keep])
    for metrics in (flat, nested, pixels):
        assert metrics["accuracy"] == pytest.approx(device["accuracy"].item(), rel=1e-5)
        assert metrics["mean_iou"] == pytest.approx(device["mean_iou"].item(), rel=1e-5)
    assert np.nanmean(iou_per_class(target.reshape(6, -1), scores.reshape(6, -1), weight)) == pytest.approx(
        flat["mean_iou"])
    assert confusion_counts(target.reshape(6, -1), scores.reshape(6, -1)).sum() == target.size
    with pytest.raises(UserError, match="class probabilities per pixel"):
        segmentation_metrics(target.reshape(6, -1), scores.reshape(6, -1)[:, :7])


def disks_and_squares(n: int, size: int = 16, seed: int = 0, noise: float = 0.25) -> Dataset:
    """Noisy images of two bright objects each, disks (class 1) or squares (class 2) of equal area.

    Both classes are equally bright, so only the shape, seen over several pixels, tells them apart:
    a pixel-wise threshold finds the objects (foreground) but cannot name them. The outermost pixel
    ring is masked (``target_mask`` False) and carries random labels, which must not matter.
    """
    rng = np.random.default_rng(seed)
    centre = rng.uniform(3, size - 3, size=(n, 2, 2, 1, 1))  # [N, object, (y, x), 1, 1]
    radius = rng.uniform(2.5, 4.0, size=(n, 2, 1, 1))
    kind = rng.integers(1, 3, size=(n, 2, 1, 1))
    row, column = np.mgrid[:size, :size] + 0.5
    dy, dx = row - centre[:, :, 0], column - centre[:, :, 1]  # [N, 2, H, W]
    half = radius * np.sqrt(np.pi) / 2  # the square with the disk's area
    inside = np.where(kind == 1, dy**2 + dx**2 <= radius**2, (np.abs(dy) <= half) & (np.abs(dx) <= half))
    labels = np.where(inside[:, 1], kind[:, 1], np.where(inside[:, 0], kind[:, 0], 0))  # the second on top
    images = (labels > 0) + noise * rng.normal(size=labels.shape)
    mask = np.zeros((n, size, size), dtype=bool)
    mask[:, 1:-1, 1:-1] = True
    labels = np.where(mask, labels, rng.integers(0, 3, size=labels.shape))
    return Dataset({"x": images[:, None].astype(np.float32), "y": labels.astype(np.int64), "target_mask": mask},
                   name="disks and squares")


def test_unet_segments_disks_and_squares(tmp_path):
    """1000 images 16x16 (700 for training, noise 0.25), U-Net width 8, depth 2, 10 epochs.

    Measured: test mean IoU 0.88 (background 0.995, disks 0.83, squares 0.81), accuracy 0.97, ~3 s of
    training on one busy core. A threshold on the pixel value finds the objects but cannot name them.
    """
    data = disks_and_squares(1000)
    run = quanta.fit("unet", data, task="segmentation", params={"width": 8, "depth": 2}, epochs=10,
                     batch_size=32, lr=1e-2, schedule="cosine", patience=0, out=tmp_path, verbose=False)
    test = run.metrics["test"]
    assert test["mean_iou"] > 0.8, test
    assert min(test["iou_1"], test["iou_2"]) > 0.7, test
    assert run.history[-1]["valid_mean_iou"] == pytest.approx(test["mean_iou"], abs=0.05)
    assert run.predict(data.x[:2]).shape == (2, 16, 16, 3)


@pytest.mark.slow
def test_unet_segments_noisier_disks_and_squares(tmp_path):
    """3000 noisier images (noise 0.4), a wider and deeper U-Net, 20 epochs.

    Measured: test mean IoU 0.84 (disks 0.75, squares 0.77), accuracy 0.95; ~1 minute.
    """
    data = disks_and_squares(3000, noise=0.4, seed=1)
    run = quanta.fit("unet", data, task="segmentation", params={"width": 16, "depth": 3}, epochs=20,
                     batch_size=32, lr=3e-3, schedule="cosine", patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["mean_iou"] > 0.78, run.metrics["test"]
