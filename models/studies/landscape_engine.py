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
from ..training import batches, default_device, fit, seed_everything
from .base import with_split
from .landscape import KIND, Config, group
from .landscape_clusters import (
    active_units,
    consistency_row,
    diverse_slices,
    knn_classifier,
    rank_slices,
    significant,
    slice_clusters,
    sphere_directions,
)
from .mosaic import mosaic


def l1_weight(config: Config, image_shape) -> float:
    """The L1 weight at full strength: ``config.l1`` per 64 input values (digits' 8×8), scaled with the image.

    The BCE is summed over an image's values, so it grows with the image; the penalty grows with it and
    keeps the balance it was tuned at on digits (on 28×28 MNIST the unscaled weight left 15 units firing)."""
    c, h, w = image_shape
    return float(config.l1) * c * h * w / 64.0


def train_sparse_ae(config: Config, ds, seed: int, progress: ProgressFn | None = None):
    """A sparse conv autoencoder trained with BCE + l1·mean‖z‖₁ through the shared fit loop;
    returns ``(model, X, loss)``, ``loss`` its final per-pixel BCE over the data (the paper's plateau)."""
    device = default_device(config.device)
    gen = seed_everything(seed)
    shape = image_shape_of(ds.image_shape)
    X = as_images(torch.as_tensor(ds.features, dtype=torch.float32), shape).to(device)
    top_k = config.top_k if config.sparsity == "topk" else None
    model = SparseConvAutoencoder(shape, latent=config.latent, top_k=top_k).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    data = batches(X, batch_size=config.batch_size, generator=gen)
    ramp, seen = max(1, config.epochs * len(data) // 2), [0]
    full = l1_weight(config, shape)

    def step(m, batch):
        (x,) = batch
        # the penalty ramps up over the first half of training: at full weight from the start it
        # silences every latent unit before the decoder has learnt to use them (dead ReLUs)
        weight = full * min(1.0, seen[0] / ramp)
        seen[0] += 1
        z, logits = m(x)
        # BCE summed over an image's pixels (mean over the batch); the L1 weight is scaled with the
        # image size (l1_weight) so the balance between the two carries from 8×8 to 28×28
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        l1 = z.abs().sum(1).mean()
        return bce + weight * l1, {"bce": bce.detach(), "l1": l1.detach()}

    fit(model, opt, step, data, epochs=config.epochs, progress=progress, message=f"sparse autoencoder (seed {seed})")
    model.eval()
    with torch.no_grad():
        total = sum(
            float(F.binary_cross_entropy_with_logits(model(X[s : s + 1024])[1], X[s : s + 1024], reduction="sum"))
            for s in range(0, len(X), 1024)
        )
    return model, X, total / X.numel()


def _decode(model, Z: np.ndarray, shape) -> np.ndarray:
    """Latent vectors → images as flat features (H·W·C layout, like ``Dataset.features``)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        out = (
            torch.cat(
                [
                    model.decode(torch.as_tensor(Z[s : s + 1024], dtype=torch.float32, device=device))
                    for s in range(0, max(1, len(Z)), 1024)
                ]
            )
            if len(Z)
            else torch.zeros(0, *shape)
        )
    return out.permute(0, 2, 3, 1).reshape(len(Z), -1).cpu().numpy()


def landscape_of(config: Config, model, X, ds, classifier) -> tuple[dict, dict]:
    """One model's landscape: arrays for the view (the ``max_slices`` busiest slices × their
    ``max_clusters`` largest clusters) and its consistency row, counted over the clusters of all
    ``count_slices`` scanned slices with the population margin."""
    shape = image_shape_of(ds.image_shape)
    with torch.no_grad():
        Z = torch.cat([model.encode(X[s : s + 1024]) for s in range(0, X.shape[0], 1024)]).cpu().numpy()
    active = active_units(Z, config.active_fraction)
    scanned = rank_slices(Z, config.significance, max(config.count_slices, config.max_slices), config.min_members)
    slices = diverse_slices(scanned, config.max_slices)
    row_of = {sl: i for i, sl in enumerate(slices)}
    S, C, R, D = len(slices), config.max_clusters, len(config.radii), config.directions
    img_shape = tuple(ds.image_shape)
    centres = np.zeros((S, C, 3), np.float32)
    sizes = np.zeros((S, C), np.int64)
    images = np.zeros((S, C, *img_shape), np.uint8)
    spheres = np.zeros((S, C, R, D, *img_shape), np.uint8)
    classes = np.full((S, C), -1, np.int64)
    conf = np.zeros((S, C), np.float32)
    dirs = sphere_directions(D)
    all_sizes, all_classes, all_conf = [], [], []
    for sl in scanned:
        members = significant(Z, sl, config.significance)
        cen, sz, bw = slice_clusters(Z[members][:, list(sl)], seed=config.seed, sample=config.cluster_sample)
        latent = np.zeros((len(cen), config.latent), np.float32)
        latent[:, list(sl)] = cen
        decoded = _decode(model, latent, shape)
        proba = classifier.predict_proba(decoded)
        cls, cf = classifier.classes_[proba.argmax(1)], proba.max(1)
        all_sizes.append(sz), all_classes.append(cls), all_conf.append(cf)
        if sl not in row_of:
            continue
        s = row_of[sl]
        k = min(C, len(cen))
        centres[s, :k], sizes[s, :k] = cen[:k], sz[:k]
        classes[s, :k], conf[s, :k] = cls[:k], cf[:k]
        images[s, :k] = (np.clip(decoded[:k], 0, 1) * 255).round().astype(np.uint8).reshape(k, *img_shape)
        pts = cen[:k, None, None, :] + np.asarray(config.radii)[None, :, None, None] * bw * dirs[None, None]
        lat = np.zeros((k * R * D, config.latent), np.float32)
        lat[:, list(sl)] = np.clip(pts.reshape(-1, 3), 0, None)  # ReLU latents are never negative
        sph = _decode(model, lat, shape)
        spheres[s, :k] = (np.clip(sph, 0, 1) * 255).round().astype(np.uint8).reshape(k, R, D, *img_shape)
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
    row = consistency_row(
        cat(all_sizes, np.int64),
        cat(all_classes, np.int64),
        cat(all_conf, np.float32),
        ds.n,
        ds.n_classes,
        list(ds.class_names),
        config.margin,
        config.confidence,
    )
    row["median_active_units"] = float(np.median(active))
    row["slices_counted"] = len(all_sizes)
    arrays = {
        "slices": np.asarray(slices, np.int64).reshape(-1, 3),
        "centres": centres,
        "sizes": sizes,
        "images": images,
        "spheres": spheres,
        "classes": classes,
        "confidence": conf,
        "active_units": active.astype(np.int64),
        "radii": np.asarray(config.radii, np.float32),
    }
    return arrays, row


def recon_knn_accuracy(model, X, ds, classifier) -> float:
    """Share of reconstructions the training-set kNN assigns to their own class."""
    with torch.no_grad():
        Xh = torch.cat([model.decode(model.encode(X[s : s + 1024])) for s in range(0, X.shape[0], 1024)])
    flat = Xh.permute(0, 2, 3, 1).reshape(len(Xh), -1).cpu().numpy()
    return float((classifier.predict(flat) == ds.labels).mean())


def kept_by_loss(losses: list[float], within: float) -> list[bool]:
    """Which models succeeded: final loss within ``within`` (a share) of the best one's."""
    best = min(losses)
    return [loss <= best * (1 + within) for loss in losses]


def train_landscapes(config: Config, ds, *, progress: ProgressFn | None = None) -> dict:
    """Train ``config.models`` sparse autoencoders (seeds seed, seed+1, …), keep the successful ones by
    loss, and map each one's landscape; the run's metrics are over the kept models."""
    if ds.images is None:
        raise datasets.DatasetError(f"dataset {ds.name!r} has no images; a landscape needs image data")
    classifier = knn_classifier(ds.features, ds.labels)
    groups, rows, models = {}, [], []
    for i in range(config.models):
        seed = config.seed + i
        lo, hi = i / config.models, (i + 1) / config.models
        model, X, loss = train_sparse_ae(config, ds, seed, scaled(progress, lo, lo + 0.7 * (hi - lo)))
        report(scaled(progress, lo, hi), 0.75, 1.0, f"landscape of model {i + 1}")
        arrays, row = landscape_of(config, model, X, ds, classifier)
        accuracy = round(recon_knn_accuracy(model, X, ds, classifier), 3)
        row = {"model": i + 1, "seed": seed, "loss": round(loss, 4), **row, "recon_knn_accuracy": accuracy}
        groups[group(i + 1)], models = arrays, models + [model]
        rows.append(row)
    for row, ok in zip(rows, kept_by_loss([r["loss"] for r in rows], config.keep_within)):
        row["kept"] = bool(ok)
    good = [r for r in rows if r["kept"]]
    active = np.concatenate([groups[group(r["model"])]["active_units"] for r in good])
    metrics = {
        "median_active_units": float(np.median(active)),
        "landscape": rows,
        "models_kept": len(good),
        "models_trained": len(rows),
        "size": float(np.mean([r["size"] for r in good])),
        "recognition": float(np.mean([r["recognition"] for r in good])),
        "loss": float(np.mean([r["loss"] for r in good])),
        "recon_knn_accuracy": float(np.mean([r["recon_knn_accuracy"] for r in good])),
    }
    report(progress, 1.0, 1.0, "done", median_active_units=metrics["median_active_units"])
    return {"arrays": groups, "metrics": metrics, "models": models}


def _png(mosaic: np.ndarray, title: str, ylabels: list[str] | None = None, row_height: int = 1) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    H, W = mosaic.shape[:2]
    fig, ax = plt.subplots(figsize=(min(14, 1.5 + W / 28), min(14, 1.0 + H / 28)))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    if ylabels:
        ax.set_yticks([(i + 0.5) * H / len(ylabels) for i in range(len(ylabels))], ylabels, fontsize=7)
    else:
        ax.set_yticks([])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def figures(arrays: dict, model: int, strips: int = 4) -> dict[str, bytes]:
    """The paper-style figures of one model: the slices × clusters map and the continuity strips of
    its ``strips`` largest clusters (rows: radii; the centre first, then the points on that sphere)."""
    S, C = arrays["sizes"].shape
    if S == 0 or C == 0:
        return {}
    imgs = arrays["images"].reshape(S * C, *arrays["images"].shape[2:])
    labels = ["(" + ",".join(map(str, sl)) + ")" for sl in arrays["slices"].tolist()]
    out = {
        f"landscape-model{model}.png": _png(
            mosaic(imgs, S, C), f"model {model}: cluster centres,\nslices × clusters by size", labels
        )
    }
    sph, R, D = arrays["spheres"], arrays["spheres"].shape[2], arrays["spheres"].shape[3]
    order = np.argsort(-arrays["sizes"].ravel(), kind="stable")[:strips]
    tiles, names = [], []
    for flat in order:
        s, c = divmod(int(flat), C)
        if arrays["sizes"][s, c] == 0:
            continue
        centre = np.repeat(arrays["images"][s, c][None, None], R, axis=0)
        tiles.append(np.concatenate([centre, sph[s, c]], axis=1).reshape(R * (D + 1), *sph.shape[4:]))
        names += [f"{labels[s]} c{c} r={r:g}" for r in arrays["radii"].tolist()]
    if tiles:
        strip = np.concatenate(tiles)
        out[f"continuity-model{model}.png"] = _png(
            mosaic(strip, len(names), D + 1), f"model {model}: continuity\n(centre, then points on spheres)", names
        )
    return out


def report_md(config: Config, metrics: dict, dataset: str, n: int, image_shape) -> str:
    """A short report: our metrics beside the paper's."""
    from .landscape import PAPER

    rows = metrics["landscape"]
    lines = [
        f"# Sparse landscape · {dataset} ({n:,} images, {'×'.join(map(str, image_shape))})",
        "",
        f"{config.models} models · {config.epochs} epochs · latent {config.latent} · sparsity "
        f"{config.sparsity}"
        + (f" (top {config.top_k})" if config.sparsity == "topk" else "")
        + f" · L1 {config.l1:g} per 64 values · f = {config.significance:g} · margin {config.margin:g}",
        "",
        "| metric (kept models) | ours | paper (MNIST) |",
        "|---|---|---|",
        f"| models kept by loss | {metrics['models_kept']} of {metrics['models_trained']} | {PAPER['kept']} |",
        f"| final loss (per-pixel BCE) | {metrics['loss']:.4f} | {PAPER['loss']} |",
        f"| median active units | {metrics['median_active_units']:g} | {PAPER['median_active_units']} |",
        f"| landscape size | {metrics['size']:g} | {PAPER['size']} |",
        f"| recognition | {metrics['recognition']:.3f} | {PAPER['recognition']} |",
        "",
        "| model | seed | kept | loss | size | recognition | completeness | classes found | median active |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['seed']} | {'yes' if r['kept'] else 'no'} | {r['loss']:.4f} | {r['size']} | "
        f"{r['recognition']:.3f} | {r['completeness']} | {r['classes_found']} | {r['median_active_units']:g} |"
        for r in rows
    ]
    lines += ["", "Figures: `landscape-model<k>.png` (slices × clusters), `continuity-model<k>.png` (strips)."]
    return "\n".join(lines) + "\n"


def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None) -> Run:
    """Load the dataset, train, and save a ``landscape`` run (arrays, weights, PNG figures, report.md)."""
    config = with_split(config, data_dir)  # the split trained on (train, or the one present) goes into the manifest
    ds = datasets.load(config.dataset, data_dir=data_dir, split=config.split, limit=config.limit, seed=config.seed)
    out = train_landscapes(config, ds, progress=progress)
    with store.writer(KIND, dataset=config.dataset, config=config.record(), seed=config.seed) as w:
        m = out["metrics"]
        w.metrics.update(m)
        w.manifest["summary"] = (
            f"{config.models} models ({m['models_kept']} kept by loss) · median "
            f"{m['median_active_units']:g} active units · size {m['size']:g}"
        )
        for name, arrays in out["arrays"].items():
            w.add_arrays(name, arrays)
        for i, model in enumerate(out["models"], start=1):
            w.add_weights(group(i), model.state_dict())
            for fname, png in figures(out["arrays"][group(i)], i).items():
                w.add_file(fname, png)
        w.add_file("report.md", report_md(config, m, config.dataset, ds.n, ds.image_shape))
    return store.load(w.id)
