"""Helices in a solenoid field: where a charged particle crosses a cylindrical layer.

A particle of charge q = +-1 (units of e), transverse momentum pT (GeV),
azimuth phi0 and pseudorapidity eta, produced at (vx, vy, vz), moves in a
uniform field B (tesla) along +z on a helix. Its projection on the
transverse plane is a circle of radius

    R [m] = pT [GeV] / (0.3 B [T])

(0.3 = c in units of GeV / (T m)), which it runs clockwise for q > 0 when
seen from +z (the force q v x B). With s the path length in the transverse
plane, the direction is phi(s) = phi0 - q s / R and z(s) = vz + s sinh(eta).
The circle's centre is (vx + q R sin phi0, vy - q R cos phi0).

A layer of radius r is crossed where |(x, y)| = r; of the (up to) two
crossings the particle meets the one with the shorter s, on its way out. A
circle that never reaches r (2R < r for a track from the origin: a looper)
gives no hit. Energy loss and multiple scattering are not simulated, so the
helix is exact; see the PDG review "Passage of particles through matter" for
what they would add.
"""

from __future__ import annotations

import numpy as np

GEV_PER_TESLA_METRE = 0.3  # pT [GeV] = 0.3 B [T] R [m] for a unit charge (0.29979...)


def radius(pt: np.ndarray, field: float) -> np.ndarray:
    """Transverse radius of curvature in metres for pT in GeV and field in tesla."""
    return np.asarray(pt) / (GEV_PER_TESLA_METRE * field)


def crossings(pt: np.ndarray, charge: np.ndarray, phi0: np.ndarray, eta: np.ndarray,
              vertex: np.ndarray, field: float, layer_radius: float) -> np.ndarray:
    """``float64[M, 4]`` (x, y, z, s) where each of M helices first crosses radius ``layer_radius``.

    ``vertex`` is ``[M, 3]`` (vx, vy, vz) in metres; rows that never reach the
    layer are NaN. ``s`` is the transverse path length from the vertex.
    """
    big_r = radius(pt, field)
    centre_x = vertex[:, 0] + charge * big_r * np.sin(phi0)
    centre_y = vertex[:, 1] - charge * big_r * np.cos(phi0)
    distance = np.hypot(centre_x, centre_y)
    beta = np.arctan2(centre_y, centre_x)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = (layer_radius**2 - distance**2 - big_r**2) / (2 * big_r * distance)
    opening = np.arccos(np.where(np.abs(cosine) <= 1, cosine, np.nan))  # NaN: no crossing
    start = phi0 + charge * np.pi / 2  # angle of the vertex as seen from the centre
    candidates = beta[:, None] + np.stack([opening, -opening], axis=1)  # [M, 2]
    turned = (charge[:, None] * (start[:, None] - candidates)) % (2 * np.pi)  # angle run through
    first = np.argmin(np.where(np.isnan(turned), np.inf, turned), axis=1)
    angle = candidates[np.arange(len(first)), first]
    s = big_r * turned[np.arange(len(first)), first]
    x = centre_x + big_r * np.cos(angle)
    y = centre_y + big_r * np.sin(angle)
    z = vertex[:, 2] + s * np.sinh(eta)
    return np.stack([x, y, z, s], axis=1)


def fit_circle(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """``(centre_x, centre_y, radius)`` of the least-squares circle through points (Kasa's fit).

    Solves x^2 + y^2 = 2 a x + 2 b y + c linearly; exact for points on a circle.
    """
    design = np.stack([2 * x, 2 * y, np.ones_like(x)], axis=1)
    (a, b, c), *_ = np.linalg.lstsq(design, x**2 + y**2, rcond=None)
    return float(a), float(b), float(np.sqrt(c + a**2 + b**2))
