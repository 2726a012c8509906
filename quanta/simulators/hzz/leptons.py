"""From a batch of Pythia events to four measured leptons: dressing and momentum smearing.

With hadronisation off the only final-state leptons are the four from the Z
(or gamma*) decays, after QED final-state radiation. Each photon of the event
within ``DRESSING_RADIUS`` (in eta-phi) of a lepton is added to the nearest
lepton, as the experiments do to recover radiated energy; photons further
away are lost. The measurement then smears each lepton's transverse momentum
with a Gaussian of relative width ``pt_resolution`` (directions are measured
far better and kept exact). Leptons are treated as massless.

Shapes: a batch of ``B`` events gives ``float64[B4, 4, 5]`` for the ``B4``
events with exactly four leptons; the last axis is (px, py, pz, charge,
flavour) before :func:`measure` and (pT, eta, phi, charge, flavour) after,
flavour 0 for an electron and 1 for a muon, momenta in GeV.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

DRESSING_RADIUS = 0.1  # photons within Delta R < 0.1 of a lepton join it (ATLAS/CMS dressed leptons)
ELECTRON, MUON, PHOTON = 11, 13, 22


def _column(values: ak.Array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(values))


def _eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pt = np.hypot(px, py)
    return np.arcsinh(pz / np.maximum(pt, 1e-12)), np.arctan2(py, px)


def dressed_leptons(batch: ak.Array) -> np.ndarray:
    """``float64[B4, 4, 5]``: the four final-state leptons of each event, photons added back.

    ``batch`` is the output of ``Pythia.nextBatch``; events without exactly four
    final-state electrons and muons (none with these settings) are skipped.
    """
    particles = batch["prt"]
    final = particles[particles["status"] > 0]
    pdg = abs(final["id"])
    leptons = final[(pdg == ELECTRON) | (pdg == MUON)]
    photons = final[pdg == PHOTON]

    four = ak.to_numpy(ak.num(leptons)) == 4
    leptons, photons = leptons[four], photons[four]
    n = int(four.sum())
    momenta = np.stack([_column(leptons["p"][c]) for c in ("px", "py", "pz")], axis=-1).reshape(n, 4, 3)
    pdg_id = _column(leptons["id"]).reshape(n, 4)

    # photons: flat columns plus the event each belongs to
    event = np.repeat(np.arange(n), ak.to_numpy(ak.num(photons)))
    gamma = np.stack([_column(photons["p"][c]) for c in ("px", "py", "pz")], axis=-1)  # [G, 3]
    if len(gamma):
        lepton_eta, lepton_phi = _eta_phi(*np.moveaxis(momenta, -1, 0))  # [n, 4] each
        gamma_eta, gamma_phi = _eta_phi(*gamma.T)  # [G]
        d_phi = (gamma_phi[:, None] - lepton_phi[event] + np.pi) % (2 * np.pi) - np.pi  # [G, 4]
        distance = np.hypot(gamma_eta[:, None] - lepton_eta[event], d_phi)
        nearest = distance.argmin(axis=1)
        close = distance[np.arange(len(gamma)), nearest] < DRESSING_RADIUS
        flat = momenta.reshape(n * 4, 3)
        np.add.at(flat, event[close] * 4 + nearest[close], gamma[close])
        momenta = flat.reshape(n, 4, 3)

    charge = -np.sign(pdg_id)  # PDG: e- and mu- have positive codes
    flavour = (np.abs(pdg_id) == MUON).astype(np.float64)
    return np.concatenate([momenta, charge[..., None], flavour[..., None]], axis=-1)


def measure(true: np.ndarray, pt_resolution: float, rng: np.random.Generator) -> np.ndarray:
    """``float64[B, 4, 5]`` (pT, eta, phi, charge, flavour): ``true`` leptons with smeared pT.

    The relative pT error is Gaussian with width ``pt_resolution``; the
    measured pT is kept positive.
    """
    px, py, pz = true[..., 0], true[..., 1], true[..., 2]
    eta, phi = _eta_phi(px, py, pz)
    pt = np.hypot(px, py) * (1.0 + pt_resolution * rng.standard_normal(px.shape))
    return np.stack([np.maximum(pt, 1e-3), eta, phi, true[..., 3], true[..., 4]], axis=-1)


def four_momenta(leptons: np.ndarray) -> np.ndarray:
    """``float64[..., 4]`` (E, px, py, pz) of massless leptons given as (pT, eta, phi, ...)."""
    pt, eta, phi = leptons[..., 0].astype(np.float64), leptons[..., 1], leptons[..., 2]
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)


def invariant_mass(p: np.ndarray) -> np.ndarray:
    """Invariant mass of four-vectors ``(E, px, py, pz)`` along the last axis (0 if spacelike)."""
    squared = p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(axis=-1)
    return np.sqrt(np.maximum(squared, 0.0))
