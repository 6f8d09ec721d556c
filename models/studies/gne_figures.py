"""The GNE run's paper-style figures (matplotlib, Agg) and its short report: both planes side by side,
each side's decoded latent grid, and report.md with the metrics beside the paper's. Written by the
engine beside the run's arrays."""

from __future__ import annotations

import io
from typing import Mapping, Sequence

import numpy as np

from .gne import PAPER, SIDES

TITLES = {"gne": "GNE", "vae": "VAE"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    _plt().close(fig)
    return buf.getvalue()


def planes_png(planes: Mapping[str, np.ndarray], labels: np.ndarray, metrics: Mapping) -> bytes:
    """Both planes, points coloured by class, each titled with its 2-D 10-NN accuracy."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(SIDES), figsize=(11, 5.2))
    for ax, side in zip(axes, SIDES):
        Z = planes[side]
        sc = ax.scatter(Z[:, 0], Z[:, 1], c=labels, cmap="tab10", s=3, alpha=0.7, linewidths=0)
        knn = metrics.get(f"{side}_knn")
        ax.set_title(f"{TITLES[side]} plane" + (f" · 10-NN {knn:.2f}" if knn is not None else ""), fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    fig.colorbar(sc, ax=axes, fraction=0.02)
    return _bytes(fig)


def grid_png(side: str, grids: Mapping[str, np.ndarray], sizes: Sequence[int], image_shape) -> bytes | None:
    """``side``'s decoded k×k grid (k: the stored size nearest 15) as one image; None for vector data."""
    if not image_shape:
        return None
    k = min(sizes, key=lambda s: (abs(s - 15), -s))
    images = grids.get(f"{side}_images_{k}")
    if images is None:
        return None
    shape = tuple(image_shape)
    h, w = shape[:2]
    tiles = images.reshape(k, k, *shape)
    mosaic = np.full((k * (h + 1) + 1, k * (w + 1) + 1, *shape[2:]), 128, np.uint8)
    for r in range(k):
        for c in range(k):
            mosaic[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = tiles[r, c]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_title(f"{TITLES[side]}: decoded {k}×{k} grid over its plane", fontsize=10)
    ax.axis("off")
    return _bytes(fig)


def report_md(config, metrics: Mapping, ds) -> str:
    """A short report: our figures beside the paper's."""
    m = metrics
    speed = m["vae_seconds_per_epoch"] / m["gne_seconds_per_epoch"] if m.get("gne_seconds_per_epoch") else float("nan")
    lines = [
        f"# GNE vs VAE · {config.dataset} ({ds.n:,} samples)",
        "",
        f"{config.epochs} epochs · batch {config.batch_size} · generator {m['generator']} (asked: "
        f"{config.generator}) · KL weight {config.kl_weight:g} · embedding lr {config.embedding_lr} · "
        f"device {m.get('device', '?')}",
        "",
        "| metric | GNE | VAE | paper |",
        "|---|---|---|---|",
        f"| reconstruction MSE | {m['gne_mse']:.4f} | {m['vae_mse']:.4f} | {PAPER['mse']} |",
        f"| s/epoch | {m['gne_seconds_per_epoch']:.3f} | {m['vae_seconds_per_epoch']:.3f} | "
        f"{PAPER['speed']} (ours: {speed:.2f}×) |",
        f"| 2-D 10-NN accuracy | {m['gne_knn']:.3f} | {m['vae_knn']:.3f} | {PAPER['vae_knn']} |",
    ]
    if "heldout_n" in m:
        lines.append(
            f"| held-out 10-NN ({m['heldout_n']} test) | {m['heldout_gne_knn']:.3f} | "
            f"{m['heldout_vae_knn']:.3f} | matches the plane's own |"
        )
    lines += ["", "Figures: `planes.png`, `grid-gne.png`, `grid-vae.png`."]
    if m["generator"] == "deconv":
        lines += [
            "",
            "The deconvolutional generator makes GNE and VAE take about the same time per epoch; "
            "the paper's speed-up needs `--generator dense`.",
        ]
    return "\n".join(lines) + "\n"
