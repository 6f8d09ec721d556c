"""Generative neural embeddings (GNE) against a VAE with the same decoder.

A GNE run trains, on one dataset, a VAE (encoder → 2-D Gaussian → generator) and a
GNE (a learned 2-D point per sample → the same generator class), optionally starting
GNE from the VAE's means and decoder. It stores both embeddings, both networks, the
decoded latent grid of each plane at several sizes and the nearest real sample of
every grid point, plus the figures a script compares: ``gne_mse``, ``vae_mse``,
``gne_seconds_per_epoch``, ``vae_seconds_per_epoch``.

What a person does with a trained GNE also lives here, as plain functions the
dashboard calls: embed new samples with the generator frozen
(:func:`embed_new`), move chosen points by hand and train on (:func:`move_points`,
:func:`run_move`), place the held-out split (:func:`place_heldout`).

Command line: ``python -m models.studies.gne --dataset digits --epochs 100``.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from models import datasets
from models.nets.gne import GENERATORS, GNE, DenseGenerator, make_generator
from models.nets.vae import VAE, Encoder, elbo_loss
from models.studies.cli import finish
from models.progress import ProgressFn, report, scaled
from models.store import Run, RunStore
from models.training import adam, batches, default_device, fit, seed_everything, to_tensor

KIND = "gne"
TITLE = "Generative neural embedding vs VAE"
GRID_SIZES = (5, 8, 10, 12, 15, 20)
INITS = ("random", "vae")

__all__ = ["GNEConfig", "KIND", "GRID_SIZES", "resolve_device", "train_vae", "train_gne", "decode",
           "reconstruction_error", "encode", "grid_extent", "grid_points", "latent_grid", "nearest_neighbours",
           "NewPoints", "embed_new", "Moved", "move_points", "load_models", "run_gne", "run_move",
           "place_heldout", "main"]


@dataclass(frozen=True)
class GNEConfig:
    """Everything that shapes a GNE/VAE run (defaults from the paper: NW 64, 4 blocks, Adam 1e-3, batch 1024).

    ``embedding_lr`` is the Adam rate of GNE's points (``None``: the same as ``lr``). Each
    point gets a gradient only when its sample is in the batch, once per epoch, so at
    1e-3 the points travel about 0.005 per epoch and sit inside the σ = 0.1 noise for
    dozens of epochs; at 1e-2 they spread out early (digits, 30 epochs, batch 128: GNE
    mse 0.065 at 1e-3, 0.041 at 1e-2, VAE 0.062). See BENCHMARKS.md.
    """

    dataset: str = "digits"
    epochs: int = 100
    latent_dim: int = 2
    width: int = 64
    blocks: int = 4
    noise: float = 0.1
    lr: float = 1e-3
    embedding_lr: float | None = 1e-2
    batch_size: int = 1024
    kl_weight: float = 1e-2
    generator: str = "auto"
    init: str = "random"
    limit: int | None = None
    device: str | None = None
    grid_sizes: tuple[int, ...] = GRID_SIZES

    def validate(self) -> "GNEConfig":
        for name in ("epochs", "latent_dim", "width", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if not isinstance(self.blocks, (int, np.integer)) or self.blocks < 0:
            raise ValueError(f"blocks must be a non-negative integer (got {self.blocks!r})")
        if not (self.lr > 0):
            raise ValueError(f"lr must be positive (got {self.lr!r})")
        if self.embedding_lr is not None and not (self.embedding_lr > 0):
            raise ValueError(f"embedding_lr must be positive or None (got {self.embedding_lr!r})")
        if not (self.noise >= 0):
            raise ValueError(f"noise must be ≥ 0 (got {self.noise!r})")
        if not (self.kl_weight >= 0):
            raise ValueError(f"kl_weight must be ≥ 0 (got {self.kl_weight!r})")
        if self.generator not in GENERATORS:
            raise ValueError(f"generator must be one of {', '.join(GENERATORS)} (got {self.generator!r})")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)} (got {self.init!r})")
        if self.limit is not None and self.limit < 2:
            raise ValueError(f"limit must be at least 2 samples or None (got {self.limit!r})")
        if not self.grid_sizes or any(int(k) < 1 for k in self.grid_sizes):
            raise ValueError(f"grid_sizes must be positive integers (got {self.grid_sizes!r})")
        resolve_device(self.device)
        return self


def resolve_device(device: str | None = None) -> torch.device:
    """``device`` as asked, or CUDA when available, else CPU; asking for CUDA without one is an error."""
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available; use 'cpu' or None")
    if device is not None and not (str(device) == "cpu" or str(device).startswith("cuda")):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or None (got {device!r})")
    return default_device(device)


# -- training ---------------------------------------------------------------
def _generator(config: GNEConfig, dim: int, image_shape: tuple[int, ...] | None) -> DenseGenerator:
    return make_generator(config.latent_dim, dim, kind=config.generator, image_shape=image_shape,
                          width=config.width, blocks=config.blocks)


def train_vae(X: np.ndarray, config: GNEConfig, *, image_shape: tuple[int, ...] | None = None,
              progress: ProgressFn | None = None, seed: int = 0):
    """Train the VAE baseline on ``X`` (N×D in [0, 1]); returns ``(vae, history)``."""
    device = resolve_device(config.device)
    gen = seed_everything(seed)
    vae = VAE(Encoder(X.shape[1], config.latent_dim, width=config.width),
              _generator(config, X.shape[1], image_shape)).to(device)
    data = batches(to_tensor(X, device), batch_size=config.batch_size, shuffle=True, generator=gen)

    def step(model, batch):
        recon, mean, log_var = model(batch[0])
        return elbo_loss(batch[0], recon, mean, log_var, config.kl_weight)

    opt = adam(vae.parameters(), lr=config.lr)
    history = fit(vae, opt, step, data, epochs=config.epochs, progress=progress, message="VAE")
    return vae, history


def _gne_step(model: GNE, batch):
    idx, x = batch
    return F.mse_loss(model(idx), x)  # one fused kernel each way: ~27% of an epoch faster than (y - x)**2


def train_gne(X: np.ndarray, config: GNEConfig, *, image_shape: tuple[int, ...] | None = None,
              init: VAE | None = None, progress: ProgressFn | None = None, seed: int = 0):
    """Train a GNE on ``X``; with ``init`` (a trained VAE) start from its means and its decoder.

    Returns ``(gne, history)``.
    """
    device = resolve_device(config.device)
    gen = seed_everything(seed + 1)
    model = GNE(len(X), _generator(config, X.shape[1], image_shape), noise=config.noise).to(device)
    Xt = to_tensor(X, device)
    if init is not None:
        model.generator.load_state_dict(init.generator.state_dict())
        with torch.no_grad():
            model.embedding.copy_(encode(init, X, device=device, as_numpy=False))
    data = batches(torch.arange(len(X), device=device), Xt, batch_size=config.batch_size, shuffle=True, generator=gen)
    opt = adam([{"params": model.generator.parameters()},
                            {"params": [model.embedding], "lr": config.embedding_lr or config.lr}], lr=config.lr)
    history = fit(model, opt, _gne_step, data, epochs=config.epochs, progress=progress, message="GNE")
    return model, history


# -- reading a trained plane -------------------------------------------------
def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def decode(generator: DenseGenerator, Z: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
    """Samples (N×D float32 in [0, 1]) decoded from points ``Z`` in one batched pass per chunk."""
    generator.eval()
    dev = _device_of(generator)
    Z = to_tensor(Z, dev)
    return np.concatenate([generator(Z[i:i + chunk]).cpu().numpy() for i in range(0, max(1, len(Z)), chunk)])[:len(Z)]


@torch.no_grad()
def reconstruction_error(generator: DenseGenerator, Z: np.ndarray | torch.Tensor, X: np.ndarray | torch.Tensor,
                         *, chunk: int = 8192) -> np.ndarray:
    """Per-sample mean squared error of decoding ``Z`` against ``X``."""
    generator.eval()
    dev = _device_of(generator)
    Z, X = to_tensor(Z, dev), to_tensor(X, dev)
    out = [torch.mean((generator(Z[i:i + chunk]) - X[i:i + chunk]) ** 2, dim=1) for i in range(0, len(Z), chunk)]
    return torch.cat(out).cpu().numpy() if out else np.zeros(0, np.float32)


@torch.no_grad()
def encode(vae: VAE, X: np.ndarray, *, device: torch.device | None = None, as_numpy: bool = True):
    """The VAE encoder's means for ``X`` (the VAE's embedding)."""
    vae.eval()
    mean, _ = vae.encoder(to_tensor(X, device or _device_of(vae)))
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


# -- new points --------------------------------------------------------------
@dataclass
class NewPoints:
    """New samples placed on a frozen generator's plane."""

    embedding: np.ndarray      # M×d, the best points found
    error: np.ndarray          # M, reconstruction MSE at ``embedding``
    start: np.ndarray          # M×d, the starting guesses
    start_error: np.ndarray    # M, reconstruction MSE at the starting guesses
    seconds: float = 0.0


def embed_new(generator: DenseGenerator, X: np.ndarray, *, reference: np.ndarray | None = None,
              init: np.ndarray | None = None, steps: int = 200, lr: float = 0.02, guess_grid: int = 16,
              support_radius: float = 0.1, support_weight: float = 10.0, max_reference: int = 4096,
              progress: ProgressFn | None = None) -> NewPoints:
    """Embed unseen samples by optimising only their points, the generator frozen.

    All samples are optimised together (one tensor of M points, one Adam), each with
    its own loss so batch size does not change the step. The starting guess is
    ``init`` or, by default, the best decoding candidate among a ``guess_grid``² grid
    over ``reference``'s robust extent and (up to ``max_reference`` of) the reference
    points themselves — the training embedding — keeping only candidates within
    ``support_radius`` of a reference point. With a ``reference`` the loss adds
    ``support_weight`` · (distance to the nearest reference point − ``support_radius``)₊²:
    the generator was trained only within its noise (σ = 0.1) of the training points,
    and far from them it can decode a lucky match off the plane. The best point seen
    per sample (by that loss) is kept, so from the default guess the error never ends
    above the guess's.
    """
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0 (got {steps!r})")
    t0 = time.perf_counter()
    dev = _device_of(generator)
    generator.eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    try:
        Xt = to_tensor(X, dev)
        support = None
        if reference is not None:
            ref = np.asarray(reference, np.float32)
            if len(ref) > max_reference:
                ref = ref[np.random.default_rng(0).choice(len(ref), max_reference, replace=False)]
            support = to_tensor(ref, dev)

        def off_support(z: torch.Tensor) -> torch.Tensor:
            if support is None:
                return torch.zeros(len(z), device=z.device)
            return torch.relu(torch.cdist(z, support).min(dim=1).values - support_radius) ** 2

        if init is not None:
            start = to_tensor(init, dev)
            if start.shape != (len(X), generator.latent_dim):
                raise ValueError(f"init must be {len(X)}×{generator.latent_dim} (got {tuple(start.shape)})")
        else:
            if support is None:
                raise ValueError("embed_new needs init (M×d starting points) or reference (the training embedding)")
            grid = to_tensor(grid_points(grid_extent(reference), guess_grid, generator.latent_dim), dev)
            cand = torch.cat([grid[off_support(grid) == 0], support])
            with torch.no_grad():
                dist = torch.cdist(Xt, generator(cand)) ** 2 / Xt.shape[1]
            start = cand[dist.argmin(dim=1)]

        def objective(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            err = torch.mean((generator(z) - Xt) ** 2, dim=1)
            return err, err + support_weight * off_support(z)

        with torch.no_grad():
            start_err, best_obj = objective(start)
        z = start.clone().requires_grad_(True)
        best, best_err = start.clone(), start_err.clone()
        opt = torch.optim.Adam([z], lr=lr)
        for i in range(steps + 1):
            opt.zero_grad(set_to_none=True)
            err, obj = objective(z)
            with torch.no_grad():
                better = obj < best_obj
                best = torch.where(better[:, None], z.detach(), best)
                best_err = torch.where(better, err.detach(), best_err)
                best_obj = torch.where(better, obj.detach(), best_obj)
            if i == steps:
                break
            obj.sum().backward()
            opt.step()
            if progress is not None and (i % 20 == 0 or i == steps - 1):
                report(progress, i + 1, steps, "placing new points", mse=float(best_err.mean()))
    finally:
        for p in generator.parameters():
            p.requires_grad_(True)
    return NewPoints(best.cpu().numpy(), best_err.cpu().numpy(), start.cpu().numpy(), start_err.cpu().numpy(),
                     time.perf_counter() - t0)


# -- moved by hand -------------------------------------------------------------
@dataclass
class Moved:
    ids: np.ndarray       # the moved samples
    before: np.ndarray    # their points before the move
    targets: np.ndarray   # where they were put
    after: np.ndarray     # their points after training on
    pinned: bool
    history: object = None


def move_points(model: GNE, X: np.ndarray, ids: Sequence[int], *, displacement: Sequence[float] | None = None,
                targets: np.ndarray | None = None, pin: bool = True, epochs: int = 5, batch_size: int = 1024,
                lr: float = 1e-3, embedding_lr: float | None = 1e-2, progress: ProgressFn | None = None, seed: int = 0) -> Moved:
    """Move samples ``ids`` (by ``displacement`` or to ``targets``) and train the whole GNE on for ``epochs``.

    With ``pin`` the moved points are frozen (restored after every optimiser step)
    while every other point and the generator adapt around them. ``model`` is changed
    in place.
    """
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    n = model.n_samples
    if ids.size == 0:
        raise ValueError("ids must name at least one sample to move (got none)")
    if ids.min() < 0 or ids.max() >= n:
        raise ValueError(f"ids must be sample indices in [0, {n}) (got {ids.min()}..{ids.max()})")
    if (displacement is None) == (targets is None):
        raise ValueError("give exactly one of displacement (a d-vector) or targets (len(ids)×d)")
    if epochs < 0:
        raise ValueError(f"epochs must be ≥ 0 (got {epochs!r})")
    if len(X) != n:
        raise ValueError(f"X has {len(X)} samples but the GNE has {n} points")
    dev = model.embedding.device
    before = model.embedding.detach()[to_tensor(ids, dev, torch.long)].cpu().numpy()
    if displacement is not None:
        d = np.asarray(displacement, np.float32).ravel()
        if d.size != model.embedding.shape[1]:
            raise ValueError(f"displacement must have {model.embedding.shape[1]} values (got {d.size})")
        tgt = before + d
    else:
        tgt = np.asarray(targets, np.float32)
        if tgt.shape != before.shape:
            raise ValueError(f"targets must be {before.shape[0]}×{before.shape[1]} (got {tgt.shape})")
    idx_t = to_tensor(ids, dev, torch.long)
    tgt_t = to_tensor(tgt, dev)
    with torch.no_grad():
        model.embedding[idx_t] = tgt_t

    def hold(_step: int) -> None:
        if pin:
            with torch.no_grad():
                model.embedding[idx_t] = tgt_t

    gen = seed_everything(seed)
    data = batches(torch.arange(n, device=dev), to_tensor(X, dev), batch_size=batch_size, shuffle=True, generator=gen)
    opt = adam([{"params": model.generator.parameters()},
                            {"params": [model.embedding], "lr": embedding_lr or lr}], lr=lr)
    history = fit(model, opt, _gne_step, data, epochs=epochs, progress=progress, after_step=hold, message="training on")
    after = model.embedding.detach()[idx_t].cpu().numpy()
    return Moved(ids, before, tgt, after, bool(pin), history)


# -- runs ------------------------------------------------------------------------
def _grids(prefix: str, generator: DenseGenerator, embedding: np.ndarray, sizes: Sequence[int]) -> dict[str, np.ndarray]:
    out = {}
    for k in sizes:
        g = latent_grid(generator, embedding, int(k))
        out[f"{prefix}_images_{k}"] = (np.clip(g["images"], 0, 1) * 255).round().astype(np.uint8)
        out[f"{prefix}_neighbours_{k}"] = g["neighbours"]
        out[f"{prefix}_extent"] = g["extent"]
    return out


def _load_data(config: GNEConfig, data_dir, seed: int) -> datasets.Dataset:
    return datasets.load(config.dataset, data_dir=data_dir, split="train", limit=config.limit, seed=seed)


def _save(store: RunStore, config: GNEConfig, ds: datasets.Dataset, gne: GNE, vae: VAE, *, seed: int,
          metrics: dict, extra_arrays: dict | None = None) -> Run:
    X = ds.features
    gne_emb = gne.embedding.detach().cpu().numpy()
    vae_emb = encode(vae, X)
    gne_err = reconstruction_error(gne.generator, gne_emb, X)
    vae_err = reconstruction_error(vae.generator, vae_emb, X)
    metrics = {**metrics, "gne_mse": float(gne_err.mean()), "vae_mse": float(vae_err.mean()), "n": int(ds.n)}
    index = ds.index if ds.index is not None else np.arange(ds.n)
    cfg = {**asdict(config), "grid_sizes": list(config.grid_sizes), "dim": int(ds.dim),
           "image_shape": list(ds.image_shape) if ds.image_shape else None}
    with store.writer(KIND, dataset=config.dataset, config=cfg, seed=seed) as w:
        w.metrics.update(metrics)
        w.add_arrays("embeddings", {"gne": gne_emb, "vae": vae_emb, "gne_error": gne_err, "vae_error": vae_err,
                                    "labels": ds.labels, "index": index})
        w.add_arrays("grids", {**_grids("gne", gne.generator, gne_emb, config.grid_sizes),
                               **_grids("vae", vae.generator, vae_emb, config.grid_sizes)})
        for name, group in (extra_arrays or {}).items():
            w.add_arrays(name, group)
        w.add_weights("gne", gne.state_dict())
        w.add_weights("vae", vae.state_dict())
    return store.load(w.id)


def run_gne(config: GNEConfig, *, store: RunStore, data_dir=None, seed: int = 0,
            progress: ProgressFn | None = None) -> Run:
    """Train VAE then GNE (from the VAE when ``config.init == 'vae'``) and store both; returns the run."""
    config = config.validate()
    device = resolve_device(config.device)
    report(progress, 0, 1, f"loading {config.dataset}")
    ds = _load_data(config, data_dir, seed)
    X = ds.features
    vae, vh = train_vae(X, config, image_shape=ds.image_shape, progress=scaled(progress, 0.0, 0.45), seed=seed)
    gne, gh = train_gne(X, config, image_shape=ds.image_shape, init=vae if config.init == "vae" else None,
                        progress=scaled(progress, 0.45, 0.9), seed=seed)
    report(progress, 0.92, 1, "decoding latent grids")
    metrics = {"gne_seconds_per_epoch": gh.seconds_per_epoch, "vae_seconds_per_epoch": vh.seconds_per_epoch,
               "gne_final_loss": gh.last("loss"), "vae_final_loss": vh.last("loss"), "epochs": config.epochs,
               "device": str(device)}
    run = _save(store, config, ds, gne, vae, seed=seed, metrics=metrics)
    report(progress, 1, 1, "saved", gne_mse=run.metrics["gne_mse"], vae_mse=run.metrics["vae_mse"])
    return run


def load_models(run: Run, device: str | None = None) -> tuple[GNE, VAE]:
    """Rebuild a run's GNE and VAE from its config and weights (read with ``weights_only=True``)."""
    cfg = run.config
    dev = resolve_device(device)
    config = GNEConfig(**{k: cfg[k] for k in ("latent_dim", "width", "blocks", "noise", "generator") if k in cfg})
    shape = tuple(cfg["image_shape"]) if cfg.get("image_shape") else None
    gne_state, vae_state = run.weights("gne", map_location=str(dev)), run.weights("vae", map_location=str(dev))
    n = int(gne_state["embedding"].shape[0])
    gne = GNE(n, _generator(config, cfg["dim"], shape), noise=config.noise)
    gne.load_state_dict(gne_state)
    vae = VAE(Encoder(cfg["dim"], config.latent_dim, width=config.width), _generator(config, cfg["dim"], shape))
    vae.load_state_dict(vae_state)
    return gne.to(dev).eval(), vae.to(dev).eval()


def _config_of(run: Run) -> GNEConfig:
    fields = GNEConfig.__dataclass_fields__
    cfg = {k: v for k, v in run.config.items() if k in fields}
    cfg["grid_sizes"] = tuple(cfg.get("grid_sizes", GRID_SIZES))
    return GNEConfig(**cfg)


def run_move(run: Run, ids: Sequence[int], *, store: RunStore, displacement: Sequence[float] | None = None,
             targets: np.ndarray | None = None, pin: bool = True, epochs: int = 5, data_dir=None,
             progress: ProgressFn | None = None) -> Run:
    """Move samples of a GNE run, train on, and store the result as a new run (``config.parent`` names the old one).

    The new run holds ``moved`` arrays: ``ids``, ``before``, ``targets``, ``after``.
    """
    if run.kind != KIND:
        raise ValueError(f"run must be a {KIND} run (got a {run.kind!r} run: {run.id})")
    config = replace(_config_of(run), device=None)
    seed = int(run.manifest.get("seed") or 0)
    ds = _load_data(config, data_dir, seed)
    gne, vae = load_models(run)
    if len(ds.features) != gne.n_samples:
        raise ValueError(f"the dataset {config.dataset} now has {ds.n} samples but run {run.id} has {gne.n_samples}")
    moved = move_points(gne, ds.features, ids, displacement=displacement, targets=targets, pin=pin, epochs=epochs,
                        batch_size=config.batch_size, lr=config.lr, embedding_lr=config.embedding_lr,
                        progress=scaled(progress, 0, 0.9), seed=seed)
    metrics = {k: run.metrics.get(k) for k in ("gne_seconds_per_epoch", "vae_seconds_per_epoch", "epochs", "device")}
    metrics.update({"parent": run.id, "moved": int(len(moved.ids)), "pinned": moved.pinned, "epochs_on": int(epochs)})
    saved = _save(store, config, ds, gne, vae, seed=seed, metrics=metrics,
                  extra_arrays={"moved": {"ids": moved.ids, "before": moved.before, "targets": moved.targets,
                                          "after": moved.after}})
    report(progress, 1, 1, "saved", gne_mse=saved.metrics["gne_mse"])
    return saved


def place_heldout(run: Run, *, data_dir=None, limit: int | None = 200, steps: int = 200,
                  progress: ProgressFn | None = None) -> dict[str, np.ndarray]:
    """Place the test split on a run's GNE plane (new-point embedding) and through its VAE encoder.

    Returns arrays ``gne``, ``gne_error``, ``gne_start``, ``gne_start_error``, ``vae``,
    ``vae_error``, ``labels``, ``index`` (positions in the test split).
    """
    if run.kind != KIND:
        raise ValueError(f"run must be a {KIND} run (got a {run.kind!r} run: {run.id})")
    ds = datasets.load(run.manifest["dataset"], data_dir=data_dir, split="test", limit=limit,
                       seed=int(run.manifest.get("seed") or 0))
    gne, vae = load_models(run)
    placed = embed_new(gne.generator, ds.features, reference=gne.embedding.detach().cpu().numpy(), steps=steps,
                       support_radius=max(gne.noise, 1e-3), progress=progress)
    vae_emb = encode(vae, ds.features)
    return {"gne": placed.embedding, "gne_error": placed.error, "gne_start": placed.start,
            "gne_start_error": placed.start_error, "vae": vae_emb,
            "vae_error": reconstruction_error(vae.generator, vae_emb, ds.features),
            "labels": ds.labels, "index": ds.index if ds.index is not None else np.arange(ds.n)}


# -- command line ------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m models.studies.gne",
                                description="Train a GNE and a VAE with the same decoder; store both as one run.")
    p.add_argument("--dataset", default="digits", help="dataset name (default digits)")
    p.add_argument("--data-dir", type=Path, default=datasets.DEFAULT_DATA_DIR, help="where dataset files live")
    p.add_argument("--store-dir", type=Path, default=Path("runs"), help="where runs are stored (default ./runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=100, help="epochs for each of GNE and VAE (default 100)")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of the networks (default 1e-3)")
    p.add_argument("--embedding-lr", type=float, default=1e-2,
                   help="Adam learning rate of GNE's points (default 1e-2; 0 means the same as --lr)")
    p.add_argument("--noise", type=float, default=0.1, help="σ of the Gaussian noise on GNE points in training")
    p.add_argument("--kl-weight", type=float, default=1e-2)
    p.add_argument("--width", type=int, default=64, help="NW: units of the generator's residual blocks")
    p.add_argument("--blocks", type=int, default=4, help="residual blocks in the generator")
    p.add_argument("--generator", choices=GENERATORS, default="auto", help="auto: deconvolutional for images ≥ 28×28")
    p.add_argument("--init", choices=INITS, default="random", help="vae: start GNE from the VAE's means and decoder")
    p.add_argument("--limit", type=int, default=None, help="use at most this many training samples")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = GNEConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       embedding_lr=args.embedding_lr or None,
                       noise=args.noise, kl_weight=args.kl_weight, width=args.width, blocks=args.blocks,
                       generator=args.generator, init=args.init, limit=args.limit, device=args.device)
    return finish(lambda progress: run_gne(config, store=RunStore(args.store_dir), data_dir=args.data_dir, seed=args.seed,
                                  progress=progress),
                  lambda run: [f"GNE mse {run.metrics['gne_mse']:.5f} ({run.metrics['gne_seconds_per_epoch']:.3f} "
                               f"s/epoch) · VAE mse {run.metrics['vae_mse']:.5f} "
                               f"({run.metrics['vae_seconds_per_epoch']:.3f} s/epoch) on {run.metrics['device']}"])


if __name__ == "__main__":
    sys.exit(main())
