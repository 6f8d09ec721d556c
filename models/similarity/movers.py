"""Which samples moved: per sample, the share of its k nearest neighbours that two representations share.

Rank-based (only who the neighbours are counts, not how far), so it is scale-free and compares
layers of any widths, steps or models: 1 means the neighbourhood was kept, 0 that it was replaced.
"""

from __future__ import annotations

import numpy as np

from .knn import knn_indices

K = 10


def kept_share(neighbours_a: np.ndarray, neighbours_b: np.ndarray) -> np.ndarray:
    """Per row, |N_a ∩ N_b| / k for two n × k neighbour lists (float32)."""
    a, b = np.asarray(neighbours_a), np.asarray(neighbours_b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"neighbour lists must have one shape n × k (got {a.shape} and {b.shape})")
    b = np.sort(b, axis=1)
    pos = (
        np.clip(np.array([np.searchsorted(row_b, row_a) for row_a, row_b in zip(a, b)]), 0, b.shape[1] - 1)
        if a.shape[0] <= 64
        else _searchsorted_rows(b, a)
    )
    hits = np.take_along_axis(b, pos, axis=1) == a
    return (hits.sum(1) / a.shape[1]).astype(np.float32)


def _searchsorted_rows(sorted_b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Row-wise searchsorted without a Python loop: offset each row into its own range."""
    n, k = sorted_b.shape
    span = int(max(sorted_b.max(initial=0), a.max(initial=0))) + 1
    offset = (np.arange(n, dtype=np.int64) * span)[:, None]
    flat = np.searchsorted((sorted_b + offset).ravel(), (a + offset).ravel()).reshape(n, k)
    return np.clip(flat - np.arange(n)[:, None] * k, 0, k - 1)


def movers(X: np.ndarray, Y: np.ndarray, k: int = K) -> np.ndarray:
    """Share of each sample's k nearest neighbours in ``X`` that are still among its k nearest in ``Y``."""
    X, Y = np.asarray(X), np.asarray(Y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"both representations must hold the same samples (got {X.shape[0]} and {Y.shape[0]} rows)")
    return kept_share(knn_indices(X, k), knn_indices(Y, k))
