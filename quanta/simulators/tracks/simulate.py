"""Events of charged-particle tracks and the hits they leave in a barrel of cylindrical layers.

Everything is vectorised over all tracks of all events (no Python loop per
track or event) and drawn from one NumPy generator seeded with ``seed``, so
a data set is reproducible and fast (about 100,000 tracks per second on
one core).

Raw arrays (the cached content), for N events with at most T tracks and
H = T * L + noise_hits hits (L layers):

* ``hits`` float32[N, H, 3]: measured (x, y, z) in metres, zero padded;
  ``hit_layer`` int64[N, H] (0 = innermost; -1 padding); ``hit_particle``
  int64[N, H] (the track's index in its event, -1 for noise and padding);
  ``hit_mask`` bool[N, H]. Hits are ordered by layer, then by azimuth, as a
  detector reads them out (the order says nothing about which track made them).
* ``tracks`` float32[N, T, 7]: the true pT (GeV), eta, phi0, charge, vx, vy,
  vz (m) of each track; ``track_mask`` bool[N, T].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quanta.simulators.tracks.helix import crossings

TRACK_COLUMNS = ("pt", "eta", "phi", "charge", "vx", "vy", "vz")
BEAM_SPOT_XY = 15e-6  # m, transverse Gaussian width of the luminous region (LHC: ~10-20 um)


@dataclass(frozen=True)
class Detector:
    """The barrel geometry and its imperfections (lengths in metres, field in tesla)."""

    layer_radii: tuple[float, ...]
    half_length: float
    field: float
    resolution_rphi: float
    resolution_z: float
    hit_efficiency: float
    noise_hits: int


@dataclass(frozen=True)
class Particles:
    """Where tracks come from: multiplicity range, pT range (log-uniform), |eta| range, vertex spread."""

    tracks_per_event: tuple[int, int]
    pt_min: float
    pt_max: float
    eta_max: float
    vertex_sigma_z: float


def draw_tracks(n_events: int, particles: Particles, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(tracks float64[N, T, 7], track_mask bool[N, T])``; columns as TRACK_COLUMNS.

    pT is log-uniform in [pt_min, pt_max] (dN/dpT ~ 1/pT, a falling spectrum),
    the charge +-1 with equal odds, eta uniform in [-eta_max, eta_max], phi0
    uniform; the vertex is Gaussian, BEAM_SPOT_XY wide in x and y and
    ``vertex_sigma_z`` in z.
    """
    low, high = particles.tracks_per_event
    counts = rng.integers(low, high + 1, size=n_events)
    mask = np.arange(high)[None, :] < counts[:, None]  # [N, T]
    shape = (n_events, high)
    tracks = np.stack([
        np.exp(rng.uniform(np.log(particles.pt_min), np.log(particles.pt_max), shape)),
        rng.uniform(-particles.eta_max, particles.eta_max, shape),
        rng.uniform(-np.pi, np.pi, shape),
        rng.choice([-1.0, 1.0], shape),
        rng.normal(0.0, BEAM_SPOT_XY, shape),
        rng.normal(0.0, BEAM_SPOT_XY, shape),
        rng.normal(0.0, particles.vertex_sigma_z, shape),
    ], axis=-1)
    return np.where(mask[..., None], tracks, 0.0), mask


def track_hits(tracks: np.ndarray, detector: Detector, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(points float64[M, L, 3], present bool[M, L])``: measured hits of M tracks on L layers.

    A hit exists where the helix reaches the layer within |z| < half_length and
    the layer fires (probability ``hit_efficiency``). The measurement moves it
    along the layer by Gaussian errors: ``resolution_rphi`` in r*phi (so it
    stays on the cylinder) and ``resolution_z`` in z.
    """
    pt, eta, phi0, charge = tracks[:, 0], tracks[:, 1], tracks[:, 2], tracks[:, 3]
    radii = np.asarray(detector.layer_radii)
    points = np.stack([crossings(pt, charge, phi0, eta, tracks[:, 4:7], detector.field, r)[:, :3]
                       for r in radii], axis=1)  # [M, L, 3]
    present = np.isfinite(points).all(axis=-1) & (np.abs(points[..., 2]) < detector.half_length)
    present &= rng.random(present.shape) < detector.hit_efficiency
    phi = np.arctan2(points[..., 1], points[..., 0]) + rng.normal(0, detector.resolution_rphi, present.shape) / radii
    z = points[..., 2] + rng.normal(0, detector.resolution_z, present.shape)
    points = np.stack([radii * np.cos(phi), radii * np.sin(phi), z], axis=-1)
    return np.where(present[..., None], points, 0.0), present


def simulate(n_events: int, seed: int, particles: Particles, detector: Detector) -> dict[str, np.ndarray]:
    """The raw arrays of ``n_events`` events (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_layers = len(detector.layer_radii)
    tracks, track_mask = draw_tracks(n_events, particles, rng)
    n_tracks = tracks.shape[1]
    points, present = track_hits(tracks.reshape(-1, 7), detector, rng)
    points = points.reshape(n_events, n_tracks * n_layers, 3)  # track-major: track t owns t*L ... t*L+L-1
    present = present.reshape(n_events, n_tracks * n_layers) & np.repeat(track_mask, n_layers, axis=1)
    layer = np.tile(np.arange(n_layers), n_tracks)[None, :].repeat(n_events, axis=0)
    particle = np.repeat(np.arange(n_tracks), n_layers)[None, :].repeat(n_events, axis=0)

    # noise: random layers, uniform azimuth and z on the cylinder
    noise_shape = (n_events, detector.noise_hits)
    noise_layer = rng.integers(0, n_layers, noise_shape)
    noise_phi = rng.uniform(-np.pi, np.pi, noise_shape)
    noise_r = np.asarray(detector.layer_radii)[noise_layer]
    noise_points = np.stack([noise_r * np.cos(noise_phi), noise_r * np.sin(noise_phi),
                             rng.uniform(-detector.half_length, detector.half_length, noise_shape)], axis=-1)

    points = np.concatenate([points, noise_points], axis=1)  # [N, H, 3]
    present = np.concatenate([present, np.ones(noise_shape, bool)], axis=1)
    layer = np.concatenate([layer, noise_layer], axis=1)
    particle = np.concatenate([particle, np.full(noise_shape, -1)], axis=1)

    # readout order: present hits first, by layer, then azimuth
    azimuth = np.arctan2(points[..., 1], points[..., 0])
    order = np.lexsort((azimuth, layer, ~present), axis=-1)
    points = np.take_along_axis(points, order[..., None], axis=1)
    present, layer, particle = (np.take_along_axis(a, order, axis=1) for a in (present, layer, particle))
    return {
        "hits": np.where(present[..., None], points, 0.0).astype(np.float32),
        "hit_layer": np.where(present, layer, -1).astype(np.int64),
        "hit_particle": np.where(present, particle, -1).astype(np.int64),
        "hit_mask": present,
        "tracks": tracks.astype(np.float32),
        "track_mask": track_mask,
    }
