"""A look at the four-lepton events: the mass peak, the Z masses, two angles, one event."""

from __future__ import annotations

import numpy as np

from quanta.data.dataset import Dataset


def show(data: Dataset):
    """Figure of an hzz data set: key distributions per class and one Higgs event.

    Five panels overlay Higgs and ZZ events (normalised): m_4l, m_Z1, m_Z2,
    cos theta1 and Phi; the sixth draws the leptons of one Higgs event in the
    transverse plane (arrow length = pT, Z1 red, Z2 orange) in the leptons
    view, or the cos theta* distribution in the features view (which has no
    leptons to draw). The features are recomputed from the leptons when needed.
    """
    import matplotlib.pyplot as plt

    from quanta.simulators.hzz.selection import pair_z
    from quanta.simulators.hzz.views import FEATURE_NAMES, features

    label = data["label"] if "label" in data else data.y
    if data.info.get("view") == "leptons":
        table, leptons = features(data.x), data.x
    else:
        table, leptons = data.x, None
    colours = {0: "tab:blue", 1: "tab:red"}
    names = {0: "ZZ -> 4l", 1: "H -> ZZ* -> 4l"}
    m4l_max = float(np.percentile(table[:, 0], 99)) if len(table) else 400.0
    panels = [
        ("m4l", "m_4l [GeV]", np.linspace(max(table[:, 0].min(), 0), min(m4l_max, 600), 60)),
        ("mZ1", "m_Z1 [GeV]", np.linspace(40, 120, 41)),
        ("mZ2", "m_Z2 [GeV]", np.linspace(0, 120, 41)),
        ("cos_theta1", "cos theta1", np.linspace(-1, 1, 21)),
        ("phi", "Phi [rad]", np.linspace(-np.pi, np.pi, 21)),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(12, 7), constrained_layout=True)
    for ax, (name, title, bins) in zip(axes.flat, panels, strict=False):
        column = table[:, FEATURE_NAMES.index(name)]
        for value in (0, 1):
            ax.hist(column[label == value], bins=bins, histtype="step", lw=1.8, density=True,
                    color=colours[value], label=names[value])
        ax.set_xlabel(title)
        ax.set_ylabel("normalised")
        if name == "m4l":  # the narrow Higgs peak next to the broad continuum needs a log scale
            ax.set_yscale("log")
    axes.flat[0].legend(frameon=False, fontsize=9)

    ax = axes.flat[5]
    higgs = np.flatnonzero(label == 1)
    if leptons is None or not len(higgs):  # no leptons to draw: the production angle instead
        column = table[:, FEATURE_NAMES.index("cos_theta_star")]
        for value in (0, 1):
            ax.hist(column[label == value], bins=np.linspace(-1, 1, 21), histtype="step", lw=1.8,
                    density=True, color=colours[value])
        ax.set(xlabel="cos theta* (Z1 vs beam, 4l rest frame)", ylabel="normalised")
    else:
        event = leptons[higgs[:1]].astype(np.float64)
        z1, z2, _ = pair_z(event)
        pt, phi, charge, flavour = event[0, :, 0], event[0, :, 2], event[0, :, 3], event[0, :, 4]
        reach = 1.35 * pt.max()
        for index in range(4):
            colour = "tab:red" if index in z1[0] else "tab:orange"
            dx, dy = pt[index] * np.cos(phi[index]), pt[index] * np.sin(phi[index])
            ax.annotate("", xy=(dx, dy), xytext=(0, 0),
                        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 2})
            kind = ("mu" if flavour[index] > 0.5 else "e") + ("+" if charge[index] > 0 else "-")
            offset = 0.13 * reach  # labels beyond the arrow tips, so short arrows stay readable
            ax.text(dx + offset * np.cos(phi[index]), dy + offset * np.sin(phi[index]),
                    f"{kind}\n{pt[index]:.0f} GeV", color=colour, ha="center", va="center", fontsize=9)
        m4l = table[higgs[0], 0]
        ax.set(xlim=(-reach, reach), ylim=(-reach, reach), xlabel="px [GeV]", ylabel="py [GeV]",
               title=f"one Higgs event, m_4l = {m4l:.1f} GeV\n(arrow = lepton pT; Z1 red, Z2 orange)")
        ax.set_aspect("equal")
        ax.title.set_fontsize(10)
    fig.suptitle(f"hzz ({data.info.get('view', 'features')} view): {len(data):,} events, "
                 f"sqrt(s) = {data.info.get('sqrt_s')} TeV, pT resolution {data.info.get('pt_resolution')}")
    return fig
