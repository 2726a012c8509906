"""The handwritten digits bundled with scikit-learn: the real images behind the lectures' LeNet example."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.registry import checked

N_DIGITS = 1797
GREY_LEVELS = 16.0  # the bundled images count 0 ... 16 dark pixels of the original 32x32 bitmap per 4x4 block


@checked
def digits(
    view: Literal["image", "flat"] = "image",
    size: Annotated[int | None, Field(ge=2, le=N_DIGITS, description=f"None (all {N_DIGITS}) or an integer in "
                                      f"[2, {N_DIGITS}]")] = None,
    seed: Annotated[int, Field(description="an integer")] = 1,
    resolution: Literal[8, 32] = 8,
) -> Dataset:
    """Handwritten digits, 8x8 (scikit-learn's bundled set), optionally upsampled to 32x32 for LeNet-5

    The UCI "Optical Recognition of Handwritten Digits" test set as shipped
    inside scikit-learn (``sklearn.datasets.load_digits``; nothing is
    downloaded): 1797 digits written by 13 people, scanned as 32x32 bitmaps
    and reduced to 8x8 images by counting the dark pixels in each 4x4 block
    (grey levels 0-16). It is a small, real stand-in for MNIST, on which
    LeCun et al. introduced LeNet-5: convolutional networks reach ~99 %
    accuracy, boosted trees and MLPs on the 64 pixels ~95-97 %.

    Classes: ``y`` int64 in 0 ... 9, the digit; about 180 of each.

    Views (pixel values scaled to [0, 1], 1 = ink; ``x`` float32):
        ``image`` - ``x[N, 1, R, R]``, R = ``resolution``; row 0 is the top.
        ``flat``  - ``x[N, R * R]``, the same pixels row by row (64 or 1024
            columns named ``pixel_<row>_<column>``), for trees and MLPs.
    With ``resolution=32`` each image is upsampled 4x by bilinear
    interpolation (``scipy.ndimage.zoom`` with ``order=1``, ``grid_mode=True``:
    pixel areas, not centres, are aligned, as torch's ``interpolate(...,
    mode="bilinear", align_corners=False)`` does), giving LeNet-5's 32x32
    input size. Upsampling adds no information; it lets the original
    architecture run unchanged.

    Extra array: ``index`` int64[N], the row in scikit-learn's set.

    Args:
        view: which representation ``x`` holds (see Views).
        size: number of digits; None takes all 1797, otherwise a random
            subset (2 ... 1797) drawn with ``seed``.
        seed: seeds the row order (rows are always shuffled; a smaller
            ``size`` takes the first rows of the same order).
        resolution: 8 (the stored images) or 32 (bilinear upsampling).

    Loading takes a few milliseconds from the copy inside the scikit-learn
    wheel, so nothing is cached.

    References:
        E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits",
        UCI Machine Learning Repository (1998), doi:10.24432/C50P49.
        Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based learning
        applied to document recognition", Proc. IEEE 86 (1998) 2278 (LeNet-5).
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    bundled = load_digits()
    order = np.random.default_rng(seed).permutation(N_DIGITS)[: size or N_DIGITS]
    images = bundled.images[order].astype(np.float32) / GREY_LEVELS  # [N, 8, 8] in [0, 1]
    if resolution == 32:
        images = zoom(images, (1, 4, 4), order=1, mode="nearest", grid_mode=True)  # [N, 32, 32]
        images = np.clip(images, 0.0, 1.0).astype(np.float32)
    n = len(order)
    if view == "image":
        x, names = images[:, None], None  # [N, 1, R, R]
    else:
        x = images.reshape(n, resolution * resolution)  # [N, R * R], row by row
        names = [f"pixel_{row}_{column}" for row in range(resolution) for column in range(resolution)]
    info: dict[str, Any] = {"view": view, "size": size, "seed": seed, "resolution": resolution}
    return Dataset(arrays={"x": np.ascontiguousarray(x), "y": bundled.target[order].astype(np.int64),
                           "index": order.astype(np.int64)},
                   name="digits", feature_names=names, classes=[str(d) for d in range(10)], info=info)


def show(data: Dataset):
    """Figure of a digits data set: the first 24 digits with their labels."""
    import matplotlib.pyplot as plt

    resolution = int(data.info.get("resolution", 8))
    images = data.x.reshape(len(data), resolution, resolution)
    count = min(24, len(data))
    rows = (count + 7) // 8
    fig, axes = plt.subplots(rows, 8, figsize=(8 * 1.25, rows * 1.45), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:count]):
        ax.axis("on")  # a light frame shows where each image ends
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set(xticks=[], yticks=[])
        for spine in ax.spines.values():
            spine.set_color("0.75")
        ax.set_title(f"y = {data.y[i]}", fontsize=10)
    fig.suptitle(f"digits ({resolution}x{resolution}, {data.info.get('view', 'image')} view), "
                 f"{len(data):,} images", fontsize=11)
    fig.tight_layout()
    return fig
