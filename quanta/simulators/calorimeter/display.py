"""A look at the showers: images per particle type, side views, and shower-shape distributions."""

from __future__ import annotations

import numpy as np

from quanta.data.dataset import Dataset

COLOURS = {"e": "tab:blue", "gamma": "tab:green", "pi": "tab:red"}
FEATURES_SHOWN = ("depth_mean", "width", "core_fraction", "start_layer")


def show(data: Dataset):
    """Figure of a calorimeter data set: what an electron (photon) and a pion shower look like.

    ``image2d``: per particle type the mean image and three single showers
    (log colour scale, GeV per cell, labelled with the true energy);
    ``image3d``: three side views (depth vs y, summed over x) per type;
    ``features``: the distributions of the shower depth, width, core
    fraction, start layer and response per type.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from quanta.simulators.calorimeter.generate import PARTICLE_SETS

    names = list(PARTICLE_SETS[data.info.get("particles", "e_pi")])
    particle, energy = data["particle"], data["energy"]
    view = data.info.get("view", "image2d")
    face = 24.0  # half width of the face, cm
    examples = {label: np.flatnonzero(particle == label)[:3] for label in range(len(names))}

    if view in ("image2d", "image3d"):
        images = data.x[:, 0] if view == "image2d" else data.x[:, 0].sum(axis=3)  # side view: sum over x
        norm = LogNorm(vmin=5e-3, vmax=max(float(np.percentile(images.max(axis=(1, 2)), 90)), 0.1))
        columns = 4 if view == "image2d" else 3
        fig, axes = plt.subplots(len(names), columns, figsize=(3.1 * columns + 1, 2.9 * len(names)),
                                 constrained_layout=True, squeeze=False)
        for label, name in enumerate(names):
            panels = [(images[i], f"{name}, E = {energy[i]:.1f} GeV") for i in examples[label]]
            if view == "image2d":
                chosen = particle == label
                panels.insert(0, (images[chosen].mean(0), f"{name}: mean of {chosen.sum():,}"))
            for column, ax in enumerate(axes[label]):
                if column >= len(panels):
                    ax.axis("off")
                    continue
                image, title = panels[column]
                if view == "image2d":
                    extent, xlabel = (-face, face, -face, face), "x [cm]"
                else:
                    extent, xlabel = (0, 3.0 * image.shape[1], -face, face), "depth [cm]"
                    image = image.T  # [y, layer]: depth runs to the right
                # single showers: empty cells blank (below threshold); means: every cell coloured
                image = np.where(image > 0, image, np.nan) if column or view == "image3d" else \
                    np.maximum(image, norm.vmin)
                shown = ax.imshow(image, origin="lower", extent=extent,
                                  norm=norm, cmap="viridis", aspect="auto" if view == "image3d" else "equal")
                ax.set_facecolor("#f4f4f4")
                ax.set_title(title, fontsize=10, color=COLOURS.get(name, "black"))
                ax.set_xlabel(xlabel)
                if column == 0:
                    ax.set_ylabel("y [cm]")
        fig.colorbar(shown, ax=axes, label="signal per cell [GeV]", shrink=0.8)
        what = "summed over depth" if view == "image2d" else "side views, summed over x"
        fig.suptitle(f"calorimeter ({view}: {what}), {len(data):,} showers, "
                     f"{data.info.get('energy_min')}-{data.info.get('energy_max')} GeV")
        return fig

    columns = data.feature_names or []
    picks = [n for n in FEATURES_SHOWN if n in columns]
    fig, axes = plt.subplots(1, len(picks) + 1, figsize=(3.3 * (len(picks) + 1), 3.3), constrained_layout=True)
    units = {"depth_mean": " [layers]", "width": " [cm]", "start_layer": " [layer]"}
    for ax, name in zip(axes, picks, strict=False):
        values = data.x[:, columns.index(name)]
        bins = np.linspace(*np.percentile(values, [0.5, 99.5]), 40) if name != "start_layer" \
            else np.arange(data.info.get("layers", 30) + 2) - 0.5
        for label, particle_name in enumerate(names):
            ax.hist(values[particle == label], bins=bins, histtype="step", lw=1.8, density=True,
                    color=COLOURS.get(particle_name), label=particle_name)
        ax.set_xlabel(name + units.get(name, ""))
        ax.set_ylabel("normalised")
    response = data.x[:, columns.index("total_energy")] / energy
    for label, particle_name in enumerate(names):
        axes[-1].hist(response[particle == label], bins=np.linspace(0, 1.6, 49), histtype="step", lw=1.8,
                      density=True, color=COLOURS.get(particle_name), label=particle_name)
    axes[-1].set_xlabel("total_energy / true energy")
    axes[-1].legend(frameon=False)
    fig.suptitle(f"calorimeter (features view), {len(data):,} showers, "
                 f"{data.info.get('energy_min')}-{data.info.get('energy_max')} GeV")
    return fig
