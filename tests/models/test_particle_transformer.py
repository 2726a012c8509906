"""Particle Transformer: pair features against closed forms, invariances, paper's size, learning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import quanta_here

import quanta
from quanta.errors import UserError
from quanta.models.graph import gather
from quanta.models.particle_transformer import ParticleTransformer, pair_features, upper_pairs
from tests.models.test_graph import jets_constituents, random_sets

SMALL = {
    "embed_dims": (32, 64, 32),
    "heads": 4,
    "particle_blocks": 2,
    "class_blocks": 1,
    "pair_embed_dims": (16, 16),
    "feedforward_ratio": 2,
    "dropout": 0.0,
}

pytestmark = pytest.mark.usefixtures("one_thread")


def four_momentum(pt: float, y: float, phi: float, mass: float) -> np.ndarray:
    """(E, px, py, pz) in GeV of a particle of rapidity ``y``."""
    mt = math.hypot(pt, mass)
    return np.array([mt * math.cosh(y), pt * math.cos(phi), pt * math.sin(phi), mt * math.sinh(y)])


def random_jets(n: int = 6, p: int = 12, seed: int = 0):
    """Sets of 1..p particles in random slots: features ``x``, ``mask`` and massless-ish ``p4``."""
    x, mask = random_sets(n=n, p=p, f=7, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    pt = 5 + 100 * torch.rand(n, p, generator=generator)
    y, phi = (
        0.4 * torch.randn(n, p, generator=generator),
        0.4 * torch.randn(n, p, generator=generator),
    )
    mt = torch.sqrt(pt * pt + 0.02)
    p4 = torch.stack(
        [mt * torch.cosh(y), pt * torch.cos(phi), pt * torch.sin(phi), mt * torch.sinh(y)], -1
    )
    return x, mask, p4 * mask.unsqueeze(-1)


def test_pair_features_of_a_hand_made_pair_are_the_closed_forms():
    # two massive particles (rapidity y, not η) across the φ = ±π seam: Δφ = 6.1 - 2π = -0.18
    a, b = four_momentum(120.0, 0.8, 3.0, 1.5), four_momentum(15.0, -0.4, -3.1, 0.5)
    features = pair_features(torch.tensor(np.stack([a, b])[None], dtype=torch.float32))
    ln_delta, ln_kt, ln_z, ln_m2 = features[0, 0, 1].double().tolist()
    delta = math.hypot(0.8 + 0.4, 3.0 + 3.1 - 2 * math.pi)
    total = a + b
    m2 = total[0] ** 2 - (total[1:] ** 2).sum()
    assert ln_delta == pytest.approx(math.log(delta), abs=1e-5)
    assert ln_kt == pytest.approx(math.log(15.0 * delta), abs=1e-5)
    assert ln_z == pytest.approx(math.log(15.0 / 135.0), abs=1e-5)
    assert ln_m2 == pytest.approx(math.log(m2), abs=1e-5)
    torch.testing.assert_close(features[0, 1, 0], features[0, 0, 1])  # symmetric in the pair
    assert features[0, 0, 0, 0] == pytest.approx(math.log(1e-8))  # self-pair: Δ = 0 floored at eps


def test_the_mass_of_an_energetic_collinear_pair_survives_float32():
    # massless 800 and 700 GeV at ΔR = 1e-3 (m² = 0.56 GeV²): (E_i + E_j)² - |p|² in float32 loses
    # it, and so does float64 on the float32 four-vectors, whose rounding fakes masses of ~0.1 GeV²
    for y in (1.2, -2.0):
        a, b = four_momentum(800.0, y, 0.3, 0.0), four_momentum(700.0, y + 6e-4, 0.3008, 0.0)
        true_m2 = float((a + b)[0] ** 2 - ((a + b)[1:] ** 2).sum())
        p4 = torch.tensor(np.stack([a, b])[None], dtype=torch.float32)
        naive = p4[0].sum(0)
        assert abs(float(naive[0] ** 2 - (naive[1:] ** 2).sum()) / true_m2 - 1) > 0.5
        as_float64 = p4[0].double().sum(0)
        assert abs(float(as_float64[0] ** 2 - (as_float64[1:] ** 2).sum()) / true_m2 - 1) > 0.2
        assert math.exp(pair_features(p4)[0, 0, 1, 3]) == pytest.approx(true_m2, rel=1e-3)


def test_upper_pairs_are_the_upper_triangle_for_every_length():
    for p in (*range(0, 40), 128, 1001):
        torch.testing.assert_close(torch.stack(upper_pairs(p)), torch.triu_indices(p, p, offset=1))


def test_padding_gives_finite_features():
    p4 = torch.zeros(1, 3, 4)
    p4[0, 0] = torch.tensor(four_momentum(50.0, 0.1, 0.2, 0.0))
    assert torch.isfinite(pair_features(p4)).all()


@pytest.mark.parametrize("params", [SMALL, {**SMALL, "pair_features": False}])
def test_output_is_permutation_and_padding_invariant(params):
    torch.manual_seed(0)
    model = ParticleTransformer(7, out_features=2, **params)
    x, mask, p4 = random_jets()
    model.train()  # batch statistics over real particles and pairs only, also in training
    out = model(x, mask, p4)
    assert out.shape == (6, 2) and torch.isfinite(out).all()
    order = torch.argsort(torch.rand(mask.shape, generator=torch.Generator().manual_seed(1)), dim=1)
    permuted = model(gather(x, order), torch.gather(mask, 1, order), gather(p4, order))
    torch.testing.assert_close(permuted, out, atol=1e-5, rtol=1e-5)
    extra = 5  # more padded slots, holding garbage in x and in p4
    padded = model(
        torch.cat([x, torch.full((6, extra, 7), 3.0)], 1),
        torch.cat([mask, torch.zeros(6, extra, dtype=torch.bool)], 1),
        torch.cat([p4, torch.full((6, extra, 4), 40.0)], 1),
    )
    torch.testing.assert_close(padded, out, atol=1e-5, rtol=1e-5)


def test_particle_outputs_are_permutation_equivariant_and_padding_gets_no_attention():
    torch.manual_seed(0)
    model = ParticleTransformer(7, **SMALL).eval()
    x, mask, p4 = random_jets(n=3, p=8)
    bias = model.attention_bias(mask, p4)
    assert bias.shape == (3, 4, 8, 8)
    torch.testing.assert_close(bias, bias.transpose(-1, -2))
    h = model.embed(x, mask)
    weights = model.blocks[0].attention.weights(h, mask=mask, bias=bias)
    assert (weights.masked_select(~mask[:, None, None, :].expand_as(weights)) == 0).all()
    order = torch.randperm(8)
    moved = model.blocks[0](
        h[:, order], mask[:, order], model.attention_bias(mask[:, order], p4[:, order])
    )
    torch.testing.assert_close(
        moved, model.blocks[0](h, mask, bias)[:, order], atol=1e-5, rtol=1e-5
    )


def test_default_is_the_papers_size():
    # Qu, Li, Qian 2022, table 3: ParT 2.14M parameters
    assert sum(p.numel() for p in ParticleTransformer(7).parameters()) == pytest.approx(
        2.14e6, rel=0.01
    )
    assert ParticleTransformer.inputs == ("x", "mask", "p4")
    assert ParticleTransformer(7, **{**SMALL, "pair_features": False}).inputs == ("x", "mask")


def test_bad_parameters_are_one_line_user_errors(tmp_path):
    with pytest.raises(
        UserError,
        match=r"^particle_transformer: heads must be a positive integer; "
        r"received 0$",
    ):
        ParticleTransformer(7, heads=0)
    with pytest.raises(
        UserError, match=r"the last of embed_dims \(30\) must be a multiple of heads \(4\)"
    ):
        ParticleTransformer(7, embed_dims=(30,), heads=4)
    with pytest.raises(UserError, match="pair_features needs four-momenta p4"):
        ParticleTransformer.for_data({"x": (30, 7), "mask": (30,)}, 1)
    config = tmp_path / "e.yaml"
    config.write_text(
        "task: binary\ndata: {source: jets, view: constituents, size: 300, progress: false}\n"
        "methods:\n  - {name: part, model: particle_transformer, params: {dropout: 1.5}}\n"
    )
    result = quanta_here("run", str(config), "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == "quanta: error: methods[0].params: dropout must be a number in [0, 1); received 1.5\n"
    )
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_particle_transformer_tags_top_jets(tmp_path):
    # 1200 jets x 20 constituents, 3 epochs of 128, SMALL (31.5k parameters): test AUC 0.921
    # measured (0.961, 0.938 with seeds 2, 3; without pair features 0.902, 0.947, 0.934), 3-6 s
    data = jets_constituents(1200, 20)
    run = quanta.fit("particle_transformer", data, task="binary", params=SMALL, epochs=3,
                     batch_size=128, lr=2e-3, patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] >= 0.88, run.metrics["test"]


@pytest.mark.slow
def test_pair_features_help_on_the_whole_sample(tmp_path):
    # 3000 jets x 30 constituents, 8 epochs, seeds 1-3: test AUC with / without pair features
    # 0.927 / 0.913, 0.961 / 0.948, 0.953 / 0.950 measured: a gain of 0.010 on average, at most
    # the size of one seed's spread (450 test jets); 70 s to 2.5 min on two busy cores
    data = jets_constituents(3000, 30)
    gains = []
    for seed in (1, 2, 3):
        auc = {}
        for pair in (True, False):
            run = quanta.fit("particle_transformer", data, task="binary", seed=seed,
                             params={**SMALL, "pair_features": pair}, epochs=8, batch_size=128,
                             lr=2e-3, patience=0, out=tmp_path / f"{seed}-{pair}", verbose=False)
            auc[pair] = run.metrics["test"]["auc"]
        gains.append(auc[True] - auc[False])
    assert np.mean(gains) > 0.003 and min(gains) > -0.01, gains
