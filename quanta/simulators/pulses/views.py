"""What an analysis computes from a digitised pulse: baseline, timing, charges, PSD ratio.

All functions work on whole arrays of pulses ``[N, T]`` at once. Times are in
ns from the start of the window, amplitudes in ADC counts above the baseline,
charges in ADC counts x ns.
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.pulses.simulate import PRETRIGGER_NS

BASELINE_MARGIN_NS = 8.0  # the baseline is measured on the samples before PRETRIGGER_NS - this
GATE_BEFORE_NS = 10.0  # the integration gates open this long before the leading edge
LONG_GATE_NS = 300.0  # ... and close this long after it
TAIL_START_NS = 20.0  # the tail gate opens this long after the peak (typical optimum for EJ-301)
SETTLE_NS = 16.0  # sequence view: the moving average that decides a pulse is over
MIN_RECORD_NS = 100.0  # sequence view: samples recorded after the peak, at least (a long gate)
FEATURE_NAMES = ("total_charge", "tail_charge", "tail_to_total", "peak_amplitude", "peak_time",
                 "leading_edge_time", "rise_time", "baseline_rms")


def baseline_samples(sampling_ns: float) -> int:
    """Number of leading samples that hold no pulse (the baseline window)."""
    return max(2, int((PRETRIGGER_NS - BASELINE_MARGIN_NS) // sampling_ns))


def subtract_baseline(adc: np.ndarray, sampling_ns: float) -> tuple[np.ndarray, np.ndarray]:
    """Pulses minus their baseline estimated from the pre-trigger samples, and its rms.

    Returns ``(wave float32[N, T], rms float32[N])``.
    """
    front = adc[:, : baseline_samples(sampling_ns)].astype(np.float32)
    wave = adc.astype(np.float32) - front.mean(axis=1, keepdims=True)
    return wave, front.std(axis=1)


def crossing_time(wave: np.ndarray, peak: np.ndarray, level: np.ndarray, sampling_ns: float) -> np.ndarray:
    """Time (ns) where the leading edge of each pulse crosses ``level``, linearly interpolated.

    Searches back from the peak for the last sample below ``level``, so noise
    spikes before the pulse do not fool it.
    """
    n, t = wave.shape
    index = np.arange(t)
    below = (wave < level[:, None]) & (index < peak[:, None])
    last = t - 1 - np.argmax(below[:, ::-1], axis=1)  # last True; if none, argmax is 0 -> t - 1
    last = np.where(below.any(axis=1), last, 0)
    after = np.minimum(last + 1, t - 1)
    rows = np.arange(n)
    low, high = wave[rows, last], wave[rows, after]
    step = np.where(high > low, high - low, 1.0)
    return (last + np.clip((level - low) / step, 0.0, 1.0)) * sampling_ns


def gate(times: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Boolean ``[N, T]``: sample times inside ``[start, stop)`` of each pulse."""
    return (times[None, :] >= start[:, None]) & (times[None, :] < stop[:, None])


def features(wave: np.ndarray, rms: np.ndarray, sampling_ns: float) -> np.ndarray:
    """The features view ``float32[N, 8]`` (see ``FEATURE_NAMES``) of baseline-subtracted pulses."""
    n, t = wave.shape
    rows = np.arange(n)
    times = np.arange(t) * sampling_ns
    peak = np.argmax(wave, axis=1)
    amplitude = wave[rows, peak]
    leading_edge = crossing_time(wave, peak, 0.5 * amplitude, sampling_ns)
    rise = (crossing_time(wave, peak, 0.9 * amplitude, sampling_ns)
            - crossing_time(wave, peak, 0.1 * amplitude, sampling_ns))
    stop = leading_edge + LONG_GATE_NS
    total = (wave * gate(times, leading_edge - GATE_BEFORE_NS, stop)).sum(axis=1) * sampling_ns
    tail = (wave * gate(times, times[peak] + TAIL_START_NS, stop)).sum(axis=1) * sampling_ns
    ratio = tail / np.where(total > 0, total, np.inf)  # 0 for the rare pulse without charge
    columns = (total, tail, ratio, amplitude, times[peak], leading_edge, rise, rms)
    return np.stack(columns, axis=1).astype(np.float32)


def sequence_lengths(wave: np.ndarray, rms: np.ndarray, sampling_ns: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Effective lengths ``int64[N]``: where each pulse has returned to its baseline, plus a random hold-off.

    Like a digitiser with a minimum gate and zero suppression: recording goes
    on for at least ``MIN_RECORD_NS`` after the peak, then stops at the first
    sample where the mean of the next ``SETTLE_NS`` falls below 2 % of the
    peak or 5 noise sigmas of that mean, whichever is higher; then 0 to
    ``T // 4`` more samples are kept at random, so the length alone tells
    little about the particle.
    """
    n, t = wave.shape
    width = max(2, int(round(SETTLE_NS / sampling_ns)))
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(wave, axis=1, dtype=np.float64)], axis=1)
    ahead = np.minimum(np.arange(t) + width, t)
    mean_ahead = (cumulative[:, ahead] - cumulative[:, :t]) / (ahead - np.arange(t))  # [N, T]
    peak = np.argmax(wave, axis=1)
    threshold = np.maximum(0.02 * wave[np.arange(n), peak], 5 * rms / np.sqrt(width))
    earliest = peak + int(round(MIN_RECORD_NS / sampling_ns))
    quiet = (mean_ahead < threshold[:, None]) & (np.arange(t)[None, :] >= earliest[:, None])
    end = np.where(quiet.any(axis=1), np.argmax(quiet, axis=1), t)
    return np.minimum(end + rng.integers(0, t // 4 + 1, n), t).astype(np.int64)
