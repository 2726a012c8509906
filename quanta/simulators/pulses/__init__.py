"""Digitised pulses of an organic liquid scintillator: neutron/gamma discrimination by pulse shape.

The public entry point is :func:`pulses`. Files: ``simulate`` (scintillation
light, photoelectrons, PMT and digitiser, in seeded chunks), ``views`` (the
baseline, timing, charges and tail-to-total ratio an analysis computes, and the
effective lengths of the sequence view), ``display`` (the figure of ``show``).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from quanta.data.dataset import Dataset
from quanta.registry import bad_param, checked
from quanta.simulators.cache import cached

CLASSES = ["gamma", "neutron"]


@checked
def pulses(
    view: Literal["waveform", "sequence", "features"] = "waveform",
    target: Literal["particle", "time", "amplitude"] = "particle",
    size: Annotated[int, Field(ge=2, description="an integer >= 2 (half gammas, half neutrons)")] = 10_000,
    seed: Annotated[int, Field(description="an integer")] = 1,
    energy_min: Annotated[float, Field(gt=0, allow_inf_nan=False, description="an energy in keVee > 0")] = 50.0,
    energy_max: float = 1000.0,
    spectrum: Literal["uniform", "exponential"] = "exponential",
    photoelectrons_per_kev: Annotated[float, Field(gt=0, le=100, description="a number in (0, 100]")] = 1.5,
    samples: int = 256,
    sampling_ns: Annotated[float, Field(ge=0.1, le=10, description="a sample spacing in ns in [0.1, 10]")] = 2.0,
    adc_bits: Annotated[int, Field(ge=8, le=16, description="an integer in [8, 16]")] = 14,
    noise: Annotated[float, Field(ge=0, allow_inf_nan=False, description="ADC counts rms >= 0")] = 2.0,
    arrival_spread: Annotated[float, Field(ge=0, allow_inf_nan=False, description="a width in ns >= 0")] = 40.0,
    pileup: Annotated[float, Field(ge=0, le=1, description="a probability in [0, 1]")] = 0.0,
    baseline_subtracted: bool = True,
    workers: Annotated[int, Field(ge=0, description="an integer >= 0 (0 = all cores)")] = 0,
    progress: bool = True,
) -> Dataset:
    """Digitised scintillator pulses: neutron vs gamma pulse-shape discrimination, arrival time and amplitude

    An organic liquid scintillator (EJ-301 / NE-213-like) seen by a
    photomultiplier and a fast digitiser (by default 500 MS/s, 14 bit, like a
    CAEN V1730), the standard neutron detector of nuclear physics. A gamma ray
    gives a Compton electron, a fast neutron a recoiling proton; the proton's
    dense ionisation puts more of the light into slow (triplet) components, so
    a neutron pulse has a longer tail. Pulse-shape discrimination (PSD) sorts
    them by the ratio of the charge in the tail to the total charge
    (Brooks 1959); the separation grows with energy as photo-statistics
    improve, and fails below ~100 keVee.

    What is simulated (see ``quanta.simulators.pulses.simulate`` for each step and
    its constants): an energy deposit E (keVee, electron-equivalent) at time
    t0; three-component light emission with a 0.9 ns rise and decay constants
    3.2, 32.3 and 270 ns, light shares (0.87, 0.08, 0.05) for gammas and
    (0.68, 0.15, 0.17) for neutrons; Poisson photoelectron numbers
    (``photoelectrons_per_kev`` x E) with times drawn from the emission
    profile, 0.7 ns PMT transit-time spread and Gamma-distributed gain
    (35 % rms); a 1.5 ns two-stage RC single-photoelectron response; baseline
    offset (5 % of the ADC range), ``noise`` and ADC quantisation with
    saturation at 2^adc_bits - 1. The gain is set so that a mean gamma pulse of
    ``energy_max`` peaks at half of the range. t0 is uniform in
    [40, 40 + arrival_spread] ns (the random trigger offset); with probability
    ``pileup`` a second deposit (random particle and energy) arrives at least
    20 ns later, anywhere in the rest of the window. Pulses are positive-going
    (the PMT's negative signal inverted, as analyses do).

    Classes (target ``particle``): ``y = 0`` "gamma", ``y = 1`` "neutron";
    ``size // 2`` neutrons, the rest gammas, both with the same energy spectrum
    (so only the shape tells them apart); rows shuffled with ``seed``.

    Targets (``target`` chooses ``y``; all three are also stored as the extra
    arrays ``particle`` int64[N], ``time`` float32[N] and ``amplitude``
    float32[N], with ``pileup_time`` float32[N], the arrival time of a pile-up
    pulse in ns or -1 without one):
        ``particle`` - int64 class label as above.
        ``time`` - arrival time t0 in ns from the window start: when the
            deposit happens; the 50 % point of the leading edge lies 1.7 ns
            later (emission rise and PMT response), within ~0.15 ns rms.
        ``amplitude`` - deposited energy E in keVee, which the mean pulse
            height and charge are proportional to.

    Views (``x`` is float32; T = ``samples``, sample k at time k * ``sampling_ns``):
        ``waveform`` - ``x[N, T]``: ADC counts; with ``baseline_subtracted``
            the baseline measured on the samples before 32 ns is subtracted per
            pulse (noise stays), otherwise the raw ADC codes.
        ``sequence`` - ``x[N, T, 1]`` the same samples and ``mask`` bool[N, T]
            (True for recorded samples), for recurrent networks: each pulse is
            recorded for at least 100 ns after its peak and then cut where it
            has returned to the baseline (the mean of the next 16 ns is below
            2 % of the peak or 5 noise sigmas), plus a random hold-off of 0 to
            T/4 samples; samples after the cut are zero and ``length``
            int64[N] holds the number kept.
        ``features`` - ``x[N, 8]``, what a PSD analysis computes from the
            baseline-subtracted pulse: total_charge (counts x ns, gate from
            10 ns before the leading edge to 300 ns after it), tail_charge
            (from 20 ns after the peak to the end of the gate), tail_to_total
            (the PSD parameter), peak_amplitude (counts), peak_time (ns),
            leading_edge_time (ns, 50 % of the peak, interpolated), rise_time
            (ns, 10 % to 90 %), baseline_rms (counts).

    Args:
        view: which representation ``x`` holds (see Views).
        target: which truth ``y`` holds (see Targets).
        size: number of pulses (>= 2).
        seed: seeds the simulation (per chunk of 1000 pulses), the shuffle and
            the hold-off of the sequence view.
        energy_min, energy_max: deposited energy range in keVee, ``0 < min < max``.
        spectrum: ``exponential`` (falling with e-folding (max - min) / 4, like
            measured recoil and Compton spectra: the default, so that the hard
            low-energy region is well populated), or ``uniform`` in energy.
        photoelectrons_per_kev: light collected, in photoelectrons per keVee
            (1-3 for a 2" cell on a good PMT); sets the photo-statistics.
        samples: samples per pulse, T; the window must be 200 ns longer than
            the latest arrival.
        sampling_ns: sample spacing in ns (2.0 = 500 MS/s; 4.0 = 250 MS/s).
        adc_bits: digitiser resolution, 8-16 bits.
        noise: electronic noise, ADC counts rms per sample.
        arrival_spread: width in ns of the uniform arrival-time distribution.
        pileup: probability in [0, 1] of a second pulse in the window.
        baseline_subtracted: subtract the measured baseline in the waveform and
            sequence views.
        workers: generation processes; 0 uses every available core. The result
            does not depend on it.
        progress: show a progress bar.

    Generation (~10,000 pulses/s on one core at the defaults; the cost grows with
    the photoelectron count) is cached per physics parameter set in
    ``$QUANTA_CACHE``; views and targets are computed from the cached
    ADC codes, so switching them never simulates again.

    References:
        G. F. Knoll, Radiation Detection and Measurement, 4th ed., Wiley (2010),
        ch. 8 (organic scintillators, pulse shape discrimination) and ch. 9 (PMTs).
        F. D. Brooks, "A scintillation counter with neutron and gamma-ray
        discriminators", Nucl. Instrum. Methods 4 (1959) 151.
        Eljen Technology, EJ-301 data sheet (light output, decay constants).
    """
    from quanta.simulators.pulses import simulate, views

    if not (math.isfinite(energy_max) and energy_max > energy_min):
        raise bad_param("pulses", "energy_max", f"an energy in keVee above energy_min = {energy_min}", energy_max)
    latest = simulate.PRETRIGGER_NS + arrival_spread + 200.0
    if not samples * sampling_ns >= latest:
        raise bad_param("pulses", "samples", f"an integer with samples x sampling_ns >= {latest:g} ns "
                        "(200 ns after the latest arrival)", samples)

    settings = simulate.Settings(
        samples=int(samples), sampling_ns=float(sampling_ns), adc_bits=int(adc_bits), noise=float(noise),
        photoelectrons_per_kev=float(photoelectrons_per_kev), energy_min=float(energy_min),
        energy_max=float(energy_max), spectrum=spectrum, arrival_spread=float(arrival_spread),
        pileup=float(pileup))
    physics = {"version": simulate.GENERATOR_VERSION, "size": int(size), "seed": int(seed),
               **settings.__dict__}
    raw = cached("pulses", physics,
                 lambda: simulate.simulate(size, seed, settings, workers=workers, progress=progress))

    wave, rms = views.subtract_baseline(raw["adc"], sampling_ns)
    arrays: dict[str, np.ndarray] = {
        "particle": raw["particle"].astype(np.int64), "time": raw["time"],
        "amplitude": raw["energy"], "pileup_time": raw["pileup_time"],
    }
    arrays["y"] = arrays[target]
    names: list[str] | None
    if view == "features":
        arrays["x"] = views.features(wave, rms, sampling_ns)
        names = list(views.FEATURE_NAMES)
    else:
        samples_x = wave if baseline_subtracted else raw["adc"].astype(np.float32)
        names = None
        if view == "waveform":
            arrays["x"] = samples_x  # [N, T]
        else:
            rng = np.random.default_rng([int(seed), 1])  # the hold-off, independent of the simulation
            length = views.sequence_lengths(wave, rms, sampling_ns, rng)
            mask = np.arange(samples)[None, :] < length[:, None]  # [N, T]
            arrays["x"] = (samples_x * mask)[:, :, None]  # [N, T, 1]
            arrays["mask"], arrays["length"] = mask, length
    info: dict[str, Any] = {"view": view, "target": target, "size": size, "seed": seed,
                            **{k: v for k, v in settings.__dict__.items()},
                            "baseline_subtracted": baseline_subtracted, "workers": workers,
                            "progress": progress, "generator": simulate.GENERATOR_VERSION}
    return Dataset(arrays=arrays, name="pulses", feature_names=names,
                   classes=CLASSES if target == "particle" else None, info=info)


from quanta.simulators.pulses.display import show  # noqa: E402  (the source module's figure, by convention)

__all__ = ["pulses", "show"]
