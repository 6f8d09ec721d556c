"""The GNE study's engine: train the VAE and the GNE, decode their latent grids, store the run.

Imported only when a run starts (torch). The face, :mod:`models.studies.gne`, holds the
config and the readers of the run this writes; :mod:`models.studies.gne_points` holds what a
person does with a trained GNE and reuses :func:`save` to store a moved one.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .. import datasets
from ..nets.gne import GNE, DeconvGenerator, DenseGenerator, make_generator
from ..nets.vae import VAE, Encoder, elbo_loss
from ..progress import ProgressFn, report, scaled
from ..store import Run, RunStore
from ..training import adam, batches, default_device, fit, seed_everything, to_tensor
from .base import resolve_split, with_split
from .gne import KIND, SIDES, Config, knn_accuracy

__all__ = ["run", "resolve_device", "train_vae", "train_gne", "gne_step", "decode", "reconstruction_error", "encode",
           "device_of", "generator_for", "grid_extent", "grid_points", "nearest_neighbours", "latent_grid", "load_data", "save"]


def resolve_device(device: str | None = None) -> torch.device:
    """``device`` as asked, or CUDA when available, else CPU; asking for CUDA without one is an error."""
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available; use 'cpu' or None")
    if device is not None and not (str(device) == "cpu" or str(device).startswith("cuda")):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or None (got {device!r})")
    return default_device(device)


# -- training ---------------------------------------------------------------
def generator_for(config: Config, dim: int, image_shape: tuple[int, ...] | None) -> DenseGenerator:
    return make_generator(config.latent_dim, dim, kind=config.generator, image_shape=image_shape,
                          width=config.width, blocks=config.blocks)


def train_vae(X: np.ndarray, config: Config, *, image_shape: tuple[int, ...] | None = None,
              progress: ProgressFn | None = None):
    """Train the VAE baseline on ``X`` (N×D in [0, 1]) from ``config.seed``; returns ``(vae, history)``."""
    device = resolve_device(config.device)
    gen = seed_everything(config.seed)
    vae = VAE(Encoder(X.shape[1], config.latent_dim, width=config.width),
              generator_for(config, X.shape[1], image_shape)).to(device)
    data = batches(to_tensor(X, device), batch_size=config.batch_size, shuffle=True, generator=gen)

    def step(model, batch):
        recon, mean, log_var = model(batch[0])
        return elbo_loss(batch[0], recon, mean, log_var, config.kl_weight)

    opt = adam(vae.parameters(), lr=config.lr)
    history = fit(vae, opt, step, data, epochs=config.epochs, progress=progress, message="VAE")
    return vae, history


def gne_step(model: GNE, batch):
    idx, x = batch
    return F.mse_loss(model(idx), x)  # one fused kernel each way: ~27% of an epoch faster than (y - x)**2


def train_gne(X: np.ndarray, config: Config, *, image_shape: tuple[int, ...] | None = None,
              init: VAE | None = None, progress: ProgressFn | None = None, epochs: int | None = None):
    """Train a GNE on ``X``; with ``init`` (a trained VAE) start from its means and its decoder.

    Seeded with ``config.seed + 1`` so its shuffles differ from the VAE's. ``epochs`` overrides
    ``config.epochs`` (0: only the start, e.g. to look at the VAE initialisation). Returns
    ``(gne, history)``.
    """
    device = resolve_device(config.device)
    gen = seed_everything(config.seed + 1)
    model = GNE(len(X), generator_for(config, X.shape[1], image_shape), noise=config.noise).to(device)
    Xt = to_tensor(X, device)
    if init is not None:
        model.generator.load_state_dict(init.generator.state_dict())
        with torch.no_grad():
            model.embedding.copy_(encode(init, X, device=device, as_numpy=False))
    data = batches(torch.arange(len(X), device=device), Xt, batch_size=config.batch_size, shuffle=True, generator=gen)
    opt = adam([{"params": model.generator.parameters()},
                            {"params": [model.embedding], "lr": config.embedding_lr or config.lr}], lr=config.lr)
    history = fit(model, opt, gne_step, data, epochs=config.epochs if epochs is None else epochs, progress=progress,
                      message="GNE")
    return model, history


# -- reading a trained plane -------------------------------------------------
def device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def decode(generator: DenseGenerator, Z: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
    """Samples (N×D float32 in [0, 1]) decoded from points ``Z`` in one batched pass per chunk."""
    generator.eval()
    dev = device_of(generator)
    Z = to_tensor(Z, dev)
    return np.concatenate([generator(Z[i:i + chunk]).cpu().numpy() for i in range(0, max(1, len(Z)), chunk)])[:len(Z)]


@torch.no_grad()
def reconstruction_error(generator: DenseGenerator, Z: np.ndarray | torch.Tensor, X: np.ndarray | torch.Tensor,
                         *, chunk: int = 8192) -> np.ndarray:
    """Per-sample mean squared error of decoding ``Z`` against ``X``."""
    generator.eval()
    dev = device_of(generator)
    Z, X = to_tensor(Z, dev), to_tensor(X, dev)
    out = [torch.mean((generator(Z[i:i + chunk]) - X[i:i + chunk]) ** 2, dim=1) for i in range(0, len(Z), chunk)]
    return torch.cat(out).cpu().numpy() if out else np.zeros(0, np.float32)


@torch.no_grad()
def encode(vae: VAE, X: np.ndarray, *, device: torch.device | None = None, as_numpy: bool = True):
    """The VAE encoder's means for ``X`` (the VAE's embedding)."""
    vae.eval()
    mean, _ = vae.encoder(to_tensor(X, device or device_of(vae)))
    return mean.cpu().numpy() if as_numpy else mean


def grid_extent(embedding: np.ndarray, low: float = 1.0, high: float = 99.0, pad: float = 0.05) -> np.ndarray:
    """``[[x0, x1], [y0, y1]]``: robust percentiles of the first two axes, padded, so outliers do not shrink the grid."""
    emb = np.asarray(embedding, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[1] < 2 or len(emb) == 0:
        raise ValueError(f"embedding must be N×2 or wider with N ≥ 1 (got shape {emb.shape})")
    lo, hi = np.percentile(emb[:, :2], low, axis=0), np.percentile(emb[:, :2], high, axis=0)
    span = np.maximum(hi - lo, 1e-6)
    return np.stack([lo - pad * span, hi + pad * span], axis=1)


def grid_points(extent: np.ndarray, k: int, latent_dim: int = 2) -> np.ndarray:
    """k×k points (row-major, first row at the TOP: largest y) spanning ``extent``; extra dims at 0."""
    if int(k) < 1:
        raise ValueError(f"grid size k must be ≥ 1 (got {k!r})")
    xs = np.linspace(extent[0, 0], extent[0, 1], k)
    ys = np.linspace(extent[1, 1], extent[1, 0], k)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.zeros((k * k, latent_dim), np.float32)
    pts[:, 0], pts[:, 1] = gx.ravel(), gy.ravel()
    return pts


def nearest_neighbours(points: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """Index of the embedded sample closest to each point (one batched distance computation)."""
    P, E = torch.as_tensor(np.asarray(points, np.float32)), torch.as_tensor(np.asarray(embedding, np.float32))
    return torch.cdist(P[:, :2], E[:, :2]).argmin(dim=1).numpy().astype(np.int64)


def latent_grid(generator: DenseGenerator, embedding: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The decoded k×k grid over the embedding's robust extent and the nearest real sample of each point.

    Returns ``points`` (k²×d), ``images`` (k×k×D float32, row 0 at the top), ``neighbours``
    (k×k sample indices) and ``extent``.
    """
    extent = grid_extent(embedding)
    pts = grid_points(extent, k, generator.latent_dim)
    imgs = decode(generator, pts)
    nn_idx = nearest_neighbours(pts, embedding)
    return {"points": pts, "images": imgs.reshape(k, k, -1), "neighbours": nn_idx.reshape(k, k), "extent": extent}



# -- runs ------------------------------------------------------------------------
def _grids(side: str, generator: DenseGenerator, embedding: np.ndarray, sizes: Sequence[int]) -> dict[str, np.ndarray]:
    """The arrays the face's ``latent_grid(run, side, k)`` reads back."""
    out = {}
    for k in sizes:
        g = latent_grid(generator, embedding, int(k))
        out[f"{side}_images_{k}"] = (np.clip(g["images"], 0, 1) * 255).round().astype(np.uint8)
        out[f"{side}_neighbours_{k}"] = g["neighbours"]
        out[f"{side}_extent"] = g["extent"]
    return out


def load_data(config: Config, data_dir=None) -> datasets.Dataset:
    """The training samples a run with ``config`` uses (the same ones for its moved children)."""
    split = resolve_split(config.dataset, config.split, data_dir)  # runs stored before --split: train
    return datasets.load(config.dataset, data_dir=data_dir, split=split, limit=config.limit, seed=config.seed)


def heldout_data(config: Config, ds: datasets.Dataset, data_dir=None) -> tuple[datasets.Dataset, str]:
    """``config.heldout`` samples no network saw, and where they came from: the test split when it is
    present and not the one trained on, else (MNIST with only its test files) the trained split's samples
    left out by ``--limit``."""
    if config.split != "test" and "test" in _present(config.dataset, data_dir):
        test = datasets.load(config.dataset, data_dir=data_dir, split="test", limit=config.heldout, seed=config.seed)
        return test, "test samples"
    full = datasets.load(config.dataset, data_dir=data_dir, split=ds.split, seed=config.seed)
    used = ds.index if ds.index is not None else np.arange(ds.n)
    rest = np.setdiff1d(np.arange(full.n), used)
    if rest.size == 0:
        raise ValueError(f"--heldout {config.heldout}: {config.dataset} has no test split apart from the "
                         f"{ds.split} split trained on, and training used all of it; give --limit below {full.n}")
    take = np.random.default_rng(config.seed).choice(rest, size=min(config.heldout, rest.size), replace=False)
    return full.subset(np.sort(take)), f"{ds.split}-split samples left out of training"


def _present(dataset: str, data_dir) -> list[str]:
    if ":" in dataset or dataset not in datasets.available():
        try:
            datasets.load(dataset, data_dir=data_dir, split="test", limit=1)
            return ["test"]
        except datasets.DatasetError:
            return []
    return datasets.present_splits(dataset, data_dir)


def generator_name(generator: DenseGenerator) -> str:
    """The kind of generator a network is (``dense`` or ``deconv``), whatever ``auto`` chose."""
    return "deconv" if isinstance(generator, DeconvGenerator) else "dense"


def save(store: RunStore, config: Config, ds: datasets.Dataset, gne: GNE, vae: VAE, *, metrics: dict,
         extra_arrays: dict | None = None, figures: bool = False) -> Run:
    """Store both networks, their embeddings, errors and latent grids as one run (the face's readers read it);
    with ``figures`` also PNGs of both planes and both decoded grids and a short report.md."""
    X = ds.features
    gne_emb = gne.embedding.detach().cpu().numpy()
    vae_emb = encode(vae, X)
    gne_err = reconstruction_error(gne.generator, gne_emb, X)
    vae_err = reconstruction_error(vae.generator, vae_emb, X)
    metrics = {**metrics, "gne_mse": float(gne_err.mean()), "vae_mse": float(vae_err.mean()), "n": int(ds.n),
               "generator": generator_name(gne.generator), "n_classes": int(ds.n_classes),
               "gne_knn": knn_accuracy(gne_emb, ds.labels), "vae_knn": knn_accuracy(vae_emb, ds.labels)}
    index = ds.index if ds.index is not None else np.arange(ds.n)
    cfg = {**config.record(), "dim": int(ds.dim), "image_shape": list(ds.image_shape) if ds.image_shape else None,
           "generator_used": metrics["generator"]}
    planes = {"gne": (gne.generator, gne_emb), "vae": (vae.generator, vae_emb)}
    with store.writer(KIND, dataset=config.dataset, config=cfg, seed=config.seed) as w:
        w.metrics.update(metrics)
        w.add_arrays("embeddings", {"gne": gne_emb, "vae": vae_emb, "gne_error": gne_err, "vae_error": vae_err,
                                    "labels": ds.labels, "index": index})
        grids: dict[str, np.ndarray] = {}
        for side in SIDES:
            grids.update(_grids(side, *planes[side], config.grid_sizes))
        w.add_arrays("grids", grids)
        for name, group in (extra_arrays or {}).items():
            w.add_arrays(name, group)
        w.add_weights("gne", gne.state_dict())
        w.add_weights("vae", vae.state_dict())
        if figures:
            from .gne_figures import grid_png, planes_png, report_md

            w.add_file("planes.png", planes_png({"gne": gne_emb, "vae": vae_emb}, ds.labels, metrics))
            for side in SIDES:
                png = grid_png(side, grids, config.grid_sizes, ds.image_shape)
                if png:
                    w.add_file(f"grid-{side}.png", png)
            w.add_file("report.md", report_md(config, metrics, ds))
    return store.load(w.id)


def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None) -> Run:
    """Train VAE then GNE (from the VAE when ``config.init == 'vae'``) and store both; returns the run."""
    device = resolve_device(config.device)
    config = with_split(config, data_dir)  # the split trained on (train, or the one present) goes into the manifest
    report(progress, 0, 1, f"loading {config.dataset} ({config.split})")
    ds = load_data(config, data_dir)
    X = ds.features
    vae, vh = train_vae(X, config, image_shape=ds.image_shape, progress=scaled(progress, 0.0, 0.45))
    gne, gh = train_gne(X, config, image_shape=ds.image_shape, init=vae if config.init == "vae" else None,
                        progress=scaled(progress, 0.45, 0.85))
    metrics = {"gne_seconds_per_epoch": gh.seconds_per_epoch, "vae_seconds_per_epoch": vh.seconds_per_epoch,
               "gne_final_loss": gh.last("loss"), "vae_final_loss": vh.last("loss"), "epochs": config.epochs,
               "device": str(device), "generator": generator_name(gne.generator), "n_classes": int(ds.n_classes)}
    extra = {}
    if config.heldout:
        from .gne_points import place

        report(progress, 0.86, 1, f"placing {config.heldout} held-out samples")
        test, source = heldout_data(config, ds, data_dir)
        held = place(gne, vae, test)
        train_planes = {"gne": gne.embedding.detach().cpu().numpy(), "vae": encode(vae, X)}
        metrics["heldout_n"] = int(test.n)
        metrics["heldout_source"] = source
        for side in SIDES:
            metrics[f"heldout_{side}_knn"] = knn_accuracy(train_planes[side], ds.labels, query=held[side],
                                                          query_labels=held["labels"])
        metrics["heldout_gne_mse"] = float(held["gne_error"].mean())
        metrics["heldout_vae_mse"] = float(held["vae_error"].mean())
        extra["heldout"] = held
    report(progress, 0.92, 1, "decoding latent grids")
    saved = save(store, config, ds, gne, vae, metrics=metrics, extra_arrays=extra, figures=True)
    report(progress, 1, 1, "saved", gne_mse=saved.metrics["gne_mse"], vae_mse=saved.metrics["vae_mse"])
    return saved
