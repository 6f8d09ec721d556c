"""Exact Euclidean nearest neighbours of every sample in a representation's own space.

Chunked matrix products (float32, no n × n matrix held): the neighbour lists behind the k-NN
accuracy and the movers. Exact, so two runs over the same arrays give the same lists.
"""

from __future__ import annotations

import numpy as np

CHUNK_ELEMENTS = 4_000_000  # rows × n distances computed at once (16 MB in float32)


def knn_indices(X: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` nearest other rows by Euclidean distance, nearest first (n × k, int64).

    A sample is never its own neighbour; ties are broken by the lower row index (stable).
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (samples × dimensions), got shape {X.shape}")
    n = X.shape[0]
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer (got {k!r})")
    if k >= n:
        raise ValueError(f"k must be less than the number of samples (got k={k} for {n} samples)")
    X = X - X.mean(0, keepdims=True)  # distances do not change; float32 products lose less
    sq = np.einsum("ij,ij->i", X, X)
    out = np.empty((n, k), dtype=np.int64)
    step = max(1, CHUNK_ELEMENTS // max(1, n))
    for start in range(0, n, step):
        stop = min(n, start + step)
        d = sq[start:stop, None] + sq[None, :] - 2.0 * (X[start:stop] @ X.T)
        d[np.arange(stop - start), np.arange(start, stop)] = np.inf
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        pd = np.take_along_axis(d, part, axis=1)
        order = np.lexsort((part, pd), axis=1)
        out[start:stop] = np.take_along_axis(part, order, axis=1)
    return out
