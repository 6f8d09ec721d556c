"""t-SNE and UMAP on CUDA through RAPIDS cuML, used only when it is installed and a GPU is present.

cuML (``pip install cuml-cu12``, an optional extra, never a requirement) runs both methods' k-NN search and
optimisation on the GPU, typically 10–50× faster than the CPU libraries at 10⁵ samples. Without it (or without
a CUDA device) :func:`available` is False and the projection study keeps its CPU path (pynndescent graph shared
by openTSNE and umap-learn, layers chained); nothing else changes. ``LAYERSCOPE_NO_CUML=1`` turns it off.
"""

from __future__ import annotations

import functools
import os

import numpy as np


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when cuML imports and CUDA has a device (checked once per process)."""
    if os.environ.get("LAYERSCOPE_NO_CUML"):
        return False
    try:
        import cuml  # noqa: F401
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # not installed, no driver, no device: the CPU path
        return False


def tsne(X: np.ndarray, perplexity: float, seed: int) -> tuple[np.ndarray, float]:
    """(N × 2 float32 map, KL divergence) by cuML's FFT t-SNE."""
    from cuml.manifold import TSNE

    model = TSNE(n_components=2, perplexity=perplexity, method="fft", random_state=seed, output_type="numpy")
    Y = model.fit_transform(np.ascontiguousarray(X, dtype=np.float32))
    return np.asarray(Y, dtype=np.float32), float(getattr(model, "kl_divergence_", float("nan")))


def umap(X: np.ndarray, n_neighbors: int, seed: int) -> np.ndarray:
    """N × 2 float32 map by cuML's UMAP (its own GPU k-NN graph)."""
    from cuml.manifold import UMAP

    model = UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1, random_state=seed, output_type="numpy")
    return np.asarray(model.fit_transform(np.ascontiguousarray(X, dtype=np.float32)), dtype=np.float32)
