"""The four views of the tracks data, computed from the cached raw events.

Raw arrays: see :mod:`quanta.simulators.tracks.simulate`. Every function returns
the arrays of one view (``x`` and what travels with it) and its feature names.
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.tracks.graph import EDGE_FEATURE_NAMES, candidate_edges, edge_labels

HIT_FEATURE_NAMES = ["x", "y", "z", "r", "phi", "layer"]
TRACK_HIT_FEATURE_NAMES = ["x", "y", "z", "r", "phi", "phi_rel"]
MIN_TRACK_HITS = 3  # a circle needs three points


def hit_features(raw: dict[str, np.ndarray]) -> np.ndarray:
    """``float32[N, H, 6]``: x, y, z (m), r (m), phi (rad), layer index; zeros where masked."""
    hits = raw["hits"].astype(np.float64)
    r, phi = np.hypot(hits[..., 0], hits[..., 1]), np.arctan2(hits[..., 1], hits[..., 0])
    x = np.concatenate([hits, r[..., None], phi[..., None], raw["hit_layer"][..., None]], axis=-1)
    return np.where(raw["hit_mask"][..., None], x, 0.0).astype(np.float32)


def hits_view(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """x, mask, y (1 = hit of a particle, 0 = noise or padding), particle, n_tracks."""
    return {
        "x": hit_features(raw),
        "mask": raw["hit_mask"],
        "y": (raw["hit_particle"] >= 0).astype(np.int64),
        "particle": raw["hit_particle"],
        "n_tracks": raw["track_mask"].sum(axis=1).astype(np.int64),
    }


def graph_view(raw: dict[str, np.ndarray], window: np.ndarray, max_edges: int) -> dict[str, np.ndarray]:
    """Nodes as in the hits view plus padded candidate edges; ``y`` float32[N, E] edge labels.

    ``max_edges = 0`` pads to the largest edge count of the data set rounded
    up to a multiple of 64; a smaller explicit value drops the edges beyond it
    (``n_edges`` keeps the full count per event).
    """
    event, pairs, features = candidate_edges(raw["hits"], raw["hit_layer"], raw["hit_mask"], window)
    labels = edge_labels(raw["hit_particle"], event, pairs)
    n_events = len(raw["hits"])
    counts = np.bincount(event, minlength=n_events)
    width = max_edges or max(64, int(np.ceil(counts.max(initial=0) / 64) * 64))
    slot = np.arange(len(event)) - np.repeat(np.cumsum(counts) - counts, counts)  # position within its event
    keep = slot < width
    event, slot = event[keep], slot[keep]
    edge_index = np.zeros((n_events, width, 2), np.int64)
    edge_features = np.zeros((n_events, width, len(EDGE_FEATURE_NAMES)), np.float32)
    y = np.zeros((n_events, width), np.float32)
    edge_mask = np.zeros((n_events, width), bool)
    edge_index[event, slot] = pairs[keep]
    edge_features[event, slot] = features[keep]
    y[event, slot] = labels[keep]
    edge_mask[event, slot] = True
    return {
        "x": hit_features(raw),
        "mask": raw["hit_mask"],
        "edge_index": edge_index,
        "edge_mask": edge_mask,
        "edge_features": edge_features,
        "y": y,
        "particle": raw["hit_particle"],
        "n_edges": counts.astype(np.int64),
    }


def edges_view(raw: dict[str, np.ndarray], window: np.ndarray) -> dict[str, np.ndarray]:
    """One row per candidate edge of all events: x[M, 8], y int64 (1 true), event, edge_index."""
    event, pairs, features = candidate_edges(raw["hits"], raw["hit_layer"], raw["hit_mask"], window)
    return {
        "x": features,
        "y": edge_labels(raw["hit_particle"], event, pairs).astype(np.int64),
        "event": event.astype(np.int64),
        "edge_index": pairs,
    }


def parameters_view(raw: dict[str, np.ndarray], n_layers: int) -> dict[str, np.ndarray]:
    """One row per track with at least MIN_TRACK_HITS hits: its hits by layer, and its truth.

    ``x`` float32[T, L, 6]: per layer the measured x, y, z, r, phi and phi_rel
    (phi minus the phi of the track's innermost hit, wrapped: it grows with
    r at a rate proportional to q / pT); ``mask`` bool[T, L] marks layers with a
    hit; truth arrays pt, charge, eta, phi, vz and the event of each track.
    """
    n_events, n_tracks = raw["track_mask"].shape
    event, hit = np.nonzero(raw["hit_mask"] & (raw["hit_particle"] >= 0))
    track = event * n_tracks + raw["hit_particle"][event, hit]  # flat track index
    layer = raw["hit_layer"][event, hit]
    x = np.zeros((n_events * n_tracks, n_layers, 5))
    mask = np.zeros((n_events * n_tracks, n_layers), bool)
    features = hit_features(raw)[event, hit, :5]
    x[track, layer] = features
    mask[track, layer] = True

    keep = mask.sum(axis=1) >= MIN_TRACK_HITS
    x, mask = x[keep], mask[keep]
    first = mask.argmax(axis=1)  # innermost layer with a hit
    phi_first = x[np.arange(len(x)), first, 4]
    phi_rel = (x[..., 4] - phi_first[:, None] + np.pi) % (2 * np.pi) - np.pi
    x = np.concatenate([x, np.where(mask, phi_rel, 0.0)[..., None]], axis=-1)
    truth = raw["tracks"].reshape(n_events * n_tracks, -1)[keep].astype(np.float32)
    return {
        "x": x.astype(np.float32),
        "mask": mask,
        "pt": truth[:, 0],
        "charge": truth[:, 3],
        "eta": truth[:, 1],
        "phi": truth[:, 2],
        "vz": truth[:, 6],
        "event": np.repeat(np.arange(n_events), n_tracks)[keep].astype(np.int64),
    }
