"""Sparse generative landscapes (Dolgikh): what a sparse autoencoder's latent space holds.

A convolutional autoencoder with a small ReLU latent layer and an L1 penalty on its
activations lights only a few latent units per image. Looking at the latent space
three units at a time (a *slice*), the images that use the slice (their slice sum is
at least ``f`` × the slice's largest) form density clusters; MeanShift finds them,
each centre is decoded to an image (the *landscape*: slices × clusters), samples on
spheres of growing radius around a centre are decoded too (is the landscape
continuous?), and independently trained models are compared in a consistency table.

    python -m models.studies.landscape --dataset digits --models 3
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from itertools import combinations

import numpy as np

from models.studies.cli import finish
from ..progress import ProgressFn, report, scaled

KIND = "landscape"
TITLE = "Sparse landscape"
TABLE_COLUMNS = ("model", "seed", "size", "recognition", "completeness", "highest", "lowest", "median_active_units")


@dataclass
class LandscapeConfig:
    dataset: str = "digits"
    models: int = 3
    latent: int = 24
    l1: float = 1.0                    # L1 weight on latent activations (tuned on digits at 40 epochs: median 3 units fire)
    epochs: int = 40
    batch_size: int = 32
    lr: float = 5e-3
    significance: float = 0.25         # f: slice sum ≥ f × the slice's max
    active_fraction: float = 0.1       # a unit is active in an image when ≥ this × the image's largest unit
    max_slices: int = 8
    max_clusters: int = 6
    min_members: int = 20              # a slice needs this many significant samples to be clustered
    margin: float = 0.02               # clusters holding ≥ this share of the data count towards the size
    confidence: float = 0.6            # kNN vote share that counts as "recognised"
    radii: tuple[float, ...] = (0.5, 1.0, 2.0)   # sphere radii, in units of the slice's bandwidth
    directions: int = 8
    limit: int | None = None
    seed: int = 0
    device: str | None = None
    summary: str = field(default="", repr=False)

    def validate(self) -> "LandscapeConfig":
        if not 1 <= int(self.models) <= 10:
            raise ValueError(f"models must be between 1 and 10 (got {self.models!r})")
        if not 3 <= int(self.latent) <= 64:
            raise ValueError(f"latent must be between 3 and 64 (got {self.latent!r})")
        if self.l1 < 0:
            raise ValueError(f"l1 must be ≥ 0 (got {self.l1!r})")
        if not 0 < self.significance < 1:
            raise ValueError(f"significance must be in (0, 1) (got {self.significance!r})")
        if int(self.epochs) < 1:
            raise ValueError(f"epochs must be ≥ 1 (got {self.epochs!r})")
        return self


# -- pure pieces ---------------------------------------------------------------------
def active_units(Z: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Per sample, how many latent units carry at least ``fraction`` of its largest activation."""
    top = Z.max(1, keepdims=True)
    return ((Z >= fraction * top) & (Z > 0)).sum(1)


def significant(Z: np.ndarray, slice_: tuple[int, int, int], f: float = 0.25) -> np.ndarray:
    """Indices of samples whose activation sum on ``slice_`` is ≥ ``f`` × the slice's largest sum."""
    s = Z[:, list(slice_)].sum(1)
    top = s.max() if len(s) else 0.0
    return np.flatnonzero(s >= f * top) if top > 0 else np.array([], dtype=np.int64)


def rank_slices(Z: np.ndarray, f: float, count: int, min_members: int) -> list[tuple[int, int, int]]:
    """The ``count`` slices with most significant samples: built from the most used units, so the
    search stays small instead of visiting every one of C(latent, 3) slices."""
    usage = (Z > 0).mean(0)
    units = np.argsort(-usage)[: min(Z.shape[1], 10)]
    scored = []
    for sl in combinations(sorted(units.tolist()), 3):
        n = len(significant(Z, sl, f))
        if n >= min_members and np.any(Z[:, list(sl)].sum(1) > 0):
            scored.append((n, sl))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [sl for _, sl in scored[:count]]


def slice_clusters(P: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """MeanShift clusters of slice points ``P`` (n×3): centres and sizes ordered by size, and the bandwidth."""
    from sklearn.cluster import MeanShift, estimate_bandwidth

    bw = float(estimate_bandwidth(P, quantile=0.2, n_samples=min(500, len(P)), random_state=seed))
    if not bw > 0:
        bw = float(np.std(P) + 1e-6)
    ms = MeanShift(bandwidth=bw, bin_seeding=True).fit(P)
    sizes = np.bincount(ms.labels_, minlength=len(ms.cluster_centers_))
    order = np.argsort(-sizes, kind="stable")
    return ms.cluster_centers_[order], sizes[order], bw


def sphere_directions(n: int) -> np.ndarray:
    """``n`` evenly spread unit vectors in 3-D (a Fibonacci sphere)."""
    k = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * k / n)
    theta = np.pi * (1 + 5**0.5) * k
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)


def knn_classifier(features: np.ndarray, labels: np.ndarray, k: int = 10):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=min(k, len(labels))).fit(features, labels)


def consistency_row(sizes: np.ndarray, classes: np.ndarray, confidences: np.ndarray, n_samples: int,
                    n_classes: int, class_names: list[str], margin: float, confidence: float) -> dict:
    """One model's row: landscape size, recognition, completeness, highest / lowest populated class.

    ``sizes``, ``classes``, ``confidences``: one entry per cluster (all slices together).
    """
    big = sizes >= margin * n_samples
    size = int(big.sum())
    recognised = big & (confidences >= confidence)
    recognition = float(recognised.sum() / size) if size else 0.0
    population = np.zeros(n_classes)
    np.add.at(population, classes[recognised], sizes[recognised])
    present = population > 0
    return {
        "size": size,
        "recognition": round(recognition, 3),
        "completeness": bool(present.all()),
        "classes_found": int(present.sum()),
        "highest": class_names[int(population.argmax())] if present.any() else "",
        "lowest": class_names[int(np.argmin(np.where(present, population, np.inf)))] if present.any() else "",
        "missing": [class_names[i] for i in np.flatnonzero(~present)],
    }


# -- training ----------------------------------------------------------------------------
def train_sparse_ae(cfg: LandscapeConfig, ds, seed: int, progress: ProgressFn | None = None):
    """A sparse conv autoencoder trained with BCE + l1·mean‖z‖₁ through the shared fit loop."""
    import torch
    from torch.nn import functional as F

    from ..nets.autoencoders import SparseConvAutoencoder, as_images, image_shape_of
    from ..training import batches, default_device, fit, seed_everything

    device = default_device(cfg.device)
    gen = seed_everything(seed)
    shape = image_shape_of(ds.image_shape)
    X = as_images(torch.as_tensor(ds.features, dtype=torch.float32), shape).to(device)
    model = SparseConvAutoencoder(shape, latent=cfg.latent).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data = batches(X, batch_size=cfg.batch_size, generator=gen)
    ramp, seen = max(1, cfg.epochs * len(data) // 2), [0]

    def step(m, batch):
        x, = batch
        # the penalty ramps up over the first half of training: at full weight from the start it
        # silences every latent unit before the decoder has learnt to use them (dead ReLUs)
        weight = cfg.l1 * min(1.0, seen[0] / ramp)
        seen[0] += 1
        z, logits = m(x)
        # BCE summed over an image's pixels (mean over the batch), so the penalty's weight does
        # not depend on the image size and reconstruction is not drowned by the L1 term
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        l1 = z.abs().sum(1).mean()
        return bce + weight * l1, {"bce": bce.detach(), "l1": l1.detach()}

    fit(model, opt, step, data, epochs=cfg.epochs,
        progress=progress, message=f"sparse autoencoder (seed {seed})")
    return model, X


def _decode(model, Z: np.ndarray, shape) -> np.ndarray:
    """Latent vectors → images as flat features (H·W·C layout, like ``Dataset.features``)."""
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        out = torch.cat([model.decode(torch.as_tensor(Z[s:s + 1024], dtype=torch.float32, device=device))
                         for s in range(0, max(1, len(Z)), 1024)]) if len(Z) else torch.zeros(0, *shape)
    return out.permute(0, 2, 3, 1).reshape(len(Z), -1).cpu().numpy()


def landscape_of(cfg: LandscapeConfig, model, X, ds, classifier) -> tuple[dict, dict]:
    """One model's landscape: arrays for the view and its consistency row."""
    import torch

    from ..nets.autoencoders import image_shape_of

    shape = image_shape_of(ds.image_shape)
    with torch.no_grad():
        Z = torch.cat([model.encode(X[s:s + 1024]) for s in range(0, X.shape[0], 1024)]).cpu().numpy()
    active = active_units(Z, cfg.active_fraction)
    slices = rank_slices(Z, cfg.significance, cfg.max_slices, cfg.min_members)
    S, C, R, D = len(slices), cfg.max_clusters, len(cfg.radii), cfg.directions
    img_shape = tuple(ds.image_shape)
    centres = np.zeros((S, C, 3), np.float32)
    sizes = np.zeros((S, C), np.int64)
    images = np.zeros((S, C, *img_shape), np.uint8)
    spheres = np.zeros((S, C, R, D, *img_shape), np.uint8)
    classes = np.full((S, C), -1, np.int64)
    conf = np.zeros((S, C), np.float32)
    dirs = sphere_directions(D)
    for s, sl in enumerate(slices):
        members = significant(Z, sl, cfg.significance)
        cen, sz, bw = slice_clusters(Z[members][:, list(sl)], seed=cfg.seed)
        k = min(C, len(cen))
        centres[s, :k], sizes[s, :k] = cen[:k], sz[:k]
        latent = np.zeros((k, cfg.latent), np.float32)
        latent[:, list(sl)] = cen[:k]
        decoded = _decode(model, latent, shape)
        proba = classifier.predict_proba(decoded)
        classes[s, :k], conf[s, :k] = classifier.classes_[proba.argmax(1)], proba.max(1)
        images[s, :k] = (np.clip(decoded, 0, 1) * 255).round().astype(np.uint8).reshape(k, *img_shape)
        pts = cen[:k, None, None, :] + np.asarray(cfg.radii)[None, :, None, None] * bw * dirs[None, None]
        lat = np.zeros((k * R * D, cfg.latent), np.float32)
        lat[:, list(sl)] = np.clip(pts.reshape(-1, 3), 0, None)   # ReLU latents are never negative
        sph = _decode(model, lat, shape)
        spheres[s, :k] = (np.clip(sph, 0, 1) * 255).round().astype(np.uint8).reshape(k, R, D, *img_shape)
    valid = sizes > 0
    row = consistency_row(sizes[valid], classes[valid], conf[valid], ds.n, ds.n_classes, list(ds.class_names),
                          cfg.margin, cfg.confidence)
    row["median_active_units"] = float(np.median(active))
    arrays = {"slices": np.asarray(slices, np.int64).reshape(-1, 3), "centres": centres, "sizes": sizes,
              "images": images, "spheres": spheres, "classes": classes, "confidence": conf,
              "active_units": active.astype(np.int64), "radii": np.asarray(cfg.radii, np.float32)}
    return arrays, row


def recon_knn_accuracy(model, X, ds, classifier) -> float:
    """Share of reconstructions the training-set kNN assigns to their own class."""
    import torch

    with torch.no_grad():
        Xh = torch.cat([model.decode(model.encode(X[s:s + 1024])) for s in range(0, X.shape[0], 1024)])
    flat = Xh.permute(0, 2, 3, 1).reshape(len(Xh), -1).cpu().numpy()
    return float((classifier.predict(flat) == ds.labels).mean())


def train_landscapes(cfg: LandscapeConfig, ds, *, progress: ProgressFn | None = None) -> dict:
    """Train ``cfg.models`` sparse autoencoders (seeds seed, seed+1, …) and map each one's landscape."""
    cfg.validate()
    if ds.images is None:
        raise ValueError(f"dataset {ds.name!r} has no images; a landscape needs image data")
    classifier = knn_classifier(ds.features, ds.labels)
    groups, rows, models = {}, [], []
    for i in range(cfg.models):
        seed = cfg.seed + i
        lo, hi = i / cfg.models, (i + 1) / cfg.models
        model, X = train_sparse_ae(cfg, ds, seed, scaled(progress, lo, lo + 0.85 * (hi - lo)))
        report(scaled(progress, lo, hi), 0.9, 1.0, f"landscape of model {i + 1}")
        arrays, row = landscape_of(cfg, model, X, ds, classifier)
        row = {"model": i + 1, "seed": seed, **row, "recon_knn_accuracy": round(recon_knn_accuracy(model, X, ds, classifier), 3)}
        groups[f"model{i + 1}"], models = arrays, models + [model]
        rows.append(row)
    active = np.concatenate([g["active_units"] for g in groups.values()])
    metrics = {"median_active_units": float(np.median(active)), "landscape": rows,
               "recon_knn_accuracy": float(np.mean([r["recon_knn_accuracy"] for r in rows]))}
    report(progress, 1.0, 1.0, "done", median_active_units=metrics["median_active_units"])
    return {"arrays": groups, "metrics": metrics, "models": models}


def run_landscape(cfg: LandscapeConfig, store, *, data_dir=None, progress: ProgressFn | None = None):
    """Load the dataset, train, and save a ``landscape`` run; return the stored run."""
    from .. import datasets

    cfg.validate()
    ds = datasets.load(cfg.dataset, data_dir=data_dir, limit=cfg.limit, seed=cfg.seed)
    out = train_landscapes(cfg, ds, progress=progress)
    with store.writer(KIND, dataset=cfg.dataset, config=asdict(cfg), seed=cfg.seed) as w:
        w.metrics.update(out["metrics"])
        w.manifest["summary"] = f"{cfg.models} models · median {out['metrics']['median_active_units']:g} active units"
        for name, arrays in out["arrays"].items():
            w.add_arrays(name, arrays)
        for i, model in enumerate(out["models"]):
            w.add_weights(f"model{i + 1}", model.state_dict())
    return store.load(w.id)


def format_table(rows: list[dict]) -> str:
    cols = ["model", "seed", "size", "recognition", "completeness", "highest", "lowest", "median_active_units"]
    lines = ["  ".join(f"{c:>12}" for c in cols)]
    lines += ["  ".join(f"{str(r.get(c, '')):>12}" for c in cols) for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from ..store import RunStore

    ap = argparse.ArgumentParser(prog="python -m models.studies.landscape",
                                 description="Train sparse autoencoders and map their generative landscapes.")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--store-dir", default="runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--latent", type=int, default=24)
    ap.add_argument("--l1", type=float, default=LandscapeConfig.l1)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    cfg = LandscapeConfig(dataset=args.dataset, models=args.models, epochs=args.epochs, latent=args.latent,
                          l1=args.l1, limit=args.limit, seed=args.seed, device=args.device)
    return finish(lambda progress: run_landscape(cfg, RunStore(args.store_dir), data_dir=args.data_dir, progress=progress),
                  lambda run: [format_table(run.metrics["landscape"]),
                               f"median active units {run.metrics['median_active_units']:g}"])


if __name__ == "__main__":
    sys.exit(main())
