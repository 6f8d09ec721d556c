"""Decode one point of a GNE run's plane to an image, fast and cached (the Latent plane's hover).

The generator is small (a few dense residual blocks, optionally two transposed convolutions):
decoding one point on the CPU takes about a millisecond once the weights are loaded. The
weights are read once per run and side (``Run.weights``: ``weights_only=True``, no code from
disk runs); each decoded point is cached on a fine grid of the plane (``step``), so moving the
pointer back and forth hits the cache instead of the generator.

Heavy (torch): the dashboard imports it only inside the hover callback that decodes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..store import Run
from .base import check_kind
from .gne import KIND, check_side
from .gne_models import config_of, generator_for

__all__ = ["generator", "decode_at", "quantize", "clear"]

_RUNS: dict[tuple[str, str], Run] = {}  # the Run behind each cache key (runs never change once written)


def _key(run: Run) -> tuple[str, str]:
    return (str(run.path), run.id)


@lru_cache(maxsize=16)
def _generator(key: tuple[str, str], side: str) -> torch.nn.Module:
    run = _RUNS[key]
    cfg, config = run.config, config_of(run)
    shape = tuple(cfg["image_shape"]) if cfg.get("image_shape") else None
    state = run.weights(side, map_location="cpu")  # weights_only=True
    prefix = "generator."
    gen = generator_for(config, int(cfg["dim"]), shape)
    gen.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
    return gen.to("cpu").eval()


def generator(run: Run, side: str) -> torch.nn.Module:
    """``side``'s generator of ``run`` (CPU, eval mode), loaded once and kept."""
    check_kind(run, KIND)
    key = _key(run)
    _RUNS[key] = run
    return _generator(key, check_side(side))


def quantize(value: float, step: float) -> int:
    """The fine-grid cell of ``value`` (its cache key)."""
    return int(round(float(value) / float(step)))


@lru_cache(maxsize=4096)
def _decoded(key: tuple[str, str], side: str, ix: int, iy: int, step: float) -> np.ndarray:
    gen = _generator(key, side)
    z = torch.zeros(1, gen.latent_dim)
    z[0, 0], z[0, 1] = ix * step, iy * step
    with torch.no_grad():
        out = gen(z)[0].numpy()
    img = (np.clip(out, 0.0, 1.0) * 255).round().astype(np.uint8)
    shape = _RUNS[key].config.get("image_shape")
    img = img.reshape(tuple(shape)) if shape else img
    img.setflags(write=False)
    return img


def decode_at(run: Run, side: str, x: float, y: float, *, step: float = 1e-3) -> np.ndarray:
    """The uint8 image (the dataset's image shape; a flat vector for vector data) ``side``'s generator
    decodes at (x, y), rounded to the nearest multiple of ``step``; further dimensions at 0.

    Cached per (run, side, rounded x, rounded y, step): a second call at (nearly) the same spot does
    not run the generator again.
    """
    if not step > 0:
        raise ValueError(f"step must be > 0 (got {step!r})")
    generator(run, side)  # registers the run and checks kind and side
    return _decoded(_key(run), check_side(side), quantize(x, step), quantize(y, step), float(step))


def clear() -> None:
    """Forget every loaded generator and decoded point (tests; a store whose runs were rewritten)."""
    _decoded.cache_clear()
    _generator.cache_clear()
    _RUNS.clear()
