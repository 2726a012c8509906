"""ParticleNet: the paper's sizes, EdgeConv on kNN graphs, permutation and padding invariance, top tagging."""

from __future__ import annotations

import pytest
import torch

import quanta
from quanta.errors import UserError
from quanta.models.graph import knn
from quanta.models.particlenet import ParticleNet
from tests.models.test_graph import jets_constituents, pad_sets, permute_sets, random_sets

TINY = {"k": 5, "channels": [[16, 16], [32, 32]], "head": [32]}


pytestmark = pytest.mark.usefixtures("one_thread")


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_default_and_lite_have_the_papers_sizes():
    # Qu & Gouskos 2020, table II: ParticleNet 366k parameters, ParticleNet-Lite 26k (7 input features)
    assert count(ParticleNet(7)) == pytest.approx(366_000, rel=0.01)
    lite = ParticleNet(7, k=7, channels=((32,) * 3, (64,) * 3), head=(128,))
    assert count(lite) == pytest.approx(26_000, rel=0.02)


@pytest.mark.parametrize("params", [TINY, {"k": 3, "channels": [[8, 8, 8]], "head": [], "dropout": 0.0}])
def test_shapes_and_invariances(params):
    torch.manual_seed(0)
    model = ParticleNet.for_data({"x": (12, 7), "mask": (12,)}, out_features=2, **params).eval()
    x, mask = random_sets(n=6, p=12, f=7)
    out = model(x, mask)
    assert out.shape == (6, 2) and torch.isfinite(out).all()
    torch.testing.assert_close(model(*permute_sets(x, mask)), out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model(*pad_sets(x, mask, extra=7, value=0.0)), out, atol=1e-5, rtol=1e-5)


def test_sets_smaller_than_k_and_single_particles_work():
    model = ParticleNet(7, k=16, channels=((8, 8),), head=(8,)).eval()
    x, mask = random_sets(n=4, p=3, f=7)  # at most 3 particles, k = 16
    assert torch.isfinite(model(x, mask)).all()
    assert torch.isfinite(model(x[:, :1], torch.ones(4, 1, dtype=torch.bool))).all()


def test_first_block_finds_neighbours_in_the_coordinates_then_in_learned_features(monkeypatch):
    import quanta.models.particlenet as particlenet

    seen = []

    def recording_knn(points, mask, k, include_self=False):
        seen.append(points)
        return knn(points, mask, k, include_self)

    monkeypatch.setattr(particlenet, "knn", recording_knn)
    model = ParticleNet(7, k=3, channels=((8, 8), (4, 4)), head=(8,), coordinates=(0, 1)).eval()
    x, mask = random_sets(n=2, p=10, f=7)
    model(x, mask)
    assert len(seen) == 2
    torch.testing.assert_close(seen[0], x[..., :2])  # (delta_eta, delta_phi) as given
    assert seen[1].shape == (2, 10, 8)  # the first block's output features


def test_bad_parameters_are_named():
    with pytest.raises(UserError, match="coordinates must be feature indices"):
        ParticleNet(7, coordinates=(0, 9))
    with pytest.raises(UserError, match=r"^particlenet: channels must be at least one block of positive widths; received \(\)$"):
        ParticleNet(7, channels=())
    with pytest.raises(UserError, match="particle sets"):
        ParticleNet.for_data({"x": (1, 40, 40)}, 1)


def test_particlenet_tags_top_jets(tmp_path):
    # 1000 jets x 30 constituents, tiny ParticleNet (k 5, channels (16,16),(32,32)), 4 epochs of 128:
    # test AUC 0.954 measured (3-11 s on two busy cores)
    data = jets_constituents(1000, 30)
    run = quanta.fit("particlenet", data, task="binary", params=TINY, epochs=4, batch_size=128, lr=3e-3,
                     patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] >= 0.87, run.metrics["test"]


@pytest.mark.slow
def test_particlenet_lite_tags_top_jets(tmp_path):
    # 3000 jets x 50 constituents, ParticleNet-Lite, 8 epochs: test AUC 0.949 measured (about 70 s)
    data = jets_constituents(3000, 50)
    run = quanta.fit("particlenet", data, task="binary",
                     params={"k": 7, "channels": [[32] * 3, [64] * 3], "head": [128]},
                     epochs=8, batch_size=128, lr=2e-3, schedule="cosine", patience=0, out=tmp_path, verbose=False)
    assert run.metrics["test"]["auc"] >= 0.93, run.metrics["test"]
