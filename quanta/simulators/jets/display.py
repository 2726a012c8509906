"""A look at the jets: average images, a few single jets, and key observables."""

from __future__ import annotations

import numpy as np

from quanta.data.dataset import Dataset


def show(data: Dataset):
    """Figure of a jets data set: per view, what a top and a QCD jet look like.

    ``features``: the jet mass and tau32 distributions per class; ``image``:
    the mean image per class and two single jets of each; ``constituents``:
    the constituents of one jet per class in the (delta-eta, delta-phi) plane,
    marker area proportional to pT; ``tree``: the same, with the kt clustering
    tree drawn as lines from each node to the node it merges into.
    """
    import matplotlib.pyplot as plt

    y = data.y
    classes = data.classes or ["qcd", "top"]
    colours = {0: "tab:blue", 1: "tab:red"}
    view = data.info.get("view", "features")
    if view == "image":
        fig, axes = plt.subplots(2, 3, figsize=(10, 6.6), constrained_layout=True)
        for label in (0, 1):
            images = data.x[y == label, 0]
            panels = [(images.mean(0), f"{classes[label]}: mean of {len(images):,} jets")]
            panels += [(images[i], f"{classes[label]}: jet {i}") for i in range(min(2, len(images)))]
            for column, (ax, (image, title)) in enumerate(zip(axes[label], panels, strict=False)):
                shown = ax.imshow(np.log10(image + 1e-5), origin="lower", extent=(-0.8, 0.8, -0.8, 0.8),
                                  cmap="viridis", vmin=-5, vmax=0)
                ax.set_title(title, fontsize=10)
                ax.set_xlabel("eta' (rotated)")
                if column == 0:
                    ax.set_ylabel("phi' (rotated)")
        fig.colorbar(shown, ax=axes, label="log10 pT fraction per pixel", shrink=0.8)
    elif view == "constituents":
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), constrained_layout=True)
        names = data.feature_names or []
        log_pt = names.index("log_pt") if "log_pt" in names else 2
        for ax, label in zip(axes, (0, 1), strict=True):
            index = int(np.flatnonzero(y == label)[0])
            mask = data["mask"][index]
            particles = data.x[index][mask]
            pt = np.exp(particles[:, log_pt])
            ax.scatter(particles[:, 0], particles[:, 1], s=300 * pt / pt.max(), c=colours[label], alpha=0.6)
            ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="delta eta", ylabel="delta phi",
                   title=f"one {classes[label]} jet: {mask.sum()} constituents (area ~ pT)")
            ax.add_patch(plt.Circle((0, 0), 0.8, fill=False, ls="--", color="grey"))
            ax.set_aspect("equal")
    elif view == "tree":
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), constrained_layout=True)
        for ax, label in zip(axes, (0, 1), strict=True):
            index = int(np.flatnonzero(y == label)[0])
            mask, x, children = data["mask"][index], data.x[index], data["children"][index]
            for node in np.flatnonzero(mask & (children[:, 0] >= 0)):  # a line from each child to its parent
                for child in children[node]:
                    ax.plot(x[[child, node], 0], x[[child, node], 1], color="grey", lw=0.8, zorder=1)
            leaves = mask & (children[:, 0] < 0)
            pt = np.exp(x[leaves, 2])
            ax.scatter(x[leaves, 0], x[leaves, 1], s=300 * pt / pt.max(), c=colours[label], alpha=0.6, zorder=2)
            ax.set(xlim=(-1, 1), ylim=(-1, 1), xlabel="delta eta", ylabel="delta phi",
                   title=f"one {classes[label]} jet: kt tree of {leaves.sum()} constituents")
            ax.set_aspect("equal")
    else:
        names = data.feature_names or []
        picks = [n for n in ("jet_mass", "tau32", "tau21", "d2") if n in names]
        fig, axes = plt.subplots(1, len(picks), figsize=(3.6 * len(picks), 3.4), constrained_layout=True)
        for ax, name in zip(np.atleast_1d(axes), picks, strict=True):
            column = data.x[:, names.index(name)]
            bins = np.linspace(*np.percentile(column, [0.5, 99.5]), 40)
            for label in (0, 1):
                ax.hist(column[y == label], bins=bins, histtype="step", lw=1.8, density=True,
                        color=colours[label], label=classes[label])
            ax.set_xlabel(name + (" [GeV]" if name == "jet_mass" else ""))
            ax.set_ylabel("normalised")
            ax.legend(frameon=False)
    fig.suptitle(f"jets ({view} view), {len(data):,} jets, pT {data.info.get('pt_min')}-{data.info.get('pt_max')} GeV")
    return fig
