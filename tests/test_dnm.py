"""Deep neural maps on digits: the lattice groups classes (purity far above a shuffled-label
baseline), keeps neighbours together (low topographic error), and the run holds what the
Maps tab draws. Plus the autoencoders' shapes and the DNM's pure pieces."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models import datasets
from models.nets.autoencoders import ConvAutoencoder, SparseConvAutoencoder, image_shape_of
from models.store import RunStore
from models.studies import dnm, dnm_engine


@pytest.mark.parametrize("shape", [(8, 8), (28, 28), (32, 32, 3), (64, 64)])
def test_autoencoders_fit_every_image_size(shape):
    c = image_shape_of(shape)
    x = torch.rand(2, *c)
    z, xh = ConvAutoencoder(shape, code=100)(x)
    assert z.shape == (2, 100) and xh.shape == x.shape and float(xh.min()) >= 0
    z, logits = SparseConvAutoencoder(shape, latent=22)(x)
    assert z.shape == (2, 22) and logits.shape == x.shape and float(z.min()) >= 0


def test_target_distribution_sharpens_soft_assignment():
    z, w = torch.randn(50, 4), torch.randn(9, 4)
    q = dnm_engine.soft_assignment(z, w)
    p = dnm_engine.target_distribution(q)
    assert torch.allclose(q.sum(1), torch.ones(50)) and torch.allclose(p.sum(1), torch.ones(50))
    f = q.sum(0)
    expected = (q**2 / f) / (q**2 / f).sum(1, keepdim=True)
    assert torch.allclose(p, expected, atol=1e-6)
    # with equal node frequencies the target is sharper than q (its largest share grows)
    qq = torch.tensor([[0.6, 0.4], [0.4, 0.6]])
    assert dnm_engine.target_distribution(qq)[0, 0] > 0.6


def test_lattice_summary_counts():
    bmu = np.array([0, 0, 0, 2, 2])
    labels = np.array([1, 1, 0, 3, 3])
    s = dnm.lattice_summary(bmu, labels, n_nodes=4, n_classes=4)
    assert s["hits"].tolist() == [3, 0, 2, 0]
    assert s["majority"].tolist() == [1, -1, 3, -1]
    assert s["purity"][0] == pytest.approx(2 / 3) and np.isnan(s["purity"][1])
    assert dnm.mean_purity(bmu, labels, 4, 4) == pytest.approx((2 / 3 + 1) / 2)


def test_bad_config_names_the_parameter():
    with pytest.raises(ValueError, match="lattice"):
        dnm.Config(lattice="eight")
    with pytest.raises(ValueError, match="topology"):
        dnm.Config(topology="tri")


@pytest.mark.slow
def test_dnm_on_digits_groups_classes(store_dir):
    cfg = dnm.Config(lattice="8x8", pretrain_epochs=10, som_iterations=3000, epochs=2, seed=0)
    run = dnm.run(cfg, store=RunStore(store_dir))
    m = run.metrics
    lat = run.arrays("lattice")
    labels = lat["labels"]
    chance = dnm.mean_purity(lat["bmu"], np.random.default_rng(0).permutation(labels), 64, 10)
    assert m["purity"] > max(0.6, 2 * chance), (m["purity"], chance)
    assert m["topographic_error"] < 0.15  # stated bound: ≤ 15 % of samples
    assert m["quantization_error"] > 0 and m["occupied_nodes"] >= 40
    assert lat["prototype_images"].shape == (64, 8, 8) and lat["prototype_images"].dtype == np.uint8
    assert lat["hits"].shape == (8, 8) and lat["hits"].sum() == len(labels) == 1442
    assert lat["u_matrix"].shape == (8, 8) and lat["majority"].shape == (8, 8)
    assert run.manifest["kind"] == "dnm"
    assert set(run.weights("som")) == {"prototypes", "n_seen"}
    # the decoded prototype of a pure node looks like its class's mean image
    ds = datasets.load("digits")
    node = int(np.nanargmax(np.where(lat["hits"].ravel() >= 5, lat["purity"].ravel(), -1)))
    cls = int(lat["majority"].ravel()[node])
    means = np.stack([ds.features[ds.labels == c].mean(0) for c in range(10)])
    proto = lat["prototype_images"][node].ravel() / 255.0
    assert np.argmin(((means - proto) ** 2).sum(1)) == cls


def test_cli_prints_run_folder_last(store_dir, capsys):
    dnm.main(
        [
            "--dataset",
            "digits",
            "--lattice",
            "4x5",
            "--epochs",
            "1",
            "--pretrain-epochs",
            "1",
            "--som-iterations",
            "500",
            "--limit",
            "200",
            "--store-dir",
            str(store_dir),
        ]
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    run = RunStore(store_dir).list(kind="dnm")[0]
    assert last == str(run.path)
