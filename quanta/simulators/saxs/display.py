"""A look at the saxs data: curves per shape, or detector image pairs."""

from __future__ import annotations

import numpy as np

from quanta.data.dataset import Dataset

CURVES_PER_PANEL = 3


def _examples(data: Dataset, per_shape: int) -> list[tuple[str, np.ndarray]]:
    """(shape name, row indices) for every shape present, at most ``per_shape`` rows each.

    The rows spread over the size range (smallest, median, largest radius);
    one row is the median-size sample.
    """
    names = data.info.get("shapes") or data.classes or []
    shape = data["shape"]
    found = []
    for index, name in enumerate(names):
        rows = np.flatnonzero(shape == index)
        if len(rows):
            radius = data["radius"][rows]
            order = rows[np.argsort(radius)]
            if per_shape == 1:
                found.append((name, order[len(order) // 2:][:1]))
            else:
                found.append((name, order[np.linspace(0, len(order) - 1, min(per_shape, len(order))).astype(int)]))
    return found


def show(data: Dataset):
    """Figure of a saxs data set, one panel per shape (curve view) or per example (saxs2d view).

    ``curve``: measured I(q) with its Poisson band (points) over the noise-free
    curve (line), for a small, a medium and a large particle of each shape.
    ``saxs2d``: for one sample per shape, the binned noisy input image above
    the fine noise-free target, in the detector's (q_x, q_y) plane.
    """
    import matplotlib.pyplot as plt

    view = data.info.get("view", "curve")
    examples = _examples(data, CURVES_PER_PANEL if view == "curve" else 1)
    if view == "curve":
        columns = min(3, len(examples))
        rows = -(-len(examples) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows), constrained_layout=True,
                                 squeeze=False, sharex=True, sharey=True)
        colours = ["tab:blue", "tab:orange", "tab:green"]
        for ax, (name, picks) in zip(axes.flat, examples, strict=False):
            for colour, i in zip(colours, picks, strict=False):
                q, measured, sigma = data["q"][i], data["intensity"][i], data["sigma"][i]
                ax.plot(q, data["intensity_true"][i], color=colour, lw=1.2, label=f"R = {data['radius'][i]:.0f} Å")
                ax.fill_between(q, np.maximum(measured - sigma, 1e-7), measured + sigma, color=colour, alpha=0.25,
                                lw=0)
                ax.plot(q, np.maximum(measured, 1e-7), ".", color=colour, ms=2)
            ax.set(xscale="log", yscale="log", title=name)
            ax.legend(frameon=False, fontsize=8, loc="best")
        for ax in axes[-1]:
            ax.set_xlabel("q [1/Å]")
        for ax in axes[:, 0]:
            ax.set_ylabel("I(q) [1/cm]")
        for ax in list(axes.flat)[len(examples):]:
            ax.set_visible(False)
    else:
        q_max = float(data.info.get("image_q_max", 0.25))
        extent = (-q_max, q_max, -q_max, q_max)
        columns = len(examples)
        fig, axes = plt.subplots(2, columns, figsize=(max(2.9 * columns, 5.5), 6.6), constrained_layout=True,
                                 squeeze=False)
        for column, (name, rows) in enumerate(examples):
            i = int(rows[0])
            # one colour scale per sample (input and target alike), from the target's range
            low, high = float(data["target_image"][i].min()), float(data["target_image"][i].max())
            pairs = [(data.x[i, 0], f"{name}, R = {data['radius'][i]:.0f} Å\ninput {data.x.shape[-1]}^2, counts"),
                     (data["target_image"][i, 0], f"target {data['target_image'].shape[-1]}^2, noise-free")]
            for row, (image, title) in enumerate(pairs):
                shown = axes[row, column].imshow(image, origin="lower", extent=extent, cmap="magma", vmin=low,
                                                 vmax=high, interpolation="nearest")
                axes[row, column].set_title(title, fontsize=9)
                axes[row, column].tick_params(labelsize=7)
            axes[1, column].set_xlabel("q_x [1/Å]", fontsize=8)
            fig.colorbar(shown, ax=axes[:, column], location="bottom", shrink=0.9, pad=0.02,
                         label="log10 I [1/cm]")
        for row in range(2):
            axes[row, 0].set_ylabel("q_y [1/Å]", fontsize=8)
    info = data.info
    fig.suptitle(f"saxs ({view} view), {len(data):,} samples\npolydispersity {info.get('polydispersity')}, "
                 f"dq/q {info.get('dq_over_q')}, flux {info.get('flux'):g} counts per 1/cm", fontsize=10)
    return fig
