"""The deep neural map at the paper's settings: Pesteie et al.'s architecture on MNIST-sized (28×28) and
COIL-sized (64×64) images the tests make, pre-training counted in iterations, images resized with torch,
the prototype-sharpness metrics checked against a direct numpy computation, and the figure and report
every run writes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from models import datasets
from models.datasets.dataset import Dataset
from models.nets.autoencoders import DNM_ARCHITECTURES, dnm_autoencoder
from models.store import RunStore
from models.studies import dnm, dnm_engine


def squares(n: int = 60, size: int = 28, seed: int = 0) -> Dataset:
    """A synthetic image set: class k (of 5) is a bright square at a k-dependent place on faint noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 5
    imgs = rng.integers(0, 30, size=(n, size, size)).astype(np.uint8)
    s = size // 4
    for i, c in enumerate(labels):
        r, col = divmod(int(c), 3)
        imgs[i, r * s + 2 : (r + 1) * s + 2, col * s + 2 : (col + 1) * s + 2] = 230
    return Dataset(
        f"squares{size}",
        imgs.reshape(n, -1).astype(np.float32) / 255,
        labels.astype(np.int64),
        [str(k) for k in range(5)],
        images=imgs,
    )


def test_face_and_net_share_one_list_of_architectures():
    from models.nets import choices

    assert dnm.ARCHITECTURES is choices.DNM_ARCHITECTURES and DNM_ARCHITECTURES is choices.DNM_ARCHITECTURES
    with pytest.raises(ValueError, match="architecture"):
        dnm.Config(architecture="big")
    with pytest.raises(ValueError, match="architecture"):
        dnm_autoencoder((28, 28), architecture="big")
    with pytest.raises(ValueError, match="resize"):
        dnm.Config(resize=2)
    with pytest.raises(ValueError, match="pretrain_iterations"):
        dnm.Config(pretrain_iterations=-1)


@pytest.mark.parametrize("size", [28, 32, 64])
def test_paper_architecture_is_the_published_network(size):
    model = dnm_autoencoder((size, size), code=100, architecture="paper")
    convs = [m for m in model.encoder_conv if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (10, (5, 5), (1, 1)),
        (8, (5, 5), (1, 1)),
        (5, (5, 5), (1, 1)),
    ]
    assert model.inner == (5, size, size)  # full resolution into the dense layer
    assert model.to_code.in_features == 5 * size * size and model.to_code.out_features == 100
    deconvs = [m for m in model.decoder_conv if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [d.out_channels for d in deconvs] == [8, 10, 1]  # the mirror of the encoder
    z, xh = model(torch.rand(3, 1, size, size))
    assert z.shape == (3, 100) and xh.shape == (3, 1, size, size)
    compact = dnm_autoencoder((size, size), code=100, architecture="compact")
    assert compact.inner[1] < size  # compact halves images above 16 px


def test_iterations_yield_exactly_n_batches_across_epochs():
    from models.training import batches

    data = batches(torch.arange(10.0)[:, None], batch_size=4, generator=torch.Generator().manual_seed(0))
    it = dnm_engine.Iterations(data, 7)  # 3 batches an epoch → 2⅓ epochs
    got = list(it())
    assert len(it) == 7 and len(got) == 7
    assert sorted(torch.cat([b[0] for b in got[:3]]).ravel().tolist()) == list(range(10))


def test_resize_uses_torch_interpolation_and_keeps_the_range():
    x = torch.zeros(2, 1, 8, 8)
    x[:, :, 2:6, 2:6] = 1.0
    big = dnm_engine.resized(x, 28)
    assert big.shape == (2, 1, 28, 28) and float(big.min()) >= 0 and float(big.max()) <= 1
    assert float(big[0, 0, 14, 14]) > 0.9 and float(big[0, 0, 0, 0]) < 0.1
    assert dnm_engine.resized(x, None) is x


@pytest.mark.parametrize("size, resize", [(28, None), (32, 64)])
def test_paper_architecture_trains_on_28_and_64_pixel_images(size, resize):
    ds = squares(30, size)
    base = dict(lattice="3x4", architecture="paper", som_iterations=200, batch_size=10, resize=resize, seed=0)
    untrained = dnm_engine.train(dnm.Config(**base, pretrain_iterations=0, epochs=0), ds)
    out = dnm_engine.train(dnm.Config(**base, pretrain_iterations=25, epochs=1), ds)
    side = resize or size
    assert out["image_size"] == (side, side)
    assert out["model"].to_code.in_features == 5 * side * side and out["model"].code == 100
    assert out["arrays"]["prototypes"].shape == (12, 100)  # the SOM maps the 100-d code
    assert out["arrays"]["prototype_images"].shape == (12, side, side)
    m, m0 = out["metrics"], untrained["metrics"]
    assert m["recon_mse"] < 0.7 * m0["recon_mse"], (m["recon_mse"], m0["recon_mse"])  # 25 iterations taught it
    assert np.isfinite(m["prototype_mse"]) and m["prototype_mse"] > 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    cfg = dnm.Config(lattice="4x5", pretrain_iterations=300, som_iterations=1000, epochs=1, limit=300, seed=0)
    return dnm.run(cfg, store=store)


def test_prototype_mse_matches_a_direct_numpy_computation(tiny_run):
    lat = tiny_run.arrays("lattice")
    ds = datasets.load("digits", limit=300, seed=0)
    assert np.array_equal(lat["index"], ds.index) and np.array_equal(lat["labels"], ds.labels)
    X = ds.features.astype(np.float64)  # 8×8 digits in [0, 1]
    P = lat["prototype_images"].reshape(20, -1) / 255.0
    per_node = []
    for node in range(20):
        members = np.flatnonzero(lat["bmu"] == node)
        if len(members):
            per_node.append(np.mean([np.mean((X[i] - P[node]) ** 2) for i in members]))
    assert tiny_run.metrics["prototype_mse"] == pytest.approx(np.mean(per_node), rel=1e-9)
    stored = lat["prototype_mse"].ravel()
    assert np.allclose(stored[~np.isnan(stored)], per_node)
    assert (np.isnan(stored) == (lat["hits"].ravel() == 0)).all()
    # the trained map's prototypes fit their members better than the same prototypes shuffled over the nodes
    rng = np.random.default_rng(1)
    shuffled = [np.nanmean(dnm.prototype_errors(X, P[rng.permutation(20)], lat["bmu"])) for _ in range(5)]
    assert tiny_run.metrics["prototype_mse"] < 0.8 * min(shuffled), (tiny_run.metrics["prototype_mse"], shuffled)


def test_sharpness_is_one_for_the_samples_themselves_and_lower_when_blurred():
    imgs = squares(10, 28).images / 255.0
    bmu = np.arange(10)
    assert np.allclose(dnm.sharpness_ratios(imgs, imgs, bmu), 1.0)
    assert np.allclose(dnm.prototype_errors(imgs, imgs, bmu), 0.0)
    blurred = torch.nn.functional.avg_pool2d(
        torch.as_tensor(imgs)[:, None], 5, stride=1, padding=2, count_include_pad=False
    )[:, 0].numpy()
    ratio = dnm.sharpness_ratios(imgs, blurred, bmu)
    assert (ratio < 0.6).all(), ratio
    energy = dnm.gradient_energy(imgs[:1])
    direct = np.mean(np.diff(imgs[0], axis=1) ** 2) + np.mean(np.diff(imgs[0], axis=0) ** 2)
    assert energy[0] == pytest.approx(direct)


def test_run_writes_the_lattice_figure_and_the_report(tiny_run):
    from PIL import Image

    png = (tiny_run.path / "lattice.png").read_bytes()
    im = Image.open(io.BytesIO(png))
    im.load()
    w, h = im.size
    expected = (5 * 9 + 1) / (4 * 9 + 1)  # 4×5 nodes of 8×8 with 1-px gaps
    assert w / h == pytest.approx(expected, rel=0.02) and w >= 400
    report = (tiny_run.path / "report.md").read_text()
    m = tiny_run.metrics
    assert f"{m['prototype_mse']:.4f}" in report and f"{m['purity']:.3f}" in report
    assert "| metric | this run | note |" in report and "REPRODUCTION.md" in report  # no reference beside ours
    assert "Adam" in report and "lattice.png" in report and "differs" in report
    assert "prototype MSE" in " ".join(dnm.summary(tiny_run))


def test_help_lists_the_paper_flags_with_defaults(capsys):
    with pytest.raises(SystemExit):
        dnm.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for flag, default in [
        ("--architecture", "paper"),
        ("--pretrain-iterations", "None"),
        ("--resize", "None"),
        ("--som-iterations", "10000"),
        ("--sigma0", "10.0"),
        ("--eta0", "0.3"),
        ("--alpha", "2000.0"),
    ]:
        assert flag in out
        after = out[out.rindex(flag + " ") :]
        assert f"(default: {default})" in after[:600], (flag, after[:600])
    assert "paper: 500" in out and "{compact,paper}" in out


def test_maps_overlay_shows_each_nodes_prototype_error(tiny_run):
    """The Maps tab's "prototype error" overlay is the per-node prototype MSE (NaN on empty nodes)."""
    from dashboard.figures import LATTICE_OVERLAYS

    run = tiny_run
    lat = dnm.lattice(run)
    values = lat.overlay("prototype_mse")
    assert "prototype_mse" in LATTICE_OVERLAYS
    assert values is not None and values.shape == lat.shape
    empty = lat.hits == 0
    assert np.isnan(values[empty]).all() and np.isfinite(values[~empty]).all()
    assert np.isclose(np.nanmean(values), run.metrics["prototype_mse"])
