"""The sparse landscape's engine (torch): train ``models`` sparse convolutional autoencoders, map each
one's landscape (slices × MeanShift clusters, decoded centres and continuity spheres), and write
the ``landscape`` run. Imported only when a run starts (see :mod:`models.studies.landscape`, the
study's face, for the config and the readers; :mod:`models.studies.landscape_clusters` for the
arithmetic on the codes)."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from .. import datasets
from ..nets.autoencoders import SparseConvAutoencoder, as_images, image_shape_of
from ..progress import ProgressFn, report, scaled
from ..store import Run, RunStore
from .landscape import KIND, Config, group
from .landscape_clusters import (active_units, consistency_row, knn_classifier, rank_slices,
                                               significant, slice_clusters, sphere_directions)
from ..training import batches, default_device, fit, seed_everything


def train_sparse_ae(config: Config, ds, seed: int, progress: ProgressFn | None = None):
    """A sparse conv autoencoder trained with BCE + l1·mean‖z‖₁ through the shared fit loop."""
    device = default_device(config.device)
    gen = seed_everything(seed)
    shape = image_shape_of(ds.image_shape)
    X = as_images(torch.as_tensor(ds.features, dtype=torch.float32), shape).to(device)
    model = SparseConvAutoencoder(shape, latent=config.latent).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    data = batches(X, batch_size=config.batch_size, generator=gen)
    ramp, seen = max(1, config.epochs * len(data) // 2), [0]

    def step(m, batch):
        x, = batch
        # the penalty ramps up over the first half of training: at full weight from the start it
        # silences every latent unit before the decoder has learnt to use them (dead ReLUs)
        weight = config.l1 * min(1.0, seen[0] / ramp)
        seen[0] += 1
        z, logits = m(x)
        # BCE summed over an image's pixels (mean over the batch), so the penalty's weight does
        # not depend on the image size and reconstruction is not drowned by the L1 term
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        l1 = z.abs().sum(1).mean()
        return bce + weight * l1, {"bce": bce.detach(), "l1": l1.detach()}

    fit(model, opt, step, data, epochs=config.epochs,
        progress=progress, message=f"sparse autoencoder (seed {seed})")
    return model, X


def _decode(model, Z: np.ndarray, shape) -> np.ndarray:
    """Latent vectors → images as flat features (H·W·C layout, like ``Dataset.features``)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        out = torch.cat([model.decode(torch.as_tensor(Z[s:s + 1024], dtype=torch.float32, device=device))
                         for s in range(0, max(1, len(Z)), 1024)]) if len(Z) else torch.zeros(0, *shape)
    return out.permute(0, 2, 3, 1).reshape(len(Z), -1).cpu().numpy()


def landscape_of(config: Config, model, X, ds, classifier) -> tuple[dict, dict]:
    """One model's landscape: arrays for the view and its consistency row."""
    shape = image_shape_of(ds.image_shape)
    with torch.no_grad():
        Z = torch.cat([model.encode(X[s:s + 1024]) for s in range(0, X.shape[0], 1024)]).cpu().numpy()
    active = active_units(Z, config.active_fraction)
    slices = rank_slices(Z, config.significance, config.max_slices, config.min_members)
    S, C, R, D = len(slices), config.max_clusters, len(config.radii), config.directions
    img_shape = tuple(ds.image_shape)
    centres = np.zeros((S, C, 3), np.float32)
    sizes = np.zeros((S, C), np.int64)
    images = np.zeros((S, C, *img_shape), np.uint8)
    spheres = np.zeros((S, C, R, D, *img_shape), np.uint8)
    classes = np.full((S, C), -1, np.int64)
    conf = np.zeros((S, C), np.float32)
    dirs = sphere_directions(D)
    for s, sl in enumerate(slices):
        members = significant(Z, sl, config.significance)
        cen, sz, bw = slice_clusters(Z[members][:, list(sl)], seed=config.seed)
        k = min(C, len(cen))
        centres[s, :k], sizes[s, :k] = cen[:k], sz[:k]
        latent = np.zeros((k, config.latent), np.float32)
        latent[:, list(sl)] = cen[:k]
        decoded = _decode(model, latent, shape)
        proba = classifier.predict_proba(decoded)
        classes[s, :k], conf[s, :k] = classifier.classes_[proba.argmax(1)], proba.max(1)
        images[s, :k] = (np.clip(decoded, 0, 1) * 255).round().astype(np.uint8).reshape(k, *img_shape)
        pts = cen[:k, None, None, :] + np.asarray(config.radii)[None, :, None, None] * bw * dirs[None, None]
        lat = np.zeros((k * R * D, config.latent), np.float32)
        lat[:, list(sl)] = np.clip(pts.reshape(-1, 3), 0, None)   # ReLU latents are never negative
        sph = _decode(model, lat, shape)
        spheres[s, :k] = (np.clip(sph, 0, 1) * 255).round().astype(np.uint8).reshape(k, R, D, *img_shape)
    valid = sizes > 0
    row = consistency_row(sizes[valid], classes[valid], conf[valid], ds.n, ds.n_classes, list(ds.class_names),
                          config.margin, config.confidence)
    row["median_active_units"] = float(np.median(active))
    arrays = {"slices": np.asarray(slices, np.int64).reshape(-1, 3), "centres": centres, "sizes": sizes,
              "images": images, "spheres": spheres, "classes": classes, "confidence": conf,
              "active_units": active.astype(np.int64), "radii": np.asarray(config.radii, np.float32)}
    return arrays, row


def recon_knn_accuracy(model, X, ds, classifier) -> float:
    """Share of reconstructions the training-set kNN assigns to their own class."""
    with torch.no_grad():
        Xh = torch.cat([model.decode(model.encode(X[s:s + 1024])) for s in range(0, X.shape[0], 1024)])
    flat = Xh.permute(0, 2, 3, 1).reshape(len(Xh), -1).cpu().numpy()
    return float((classifier.predict(flat) == ds.labels).mean())


def train_landscapes(config: Config, ds, *, progress: ProgressFn | None = None) -> dict:
    """Train ``config.models`` sparse autoencoders (seeds seed, seed+1, …) and map each one's landscape."""
    if ds.images is None:
        raise ValueError(f"dataset {ds.name!r} has no images; a landscape needs image data")
    classifier = knn_classifier(ds.features, ds.labels)
    groups, rows, models = {}, [], []
    for i in range(config.models):
        seed = config.seed + i
        lo, hi = i / config.models, (i + 1) / config.models
        model, X = train_sparse_ae(config, ds, seed, scaled(progress, lo, lo + 0.85 * (hi - lo)))
        report(scaled(progress, lo, hi), 0.9, 1.0, f"landscape of model {i + 1}")
        arrays, row = landscape_of(config, model, X, ds, classifier)
        accuracy = round(recon_knn_accuracy(model, X, ds, classifier), 3)
        row = {"model": i + 1, "seed": seed, **row, "recon_knn_accuracy": accuracy}
        groups[group(i + 1)], models = arrays, models + [model]
        rows.append(row)
    active = np.concatenate([g["active_units"] for g in groups.values()])
    metrics = {"median_active_units": float(np.median(active)), "landscape": rows,
               "recon_knn_accuracy": float(np.mean([r["recon_knn_accuracy"] for r in rows]))}
    report(progress, 1.0, 1.0, "done", median_active_units=metrics["median_active_units"])
    return {"arrays": groups, "metrics": metrics, "models": models}


def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None) -> Run:
    """Load the dataset, train, and save a ``landscape`` run; return the stored run."""
    ds = datasets.load(config.dataset, data_dir=data_dir, limit=config.limit, seed=config.seed)
    out = train_landscapes(config, ds, progress=progress)
    with store.writer(KIND, dataset=config.dataset, config=config.record(), seed=config.seed) as w:
        w.metrics.update(out["metrics"])
        median = out["metrics"]["median_active_units"]
        w.manifest["summary"] = f"{config.models} models · median {median:g} active units"
        for name, arrays in out["arrays"].items():
            w.add_arrays(name, arrays)
        for i, model in enumerate(out["models"], start=1):
            w.add_weights(group(i), model.state_dict())
    return store.load(w.id)
