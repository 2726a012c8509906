"""Physics-aware data augmentation, applied on the device to training batches only.

Augmentation enlarges the training set with transformed copies that keep the
label: a top jet rotated by 90° in the (eta, phi) plane is still a top jet.
Each augmentation draws fresh random numbers for every training batch, so the
network rarely sees the same input twice. Validation, test and prediction
batches are never augmented (the training loop calls the pipeline only in its
training step).

Named augmentations (the ``augment:`` list of the training options; an entry
is a name or ``{name: ..., parameter: value}``):

- ``rotate90``: rotate images by a random multiple of 90° in the plane of the
  last two axes (jet images: eta-phi; square images only).
- ``flip``: reflect each sample along each of ``axes`` with probability 1/2
  (eta -> -eta, phi -> -phi for centred jet images).
- ``shift``: an eta-phi translation. Images: roll by a random whole number of
  pixels in ``[-max_shift, max_shift]`` along the last two axes (periodic, as
  phi is). Constituent lists (``features`` given): add one random offset in
  ``[-max_shift, max_shift]`` per jet to the coordinate columns ``features``
  (e.g. delta-eta, delta-phi) of its real (unmasked) particles.
- ``smear``: energy smearing, multiply energy-like values by
  ``1 + sigma * N(0, 1)`` (one factor per value, or per sample with
  ``per_sample``), e.g. a detector's energy resolution.
- ``jitter``: add ``sigma * N(0, 1)`` to every value (or to ``features``).
- ``crop``: random crops with padding (the CIFAR recipe): pad the last two
  axes with ``padding`` zeros on each side and cut a window of the original
  size at a random offset — a random shift with empty pixels coming in.

Jet constituents (``x[N, P, 7]`` with ``mask`` of the jets source's
``constituents`` view; :mod:`quanta.train.jet_augment`), the augmentations of
JetCLR (Dillon et al., arXiv:2108.04253), each kept IRC-safe in spirit:
``jet_rotation`` (about the jet axis in the (delta-eta, delta-phi) plane),
``jet_boost`` (every constituent's pT and E times one factor per jet, the
angles to the axis divided by it), ``soft_smearing`` (the angles of soft
constituents smeared by ``scale / pT``), ``collinear_split`` (a constituent
split into two of the same direction with pT shares z and 1 - z, into a free
padded slot: the only augmentation that changes ``mask``).

``features`` index the feature axis: the last axis of tables ``[N, F]`` and
sets ``[N, P, F]``, the channel axis of images ``[N, C, H, W]``. Parameters
are in the data's raw units: the pipeline undoes the fitted standardisation
before augmenting and redoes it afterwards (a few element-wise operations),
so ``sigma = 0.05`` means 5 % energy smearing whatever the scaling. Padded
set entries (``mask`` False) stay zero. Only ``x`` is augmented: geometric
augmentations do not suit image *targets* (segmentation).

Random numbers come from a device generator that the training loop seeds
from the run's seed and the epoch, so a resumed run draws the same
augmentations as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch

from quanta.errors import closest


def _feature_axis(x: torch.Tensor) -> int:
    """Channel axis of images (ndim >= 4), else the last axis (as Standardize uses)."""
    return 1 if x.ndim >= 4 else x.ndim - 1


def _select(x: torch.Tensor, features: Sequence[int] | None) -> torch.Tensor:
    """A 0/1 float tensor broadcastable to ``x`` that is 1 on the chosen features."""
    if features is None:
        return torch.ones((), dtype=x.dtype, device=x.device)
    axis = _feature_axis(x)
    chosen = torch.zeros(x.shape[axis], dtype=x.dtype, device=x.device)
    chosen[list(features)] = 1
    shape = [1] * x.ndim
    shape[axis] = -1
    return chosen.reshape(shape)


def _per_sample(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``values[N]`` reshaped to broadcast against ``x[N, ...]``."""
    return values.reshape(-1, *([1] * (x.ndim - 1)))


def _gather_shifted(x: torch.Tensor, axis: int, offsets: torch.Tensor, length: int) -> torch.Tensor:
    """``out[n, ..., i, ...] = x[n, ..., (i + offsets[n]) mod x.shape[axis], ...]`` for i < length."""
    moved = x.movedim(axis, -1)  # [N, ..., L]
    index = (torch.arange(length, device=x.device)[None, :] + offsets[:, None]) % moved.shape[-1]  # [N, length]
    index = index.reshape(-1, *([1] * (moved.ndim - 2)), length).expand(*moved.shape[:-1], length)
    return torch.gather(moved, -1, index).movedim(-1, axis)  # [N, ..., length, ...]


@dataclass
class Augmentation:
    """Base class: ``augmentation(x, mask, generator)`` returns an augmented copy of ``x``."""

    name: ClassVar[str] = "augmentation"
    #: True for one that adds or removes set elements: it returns ``(x, mask)`` (``collinear_split``)
    changes_mask: ClassVar[bool] = False

    def __call__(self, x: torch.Tensor, mask: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _check_plane(self, x: torch.Tensor, axes: Sequence[int]) -> None:
        if x.ndim < 3:
            raise ValueError(f"augmentation '{self.name}' needs images [N, (C,) H, W], received inputs of shape "
                             f"{tuple(x.shape)}")


@dataclass
class Rotate90(Augmentation):
    """Rotation by a random multiple of 90° in the plane of ``axes`` (square images)."""

    name: ClassVar[str] = "rotate90"
    axes: tuple[int, int] = (-2, -1)

    def __call__(self, x, mask, generator):
        self._check_plane(x, self.axes)
        turns = torch.randint(0, 4, (x.shape[0],), device=x.device, generator=generator)
        out = x
        for k in (1, 2, 3):
            out = torch.where(_per_sample(turns == k, x), torch.rot90(x, k, self.axes), out)
        return out


@dataclass
class Flip(Augmentation):
    """Reflection along each of ``axes``, each with probability 1/2, independently per sample."""

    name: ClassVar[str] = "flip"
    axes: tuple[int, ...] = (-1,)

    def __call__(self, x, mask, generator):
        for axis in self.axes:
            flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
            x = torch.where(_per_sample(flip, x), torch.flip(x, (axis,)), x)
        return x


@dataclass
class Shift(Augmentation):
    """An eta-phi translation: an image roll, or an offset of constituent coordinates ``features``."""

    name: ClassVar[str] = "shift"
    max_shift: float = 2.0
    features: tuple[int, ...] | None = None
    axes: tuple[int, int] = (-2, -1)

    def __post_init__(self) -> None:
        if self.max_shift < 0:
            raise ValueError(f"augmentation 'shift': max_shift must be >= 0, received {self.max_shift}")

    def __call__(self, x, mask, generator):
        n = x.shape[0]
        if self.features is not None:  # constituent coordinates: one offset per jet and coordinate
            offsets = (2 * torch.rand(n, len(self.features), device=x.device, generator=generator) - 1) * self.max_shift
            shift = torch.zeros(n, x.shape[-1], device=x.device, dtype=x.dtype)
            shift[:, list(self.features)] = offsets.to(x.dtype)
            shift = shift.reshape(n, *([1] * (x.ndim - 2)), x.shape[-1])  # [N, 1, F]
            if mask is not None:
                shift = shift * mask.to(x.dtype).reshape(*mask.shape, *([1] * (x.ndim - mask.ndim)))
            return x + shift
        self._check_plane(x, self.axes)
        reach = int(self.max_shift)
        for axis in self.axes:
            steps = torch.randint(-reach, reach + 1, (n,), device=x.device, generator=generator)
            x = _gather_shifted(x, axis, -steps, x.shape[axis])
        return x


@dataclass
class Smear(Augmentation):
    """Energy smearing: multiply values (``features``, default all) by ``1 + sigma * N(0, 1)``."""

    name: ClassVar[str] = "smear"
    sigma: float = 0.05
    features: tuple[int, ...] | None = None
    per_sample: bool = False

    def __post_init__(self) -> None:
        if self.sigma < 0:
            raise ValueError(f"augmentation 'smear': sigma must be >= 0, received {self.sigma}")

    def __call__(self, x, mask, generator):
        shape = (x.shape[0], *([1] * (x.ndim - 1))) if self.per_sample else x.shape
        noise = torch.randn(shape, device=x.device, generator=generator, dtype=x.dtype)
        return x * (1 + self.sigma * noise * _select(x, self.features))


@dataclass
class Jitter(Augmentation):
    """Gaussian jitter: add ``sigma * N(0, 1)`` to values (``features``, default all)."""

    name: ClassVar[str] = "jitter"
    sigma: float = 0.01
    features: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.sigma < 0:
            raise ValueError(f"augmentation 'jitter': sigma must be >= 0, received {self.sigma}")

    def __call__(self, x, mask, generator):
        noise = torch.randn(x.shape, device=x.device, generator=generator, dtype=x.dtype)
        return x + self.sigma * noise * _select(x, self.features)


@dataclass
class Crop(Augmentation):
    """Random crop of the original size from the image padded by ``padding`` zeros per side."""

    name: ClassVar[str] = "crop"
    padding: int = 4
    axes: tuple[int, int] = (-2, -1)

    def __post_init__(self) -> None:
        if self.padding < 0:
            raise ValueError(f"augmentation 'crop': padding must be >= 0, received {self.padding}")

    def __call__(self, x, mask, generator):
        self._check_plane(x, self.axes)
        for axis in self.axes:
            axis = axis % x.ndim
            length = x.shape[axis]
            pad = [0, 0] * (x.ndim - 1 - axis) + [self.padding, self.padding]
            padded = torch.nn.functional.pad(x, pad)  # zeros on both sides of `axis`
            offsets = torch.randint(0, 2 * self.padding + 1, (x.shape[0],), device=x.device, generator=generator)
            x = _gather_shifted(padded, axis, offsets, length)
        return x


#: every augmentation by name; the jet constituents' ones add themselves (``quanta.train.jet_augment``)
AUGMENTATIONS: dict[str, type[Augmentation]] = {
    cls.name: cls for cls in (Rotate90, Flip, Shift, Smear, Jitter, Crop)
}


def build_augmentation(spec: str | dict[str, Any]) -> Augmentation:
    """One augmentation from a name or ``{"name": ..., **parameters}``; ValueError if unknown."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"an augmentation is a name or a mapping with 'name', received {spec!r}")
    params = dict(spec)
    name = params.pop("name")
    if name not in AUGMENTATIONS:
        guess = closest(str(name), AUGMENTATIONS)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise ValueError(f"unknown augmentation '{name}'{hint} allowed: {', '.join(AUGMENTATIONS)}")
    cls = AUGMENTATIONS[name]
    allowed = [f.name for f in fields(cls)]
    for key in params:
        if key not in allowed:
            raise ValueError(f"augmentation '{name}': unknown parameter '{key}'; allowed: {', '.join(allowed)}")
    try:
        for key in ("axes", "features"):
            if key in params and params[key] is not None:
                params[key] = tuple(int(v) for v in params[key])
        return cls(**params)
    except TypeError as error:  # a value of the wrong type, e.g. sigma: "large"
        raise ValueError(f"augmentation '{name}': {error}") from None


def build_augmentations(specs: Sequence[str | dict[str, Any]]) -> list[Augmentation]:
    """The augmentations of an ``augment:`` list, in order."""
    return [build_augmentation(spec) for spec in specs]


class AugmentPipeline:
    """Augmentations applied in order to the ``x`` of a training batch, in raw units.

    Args:
        augmentations: what to apply, in order.
        mean, scale: the fitted standardisation (tensors broadcastable to a
            batch's ``x``, on its device) or None for unscaled inputs.

    Shapes:
        - batch ``x``: any ``[N, ...]`` the augmentations accept; ``mask``:
          ``[N, P]`` for sets ``x[N, P, F]`` (optional).
        - output: a new batch dict with ``x`` replaced, same shapes.
    """

    def __init__(self, augmentations: list[Augmentation], mean: torch.Tensor | None = None,
                 scale: torch.Tensor | None = None):
        self.augmentations = augmentations
        self.mean = mean
        self.scale = scale

    def __call__(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
        x, mask = batch["x"], batch.get("mask")
        keep = None
        if mask is not None and x.ndim == mask.ndim + 1:
            keep = mask.to(x.dtype).unsqueeze(-1)  # [N, P, 1]: padded entries stay zero
        if self.mean is not None:
            x = x * self.scale + self.mean
            x = x * keep if keep is not None else x
        for augmentation in self.augmentations:
            if augmentation.changes_mask:
                _mask_follows(augmentation, batch)
                x, mask = augmentation(x, mask, generator)
            else:
                x = augmentation(x, mask, generator)
        if keep is not None:
            keep = mask.to(x.dtype).unsqueeze(-1)  # the mask as the augmentations left it
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        x = x * keep if keep is not None else x
        return {**batch, "x": x} if mask is None else {**batch, "x": x, "mask": mask}


def _mask_follows(augmentation: Augmentation, batch: dict[str, torch.Tensor]) -> None:
    """Refuse an augmentation that changes ``x`` and ``mask`` where the model reads other
    per-element arrays too (the constituents' ``p4``), which it would leave out of step."""
    from quanta.errors import UserError

    if "mask" not in batch:
        raise UserError(f"train.augment: '{augmentation.name}' adds set elements into padded slots "
                        "and needs sets x[N, P, F] with a mask; these inputs have none")
    others = sorted(name for name, array in batch.items()
                    if name not in ("x", "mask") and array.ndim >= 2
                    and array.shape[:2] == batch["mask"].shape)
    if others:
        raise UserError(f"train.augment: '{augmentation.name}' changes the constituents in x and mask "
                        f"but not {', '.join(others)}, which the model reads too; leave it out for "
                        "this model")


__all__ = ["AUGMENTATIONS", "AugmentPipeline", "Augmentation", "build_augmentation", "build_augmentations"]

import quanta.train.jet_augment  # noqa: E402,F401  (registers jet_rotation, jet_boost, ... in AUGMENTATIONS)
