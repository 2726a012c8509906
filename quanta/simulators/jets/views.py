"""The ``features`` and ``constituents`` views of the jets, computed from the cached raw jets.

Raw jets (see :func:`quanta.simulators.jets.generate.pack`): ``constituents``
float32[N, C, 4] as (pT, eta, phi, E), pT-ordered, zero padded;
``multiplicity`` int32[N]; ``jet`` float32[N, 5] as (pT, eta, phi, mass, E).
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.jets.clustering import JET_RADIUS
from quanta.simulators.jets.substructure import (
    energy_correlation_ratios,
    girth,
    nsubjettiness,
    pt_dispersion,
    relative_coordinates,
)

FEATURE_NAMES = [
    "jet_pt", "jet_eta", "jet_mass", "n_constituents", "tau1", "tau2", "tau3", "tau21", "tau32",
    "girth", "pt_d", "leading_pt_fraction", "c2", "d2",
]
CONSTITUENT_FEATURE_NAMES = [
    "delta_eta", "delta_phi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "delta_r",
]


def stored_mask(raw: dict[str, np.ndarray]) -> np.ndarray:
    """``bool[N, C]``: which stored constituent slots hold a particle."""
    capacity = raw["constituents"].shape[1]
    return np.arange(capacity)[None, :] < np.minimum(raw["multiplicity"], capacity)[:, None]


def features(raw: dict[str, np.ndarray]) -> np.ndarray:
    """``float32[N, 14]``: one row of high-level observables per jet (names in FEATURE_NAMES)."""
    constituents, jet = raw["constituents"], raw["jet"].astype(np.float64)
    mask = stored_mask(raw)
    taus = nsubjettiness(constituents, mask, radius=JET_RADIUS)  # [N, 3]
    c2, d2 = energy_correlation_ratios(constituents, mask)
    tau1, tau2, tau3 = taus.T
    columns = [
        jet[:, 0],
        jet[:, 1],
        jet[:, 3],
        raw["multiplicity"],
        tau1,
        tau2,
        tau3,
        np.divide(tau2, tau1, out=np.zeros_like(tau2), where=tau1 > 0),
        np.divide(tau3, tau2, out=np.zeros_like(tau3), where=tau2 > 0),
        girth(constituents, mask, jet[:, 1], jet[:, 2]),
        pt_dispersion(constituents, mask),
        constituents[:, 0, 0] / jet[:, 0],
        c2,
        d2,
    ]
    return np.stack(columns, axis=1).astype(np.float32)


def constituents(raw: dict[str, np.ndarray], n_constituents: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x float32[N, P, 7], mask bool[N, P])``: the P hardest constituents relative to the jet.

    Per constituent: delta eta and delta phi (wrapped) from the jet axis, log pT,
    log E, log(pT / pT_jet), log(E / E_jet) and delta R; the inputs of
    ParticleNet (arXiv:1902.08570). Jets with fewer than P constituents are
    padded with zeros and ``mask`` False.
    """
    jet = raw["jet"].astype(np.float64)
    mask = stored_mask(raw)
    stored = raw["constituents"]
    take = min(n_constituents, stored.shape[1])
    parts = stored[:, :take].astype(np.float64)  # [N, take, 4]
    mask = mask[:, :take]
    d_eta, d_phi = relative_coordinates(parts, jet[:, 1], jet[:, 2])
    pt, energy = np.where(mask, parts[..., 0], 1.0), np.where(mask, parts[..., 3], 1.0)  # log-safe
    x = np.where(mask[..., None], particle_features(d_eta, d_phi, pt, energy, jet), 0.0)
    x = x.astype(np.float32)  # [N, take, 7]
    if take < n_constituents:  # more slots asked than ever stored: pad further
        pad = n_constituents - take
        x = np.pad(x, ((0, 0), (0, pad), (0, 0)))
        mask = np.pad(mask, ((0, 0), (0, pad)))
    return x, mask


def particle_features(d_eta: np.ndarray, d_phi: np.ndarray, pt: np.ndarray, energy: np.ndarray,
                      jet: np.ndarray) -> np.ndarray:
    """``[N, P, 7]``: the names of CONSTITUENT_FEATURE_NAMES from each particle's offsets from the
    jet axis, pT and E (``[N, P]``, positive) and the jets ``[N, 5]`` (pT, eta, phi, mass, E)."""
    return np.stack([
        d_eta,
        d_phi,
        np.log(pt),
        np.log(energy),
        np.log(pt / jet[:, None, 0]),
        np.log(energy / jet[:, None, 4]),
        np.hypot(d_eta, d_phi),
    ], axis=-1)


def four_momenta(raw: dict[str, np.ndarray], n_constituents: int) -> np.ndarray:
    """``float32[N, P, 4]``: the P hardest constituents' four-momenta (E, px, py, pz) in GeV, lab frame.

    From the stored (pT, eta, phi, E): px = pT cos phi, py = pT sin phi,
    pz = pT sinh eta. Padding is zeros (a zero four-vector), matching the
    constituents view's ``mask``. These are the inputs of Lorentz-structured
    networks (LorentzNet, arXiv:2201.08187) and of the particle transformer's
    pairwise features (arXiv:2202.03772), which a boost or rotation acts on.
    """
    stored = raw["constituents"]
    take = min(n_constituents, stored.shape[1])
    parts = stored[:, :take].astype(np.float64)
    mask = stored_mask(raw)[:, :take]
    pt, eta, phi, energy = np.moveaxis(parts, -1, 0)
    p4 = np.stack([energy, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)
    p4 = np.where(mask[..., None], p4, 0.0).astype(np.float32)
    if take < n_constituents:
        p4 = np.pad(p4, ((0, 0), (0, n_constituents - take), (0, 0)))
    return p4
