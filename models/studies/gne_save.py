"""Store a trained GNE and VAE as one run: both networks, their embeddings, errors and latent grids.

The engine stores a trained pair; :func:`.gne_points.run_move` stores a moved one the same way,
so the face's readers read both alike.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import datasets
from ..nets.gne import GNE, DenseGenerator
from ..nets.vae import VAE
from ..store import Run, RunStore
from .gne import KIND, SIDES, Config, knn_accuracy
from .gne_models import encode, generator_name, latent_grid, reconstruction_error

__all__ = ["save"]


def _grids(side: str, generator: DenseGenerator, embedding: np.ndarray, sizes: Sequence[int]) -> dict[str, np.ndarray]:
    """The arrays the face's ``latent_grid(run, side, k)`` reads back."""
    out = {}
    for k in sizes:
        g = latent_grid(generator, embedding, int(k))
        out[f"{side}_images_{k}"] = (np.clip(g["images"], 0, 1) * 255).round().astype(np.uint8)
        out[f"{side}_neighbours_{k}"] = g["neighbours"]
        out[f"{side}_extent"] = g["extent"]
    return out


def save(
    store: RunStore,
    config: Config,
    ds: datasets.Dataset,
    gne: GNE,
    vae: VAE,
    *,
    metrics: dict,
    extra_arrays: dict | None = None,
    figures: bool = False,
) -> Run:
    """Store both networks, their embeddings, errors and latent grids as one run (the face's readers read it);
    with ``figures`` also PNGs of both planes and both decoded grids and a short report.md."""
    X = ds.features
    gne_emb = gne.embedding.detach().cpu().numpy()
    vae_emb = encode(vae, X)
    gne_err = reconstruction_error(gne.generator, gne_emb, X)
    vae_err = reconstruction_error(vae.generator, vae_emb, X)
    metrics = {
        **metrics,
        "gne_mse": float(gne_err.mean()),
        "vae_mse": float(vae_err.mean()),
        "n": int(ds.n),
        "generator": generator_name(gne.generator),
        "n_classes": int(ds.n_classes),
        "gne_knn": knn_accuracy(gne_emb, ds.labels),
        "vae_knn": knn_accuracy(vae_emb, ds.labels),
    }
    index = ds.index if ds.index is not None else np.arange(ds.n)
    cfg = {
        **config.record(),
        "dim": int(ds.dim),
        "image_shape": list(ds.image_shape) if ds.image_shape else None,
        "generator_used": metrics["generator"],
    }
    planes = {"gne": (gne.generator, gne_emb), "vae": (vae.generator, vae_emb)}
    with store.writer(KIND, dataset=config.dataset, config=cfg, seed=config.seed) as w:
        w.metrics.update(metrics)
        w.add_arrays(
            "embeddings",
            {
                "gne": gne_emb,
                "vae": vae_emb,
                "gne_error": gne_err,
                "vae_error": vae_err,
                "labels": ds.labels,
                "index": index,
            },
        )
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
