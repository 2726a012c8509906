"""Photon by photon simulation of scintillator pulses read by a PMT and a fast digitiser.

Chain, per pulse (all steps vectorised over every photoelectron of a chunk):

1. Deposit: particle (gamma = Compton electron, neutron = proton recoil), an
   electron-equivalent energy E in keVee from the chosen spectrum, and an
   interaction time t0 (the random trigger offset).
2. Light: the scintillator emits in three exponential components (EJ-301-like
   decay constants ``TAUS``); a proton recoil puts a larger share of its light
   into the delayed components than an electron (``FRACTIONS``) - the
   difference pulse-shape discrimination measures.
3. Photoelectrons: Poisson numbers per component with means E * yield *
   fraction (Poisson splitting makes the components independent). Each
   photoelectron's time is t0 + rise + decay + transit-time spread: a rise
   Exp(tau_rise) plus a decay Exp(tau_component) has exactly the
   difference-of-exponentials pulse shape, and the PMT jitter is Gaussian.
   Each photoelectron's charge (PMT gain) is Gamma distributed with mean 1.
4. Analogue pulse: photoelectrons are histogrammed on a fine time grid
   (``SUBSAMPLES`` per sample) and passed through two RC low-pass stages (the
   single-photoelectron response t/tau^2 exp(-t/tau) of the PMT, cable and
   digitiser input); sample k, at time k x sampling_ns, is the mean of the
   fine bins within half a sample of it.
5. Digitiser: baseline offset (with a small per-pulse wander), white noise,
   rounding to ADC codes and clipping at 0 and 2^bits - 1 (saturation). The
   gain is set, as an experimenter sets the PMT voltage, so that a mean gamma
   pulse of ``energy_max`` peaks at ``PEAK_FRACTION`` of the range above the
   baseline.
6. Optional pile-up: with probability ``pileup`` a second deposit (random
   particle, energy from the same spectrum) arrives 20 ns or more after the
   first, anywhere in the rest of the window.

Chunk ``i`` draws its random numbers from a seed derived from ``(seed, i)``
alone, so the result does not depend on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.simulators.parallel import chunk_seed, chunk_sizes, run_chunks

GENERATOR_VERSION = "pulses-v2"  # change when the physics changes: it keys the cache
CHUNK_PULSES = 1000  # even, so that every chunk but the last holds as many gammas as neutrons

# Scintillator: EJ-301 / NE-213-like liquid. Decay constants in ns and the share of the light
# emitted in each (illustrative values in the range of published three-component fits).
TAUS = np.array([3.2, 32.3, 270.0])
FRACTIONS = np.array([
    [0.87, 0.08, 0.05],  # gamma: Compton electrons, low ionisation density
    [0.68, 0.15, 0.17],  # neutron: proton recoils, more triplet (delayed) light
])
TAU_RISE = 0.9  # ns, rise of the light emission

# Photomultiplier and digitiser front end
TRANSIT_TIME_SPREAD = 0.7  # ns, Gaussian sigma of the photoelectron transit time
GAIN_SPREAD = 0.35  # relative sigma of the single-photoelectron charge (Gamma distribution)
SHAPING_TAU = 1.5  # ns, each of the two RC stages of the single-photoelectron response
SUBSAMPLES = 4  # fine time bins per digitiser sample
BASELINE_FRACTION = 0.05  # baseline offset as a fraction of the ADC range
BASELINE_WANDER = 1.0  # ADC counts, sigma of the per-pulse baseline offset
PEAK_FRACTION = 0.5  # a mean gamma pulse of energy_max peaks at this fraction of the range

PRETRIGGER_NS = 40.0  # earliest arrival time; the samples before it measure the baseline
PILEUP_MIN_SEPARATION = 20.0  # ns between a pulse and its pile-up partner, at least
LABELS = {"gamma": 0, "neutron": 1}


@dataclass(frozen=True)
class Settings:
    """What the simulation depends on (every field keys the cache)."""

    samples: int
    sampling_ns: float
    adc_bits: int
    noise: float
    photoelectrons_per_kev: float
    energy_min: float
    energy_max: float
    spectrum: str
    arrival_spread: float
    pileup: float

    @property
    def full_scale(self) -> int:
        return 2**self.adc_bits - 1

    @property
    def baseline(self) -> float:
        return BASELINE_FRACTION * self.full_scale


@dataclass(frozen=True)
class Chunk:
    """One unit of work: ``n`` pulses, half of them neutrons, from generator seed ``seed``."""

    index: int
    n: int
    seed: int
    settings: Settings


def draw_energies(rng: np.random.Generator, n: int, settings: Settings) -> np.ndarray:
    """Electron-equivalent energies in keVee: flat, or falling with e-folding (max - min) / 4."""
    low, high = settings.energy_min, settings.energy_max
    if settings.spectrum == "uniform":
        return rng.uniform(low, high, n)
    scale = (high - low) / 4
    # inverse CDF of an exponential truncated to [low, high]
    u = rng.random(n)
    return low - scale * np.log1p(-u * (1 - np.exp(-(high - low) / scale)))


def single_pulse_filter(sampling_ns: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (b, a) of one RC stage on the fine grid (for ``scipy.signal.lfilter``)."""
    decay = np.exp(-(sampling_ns / SUBSAMPLES) / SHAPING_TAU)
    return np.array([1.0 - decay]), np.array([1.0, -decay])


def analogue(fine: np.ndarray, sampling_ns: float) -> np.ndarray:
    """Photoelectron charge per fine bin [N, T * SUBSAMPLES] -> shaped samples [N, T]."""
    from scipy.signal import lfilter

    b, a = single_pulse_filter(sampling_ns)
    shaped = lfilter(b, a, lfilter(b, a, fine, axis=1), axis=1)  # two RC stages
    return shaped.reshape(len(fine), -1, SUBSAMPLES).mean(axis=2)  # [N, T]


def mean_gamma_peak(settings: Settings) -> float:
    """Peak of the mean gamma pulse per photoelectron, in the units of :func:`analogue`."""
    fine_ns = settings.sampling_ns / SUBSAMPLES
    t = (np.arange(settings.samples * SUBSAMPLES) + 0.5) * fine_ns
    # emission density: rise Exp(TAU_RISE) plus decay Exp(tau), mixed over the components
    density = sum(f * (np.exp(-t / tau) - np.exp(-t / TAU_RISE)) / (tau - TAU_RISE)
                  for f, tau in zip(FRACTIONS[LABELS["gamma"]], TAUS, strict=True))
    offsets = np.arange(-4 * SUBSAMPLES, 4 * SUBSAMPLES + 1) * fine_ns
    jitter = np.exp(-0.5 * (offsets / TRANSIT_TIME_SPREAD) ** 2)
    density = np.convolve(density * fine_ns, jitter / jitter.sum(), mode="same")
    return float(analogue(density[None, :], settings.sampling_ns).max())


def photoelectron_charge(rng: np.random.Generator, owner: np.ndarray, particle: np.ndarray,
                         energy: np.ndarray, time: np.ndarray, n_pulses: int,
                         settings: Settings) -> np.ndarray:
    """Charge per fine bin ``[n_pulses, T * SUBSAMPLES]`` from deposits feeding pulse ``owner``.

    Deposits are rows of (owner, particle, energy, time); several deposits may
    feed one pulse (pile-up).
    """
    n_fine = settings.samples * SUBSAMPLES
    means = energy[:, None] * settings.photoelectrons_per_kev * FRACTIONS[particle]  # [M, 3]
    counts = rng.poisson(means)  # [M, 3]
    source = np.repeat(np.arange(counts.size), counts.ravel())  # one entry per photoelectron
    deposit, component = np.divmod(source, len(TAUS))
    total = len(source)
    arrival = (time[deposit]
               + TAU_RISE * rng.standard_exponential(total)
               + TAUS[component] * rng.standard_exponential(total)
               + TRANSIT_TIME_SPREAD * rng.standard_normal(total))  # ns
    shape = 1.0 / GAIN_SPREAD**2
    charge = rng.standard_gamma(shape, total) / shape  # mean 1
    # sample k averages the signal over [k - 1/2, k + 1/2) x sampling_ns: shift by half a sample
    fine_bin = np.floor((arrival + 0.5 * settings.sampling_ns) / (settings.sampling_ns / SUBSAMPLES))
    fine_bin = fine_bin.astype(np.int64)
    inside = (fine_bin >= 0) & (fine_bin < n_fine)
    flat = owner[deposit[inside]] * n_fine + fine_bin[inside]
    return np.bincount(flat, weights=charge[inside], minlength=n_pulses * n_fine).reshape(n_pulses, n_fine)


def simulate_chunk(chunk: Chunk) -> dict[str, np.ndarray]:
    """The pulses of one chunk: ADC waveforms and their truth (see :func:`simulate`)."""
    settings, n = chunk.settings, chunk.n
    rng = np.random.default_rng(chunk.seed)
    window = settings.samples * settings.sampling_ns
    particle = np.zeros(n, np.int64)
    particle[: n // 2] = LABELS["neutron"]
    energy = draw_energies(rng, n, settings)
    time = PRETRIGGER_NS + settings.arrival_spread * rng.random(n)  # ns

    piled = np.flatnonzero(rng.random(n) < settings.pileup)
    second_particle = rng.integers(0, 2, len(piled))
    second_energy = draw_energies(rng, len(piled), settings)
    earliest = time[piled] + PILEUP_MIN_SEPARATION
    second_time = earliest + (window - earliest) * rng.random(len(piled))

    owner = np.concatenate([np.arange(n), piled])
    fine = photoelectron_charge(rng, owner, np.concatenate([particle, second_particle]),
                                np.concatenate([energy, second_energy]),
                                np.concatenate([time, second_time]), n, settings)
    gain = PEAK_FRACTION * (settings.full_scale - settings.baseline) / (
        settings.energy_max * settings.photoelectrons_per_kev * mean_gamma_peak(settings))
    signal = gain * analogue(fine, settings.sampling_ns)  # [n, T] ADC counts above baseline
    offset = settings.baseline + BASELINE_WANDER * rng.standard_normal((n, 1))
    adc = np.rint(offset + signal + settings.noise * rng.standard_normal(signal.shape))
    pileup_time = np.full(n, -1.0)  # -1: no pile-up (NaN would fail the finiteness check)
    pileup_time[piled] = second_time
    return {
        "adc": np.clip(adc, 0, settings.full_scale).astype(np.uint16),  # [n, T] ADC codes
        "particle": particle,
        "energy": energy.astype(np.float32),
        "time": time.astype(np.float32),
        "pileup_time": pileup_time.astype(np.float32),
    }


def simulate(size: int, seed: int, settings: Settings, workers: int = 0,
             progress: bool = True) -> dict[str, np.ndarray]:
    """All pulses of a data set, rows shuffled with ``seed``.

    Returns ``adc`` uint16[N, T] (raw digitiser codes), ``particle`` int64[N]
    (0 gamma, 1 neutron), ``energy`` float32[N] (keVee), ``time`` float32[N]
    (ns from the window start) and ``pileup_time`` float32[N] (ns, -1 without
    pile-up).
    """
    chunks = [Chunk(i, n, chunk_seed(seed, i), settings)
              for i, n in enumerate(chunk_sizes(size, CHUNK_PULSES))]
    results = run_chunks(simulate_chunk, chunks, size, "simulating pulses", unit="pulses",
                         workers=workers, progress=progress, count="particle")
    arrays = {key: np.concatenate([r[key] for r in results]) for key in results[0]}
    shuffle = np.random.default_rng(seed).permutation(size)
    return {key: value[shuffle] for key, value in arrays.items()}
