"""The four-lepton event selection of the Higgs discovery analyses, and the Z1/Z2 pairing.

Acceptance (each of the four leptons, as in ATLAS/CMS 2012): electrons
pT > 7 GeV and |eta| < 2.5; muons pT > 5 GeV and |eta| < 2.7. An event is
kept only when all four are accepted (events with fewer leptons are dropped,
so every kept event has four). Then, with leptons ordered by pT, the leading
one needs pT > 20 GeV and the second pT > 10 GeV.

Pairing: of the six lepton pairs, the same-flavour opposite-sign (SFOS) pair
with mass closest to m_Z is Z1 and the other two leptons are Z2, which must be
SFOS too. Then 40 < m_Z1 < 120 GeV, 12 < m_Z2 < 120 GeV and
m4l_min <= m_4l < m4l_max.

Leptons are rows (pT, eta, phi, charge, flavour) with flavour 0 = electron,
1 = muon.
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.hzz.leptons import four_momenta, invariant_mass

Z_MASS = 91.1876  # GeV (PDG)
PT_MIN = {0: 7.0, 1: 5.0}  # GeV, electrons and muons
ETA_MAX = {0: 2.5, 1: 2.7}
LEADING_PT_MIN = (20.0, 10.0)  # GeV, first and second lepton in pT
Z1_WINDOW = (40.0, 120.0)
Z2_WINDOW = (12.0, 120.0)
PAIRS = np.array([(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)])
OTHERS = np.array([(2, 3), (1, 3), (1, 2), (0, 3), (0, 2), (0, 1)])  # the complement of each pair


def sort_by_pt(leptons: np.ndarray) -> np.ndarray:
    """``leptons[n, 4, F]`` with each event's leptons in decreasing pT."""
    order = np.argsort(-leptons[..., 0], axis=1, kind="stable")
    return np.take_along_axis(leptons, order[..., None], axis=1)


def accepted(leptons: np.ndarray) -> np.ndarray:
    """``bool[n, 4]``: which leptons pass the pT and |eta| acceptance of their flavour."""
    muon = leptons[..., 4] > 0.5
    pt_min = np.where(muon, PT_MIN[1], PT_MIN[0])
    eta_max = np.where(muon, ETA_MAX[1], ETA_MAX[0])
    return (leptons[..., 0] > pt_min) & (np.abs(leptons[..., 1]) < eta_max)


def pair_z(leptons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(z1 int64[n, 2], z2 int64[n, 2], valid bool[n])``: lepton indices of Z1 and Z2.

    Within each pair the negative lepton comes first (the fermion of the decay
    angles). ``valid`` is False where no SFOS pair exists or the remaining
    two leptons are not SFOS.
    """
    charge, flavour = leptons[..., 3], leptons[..., 4]
    p = four_momenta(leptons)  # [n, 4, 4]
    pair_mass = invariant_mass(p[:, PAIRS[:, 0]] + p[:, PAIRS[:, 1]])  # [n, 6]

    def sfos(pairs: np.ndarray) -> np.ndarray:  # [n, 6]
        a, b = pairs[:, 0], pairs[:, 1]
        return (flavour[:, a] == flavour[:, b]) & (charge[:, a] * charge[:, b] < 0)

    distance = np.where(sfos(PAIRS), np.abs(pair_mass - Z_MASS), np.inf)
    best = distance.argmin(axis=1)
    valid = np.isfinite(distance[np.arange(len(best)), best]) & sfos(OTHERS)[np.arange(len(best)), best]

    def negative_first(pairs: np.ndarray) -> np.ndarray:
        first_positive = np.take_along_axis(charge, pairs[:, :1], axis=1)[:, 0] > 0
        return np.where(first_positive[:, None], pairs[:, ::-1], pairs)

    return negative_first(PAIRS[best]), negative_first(OTHERS[best]), valid


def masses(leptons: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(m_4l, m_Z1, m_Z2)`` in GeV, each ``float64[n]``."""
    p = four_momenta(leptons)
    rows = np.arange(len(p))[:, None]
    p_z1, p_z2 = p[rows, z1].sum(axis=1), p[rows, z2].sum(axis=1)
    return invariant_mass(p_z1 + p_z2), invariant_mass(p_z1), invariant_mass(p_z2)


def select(leptons: np.ndarray, m4l_min: float, m4l_max: float) -> np.ndarray:
    """The events passing the selection (module docstring), leptons sorted by pT: ``[k, 4, 5]``."""
    leptons = sort_by_pt(leptons)
    keep = accepted(leptons).all(axis=1)
    keep &= (leptons[:, 0, 0] > LEADING_PT_MIN[0]) & (leptons[:, 1, 0] > LEADING_PT_MIN[1])
    z1, z2, valid = pair_z(leptons)
    m4l, m_z1, m_z2 = masses(leptons, z1, z2)
    keep &= valid
    keep &= (m_z1 > Z1_WINDOW[0]) & (m_z1 < Z1_WINDOW[1]) & (m_z2 > Z2_WINDOW[0]) & (m_z2 < Z2_WINDOW[1])
    keep &= (m4l >= m4l_min) & (m4l < m4l_max)
    return leptons[keep]
