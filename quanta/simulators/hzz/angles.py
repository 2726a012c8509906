"""The five decay angles of X -> Z1 Z2 -> 4 leptons (Cabibbo-Maksymowicz / Gao et al.).

With Z1 -> l1- l1+ and Z2 -> l2- l2+ (momenta q11, q12, q21, q22; q1 and q2
the Z momenta), following Y. Gao et al., Phys. Rev. D 81, 075022 (2010),
arXiv:1001.3396, and S. Bolognesi et al., Phys. Rev. D 86, 095031 (2012):

* cos theta*: angle between Z1 and the beam axis (+z), in the X rest frame;
* Phi1: angle between the plane of the beam and Z1 and the decay plane of
  Z1, in the X rest frame;
* cos theta1: angle between the negative lepton of Z1 and the direction
  opposite to Z2, in the Z1 rest frame (cos theta2 likewise for Z2);
* Phi: angle between the two decay planes, in the X rest frame.

A spin-0 Higgs boson decays isotropically (flat cos theta*), with Phi and the
cos theta_i shaped by the Z polarisations; the q qbar -> ZZ continuum is
produced forward (cos theta* near +-1). This is the input of the matrix-element
discriminants (MELA) of the CMS discovery analysis.
"""

from __future__ import annotations

import numpy as np

BEAM = np.array([0.0, 0.0, 1.0])


def boost_to_rest(p: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Four-vectors ``p[..., 4]`` (E, px, py, pz) seen in the rest frame of ``frame[..., 4]``."""
    beta = frame[..., 1:] / frame[..., :1]  # [..., 3]
    beta2 = np.maximum((beta**2).sum(axis=-1, keepdims=True), 1e-300)
    gamma = 1.0 / np.sqrt(np.maximum(1.0 - beta2, 1e-300))
    beta_p = (beta * p[..., 1:]).sum(axis=-1, keepdims=True)
    energy = gamma * (p[..., :1] - beta_p)
    momentum = p[..., 1:] + ((gamma - 1.0) * beta_p / beta2 - gamma * p[..., :1]) * beta
    return np.concatenate([energy, momentum], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-300)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1)


def _cos_helicity(lepton: np.ndarray, own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """cos of the angle between ``lepton`` and minus ``other``, in the rest frame of ``own``."""
    lepton_3 = boost_to_rest(lepton, own)[..., 1:]
    other_3 = boost_to_rest(other, own)[..., 1:]
    return -_dot(_unit(lepton_3), _unit(other_3))


def _signed_angle(q: np.ndarray, a: np.ndarray, b: np.ndarray, cos_value: np.ndarray) -> np.ndarray:
    """arccos(cos_value) with the sign of q . (a x b)."""
    sign = np.where(_dot(q, np.cross(a, b)) < 0, -1.0, 1.0)
    return sign * np.arccos(np.clip(cos_value, -1.0, 1.0))


def decay_angles(l1_minus: np.ndarray, l1_plus: np.ndarray, l2_minus: np.ndarray,
                 l2_plus: np.ndarray) -> dict[str, np.ndarray]:
    """``{"cos_theta_star", "phi1", "cos_theta1", "cos_theta2", "phi"}``, each ``float64[n]``.

    Inputs are lab-frame four-vectors ``[n, 4]`` (E, px, py, pz); angles in radians.
    """
    z1, z2 = l1_minus + l1_plus, l2_minus + l2_plus
    system = z1 + z2
    q11, q12, q21, q22 = (boost_to_rest(p, system)[:, 1:] for p in (l1_minus, l1_plus, l2_minus, l2_plus))
    q1 = q11 + q12
    n1, n2 = _unit(np.cross(q11, q12)), _unit(np.cross(q21, q22))
    n_sc = _unit(np.cross(np.broadcast_to(BEAM, q1.shape), q1))
    return {
        "cos_theta_star": _dot(_unit(q1), BEAM),
        "phi1": _signed_angle(q1, n1, n_sc, _dot(n1, n_sc)),
        "cos_theta1": _cos_helicity(l1_minus, z1, z2),
        "cos_theta2": _cos_helicity(l2_minus, z2, z1),
        "phi": _signed_angle(q1, n1, n2, -_dot(n1, n2)),
    }
