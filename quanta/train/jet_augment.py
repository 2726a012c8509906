"""Augmentations of jet constituents: the symmetries and soft or collinear emissions a jet's label ignores.

They act on the ``constituents`` view of the jets source, ``x[N, P, 7]`` with
``mask[N, P]``, whose columns are (:data:`COLUMNS`, the names of
``quanta.simulators.jets.views.CONSTITUENT_FEATURE_NAMES``): delta-eta and
delta-phi from the jet axis, log pT, log E, log(pT / pT_jet), log(E / E_jet)
and delta-R, in raw units (the pipeline, :class:`quanta.train.augment.AugmentPipeline`,
undoes the standardisation first and redoes it afterwards). Padded slots stay
zero. They are the augmentations of JetCLR (B. M. Dillon, G. Kasieczka,
H. Olischlager, T. Plehn, P. Sorrenson and L. Vogel, "Symmetries, safety, and
self-supervision", SciPost Phys. 12 (2022) 188, arXiv:2108.04253), where a
contrastive network learns an embedding that is invariant under them:

- ``jet_rotation``: every jet's constituents rotated about its axis in the
  (delta-eta, delta-phi) plane by an angle drawn uniformly in [0, 2 pi). For a
  narrow jet this plane is the one transverse to the jet's direction, and the
  jet's fragmentation does not know about its orientation in it (only the beam
  and the colour connection to the rest of the event break the symmetry, a
  little). delta-R, pT and E are unchanged.
- ``jet_boost``: a boost along the jet's axis, one factor ``lambda`` per jet
  with ln lambda uniform in [-ln max_factor, ln max_factor]: every
  constituent's pT and E times lambda (log pT and log E shifted by ln lambda;
  the fractions pT/pT_jet and E/E_jet unchanged) and, with ``angles``, its
  delta-eta, delta-phi and delta-R divided by lambda. That is the boost in the
  collinear limit (delta-R << 1, massless constituents): the jet mass
  m^2 ~ sum_ij pT_i pT_j delta-R_ij^2 is then invariant, as a boost keeps it;
  without ``angles`` it is a change of the jet's energy scale only. A jet with
  lambda < 1 grows, and constituents near the jet radius can leave it.
- ``soft_smearing``: the angles of each constituent smeared, delta-eta and
  delta-phi plus ``scale / pT * N(0, 1)`` (``scale`` in GeV: 0.1 GeV moves a
  1 GeV particle by 0.1 and a 100 GeV one by 0.001), delta-R recomputed. Soft
  particles are moved far, hard ones hardly: an IRC-safe observable, which
  weights directions by energy, barely changes.
- ``collinear_split``: ``splits`` times per jet, a randomly chosen constituent
  is split into two of the same direction carrying the shares z and 1 - z of
  its pT and E (z uniform in [z_min, 1 - z_min]); the new one goes into the
  first free (padded) slot and ``mask`` follows; a jet without a free slot is
  left alone. The summed four-momentum is exactly unchanged, as is every
  collinear-safe observable. The new constituent is not sorted into the pT
  order: sets are unordered for set networks, while a sequence model would see
  the difference.

Only ``x`` and ``mask`` change: a model that also reads the constituents'
four-momenta ``p4`` would see them out of step with ``x`` (a split is refused
then; the other three leave ``p4`` as it was, so use them with models of ``x``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from quanta.errors import UserError
from quanta.train.augment import AUGMENTATIONS, Augmentation

#: the columns of the jets source's constituents view, in order
COLUMNS = ("delta_eta", "delta_phi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "delta_r")
D_ETA, D_PHI, LOG_PT, LOG_E, LOG_PT_REL, LOG_E_REL, DELTA_R = range(len(COLUMNS))
#: the columns a share z of a constituent's momentum shifts by ln z
_MOMENTUM_COLUMNS = [LOG_PT, LOG_E, LOG_PT_REL, LOG_E_REL]


def _constituents(augmentation: Augmentation, x: torch.Tensor,
                  mask: torch.Tensor | None) -> torch.Tensor:
    """The mask as floats ``[N, P, 1]`` (ones without one), after checking the inputs are constituents."""
    if x.ndim != 3 or x.shape[-1] != len(COLUMNS):
        raise UserError(f"train.augment: '{augmentation.name}' acts on jet constituents x[N, P, "
                        f"{len(COLUMNS)}] ({', '.join(COLUMNS)}: the jets source's constituents "
                        f"view), received inputs of per-sample shape {tuple(x.shape[1:])}")
    if mask is None:
        return torch.ones((*x.shape[:2], 1), dtype=x.dtype, device=x.device)
    return mask.to(x.dtype).unsqueeze(-1)


def _uniform(n: int, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, device=x.device, generator=generator, dtype=x.dtype)


@dataclass
class JetRotation(Augmentation):
    """Rotation of each jet's constituents about its axis in the (delta-eta, delta-phi) plane."""

    name: ClassVar[str] = "jet_rotation"

    def __call__(self, x, mask, generator):
        real = _constituents(self, x, mask)
        angle = 2 * math.pi * _uniform(x.shape[0], x, generator)[:, None]  # [N, 1]
        cos, sin = torch.cos(angle), torch.sin(angle)
        eta, phi = x[..., D_ETA], x[..., D_PHI]
        out = x.clone()
        out[..., D_ETA] = cos * eta - sin * phi
        out[..., D_PHI] = sin * eta + cos * phi
        return out * real + x * (1 - real)


@dataclass
class JetBoost(Augmentation):
    """A boost along the jet axis: pT and E times one factor per jet, the angles to the axis divided by it."""

    name: ClassVar[str] = "jet_boost"
    max_factor: float = 1.5
    angles: bool = True

    def __post_init__(self) -> None:
        if not self.max_factor >= 1:
            raise ValueError(f"augmentation 'jet_boost': max_factor must be >= 1, received {self.max_factor}")

    def __call__(self, x, mask, generator):
        real = _constituents(self, x, mask)
        log_factor = (2 * _uniform(x.shape[0], x, generator) - 1) * math.log(self.max_factor)
        shift = torch.zeros(x.shape[-1], dtype=x.dtype, device=x.device)
        shift[[LOG_PT, LOG_E]] = 1.0
        out = x + log_factor[:, None, None] * shift
        if self.angles:  # delta-eta, delta-phi and delta-R divided by the factor
            angular = torch.zeros(x.shape[-1], dtype=torch.bool, device=x.device)
            angular[[D_ETA, D_PHI, DELTA_R]] = True
            out = out * torch.where(angular, torch.exp(-log_factor)[:, None, None], 1.0)
        return out * real + x * (1 - real)


@dataclass
class SoftSmearing(Augmentation):
    """Smearing of each constituent's delta-eta and delta-phi by ``scale / pT`` (soft ones move most)."""

    name: ClassVar[str] = "soft_smearing"
    scale: float = 0.1

    def __post_init__(self) -> None:
        if not self.scale >= 0:
            raise ValueError(f"augmentation 'soft_smearing': scale must be >= 0 (GeV), received {self.scale}")

    def __call__(self, x, mask, generator):
        real = _constituents(self, x, mask)
        sigma = self.scale * torch.exp(-x[..., LOG_PT])  # [N, P]: scale / pT
        noise = torch.randn((*x.shape[:2], 2), device=x.device, generator=generator, dtype=x.dtype)
        out = x.clone()
        out[..., D_ETA] = x[..., D_ETA] + sigma * noise[..., 0]
        out[..., D_PHI] = x[..., D_PHI] + sigma * noise[..., 1]
        out[..., DELTA_R] = torch.hypot(out[..., D_ETA], out[..., D_PHI])
        return out * real + x * (1 - real)


@dataclass
class CollinearSplit(Augmentation):
    """Splitting of random constituents into two collinear ones with pT shares z and 1 - z, into free slots."""

    name: ClassVar[str] = "collinear_split"
    changes_mask: ClassVar[bool] = True
    splits: int = 1
    z_min: float = 0.1

    def __post_init__(self) -> None:
        if isinstance(self.splits, bool) or not isinstance(self.splits, int) or self.splits < 1:
            raise ValueError(f"augmentation 'collinear_split': splits must be an integer >= 1, "
                             f"received {self.splits!r}")
        if not 0 <= self.z_min < 0.5:
            raise ValueError(f"augmentation 'collinear_split': z_min must be in [0, 0.5), received {self.z_min}")

    def __call__(self, x, mask, generator):
        _constituents(self, x, mask)
        if mask is None:
            raise UserError(f"train.augment: '{self.name}' adds constituents into padded slots and "
                            "needs a mask")
        x, mask = x.clone(), mask.clone()
        rows = torch.arange(x.shape[0], device=x.device)
        low = max(self.z_min, 1e-4)  # a share of exactly 0 would give log 0
        for _ in range(self.splits):
            real = mask.bool()
            drawn = torch.rand(real.shape, device=x.device, generator=generator, dtype=x.dtype)
            which = torch.where(real, drawn, -1.0).argmax(dim=1)  # a random real constituent
            free = (~real).to(torch.uint8).argmax(dim=1)  # the first padded slot
            split = real.any(dim=1) & (~real).any(dim=1)
            z = low + (1 - 2 * low) * _uniform(x.shape[0], x, generator)
            original = x[rows, which]  # [N, F]
            kept, moved = original.clone(), original.clone()
            kept[:, _MOMENTUM_COLUMNS] += torch.log(z)[:, None]
            moved[:, _MOMENTUM_COLUMNS] += torch.log1p(-z)[:, None]
            chosen = split[:, None]
            x[rows, which] = torch.where(chosen, kept, original)
            x[rows, free] = torch.where(chosen, moved, x[rows, free])
            mask[rows, free] = torch.where(split, torch.ones_like(mask[rows, free]), mask[rows, free])
        return x, mask


JET_AUGMENTATIONS = (JetRotation, JetBoost, SoftSmearing, CollinearSplit)
AUGMENTATIONS.update({cls.name: cls for cls in JET_AUGMENTATIONS})

__all__ = ["COLUMNS", "JET_AUGMENTATIONS", "CollinearSplit", "JetBoost", "JetRotation", "SoftSmearing"]
