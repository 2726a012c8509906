"""Jet images: the pT of the constituents histogrammed in the (eta, phi) plane, preprocessed.

Preprocessing removes the symmetries a classifier should not have to learn
(Cogan et al., JHEP 02 (2015) 118, arXiv:1407.5675; de Oliveira et al., JHEP 07
(2016) 069, arXiv:1511.05190; Kasieczka et al., JHEP 05 (2017) 006,
arXiv:1701.08784):

1. centre: coordinates relative to the pT-weighted centroid of the constituents;
2. rotate: the principal axis of the pT-weighted (eta, phi) covariance points
   along the vertical (phi') axis;
3. flip: reflect eta' and phi' so that the right half (eta' > 0) and the upper
   half (phi' > 0) carry at least half the pT each;
4. normalise: pixel intensities sum to 1.

Shapes: ``float32[N, 1, H, W]`` with H = W = pixels over [-R, R] x [-R, R];
row i is phi' (increasing with i), column j is eta' (increasing with j), so the
hardest quadrant sits at large i and j.
"""

from __future__ import annotations

import numpy as np

from quanta.simulators.jets.clustering import JET_RADIUS
from quanta.simulators.jets.substructure import relative_coordinates


def jet_images(constituents: np.ndarray, mask: np.ndarray, jet_eta: np.ndarray, jet_phi: np.ndarray,
               pixels: int, radius: float = JET_RADIUS) -> np.ndarray:
    """``float32[N, 1, pixels, pixels]``: preprocessed, normalised pT images of N jets."""
    n_jets = len(mask)
    pt = np.where(mask, constituents[..., 0], 0.0).astype(np.float64)  # [N, P]
    weight = pt / pt.sum(axis=1, keepdims=True)
    d_eta, d_phi = relative_coordinates(constituents.astype(np.float64), jet_eta, jet_phi)

    # 1. centre on the pT centroid
    eta = d_eta - (weight * d_eta).sum(axis=1, keepdims=True)
    phi = d_phi - (weight * d_phi).sum(axis=1, keepdims=True)

    # 2. rotate the principal axis (angle theta from the eta axis) onto the phi axis
    c_ee, c_pp, c_ep = ((weight * a * b).sum(axis=1) for a, b in ((eta, eta), (phi, phi), (eta, phi)))
    theta = 0.5 * np.arctan2(2 * c_ep, c_ee - c_pp)  # [N]
    turn = (np.pi / 2 - theta)[:, None]
    eta, phi = eta * np.cos(turn) - phi * np.sin(turn), eta * np.sin(turn) + phi * np.cos(turn)

    # 3. flip so that the positive halves carry the larger share of pT
    # (the centroid is at the origin, so compare the pT on either side, not the mean)
    for axis in (eta, phi):
        lighter = (weight * (axis > 0)).sum(axis=1) < (weight * (axis < 0)).sum(axis=1)
        axis[lighter] *= -1.0

    # 4. histogram, then normalise
    column = np.floor((eta + radius) / (2 * radius) * pixels).astype(np.int64)
    row = np.floor((phi + radius) / (2 * radius) * pixels).astype(np.int64)
    inside = mask & (column >= 0) & (column < pixels) & (row >= 0) & (row < pixels)
    jet = np.broadcast_to(np.arange(n_jets)[:, None], mask.shape)
    flat = (jet * pixels + row) * pixels + column
    images = np.bincount(flat[inside], weights=pt[inside], minlength=n_jets * pixels * pixels)
    images = images.reshape(n_jets, 1, pixels, pixels)
    total = images.sum(axis=(1, 2, 3), keepdims=True)
    return (images / np.maximum(total, 1e-12)).astype(np.float32)
