"""Jet substructure observables computed from padded constituents, vectorised over jets.

Inputs everywhere: ``constituents`` float32[N, P, 4] holding (pT, eta, phi, E)
per constituent, pT-ordered and zero padded, and ``mask`` bool[N, P] marking
the real entries. N-subjettiness and the energy correlation functions come from
FastJet-contrib through FastJet's multi-event interface (one "event" per jet),
so that they are the standard implementations, not re-derivations.

References:
    N-subjettiness: J. Thaler, K. Van Tilburg, JHEP 03 (2011) 015, arXiv:1011.2268.
    Energy correlation ratios C2, D2: A. Larkoski, G. Salam, J. Thaler, JHEP 06 (2013)
    108, arXiv:1305.0007; A. Larkoski, I. Moult, D. Neill, JHEP 12 (2014) 009, arXiv:1409.6298.
    pT_D: CMS, PAS JME-13-002. Girth (width): J. Gallicchio, M. Schwartz, PRL 107 (2011) 172001.
"""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np

from quanta.simulators.jets.clustering import delta_phi, hide_fastjet_banner


def as_events(constituents: np.ndarray, mask: np.ndarray) -> ak.Array:
    """One Awkward "event" per jet with Cartesian (px, py, pz, E) for FastJet."""
    pt, eta, phi, energy = (constituents[..., k][mask].astype(np.float64) for k in range(4))
    cartesian = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "E": energy}
    return ak.unflatten(ak.zip(cartesian), mask.sum(axis=1))


def _all_in_one(constituents: np.ndarray, mask: np.ndarray) -> fastjet.ClusterSequence:
    hide_fastjet_banner()
    # kt with the largest allowed R: exclusive_jets(1) is then the whole jet (no beam merging)
    definition = fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0)
    return fastjet.ClusterSequence(as_events(constituents, mask), definition)


def nsubjettiness(constituents: np.ndarray, mask: np.ndarray, radius: float = 0.8,
                  beta: float = 1.0, n_max: int = 3) -> np.ndarray:
    """``float64[N, n_max]``: tau_1 ... tau_n_max of each jet.

    tau_N = sum_i pT_i min_k dR(i, axis_k)^beta / (sum_i pT_i * R^beta), with
    the N axes the exclusive-kt subjets of the constituents (FastJet-contrib
    ``KT_Axes``, ``NormalizedMeasure``). Small tau_N / tau_(N-1) means the jet
    looks like N prongs: tau21 for W/Z/H (2 prongs), tau32 for tops (3 prongs).
    """
    sequence = _all_in_one(constituents, mask)
    taus = sequence.njettiness(measure_definition="NormalizedMeasure", axes_definition="KT_Axes",
                               njets=list(range(1, n_max + 1)), beta=beta, R0=radius)
    return ak.to_numpy(taus).reshape(len(mask), n_max)


def energy_correlation_ratios(constituents: np.ndarray, mask: np.ndarray,
                              beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(C2, D2)``, each float64[N]: ratios of 1-, 2- and 3-point energy correlators.

    C2 = e3 e1 / e2^2 and D2 = e3 e1^3 / e2^3 with angular exponent ``beta``;
    both are small for two-pronged jets and large for one-pronged QCD jets.
    """
    sequence = _all_in_one(constituents, mask)
    c2 = sequence.exclusive_jets_energy_correlator(njets=1, func="C2", beta=beta)
    d2 = sequence.exclusive_jets_energy_correlator(njets=1, func="D2", beta=beta)
    return ak.to_numpy(c2), ak.to_numpy(d2)


def relative_coordinates(constituents: np.ndarray, jet_eta: np.ndarray,
                         jet_phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(delta eta, delta phi wrapped to [-pi, pi)) of each constituent from its jet axis, [N, P]."""
    d_eta = constituents[..., 1] - jet_eta[:, None]
    d_phi = delta_phi(constituents[..., 2], jet_phi[:, None])
    return d_eta, d_phi


def girth(constituents: np.ndarray, mask: np.ndarray, jet_eta: np.ndarray,
          jet_phi: np.ndarray) -> np.ndarray:
    """``float64[N]``: pT-weighted mean distance of the constituents from the jet axis (jet width)."""
    d_eta, d_phi = relative_coordinates(constituents, jet_eta, jet_phi)
    pt = np.where(mask, constituents[..., 0], 0.0).astype(np.float64)
    return (pt * np.hypot(d_eta, d_phi)).sum(axis=1) / pt.sum(axis=1)


def pt_dispersion(constituents: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``float64[N]``: pT_D = sqrt(sum pT_i^2) / sum pT_i; near 1 when a few hard particles dominate."""
    pt = np.where(mask, constituents[..., 0], 0.0).astype(np.float64)
    return np.sqrt((pt**2).sum(axis=1)) / pt.sum(axis=1)
