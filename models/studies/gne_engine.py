"""The GNE study's engine: train the VAE and the GNE, decode their latent grids, store the run.

Imported only when a run starts (torch). The face, :mod:`models.studies.gne`, holds the
config and the readers of the run this writes; the networks' shared pieces are in
:mod:`.gne_models`, the samples in :mod:`.gne_data`, the writing in :mod:`.gne_save`, and
:mod:`.gne_points` holds what a person does with a trained GNE (this engine calls its ``place``
for ``--heldout``; it never imports this module).
"""

from __future__ import annotations

import numpy as np
import torch

from ..nets.gne import GNE
from ..nets.vae import VAE, Encoder, elbo_loss
from ..progress import ProgressFn, report, scaled
from ..store import Run, RunStore
from ..training import adam, batches, fit, seed_everything, to_tensor
from .base import with_split
from .gne import SIDES, Config, knn_accuracy
from .gne_data import heldout_data, load_data
from .gne_models import (
    decode,
    device_of,
    encode,
    generator_for,
    generator_name,
    gne_step,
    grid_extent,
    grid_points,
    latent_grid,
    nearest_neighbours,
    reconstruction_error,
    resolve_device,
)
from .gne_save import save

# the shared pieces are re-exported: a caller that trains and reads a plane (bench, tests) needs one module
__all__ = [
    "run",
    "resolve_device",
    "train_vae",
    "train_gne",
    "gne_step",
    "decode",
    "reconstruction_error",
    "encode",
    "device_of",
    "generator_for",
    "grid_extent",
    "grid_points",
    "nearest_neighbours",
    "latent_grid",
    "load_data",
    "save",
]


# -- training ---------------------------------------------------------------
def train_vae(
    X: np.ndarray, config: Config, *, image_shape: tuple[int, ...] | None = None, progress: ProgressFn | None = None
):
    """Train the VAE baseline on ``X`` (N×D in [0, 1]) from ``config.seed``; returns ``(vae, history)``."""
    device = resolve_device(config.device)
    gen = seed_everything(config.seed)
    vae = VAE(
        Encoder(X.shape[1], config.latent_dim, width=config.width), generator_for(config, X.shape[1], image_shape)
    ).to(device)
    data = batches(to_tensor(X, device), batch_size=config.batch_size, shuffle=True, generator=gen)

    def step(model, batch):
        recon, mean, log_var = model(batch[0])
        return elbo_loss(batch[0], recon, mean, log_var, config.kl_weight)

    opt = adam(vae.parameters(), lr=config.lr)
    history = fit(vae, opt, step, data, epochs=config.epochs, progress=progress, message="VAE")
    return vae, history


def train_gne(
    X: np.ndarray,
    config: Config,
    *,
    image_shape: tuple[int, ...] | None = None,
    init: VAE | None = None,
    progress: ProgressFn | None = None,
    epochs: int | None = None,
):
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
    opt = adam(
        [
            {"params": model.generator.parameters()},
            {"params": [model.embedding], "lr": config.embedding_lr or config.lr},
        ],
        lr=config.lr,
    )
    history = fit(
        model, opt, gne_step, data, epochs=config.epochs if epochs is None else epochs, progress=progress, message="GNE"
    )
    return model, history


# -- runs ------------------------------------------------------------------------
def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None) -> Run:
    """Train VAE then GNE (from the VAE when ``config.init == 'vae'``) and store both; returns the run."""
    device = resolve_device(config.device)
    config = with_split(config, data_dir)  # the split trained on (train, or the one present) goes into the manifest
    report(progress, 0, 1, f"loading {config.dataset} ({config.split})")
    ds = load_data(config, data_dir)
    X = ds.features
    vae, vh = train_vae(X, config, image_shape=ds.image_shape, progress=scaled(progress, 0.0, 0.45))
    gne, gh = train_gne(
        X,
        config,
        image_shape=ds.image_shape,
        init=vae if config.init == "vae" else None,
        progress=scaled(progress, 0.45, 0.85),
    )
    metrics = {
        "gne_seconds_per_epoch": gh.seconds_per_epoch,
        "vae_seconds_per_epoch": vh.seconds_per_epoch,
        "gne_final_loss": gh.last("loss"),
        "vae_final_loss": vh.last("loss"),
        "epochs": config.epochs,
        "device": str(device),
        "generator": generator_name(gne.generator),
        "n_classes": int(ds.n_classes),
    }
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
            metrics[f"heldout_{side}_knn"] = knn_accuracy(
                train_planes[side], ds.labels, query=held[side], query_labels=held["labels"]
            )
        metrics["heldout_gne_mse"] = float(held["gne_error"].mean())
        metrics["heldout_vae_mse"] = float(held["vae_error"].mean())
        extra["heldout"] = held
    report(progress, 0.92, 1, "decoding latent grids")
    saved = save(store, config, ds, gne, vae, metrics=metrics, extra_arrays=extra, figures=True)
    report(progress, 1, 1, "saved", gne_mse=saved.metrics["gne_mse"], vae_mse=saved.metrics["vae_mse"])
    return saved
