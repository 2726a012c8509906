"""A simulated 2D sample whose particles change smoothly from place to place.

A film or a gradient sample seen by a scanning beam: at every position
``(x, y)`` (mm) the beam sees a dilute suspension of spheres of mean radius
``radius(x, y)`` (A) and relative size spread ``polydispersity(x, y)``
(sigma_R / R of a Schulz distribution, as sasmodels defines it). Each field is
a sum of a few Gaussian bumps of random centre, sign and width (seeded),
rescaled so that it spans its range over the sample exactly: smooth domains
with gradients between them, the kind of map a scan is meant to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: grid on which each field is rescaled to span its range
RANGE_GRID = 101


@dataclass(frozen=True)
class Field:
    """A smooth scalar field on the sample: Gaussian bumps rescaled to ``[low, high]``.

    Shapes: ``centres`` (k, 2) mm, ``widths`` (k,) mm, ``heights`` (k,).
    """

    centres: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    low: float
    high: float
    offset: float = 0.0  # raw minimum over the sample
    span: float = 1.0  # raw maximum - minimum over the sample

    def raw(self, points: np.ndarray) -> np.ndarray:
        """The unscaled sum of bumps at ``points`` (shape ``(m, 2)`` mm), shape ``(m,)``."""
        distance2 = ((points[:, None, :] - self.centres[None]) ** 2).sum(-1)  # (m, k)
        return (self.heights * np.exp(-0.5 * distance2 / self.widths**2)).sum(-1)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """The field at ``points`` (shape ``(m, 2)`` mm), shape ``(m,)``, within ``[low, high]``."""
        unit = (self.raw(np.asarray(points, dtype=float).reshape(-1, 2)) - self.offset) / self.span
        return self.low + (self.high - self.low) * np.clip(unit, 0.0, 1.0)


@dataclass(frozen=True)
class Sample:
    """The sample: its extent (mm) and its radius (A) and polydispersity fields.

    Build one with :func:`make_sample`; ``sample.radius(points)`` and
    ``sample.polydispersity(points)`` take points of shape ``(m, 2)`` in mm.
    """

    extent: tuple[float, float]
    radius: Field
    polydispersity: Field

    @property
    def bounds(self) -> np.ndarray:
        """The scanned box, shape ``(2, 2)``: ``[[0, width], [0, height]]`` in mm."""
        return np.array([[0.0, self.extent[0]], [0.0, self.extent[1]]])

    def grid(self, points: int) -> np.ndarray:
        """A ``points x points`` grid of pixel centres over the sample, shape ``(points**2, 2)`` mm.

        Row-major with y slowest, so ``values.reshape(points, points)`` is an image with y down
        the rows.
        """
        xs = (np.arange(points) + 0.5) / points * self.extent[0]
        ys = (np.arange(points) + 0.5) / points * self.extent[1]
        gx, gy = np.meshgrid(xs, ys)
        return np.stack([gx.ravel(), gy.ravel()], axis=1)


def make_sample(extent: tuple[float, float] = (10.0, 10.0),
                radius: tuple[float, float] = (30.0, 120.0),
                polydispersity: tuple[float, float] = (0.05, 0.2),
                bumps: int = 6, width: float = 0.25, seed: int = 0) -> Sample:
    """A seeded sample of ``extent`` mm with fields spanning ``radius`` (A) and ``polydispersity``.

    Args:
        extent: width and height of the sample in mm.
        radius: the smallest and largest mean radius, A.
        polydispersity: the smallest and largest relative size spread.
        bumps: Gaussian bumps per field (more: a busier map).
        width: the typical bump width as a fraction of the larger extent (each bump's width is
            drawn between 0.6 and 1.4 times it).
        seed: decides the centres, widths and signs of the bumps.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A3]))
    size = np.asarray(extent, dtype=float)
    fields = []
    for low, high in (radius, polydispersity):
        centres = rng.uniform(-0.1, 1.1, size=(bumps, 2)) * size
        widths = width * size.max() * rng.uniform(0.6, 1.4, size=bumps)
        heights = rng.choice([-1.0, 1.0], size=bumps) * rng.uniform(0.5, 1.0, size=bumps)
        field = Field(centres, widths, heights, float(low), float(high))
        grid = Sample(tuple(size), field, field).grid(RANGE_GRID)
        values = field.raw(grid)
        span = float(values.max() - values.min()) or 1.0
        fields.append(Field(centres, widths, heights, float(low), float(high),
                            float(values.min()), span))
    return Sample((float(size[0]), float(size[1])), fields[0], fields[1])
