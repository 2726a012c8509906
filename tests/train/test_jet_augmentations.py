"""The jet constituents' augmentations do the physics they claim, keep padding empty, follow the mask."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from quanta.errors import UserError
from quanta.simulators.jets.views import CONSTITUENT_FEATURE_NAMES
from quanta.train.augment import AugmentPipeline, build_augmentation, build_augmentations
from quanta.train.jet_augment import (
    COLUMNS,
    D_ETA,
    D_PHI,
    DELTA_R,
    LOG_E,
    LOG_E_REL,
    LOG_PT,
    LOG_PT_REL,
)

pytestmark = pytest.mark.usefixtures("one_thread")

SLOTS = 12


def jets(counts=(5, 9, SLOTS, 1), seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Constituents as the jets' constituents view lays them out, raw units: ``x[N, P, 7]``, ``mask``.

    Jet ``i`` holds ``counts[i]`` particles (the third one no free slot); pT from 0.2 to 300 GeV,
    angles of about 0.2 from the axis, massless: E = pT cosh(eta) with the jet at eta 0.5.
    """
    rng = np.random.default_rng(seed)
    x = np.zeros((len(counts), SLOTS, 7))
    mask = np.arange(SLOTS)[None, :] < np.array(counts)[:, None]
    pt = np.exp(rng.uniform(np.log(0.2), np.log(300.0), (len(counts), SLOTS)))
    d_eta, d_phi = 0.2 * rng.normal(size=(2, len(counts), SLOTS))
    energy = pt * np.cosh(0.5 + d_eta)
    jet_pt, jet_e = (pt * mask).sum(1, keepdims=True), (energy * mask).sum(1, keepdims=True)
    columns = [d_eta, d_phi, np.log(pt), np.log(energy), np.log(pt / jet_pt), np.log(energy / jet_e),
               np.hypot(d_eta, d_phi)]
    x[...] = np.stack(columns, -1)
    x = np.where(mask[..., None], x, 0.0)
    return torch.tensor(x, dtype=torch.float64), torch.tensor(mask)


def momentum(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each jet's summed four-momentum ``[N, 4]`` in the frame of its axis (angles as eta and phi)."""
    pt, energy = torch.exp(x[..., LOG_PT]), torch.exp(x[..., LOG_E])
    p4 = torch.stack([energy, pt * torch.cos(x[..., D_PHI]), pt * torch.sin(x[..., D_PHI]),
                      pt * torch.sinh(x[..., D_ETA])], -1)
    return (p4 * mask[..., None]).sum(1)


def generator(seed: int = 3) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_the_columns_are_those_of_the_jets_constituents_view():
    assert list(COLUMNS) == CONSTITUENT_FEATURE_NAMES


def test_rotation_keeps_delta_r_and_every_momentum_and_turns_the_jet():
    x, mask = jets()
    out = build_augmentation("jet_rotation")(x, mask, generator())
    real = mask[..., None]
    assert torch.allclose(torch.hypot(out[..., D_ETA], out[..., D_PHI]), x[..., DELTA_R])
    assert torch.equal(out[..., LOG_PT:], x[..., LOG_PT:])  # pT, E, their fractions and delta-R
    assert not torch.allclose(out[..., :2], x[..., :2])
    assert torch.equal(out * ~real, torch.zeros_like(out))  # padded slots stay zero
    # one angle per jet: the pT-weighted sum of the offsets turns by it, its length kept
    pt = torch.exp(x[..., LOG_PT]) * mask
    before, after = ((x[..., :2] * pt[..., None]).sum(1)), ((out[..., :2] * pt[..., None]).sum(1))
    assert torch.allclose(before.norm(dim=1), after.norm(dim=1))


def test_boost_scales_every_momentum_of_a_jet_by_one_factor_and_keeps_its_mass():
    x, mask = jets()
    out = build_augmentation({"name": "jet_boost", "max_factor": 2.0})(x, mask, generator())
    shift = (out[..., LOG_PT] - x[..., LOG_PT])  # ln lambda of each constituent
    for jet in range(len(x)):
        here = shift[jet][mask[jet]]
        assert torch.allclose(here, here[0].expand_as(here))  # one factor per jet
        assert abs(float(here[0])) <= math.log(2.0)
        assert torch.allclose(out[jet, mask[jet], LOG_E] - x[jet, mask[jet], LOG_E], here)
        factor = torch.exp(here[0])
        assert torch.allclose(out[jet, mask[jet], :2] * factor, x[jet, mask[jet], :2])  # angles / lambda
    assert torch.equal(out[..., [LOG_PT_REL, LOG_E_REL]], x[..., [LOG_PT_REL, LOG_E_REL]])
    assert torch.equal(out * ~mask[..., None], torch.zeros_like(out))

    def mass_squared(values):  # twice the collinear-limit m^2 = sum_{i<j} pT_i pT_j dR_ij^2
        pt = torch.exp(values[..., LOG_PT]) * mask
        angles = values[..., :2]
        d2 = ((angles[:, :, None] - angles[:, None, :]) ** 2).sum(-1)
        return (pt[:, :, None] * pt[:, None, :] * d2).sum((1, 2))

    assert torch.allclose(mass_squared(out), mass_squared(x))
    fixed = build_augmentation({"name": "jet_boost", "angles": False})(x, mask, generator())
    assert torch.equal(fixed[..., :2], x[..., :2])  # an energy-scale change only


def test_soft_smearing_moves_soft_constituents_far_and_hard_ones_hardly():
    x, mask = jets(counts=(SLOTS,) * 40)
    out = build_augmentation({"name": "soft_smearing", "scale": 0.1})(x, mask, generator())
    moved = torch.hypot(out[..., D_ETA] - x[..., D_ETA], out[..., D_PHI] - x[..., D_PHI])
    pt = torch.exp(x[..., LOG_PT])
    expected = 0.1 / pt * math.sqrt(math.pi / 2)  # the mean length of a 2D Gaussian step of sigma 0.1/pT
    soft, hard = pt < 1.0, pt > 50.0
    assert moved[hard].max() < 0.01
    assert moved[soft].mean() > 0.05
    assert float((moved / expected)[mask].mean()) == pytest.approx(1.0, abs=0.1)
    assert torch.allclose(out[..., DELTA_R], torch.hypot(out[..., D_ETA], out[..., D_PHI]))
    assert torch.equal(out[..., LOG_PT:DELTA_R], x[..., LOG_PT:DELTA_R])


def test_a_collinear_split_keeps_the_four_momentum_adds_one_constituent_and_the_mask_follows():
    x, mask = jets()
    split = build_augmentation({"name": "collinear_split", "splits": 2, "z_min": 0.2})
    out, new_mask = split(x, mask, generator())
    counts, new_counts = mask.sum(1), new_mask.sum(1)
    assert new_counts.tolist() == [7, 11, SLOTS, 3]  # two more where there is room; none in a full jet
    assert torch.equal(out[2], x[2])
    assert torch.allclose(momentum(out, new_mask), momentum(x, mask))
    assert torch.equal(out * ~new_mask[..., None], torch.zeros_like(out))  # padded slots stay zero
    # the new constituents sit at the direction of one of the old ones, with shares of its pT
    for jet in (0, 1, 3):
        for slot in range(int(counts[jet]), int(new_counts[jet])):
            distance = (out[jet, :slot, :2] - out[jet, slot, :2]).norm(dim=1)
            assert float(distance.min()) == 0.0  # collinear with the constituent it came from
    assert torch.equal(mask, jets()[1])  # the caller's mask is not changed in place


def test_the_pipeline_carries_a_split_through_the_standardisation_and_returns_the_new_mask():
    x, mask = jets()
    x, mask = x.float(), mask
    mean = torch.tensor([0.0, 0.0, 1.0, 1.5, -3.0, -3.0, 0.2]).reshape(1, 1, 7)
    scale = torch.tensor([0.2, 0.2, 1.5, 1.5, 1.5, 1.5, 0.1]).reshape(1, 1, 7)
    standardised = torch.where(mask[..., None], (x - mean) / scale, 0.0)
    pipeline = AugmentPipeline(build_augmentations(["jet_rotation", "collinear_split"]), mean, scale)
    batch = pipeline({"x": standardised, "mask": mask, "y": torch.zeros(4)}, generator())
    assert batch["mask"].sum(1).tolist() == [6, 10, SLOTS, 2]
    assert torch.equal(batch["x"] * ~batch["mask"][..., None], torch.zeros_like(batch["x"]))
    raw = batch["x"] * scale + mean
    # the rotation turns the angles, the split shares the momenta: the sums of E and pT are kept
    for column in (LOG_PT, LOG_E):
        before = (torch.exp(x[..., column]) * mask).sum(1)
        after = (torch.exp(raw[..., column]) * batch["mask"]).sum(1)
        assert torch.allclose(after, before, rtol=1e-5)
    again = pipeline({"x": standardised, "mask": mask}, generator())
    assert torch.equal(again["x"], batch["x"])  # seeded: the same draws from the same generator


def test_a_split_is_refused_beside_per_constituent_arrays_it_cannot_follow():
    x, mask = jets()
    pipeline = AugmentPipeline(build_augmentations(["collinear_split"]))
    with pytest.raises(UserError, match=r"'collinear_split' changes the constituents in x and mask but "
                                        r"not p4, which the model reads too"):
        pipeline({"x": x, "mask": mask, "p4": torch.zeros(4, SLOTS, 4)}, generator())
    with pytest.raises(UserError, match="needs sets x\\[N, P, F\\] with a mask"):
        pipeline({"x": x}, generator())


@pytest.mark.parametrize(("spec", "message"), [
    ({"name": "jet_boost", "max_factor": 0.5}, "augmentation 'jet_boost': max_factor must be >= 1, received 0.5"),
    ({"name": "soft_smearing", "scale": -1}, "augmentation 'soft_smearing': scale must be >= 0 \\(GeV\\)"),
    ({"name": "collinear_split", "splits": 0}, "augmentation 'collinear_split': splits must be an integer >= 1"),
    ({"name": "collinear_split", "z_min": 0.5}, "augmentation 'collinear_split': z_min must be in \\[0, 0.5\\)"),
    ({"name": "jet_rotaton"}, "unknown augmentation 'jet_rotaton'; did you mean 'jet_rotation'\\?"),
])
def test_bad_parameters_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        build_augmentation(spec)
