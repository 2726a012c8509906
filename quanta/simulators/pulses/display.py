"""A look at the pulses: single pulses of each particle, their mean shapes, and the PSD plot."""

from __future__ import annotations

import numpy as np

from quanta.data.dataset import Dataset

COLOURS = {0: "tab:blue", 1: "tab:red"}


def _pick(particle: np.ndarray, energy: np.ndarray, single: np.ndarray, label: int, near: float) -> int:
    """The pulse of class ``label`` whose energy is closest to ``near`` keVee (without pile-up if any)."""
    candidates = np.flatnonzero((particle == label) & single)
    candidates = candidates if len(candidates) else np.flatnonzero(particle == label)
    return int(candidates[np.argmin(np.abs(energy[candidates] - near))])


def _psd_table(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(total charge, tail-to-total) of every pulse, from the features or recomputed from samples."""
    from quanta.simulators.pulses.views import FEATURE_NAMES, features, subtract_baseline

    if data.info.get("view") == "features":
        table = data.x
    else:
        samples = data.x.reshape(len(data), -1)
        wave, rms = subtract_baseline(samples, data.info.get("sampling_ns", 2.0))
        table = features(wave, rms, data.info.get("sampling_ns", 2.0))
    return table[:, FEATURE_NAMES.index("total_charge")], table[:, FEATURE_NAMES.index("tail_to_total")]


def _psd_panel(ax, data: Dataset) -> None:
    """Tail-to-total against total charge: the two bands of pulse-shape discrimination."""
    total, ratio = _psd_table(data)
    particle = data["particle"]
    shown = np.random.default_rng(0).permutation(len(data))[:4000]
    for label, name in enumerate(["gamma", "neutron"]):
        pick = shown[particle[shown] == label]
        ax.scatter(total[pick] / 1e3, ratio[pick], s=2, alpha=0.4, color=COLOURS[label], label=name)
    recorded = " (recorded samples)" if data.info.get("view") == "sequence" else ""
    ax.set(xlabel="total charge [10^3 ADC counts x ns]", ylabel="tail / total",
           ylim=(-0.05, 0.45), title=f"PSD: tail-to-total vs charge{recorded}")
    ax.legend(frameon=False, markerscale=5, loc="upper right")


def show(data: Dataset):
    """Figure of a pulses data set: what a gamma and a neutron pulse look like, and how PSD separates them.

    ``waveform`` and ``sequence`` views: a gamma and a neutron pulse at high
    and at low energy (each titled with its particle, energy and arrival time;
    in the sequence view the unrecorded samples are shaded), the mean pulse
    shape of each particle on a log scale (the neutron's longer tail), and the
    PSD plot. ``features`` view: the PSD plot, the tail-to-total distribution
    in two energy bands, and the leading-edge time against the arrival time.
    """
    import matplotlib.pyplot as plt

    particle, energy, time = data["particle"], data["amplitude"], data["time"]
    view = data.info.get("view", "waveform")
    dt = data.info.get("sampling_ns", 2.0)
    title = (f"pulses ({view} view, target {data.info.get('target', 'particle')}), {len(data):,} pulses, "
             f"{data.info.get('energy_min')}-{data.info.get('energy_max')} keVee"
             + (f", pile-up probability {data.info['pileup']:.0%} (off-band PSD points)"
                if data.info.get("pileup") else ""))
    if view == "features":
        from quanta.simulators.pulses.views import FEATURE_NAMES

        fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
        _psd_panel(axes[0], data)
        ratio = data.x[:, FEATURE_NAMES.index("tail_to_total")]
        low, high = np.percentile(energy, [25, 75])
        bins = np.linspace(0, 0.4, 60)
        for band, style, name in ((energy < low, "--", f"E < {low:.0f} keVee"),
                                  (energy > high, "-", f"E > {high:.0f} keVee")):
            for label, particle_name in enumerate(["gamma", "neutron"]):
                axes[1].hist(ratio[band & (particle == label)], bins=bins, histtype="step", ls=style,
                             color=COLOURS[label], density=True, lw=1.5, label=f"{particle_name}, {name}")
        axes[1].set(xlabel="tail / total", ylabel="normalised", title="PSD improves with energy")
        axes[1].legend(frameon=False, fontsize=8)
        edge = data.x[:, FEATURE_NAMES.index("leading_edge_time")]
        axes[2].scatter(time, edge - time, s=2, alpha=0.3, color="grey")
        axes[2].set(xlabel="arrival time t0 [ns] (target 'time')", ylabel="leading edge (50 %) - t0 [ns]",
                    title="timing: leading edge vs arrival")
        fig.suptitle(title)
        return fig

    samples = data.x.reshape(len(data), -1)
    raw = not data.info.get("baseline_subtracted", True)
    single = data["pileup_time"] < 0
    mask = data["mask"] if "mask" in data else np.ones(samples.shape, bool)
    times = np.arange(samples.shape[1]) * dt
    fig, axes = plt.subplots(2, 3, figsize=(14, 7), constrained_layout=True)
    top, bottom = np.percentile(energy, [90, 10])
    for row, near in enumerate((top, bottom)):
        for column, label in enumerate((0, 1)):
            ax = axes[row, column]
            index = _pick(particle, energy, single, label, near)
            kept = mask[index]
            ax.plot(times[kept], samples[index][kept], color=COLOURS[label], lw=1)
            if not kept.all():
                ax.axvspan(times[kept.sum()], times[-1] + dt, color="0.9", label="not recorded (mask)")
                ax.legend(frameon=False, loc="upper right", fontsize=8)
            ax.axvline(time[index], color="k", ls=":", lw=1)
            ax.set_title(f"{data.classes[label] if data.classes else ['gamma', 'neutron'][label]}, "
                         f"E = {energy[index]:.0f} keVee, t0 = {time[index]:.1f} ns (dotted)", fontsize=10)
            # symmetric log: the peak, the single photoelectrons of the tail and the noise all show
            ax.set(xlabel="time [ns]", xlim=(0, min(times[-1] + dt, 400)))
            if raw:
                ax.set_ylabel("ADC code (raw, with baseline)")
            else:  # symmetric log: the peak, the tail's single photoelectrons and the noise all show
                linear = 10 * max(float(data.info.get("noise", 2.0)), 1.0)
                ax.set_yscale("symlog", linthresh=linear)
                ax.set(ylabel="ADC counts (symlog)", ylim=(-linear, 2 * samples[index].max()))
    from quanta.simulators.pulses.views import subtract_baseline

    wave, _ = subtract_baseline(samples, dt)
    ax = axes[0, 2]
    for label, name in enumerate(["gamma", "neutron"]):
        # align on the arrival time sample, normalise each pulse to unit peak, then average
        chosen = np.flatnonzero((particle == label) & single & (energy > np.median(energy)))[:500]
        shift = np.round(time[chosen] / dt).astype(int)
        aligned = np.stack([np.roll(wave[i], -s) for i, s in zip(chosen, shift, strict=True)])
        mean = (aligned / aligned.max(axis=1, keepdims=True)).mean(axis=0)
        span = len(mean) - int(np.ceil((data.info.get("arrival_spread", 40.0) + 40) / dt))
        ax.semilogy(times[:span], np.clip(mean[:span], 1e-4, None), color=COLOURS[label], label=name)
    ax.set(xlabel="time after arrival [ns]", ylabel="mean pulse / peak", ylim=(1e-4, 1.5),
           title=f"mean {'recorded ' * (view == 'sequence')}pulse shape, E > median")
    ax.legend(frameon=False)
    _psd_panel(axes[1, 2], data)
    fig.suptitle(title)
    return fig
