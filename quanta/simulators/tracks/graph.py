"""Hit graphs: candidate edges between hits on adjacent layers, their features and labels.

As in the HEP.TrkX / Exa.TrkX pipelines (Farrell et al., arXiv:1810.06111;
Ju et al., arXiv:2103.06995), a candidate edge joins a hit on layer l to a
hit on layer l + 1 of the same event when the pair is geometrically
compatible with a track from the luminous region above the lowest pT:

* azimuth: |d_phi / d_r| <= the largest slope a track of pt_min from the
  origin has between the two layers, 1 / (2 R_min sqrt(1 - (r2 / 2 R_min)^2))
  with R_min = pt_min / (0.3 B), times 1.1, plus the slope five r-phi
  resolutions make (5 sigma_rphi (1/r1 + 1/r2) / d_r);
* beam-line intercept: |z0| <= 4 sigma_vz + the shift the curvature of a
  pt_min track at |eta| = eta_max gives to the straight-line intercept, plus
  five z resolutions propagated to z0; z0 = z1 - r1 (z2 - z1) / (r2 - r1).

The window keeps essentially every true edge (both hits of one particle on
consecutive layers) - its efficiency is measured by :func:`window_efficiency`
- while dropping most of the combinatorial pairs. A particle that misses a
layer leaves no true edge across the gap (edges never skip layers), so it
appears as two segments.

Edge features (EDGE_FEATURE_NAMES), inner hit 1, outer hit 2: d_r, d_phi
(wrapped to [-pi, pi)), d_z (m; rad), z0 (m), phi_slope = d_phi / d_r (rad/m),
d_eta (difference of the hits' pseudorapidities seen from the origin),
r_inner and z_inner (m).
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.tracks.helix import radius

EDGE_FEATURE_NAMES = ["d_r", "d_phi", "d_z", "z0", "phi_slope", "d_eta", "r_inner", "z_inner"]
PHI_MARGIN = 1.1  # relative margin on the largest azimuthal slope of a pt_min track
RESOLUTION_SIGMAS = 5.0
VERTEX_SIGMAS = 4.0


def windows(layer_radii: tuple[float, ...], field: float, pt_min: float, eta_max: float,
            vertex_sigma_z: float, resolution_rphi: float, resolution_z: float) -> np.ndarray:
    """``float64[L - 1, 2]``: the (phi_slope_max, z0_max) of each pair of adjacent layers."""
    r1, r2 = np.asarray(layer_radii[:-1]), np.asarray(layer_radii[1:])
    r_min = radius(pt_min, field)
    reach = np.minimum(r2 / (2 * r_min), 0.999)  # a looper that never reaches r2 leaves no edge
    slope = PHI_MARGIN / (2 * r_min * np.sqrt(1 - reach**2))
    slope = slope + RESOLUTION_SIGMAS * resolution_rphi * (1 / r1 + 1 / r2) / (r2 - r1)

    def arc(r: np.ndarray) -> np.ndarray:  # transverse path length to radius r, pt_min from the origin
        return 2 * r_min * np.arcsin(np.minimum(r / (2 * r_min), 1.0))

    # straight line through (r1, z1), (r2, z2) of a helix z = s sinh(eta): its intercept at r = 0
    bias = np.sinh(eta_max) * np.abs(arc(r1) - r1 * (arc(r2) - arc(r1)) / (r2 - r1))
    spread = RESOLUTION_SIGMAS * resolution_z * np.hypot(r1, r2) / (r2 - r1)
    return np.stack([slope, VERTEX_SIGMAS * vertex_sigma_z + 1.1 * bias + spread], axis=1)


def _segments(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start[j], start[j] + count[j])`` over all j."""
    before = np.cumsum(count) - count
    return np.arange(count.sum(), dtype=np.int64) + np.repeat(start - before, count)


def candidate_edges(hits: np.ndarray, layer: np.ndarray, mask: np.ndarray,
                    window: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All candidate edges of all events.

    Args:
        hits: ``float32[N, H, 3]`` (x, y, z); layer ``int64[N, H]``; mask ``bool[N, H]``.
        window: ``[L - 1, 2]`` from :func:`windows`.

    Returns:
        ``(event int64[M], pairs int64[M, 2], features float32[M, k])``: the
        event of each edge, its (inner, outer) hit positions within the event,
        and its features; ordered by event, then layer pair, then inner hit.
    """
    n_events, n_hits = layer.shape
    flat = np.flatnonzero(mask.ravel())  # flat index = event * H + hit
    flat_layer = layer.ravel()[flat]
    events, pairs = [], []
    for inner in range(window.shape[0]):
        a = flat[flat_layer == inner]  # sorted by event
        b = flat[flat_layer == inner + 1]
        b_count = np.bincount(b // n_hits, minlength=n_events)
        b_start = np.cumsum(b_count) - b_count
        a_event = a // n_hits
        counts = b_count[a_event]
        first = np.repeat(a, counts)  # [P] all pairs with the outer hit in the same event
        second = b[_segments(b_start[a_event], counts)]
        keep = _inside(hits.reshape(-1, 3), first, second, window[inner])
        events.append(first[keep] // n_hits)
        pairs.append(np.stack([first[keep], second[keep]], axis=1))
    event = np.concatenate(events)
    pair = np.concatenate(pairs)
    order = np.argsort(event, kind="stable")
    event, pair = event[order], pair[order]
    features = edge_features(hits.reshape(-1, 3), pair[:, 0], pair[:, 1])
    return event, pair % n_hits, features


def _cylindrical(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y, z = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64), points[:, 2].astype(np.float64)
    return np.hypot(x, y), np.arctan2(y, x), z


def _geometry(points: np.ndarray, first: np.ndarray, second: np.ndarray):
    r1, phi1, z1 = _cylindrical(points[first])
    r2, phi2, z2 = _cylindrical(points[second])
    d_r, d_z = r2 - r1, z2 - z1
    d_phi = (phi2 - phi1 + np.pi) % (2 * np.pi) - np.pi
    z0 = z1 - r1 * d_z / d_r
    return r1, z1, r2, z2, d_r, d_phi, d_z, z0


def _inside(points: np.ndarray, first: np.ndarray, second: np.ndarray, window: np.ndarray) -> np.ndarray:
    _, _, _, _, d_r, d_phi, _, z0 = _geometry(points, first, second)
    return (np.abs(d_phi / d_r) <= window[0]) & (np.abs(z0) <= window[1])


def edge_features(points: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``float32[M, 8]`` edge features (EDGE_FEATURE_NAMES) of flat hit index pairs."""
    r1, z1, r2, z2, d_r, d_phi, d_z, z0 = _geometry(points, first, second)
    d_eta = np.arcsinh(z2 / r2) - np.arcsinh(z1 / r1)
    return np.stack([d_r, d_phi, d_z, z0, d_phi / d_r, d_eta, r1, z1], axis=1).astype(np.float32)


def edge_labels(particle: np.ndarray, event: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """``bool[M]``: both hits of the edge come from the same particle (not noise)."""
    a = particle[event, pairs[:, 0]]
    return (a >= 0) & (a == particle[event, pairs[:, 1]])


def true_edge_count(particle: np.ndarray, layer: np.ndarray, mask: np.ndarray) -> int:
    """Number of true edges in the events: same particle, hits on consecutive layers."""
    event, hit = np.nonzero(mask & (particle >= 0))
    key = np.stack([event, particle[event, hit], layer[event, hit]], axis=1)
    key = key[np.lexsort(key.T[::-1])]
    same_track = (key[1:, 0] == key[:-1, 0]) & (key[1:, 1] == key[:-1, 1])
    return int((same_track & (key[1:, 2] == key[:-1, 2] + 1)).sum())


def window_efficiency(raw: dict[str, np.ndarray], event: np.ndarray, pairs: np.ndarray) -> tuple[float, float]:
    """``(efficiency, purity)`` of the candidate edges: true edges kept / all true, true / candidates."""
    labels = edge_labels(raw["hit_particle"], event, pairs)
    total = true_edge_count(raw["hit_particle"], raw["hit_layer"], raw["hit_mask"])
    return float(labels.sum() / max(total, 1)), float(labels.mean()) if len(labels) else 0.0
