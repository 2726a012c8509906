"""Charged-pion showers: a minimum-ionising track, then a hadronic cascade with electromagnetic sub-showers.

The model, in the order a pion lives it:

1. The pion ionises like a MIP (one ~Landau-distributed MIP signal per
   layer crossed) until its first inelastic interaction at a depth drawn
   from ``Exp(lambda_pi)``, ``lambda_pi = 1.2 lambda_I`` (pions interact
   less often than nucleons). Some pions cross the whole stack untouched.
2. At the interaction a fraction ``f_em`` of the remaining energy goes into
   pi0 -> gamma gamma, i.e. electromagnetic sub-showers. Its mean grows with
   energy, ``<f_em> = 1 - (E / E0)^(k - 1)`` with E0 = 0.7 GeV, k = 0.82
   (Gabriel et al., NIM A338 (1994) 336; Wigmans, "Calorimetry", 2nd ed.
   2017, ch. 2), and it fluctuates strongly from shower to shower (Beta
   distribution, spread ~0.15): the main source of the poor hadronic resolution.
   The sub-showers (1 + Poisson(ln(1 + E_em / GeV)) of them) share E_em at
   random, leave the interaction point at angles ~ p_T / E with p_T ~ 0.25 GeV,
   convert after ~9/7 X0 and develop as GFlash electromagnetic showers.
3. The rest is the hadronic cascade. Part of its energy is invisible (nuclear
   binding, neutrons, recoils): its signal is ``h/e = 1 / 1.4`` of an
   electromagnetic deposit of equal energy (e/h = 1.4, typical of iron/plastic),
   with extra shower-to-shower fluctuations. Its depth profile is a Gamma
   distribution in interaction lengths from the interaction point with the
   shape and slope of Bock, Hansl-Kozanecka & Shah (NIM 186 (1981) 533),
   jittered per shower; its radial profile widens with depth, ~1.5 cm at the
   start to ~6 cm one interaction length later, so hadronic showers are
   several times wider than electromagnetic ones. Its spots carry ~0.1 GeV
   each, so the hadronic part looks clumpy.

The signal is at the electromagnetic scale: an electron's cells sum to its
energy, a pion's to less (pi/e = f_em + (1 - f_em) h/e < 1).
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.calorimeter.deposits import Deposits, sampled, spot_counts
from quanta.simulators.calorimeter.electromagnetic import (
    conversion_depth,
    em_showers,
    gamma_layer_fractions,
)
from quanta.simulators.calorimeter.geometry import Calorimeter

PION_LAMBDA_RATIO = 1.2  # pion inelastic interaction length / nuclear interaction length (PDG, iron)
EM_FRACTION_E0, EM_FRACTION_K = 0.7, 0.82  # <f_em> = 1 - (E/E0)^(k-1)
EM_FRACTION_CONCENTRATION = 8.0  # Beta(m kappa, (1 - m) kappa): sd = sqrt(m (1 - m) / (kappa + 1))
E_OVER_H = 1.4
HADRONIC_INTRINSIC = 0.3  # relative spread of the invisible-energy loss, / sqrt(E_h / GeV)
HADRONIC_SAMPLING_TERM = 0.4  # sampling fluctuations of hadronic deposits, per sqrt(GeV)
HADRONIC_SPOT_ENERGY = 0.1  # GeV per hadronic spot
HADRONIC_RADIUS_CM = 1.5  # radial scale at the interaction point...
HADRONIC_RADIUS_GROWTH = 0.25  # ...growing by this many cm per cm of depth after it
SECONDARY_PT = 0.25  # GeV, mean transverse momentum of the pi0s
MAX_SUBSHOWERS = 8
LANDAU_WIDTH = 0.12  # width of the MIP signal in MIPs (Moyal approximation of the Landau)


def mip_signals(shape: tuple[int, ...], detector: Calorimeter, rng: np.random.Generator) -> np.ndarray:
    """Signals (GeV, EM scale) of a MIP crossing one layer: a Moyal law around 1 MIP, mean 1 MIP.

    If G ~ chi^2 with one degree of freedom, -ln G follows the Moyal
    distribution, a close approximation of Landau's (mean ln 2 + Euler's gamma).
    """
    moyal = -np.log(rng.chisquare(1, shape))
    return detector.mip * np.maximum(1.0 + LANDAU_WIDTH * (moyal - 1.2704), 0.0)


def mean_em_fraction(energy: np.ndarray) -> np.ndarray:
    """<f_em>(E) for pion showers (0.06 at 1 GeV, 0.38 at 10 GeV, 0.59 at 100 GeV)."""
    return 1.0 - (np.maximum(energy, EM_FRACTION_E0) / EM_FRACTION_E0) ** (EM_FRACTION_K - 1.0)


def pion_showers(energy: np.ndarray, impact: np.ndarray, detector: Calorimeter, rng: np.random.Generator
                 ) -> tuple[Deposits, np.ndarray, np.ndarray]:
    """Showers of charged pions of ``energy`` GeV entering at ``impact`` (x, y) cm.

    Returns the deposits, the depth of the first interaction (cm; beyond the
    back for pions that cross untouched) and the electromagnetic fraction of
    the energy at the interaction.
    """
    n, layers = len(energy), detector.layers
    event = np.arange(n)
    edges = detector.layer_edges_cm()
    depth = rng.exponential(PION_LAMBDA_RATIO * detector.interaction_length_cm, n)
    # the pion crosses layer i's scintillator (at its back) before interacting; it loses mip_loss per layer
    crossed = np.minimum(np.floor(depth / detector.layer_cm).astype(np.int64), layers)
    crossed = np.minimum(crossed, np.floor(energy / detector.mip_loss).astype(np.int64))  # it may range out
    remaining = np.maximum(energy - crossed * detector.mip_loss, 0.0)
    interacts = (depth < detector.depth_cm) & (remaining > 0)
    remaining = np.where(interacts, remaining, 0.0)

    # 1. the track before the interaction
    before = np.arange(layers)[None, :] < crossed[:, None]
    track = Deposits(
        event=event, energy=np.where(before, mip_signals((n, layers), detector, rng), 0.0),
        spots=before.astype(np.int64), r_core=np.full((n, layers), 0.05), r_tail=np.full((n, layers), 0.05),
        p_core=np.ones((n, layers)), axis=impact, slope=np.zeros((n, 2)), z_start=np.zeros(n))

    # 2. electromagnetic sub-showers from pi0 decays
    mean = np.clip(mean_em_fraction(remaining), 0.02, 0.98)  # Beta needs both shapes > 0
    fraction = np.where(interacts, rng.beta(mean * EM_FRACTION_CONCENTRATION,
                                            (1 - mean) * EM_FRACTION_CONCENTRATION), 0.0)
    em_energy = fraction * remaining
    count = np.where(em_energy > 0, np.minimum(1 + rng.poisson(np.log1p(em_energy)), MAX_SUBSHOWERS), 0)
    owner = np.repeat(event, count)
    shares = rng.gamma(1.0, 1.0, len(owner))  # Dirichlet(1, ..., 1) per pion after normalising
    shares /= np.bincount(owner, weights=shares, minlength=n)[owner]
    sub_energy = em_energy[owner] * shares
    pt = rng.exponential(SECONDARY_PT, len(owner))
    angle = np.minimum(pt / np.maximum(sub_energy, 1e-3), 1.0)  # small-angle slope, at most 45 degrees
    phi = rng.uniform(0.0, 2.0 * np.pi, len(owner))
    slope = angle[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    vertex = depth[owner]
    start = vertex + conversion_depth(len(owner), detector, rng)
    axis = impact[owner] + slope * (start - vertex)[:, None]
    keep = sub_energy > 1e-3
    subshowers = em_showers(sub_energy[keep], owner[keep], start[keep], axis[keep], slope[keep], detector, rng)

    # 3. the hadronic cascade
    hadronic = (1.0 - fraction) * remaining
    invisible = rng.normal(1.0, HADRONIC_INTRINSIC / np.sqrt(np.maximum(hadronic, 0.05)))
    hadronic_visible = hadronic / E_OVER_H * np.clip(invisible, 0.2, 1.8)
    log_e = np.log10(np.maximum(remaining, 0.1))
    shape = (0.6165 + 0.3183 * log_e) * rng.lognormal(0.0, 0.25, n)
    rate = 0.9099 - 0.0237 * log_e
    lam = detector.interaction_length_cm
    fractions = gamma_layer_fractions(shape, rate, depth / lam, edges / lam)
    deposit = sampled(hadronic_visible[:, None] * fractions, HADRONIC_SAMPLING_TERM**2, rng)
    spots = spot_counts(deposit, deposit / HADRONIC_SPOT_ENERGY)
    centre = 0.5 * (edges[:-1] + edges[1:])
    radius = HADRONIC_RADIUS_CM + HADRONIC_RADIUS_GROWTH * np.maximum(centre[None, :] - depth[:, None], 0.0)
    cascade = Deposits(event=event, energy=deposit, spots=spots, r_core=radius, r_tail=radius,
                       p_core=np.ones((n, layers)), axis=impact, slope=np.zeros((n, 2)), z_start=depth)
    return Deposits.concatenate([track, subshowers, cascade]), depth, fraction
