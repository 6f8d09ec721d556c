"""A GNE run's networks, shared by the engine (training), :mod:`.gne_points` (moving and placing
points) and :mod:`.gne_decode` (the Latent plane's hover): the device, the generator a config
builds, the training step, and reading a trained plane (decode, encode, errors, latent grids).

Heavy (torch). It imports no other GNE module but the face, so the engine and the points
module both import it and neither imports the other's internals.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..nets.gne import GNE, DeconvGenerator, DenseGenerator, make_generator
from ..nets.vae import VAE, Encoder
from ..store import Run
from ..training import default_device, to_tensor
from .base import check_kind
from .gne import KIND, Config

__all__ = [
    "resolve_device",
    "config_of",
    "load_models",
    "generator_for",
    "generator_name",
    "gne_step",
    "device_of",
    "decode",
    "reconstruction_error",
    "encode",
    "grid_extent",
    "grid_points",
    "nearest_neighbours",
    "latent_grid",
]


def resolve_device(device: str | None = None) -> torch.device:
    """``device`` as asked, or CUDA when available, else CPU; asking for CUDA without one is an error."""
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for but CUDA is not available; use 'cpu' or None")
    if device is not None and not (str(device) == "cpu" or str(device).startswith("cuda")):
        raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:N' or None (got {device!r})")
    return default_device(device)


def config_of(run: Run) -> Config:
    """The config ``run`` was trained with (older runs kept the seed only in the manifest)."""
    return Config.from_record({**run.config, "seed": int(run.manifest.get("seed") or 0), "device": None})


def load_models(run: Run, device: str | None = None) -> tuple[GNE, VAE]:
    """Rebuild a run's GNE and VAE from its config and weights (read with ``weights_only=True``)."""
    check_kind(run, KIND)
    cfg, config = run.config, config_of(run)
    dev = resolve_device(device)
    shape = tuple(cfg["image_shape"]) if cfg.get("image_shape") else None
    gne_state, vae_state = run.weights("gne", map_location=str(dev)), run.weights("vae", map_location=str(dev))
    n = int(gne_state["embedding"].shape[0])
    gne = GNE(n, generator_for(config, cfg["dim"], shape), noise=config.noise)
    gne.load_state_dict(gne_state)
    vae = VAE(Encoder(cfg["dim"], config.latent_dim, width=config.width), generator_for(config, cfg["dim"], shape))
    vae.load_state_dict(vae_state)
    return gne.to(dev).eval(), vae.to(dev).eval()


def generator_for(config: Config, dim: int, image_shape: tuple[int, ...] | None) -> DenseGenerator:
    return make_generator(
        config.latent_dim, dim, kind=config.generator, image_shape=image_shape, width=config.width, blocks=config.blocks
    )


def generator_name(generator: DenseGenerator) -> str:
    """The kind of generator a network is (``dense`` or ``deconv``), whatever ``auto`` chose."""
    return "deconv" if isinstance(generator, DeconvGenerator) else "dense"


def gne_step(model: GNE, batch):
    idx, x = batch
    return F.mse_loss(model(idx), x)  # one fused kernel each way: ~27% of an epoch faster than (y - x)**2


# -- reading a trained plane -------------------------------------------------
def device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def decode(generator: DenseGenerator, Z: np.ndarray, *, chunk: int = 8192) -> np.ndarray:
    """Samples (N×D float32 in [0, 1]) decoded from points ``Z`` in one batched pass per chunk."""
    generator.eval()
    dev = device_of(generator)
    Z = to_tensor(Z, dev)
    return np.concatenate([generator(Z[i : i + chunk]).cpu().numpy() for i in range(0, max(1, len(Z)), chunk)])[
        : len(Z)
    ]


@torch.no_grad()
def reconstruction_error(
    generator: DenseGenerator, Z: np.ndarray | torch.Tensor, X: np.ndarray | torch.Tensor, *, chunk: int = 8192
) -> np.ndarray:
    """Per-sample mean squared error of decoding ``Z`` against ``X``."""
    generator.eval()
    dev = device_of(generator)
    Z, X = to_tensor(Z, dev), to_tensor(X, dev)
    out = [torch.mean((generator(Z[i : i + chunk]) - X[i : i + chunk]) ** 2, dim=1) for i in range(0, len(Z), chunk)]
    return torch.cat(out).cpu().numpy() if out else np.zeros(0, np.float32)


@torch.no_grad()
def encode(vae: VAE, X: np.ndarray, *, device: torch.device | None = None, as_numpy: bool = True):
    """The VAE encoder's means for ``X`` (the VAE's embedding)."""
    vae.eval()
    mean, _ = vae.encoder(to_tensor(X, device or device_of(vae)))
    return mean.cpu().numpy() if as_numpy else mean


def grid_extent(embedding: np.ndarray, low: float = 1.0, high: float = 99.0, pad: float = 0.05) -> np.ndarray:
    """``[[x0, x1], [y0, y1]]``: robust percentiles of the first two axes, padded, so outliers do not shrink
    the grid."""
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
