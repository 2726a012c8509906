"""Mixed samples of known signal fraction, for weak supervision (CWoLa, label proportions).

Real data never says which jet is a top; what one has are samples whose signal
fractions differ (a signal-enriched and a control region, two quark-gluon
compositions). A simulation imitates them by dealing its labelled jets into
mixtures of chosen signal fractions: the jets keep their true label ``y``
(only to evaluate) and gain the mixture they belong to.

:func:`mixed` deals ``K`` mixtures of equal size ``m``, mixture ``k`` holding
exactly ``round(f_k m)`` signal jets. ``m`` is the largest size the classes
allow (``sum_k round(f_k m) <= S`` signal and the rest ``<= B`` background
jets); the jets left over are dropped, so the returned rows are ``K m`` of the
``S + B`` (all of them when the fractions average to the sample's own signal
fraction, e.g. 0.2 and 0.8 of a half-top sample of even size).
"""

from __future__ import annotations

import numpy as np

from quanta.errors import UserError
from quanta.registry import bad_param

#: the arrays a mixed data set gains: the mixture index and the signal fraction of that mixture
MIXTURE, FRACTION = "mixture", "signal_fraction"


def mixture_size(fractions: list[float], signal: int, background: int) -> int:
    """The largest equal mixture size ``m`` whose signal and background counts the classes hold."""
    f = np.asarray(fractions, dtype=np.float64)

    def fits(m: int) -> bool:
        s = np.round(f * m).astype(np.int64)
        return s.sum() <= signal and (m - s).sum() <= background

    m = int(min(signal / max(f.sum(), 1e-12), background / max((1 - f).sum(), 1e-12)) // 1) + 1
    while m > 0 and not fits(m):  # rounding may ask for one jet too many: step down
        m -= 1
    return m


def mixed(y: np.ndarray, fractions: list[float], seed: int,
          where: str = "jets: mixtures") -> tuple[np.ndarray, np.ndarray]:
    """The rows of labels ``y`` (0/1) that the mixtures keep, in a seeded shuffled order, and each
    one's mixture: returns ``(rows, mixture)``, both int64 ``[K m]``.

    A one-line error when a mixture could not hold a single jet (a class too small).
    """
    signal, background = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m = mixture_size(fractions, len(signal), len(background))
    if m < 1:
        raise UserError(f"{where}: {len(signal)} signal and {len(background)} background jets cannot make "
                        f"{len(fractions)} mixtures of signal fractions {list(fractions)}; give more jets")
    rng = np.random.default_rng([seed, 0x6D6978])  # its own stream: the row order is unchanged
    signal, background = rng.permutation(signal), rng.permutation(background)
    rows, mixture = [], []
    used_s = used_b = 0
    for k, f in enumerate(fractions):
        s = int(round(f * m))
        rows += [signal[used_s:used_s + s], background[used_b:used_b + m - s]]
        mixture.append(np.full(m, k, dtype=np.int64))
        used_s, used_b = used_s + s, used_b + m - s
    rows_all, mixture_all = np.concatenate(rows), np.concatenate(mixture)
    order = rng.permutation(len(rows_all))
    return rows_all[order], mixture_all[order]


def check_fractions(fractions: list[float], entry: str = "jets") -> list[float]:
    """At least two signal fractions in [0, 1], not all equal (equal ones cannot be told apart);
    a one-line error otherwise."""
    values = [float(f) for f in fractions]
    if len(values) < 2 or not all(0.0 <= f <= 1.0 for f in values) or len(set(values)) < 2:
        raise bad_param(entry, "mixtures", "at least two different signal fractions in [0, 1] "
                        "(e.g. [0.2, 0.8])", fractions)
    return values
