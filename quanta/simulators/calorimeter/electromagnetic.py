"""Electromagnetic showers with the GFlash parametrisation for sampling calorimeters.

Longitudinal profile (hep-ex/0001020 sec. 3): the energy deposited per
radiation length t follows a Gamma distribution,

    dE/dt = E (beta t)^(alpha - 1) beta exp(-beta t) / Gamma(alpha),

whose maximum ``T = (alpha - 1) / beta`` moves as ln(y), y = E / E_c. Each
shower draws its own (ln T, ln alpha) from a correlated two-dimensional
Gaussian; the sampling structure shifts the means by ``t1 / F_S + t2 (1 - e/mip)``
and ``a1 / F_S``. Radial profile (sec. 4): a core and a tail, both of the form
``2 r R^2 / (r^2 + R^2)^2`` in Moliere radii, with R_C, R_T and the core weight
p depending on E, Z and tau = t / T. Spots (sec. 5): ``N_spot = 10.3 / a
E^0.959`` points per shower, distributed in depth with a slightly earlier
Gamma profile (T_spot, alpha_spot).

All coefficients below are those of Grindhammer & Peters (hep-ex/0001020,
tables and equations of secs. 3-5), as also used by Geant4's GFlash.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammainc

from quanta.simulators.calorimeter.deposits import Deposits, sampled, spot_counts
from quanta.simulators.calorimeter.geometry import Calorimeter

SAMPLING_TERM = 0.25  # a in sigma/E = a/sqrt(E/GeV): Wigmans' 2.7% sqrt(d/f_mip) scaled to CALICE AHCAL data
PHOTON_CONVERSION_X0 = 9.0 / 7.0  # mean free path of a high-energy photon before pair production
LN_Y_MIN = 2.5  # below, the fluctuation formulas turn negative: sub-GeV showers use the 250 MeV shape


def longitudinal_shape(energy: np.ndarray, detector: Calorimeter, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per shower ``(T, alpha)``: depth of maximum in X0 and Gamma shape, with their fluctuations."""
    z, fs, ehat = detector.z_eff, detector.sampling_frequency, detector.e_over_mip
    ln_y = np.maximum(np.log(energy / detector.critical_energy), LN_Y_MIN)
    mean_t_hom = np.maximum(ln_y - 0.812, 0.1)
    mean_a_hom = np.maximum(0.81 + (0.458 + 2.26 / z) * ln_y, 0.1)
    mean_ln_t = np.log(np.maximum(mean_t_hom - 0.55 / fs - 0.69 * (1.0 - ehat), 0.3))
    mean_ln_a = np.log(np.maximum(mean_a_hom - 0.476 / fs, 1.1))
    sigma_ln_t = np.minimum(0.5, 1.0 / (-2.5 + 1.25 * ln_y))
    sigma_ln_a = np.minimum(0.5, 1.0 / (-0.82 + 0.79 * ln_y))
    rho = 0.784 - 0.023 * ln_y
    g1, g2 = rng.standard_normal((2, len(energy)))
    c1, c2 = np.sqrt((1.0 + rho) / 2.0), np.sqrt((1.0 - rho) / 2.0)  # corr(ln T, ln alpha) = c1^2 - c2^2 = rho
    tmax = np.maximum(np.exp(mean_ln_t + sigma_ln_t * (c1 * g1 + c2 * g2)), 0.5)
    alpha = np.maximum(np.exp(mean_ln_a + sigma_ln_a * (c1 * g1 - c2 * g2)), 1.1)
    return tmax, alpha


def gamma_layer_fractions(alpha: np.ndarray, beta: np.ndarray, start: np.ndarray, edges: np.ndarray
                          ) -> np.ndarray:
    """``[C, L]``: share of a Gamma(alpha, rate beta) profile beginning at ``start`` in each layer.

    ``edges`` are the layer boundaries in the profile's length unit; what lies
    beyond the last edge leaks out of the back and is missing from the sum.
    """
    distance = np.maximum(edges[None, :] - start[:, None], 0.0)  # [C, L + 1]
    cumulative = gammainc(alpha[:, None], beta[:, None] * distance)
    return np.diff(cumulative, axis=1)


def radial_profile(energy: np.ndarray, tau: np.ndarray, detector: Calorimeter
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GFlash's ``(R_C, R_T, p)`` in cm at relative depth ``tau = t / T`` (arrays broadcast).

    Energies in GeV. The sampling terms shrink the tail and widen the core
    early in the shower (hep-ex/0001020 eqs. 10-12 with the sampling corrections).
    """
    z, fs, ehat = detector.z_eff, detector.sampling_frequency, detector.e_over_mip
    ln_e = np.log(energy)
    r_core = (0.0251 + 0.00319 * ln_e) + (0.1162 - 0.000381 * z) * tau
    k1, k2, k3, k4 = 0.659 - 0.00309 * z, 0.645, -2.59, 0.3585 + 0.0412 * ln_e
    r_tail = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2, p3 = 2.632 - 0.00094 * z, 0.401 + 0.00187 * z, 1.313 - 0.0686 * ln_e
    p_core = p1 * np.exp((p2 - tau) / p3 - np.exp((p2 - tau) / p3))
    r_core = r_core - 0.0203 * (1.0 - ehat) + 0.0397 / fs * np.exp(-tau)
    r_tail = r_tail - 0.14 * (1.0 - ehat) - 0.495 / fs * np.exp(-tau)
    p_core = p_core + (1.0 - ehat) * (0.348 - 0.642 / fs * np.exp(-((tau - 1.0) ** 2)))
    rm = detector.moliere_radius_cm
    return (rm * np.maximum(r_core, 0.02), rm * np.maximum(r_tail, 0.05), np.clip(p_core, 0.0, 1.0))


def em_showers(energy: np.ndarray, event: np.ndarray, z_start: np.ndarray, axis: np.ndarray,
               slope: np.ndarray, detector: Calorimeter, rng: np.random.Generator) -> Deposits:
    """Electromagnetic cascades of ``energy`` GeV starting at depth ``z_start`` cm (one per row).

    An electron's cascade starts at the front face; a photon's where it
    converts, ``z_start ~ Exp(9/7 X0)`` deeper, so photon showers peak a
    little later and leave the first layer empty more often.
    """
    x0 = detector.radiation_length_cm
    edges = detector.layer_edges_cm() / x0  # [L + 1] in X0
    start = z_start / x0
    tmax, alpha = longitudinal_shape(energy, detector, rng)
    beta = (alpha - 1.0) / tmax
    deposit = energy[:, None] * gamma_layer_fractions(alpha, beta, start, edges)  # [C, L]
    visible = sampled(deposit, SAMPLING_TERM**2, rng)

    z = detector.z_eff
    spot_t, spot_alpha = tmax * (0.813 + 0.0019 * z), alpha * (0.844 + 0.0026 * z)
    n_spots = 10.3 / SAMPLING_TERM * energy**0.959
    spot_share = gamma_layer_fractions(spot_alpha, (spot_alpha - 1.0) / spot_t, start, edges)
    spots = spot_counts(visible, n_spots[:, None] * spot_share)

    centre = 0.5 * (edges[:-1] + edges[1:])  # [L] layer centres in X0
    # the fits cover the shower's bulk; far behind it (tau > 6) keep the shape of tau = 6
    tau = np.minimum(np.maximum(centre[None, :] - start[:, None], 0.0) / tmax[:, None], 6.0)  # [C, L]
    r_core, r_tail, p_core = radial_profile(energy[:, None], tau, detector)
    return Deposits(event=event, energy=visible, spots=spots, r_core=r_core, r_tail=r_tail, p_core=p_core,
                    axis=axis, slope=slope, z_start=z_start)


def conversion_depth(n: int, detector: Calorimeter, rng: np.random.Generator) -> np.ndarray:
    """Depths (cm) at which ``n`` photons convert to an e+e- pair."""
    return rng.exponential(PHOTON_CONVERSION_X0 * detector.radiation_length_cm, n)
