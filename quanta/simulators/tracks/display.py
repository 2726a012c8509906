"""A look at the tracks: event displays, edge-feature distributions, curvature of single tracks."""

from __future__ import annotations

import numpy as np

from quanta.data.dataset import Dataset


def show(data: Dataset):
    """Figure of a tracks data set, by view.

    ``hits`` and ``graph``: one event in the transverse plane (x, y) and in
    (z, r), hits coloured by particle, noise in grey; the graph view also
    draws the candidate edges (true ones in the particle's colour, fake ones
    thin black). ``edges``: the distributions of the azimuthal slope, the
    beam-line intercept z0 and d_eta for true and fake edges. ``parameters``:
    phi_rel against r for a few tracks (the slope is ~ q/pT), and the pT
    spectrum.
    """
    import matplotlib.pyplot as plt

    view = data.info.get("view", "graph")
    if view in ("hits", "graph"):
        fig = _event_display(data, plt)
    elif view == "edges":
        fig = _edge_distributions(data, plt)
    else:
        fig = _track_curvature(data, plt)
    fig.suptitle(f"tracks ({view} view): B = {data.info.get('field')} T, "
                 f"pT {data.info.get('pt_min')}-{data.info.get('pt_max')} GeV, {len(data):,} rows")
    return fig


def _event_display(data: Dataset, plt):
    fig, (transverse, side) = plt.subplots(1, 2, figsize=(13, 6.2), constrained_layout=True,
                                           gridspec_kw={"width_ratios": [1, 1.25]})
    event = 0
    mask, x, particle = data["mask"][event], data.x[event], data["particle"][event]
    colours = plt.get_cmap("tab20")
    radii = data.info.get("layer_radii", [])
    for r in radii:
        transverse.add_patch(plt.Circle((0, 0), r, fill=False, color="0.85", lw=0.8))
        side.axhline(r, color="0.85", lw=0.8)
    if "edge_index" in data:
        edges = data["edge_index"][event][data["edge_mask"][event]]
        truth = data.y[event][data["edge_mask"][event]] > 0.5
        for (a, b), true in zip(edges, truth, strict=True):
            colour = colours(particle[a] % 20) if true else "black"
            width, alpha = (1.4, 0.9) if true else (0.8, 0.8)
            transverse.plot(x[[a, b], 0], x[[a, b], 1], color=colour, lw=width, alpha=alpha)
            side.plot(x[[a, b], 2], x[[a, b], 3], color=colour, lw=width, alpha=alpha)
    noise = mask & (particle < 0)
    real = mask & (particle >= 0)
    for ax, (u, v) in ((transverse, (0, 1)), (side, (2, 3))):
        ax.scatter(x[real, u], x[real, v], s=10, c=[colours(p % 20) for p in particle[real]], zorder=3)
        ax.scatter(x[noise, u], x[noise, v], s=10, c="0.5", marker="x", zorder=3, label="noise hit")
    extent = 1.05 * max(radii) if radii else 1.1
    n_tracks = len(set(particle[real].tolist()))
    transverse.set(xlim=(-extent, extent), ylim=(-extent, extent), xlabel="x [m]", ylabel="y [m]",
                   title=f"event 0, transverse plane: {n_tracks} particles, {noise.sum()} noise hits")
    transverse.set_aspect("equal")
    side.set(xlabel="z [m]", ylabel="r [m]", ylim=(0, extent), title="event 0, r-z view (layers grey)")
    if "edge_index" in data:
        n_fake = int(((data.y[event] < 0.5) & data["edge_mask"][event]).sum())
        side.plot([], [], color="black", lw=0.8, label=f"fake candidate edge ({n_fake})")
        side.plot([], [], color=colours(0), lw=1.4, label="true edge (particle colour)")
    side.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False, fontsize=9)
    return fig


def _edge_distributions(data: Dataset, plt):
    names = data.feature_names or []
    panels = [("phi_slope", "d_phi / d_r [rad/m]"), ("z0", "z0: intercept on the beam line [m]"),
              ("d_eta", "d_eta")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    true = data.y == 1
    for ax, (name, label) in zip(axes, panels, strict=True):
        column = data.x[:, names.index(name)]
        bins = np.linspace(*np.percentile(column, [0.5, 99.5]), 60)
        ax.hist(column[true], bins=bins, histtype="step", lw=1.8, color="tab:green", density=True,
                label=f"true ({true.mean():.0%} of {len(true):,} candidates)")
        ax.hist(column[~true], bins=bins, histtype="step", lw=1.8, color="tab:red", density=True, label="fake")
        ax.set(xlabel=label, ylabel="normalised", yscale="log")
    axes[0].legend(frameon=False, fontsize=9)
    return fig


def _track_curvature(data: Dataset, plt):
    names = data.feature_names or []
    r_column, phi_column = names.index("r"), names.index("phi_rel")
    fig, (curves, spectrum) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    qpt = data["charge"] / data["pt"]
    shown = np.argsort(qpt)[np.linspace(0, len(qpt) - 1, 9).astype(int)]  # from -1/pt_min to +1/pt_min
    norm = plt.Normalize(-abs(qpt).max(), abs(qpt).max())
    cmap = plt.get_cmap("plasma")  # no pale middle: every track stays visible
    for index in shown:
        mask = data["mask"][index]
        curves.plot(data.x[index, mask, r_column], data.x[index, mask, phi_column], "o-",
                    color=cmap(norm(qpt[index])), ms=4, label=f"q/pT = {qpt[index]:+.2f} /GeV")
    curves.set(xlabel="r [m]", ylabel="phi_rel [rad]",
               title="hits of 9 tracks: phi bends ~ -q r / (2R), R = pT / 0.3B")
    curves.legend(fontsize=7, ncol=2, frameon=False)
    pt = data["pt"]
    spectrum.hist(pt, bins=np.geomspace(pt.min(), pt.max(), 40), color="tab:blue", alpha=0.7)
    spectrum.set(xscale="log", xlabel="pT [GeV]", ylabel="tracks", title="pT spectrum (log-uniform)")
    return fig
