"""The ``features`` view of the four-lepton events, computed from the cached leptons."""

from __future__ import annotations

import numpy as np

from quanta.simulators.hzz.angles import decay_angles
from quanta.simulators.hzz.leptons import four_momenta
from quanta.simulators.hzz.selection import masses, pair_z

LEPTON_FEATURE_NAMES = ["pt", "eta", "phi", "charge", "flavour"]
FEATURE_NAMES = [
    "m4l", "mZ1", "mZ2", "cos_theta_star", "phi1", "cos_theta1", "cos_theta2", "phi",
    "pt4l", "y4l",
]


def features(leptons: np.ndarray) -> np.ndarray:
    """``float32[N, 10]`` (names in FEATURE_NAMES) from ``leptons[N, 4, 5]`` of selected events.

    Masses and pT in GeV, angles in radians, y4l the rapidity of the
    four-lepton system.
    """
    leptons = leptons.astype(np.float64)
    z1, z2, _ = pair_z(leptons)
    m4l, m_z1, m_z2 = masses(leptons, z1, z2)
    p = four_momenta(leptons)  # [N, 4, 4]
    rows = np.arange(len(p))
    angles = decay_angles(p[rows, z1[:, 0]], p[rows, z1[:, 1]], p[rows, z2[:, 0]], p[rows, z2[:, 1]])
    system = p.sum(axis=1)
    pt4l = np.hypot(system[:, 1], system[:, 2])
    y4l = 0.5 * np.log((system[:, 0] + system[:, 3]) / (system[:, 0] - system[:, 3]))
    columns = [m4l, m_z1, m_z2, angles["cos_theta_star"], angles["phi1"], angles["cos_theta1"],
               angles["cos_theta2"], angles["phi"], pt4l, y4l]
    return np.stack(columns, axis=1).astype(np.float32)
