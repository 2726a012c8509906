"""The acceptance study: over repeated simulated sphere curves, the credible intervals cover the truth.

Slow (about 7 minutes on a loaded two-core machine): 20 curves from the ``saxs``
source (Schulz polydispersity 0.1, pinhole dq/q = 0.05, counting noise at flux
1e5, radii 20-200 A), each fitted with 16 walkers x 1500 steps (300 burn-in).
Measured: the 68 % / 95 % intervals held the true radius in 65 % / 85 % of the
curves, the true polydispersity in 70 % / 85 % (with 2600 steps: 65 / 90 % and
70 / 85 %). Over 20 curves the binomial spread is about 10 points at 68 % and 5
at 95 %, hence the bounds below.
"""

from __future__ import annotations

import numpy as np
import pytest

from quanta.inference import fit_curve
from quanta.simulators.saxs import saxs

CURVES = 20


@pytest.mark.slow
def test_intervals_cover_the_true_radius_and_polydispersity_at_their_level():
    data = saxs(view="curve", target="parameters", size=CURVES, seed=11, shapes=("sphere",), n_q=100,
                polydispersity=0.1, dq_over_q=0.05, progress=False)
    truth = {"radius": data.arrays["parameters"][:, 0], "polydispersity": np.full(CURVES, 0.1)}
    inside = {(name, level): [] for name in truth for level in (0.68, 0.95)}
    for i in range(CURVES):
        posterior = fit_curve(data.arrays["q"][i], data.arrays["intensity"][i], data.arrays["sigma"][i],
                              walkers=16, steps=1500, burn=300, seed=i, dq_over_q=0.05)
        for (name, level), hits in inside.items():
            low, high = posterior.interval(level)
            column = posterior.names.index(name)
            hits.append(low[column] <= truth[name][i] <= high[column])
    rates = {key: float(np.mean(hits)) for key, hits in inside.items()}
    print("coverage over", CURVES, "curves:", rates)
    for (name, level), rate in rates.items():
        if level == 0.68:
            assert 0.45 <= rate <= 0.9, (name, level, rate)
        else:
            assert rate >= 0.8, (name, level, rate)
