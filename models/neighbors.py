"""Cosine nearest neighbours: the k-NN graph of a dataset, and similar-sample queries.

The graph (each sample's k nearest others, by cosine distance in the original space)
is built once — exactly for small data, with pynndescent's approximate NN-descent for
large data — and then answers "which samples are like this one" by a table lookup.
A query for an arbitrary vector (e.g. the mean of a selection) is one exact
matrix–vector product over unit rows, which stays in milliseconds for 10⁵ × 10³.
"""

from __future__ import annotations

import numpy as np

from .progress import ProgressFn, report

EXACT_BELOW = 4096  # below this many samples the exact graph is cheaper than building an index
SEARCH_NEIGHBORS = 30  # NN-descent builds at least this many neighbours per sample, then keeps k


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); an all-zero row stays zero (distance 1 to everything)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def _check_k(k: int, n: int) -> int:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer (got {k!r})")
    if k >= n:
        raise ValueError(f"k must be less than the number of samples (got k={k} for {n} samples)")
    return int(k)


def knn_graph(
    X: np.ndarray, k: int, *, exact_below: int = EXACT_BELOW, seed: int = 0, progress: ProgressFn | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by cosine distance, nearest first.

    Returns ``(indices, distances)``, both n×k; a sample is never its own neighbour.
    Exact (chunked matrix products) when ``n < exact_below``; otherwise pynndescent.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (samples × dimensions), got shape {X.shape}")
    n = X.shape[0]
    k = _check_k(k, n)
    U = unit_rows(X)
    if n < exact_below:
        idx = np.empty((n, k), dtype=np.int64)
        dist = np.empty((n, k), dtype=np.float32)
        step = max(1, 2_000_000 // max(1, n))
        for start in range(0, n, step):
            stop = min(n, start + step)
            d = 1.0 - U[start:stop] @ U.T
            d[np.arange(stop - start), np.arange(start, stop)] = np.inf
            part = np.argpartition(d, k, axis=1)[:, :k]
            pd = np.take_along_axis(d, part, axis=1)
            order = np.argsort(pd, axis=1, kind="stable")
            idx[start:stop] = np.take_along_axis(part, order, axis=1)
            dist[start:stop] = np.take_along_axis(pd, order, axis=1)
            report(progress, stop, n, "nearest neighbours (exact)")
        return idx, np.maximum(dist, 0.0)
    from pynndescent import NNDescent

    report(progress, 0, 1, "nearest neighbours (NN-descent)")
    # a wider search graph than asked for: recall of the first k rises from ~0.6 to ~0.95 on
    # 10⁵ × 512 (bench/explore.py) for about twice the build time
    index = NNDescent(
        U,
        metric="cosine",
        n_neighbors=max(k + 1, SEARCH_NEIGHBORS),
        random_state=seed,
        low_memory=True,
        n_jobs=-1,
        compressed=True,
    )
    nbr, d = index.neighbor_graph
    idx, dist = _drop_self(np.asarray(nbr), np.asarray(d, dtype=np.float32), k)
    report(progress, 1, 1, "nearest neighbours (NN-descent)")
    return idx, np.maximum(dist, 0.0)


def _drop_self(nbr: np.ndarray, d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index (or, if absent, its farthest entry) so k others remain."""
    n = nbr.shape[0]
    is_self = nbr == np.arange(n)[:, None]
    is_self[~is_self.any(axis=1), -1] = True  # self not found: drop the farthest instead
    first = is_self.argmax(axis=1)
    keep = np.ones_like(is_self)
    keep[np.arange(n), first] = False
    idx = nbr[keep].reshape(n, -1)[:, :k]
    dist = d[keep].reshape(n, -1)[:, :k]
    # NN-descent can leave -1 holes for isolated points; fill them with the row's last valid entry
    bad = idx < 0
    if bad.any():
        idx[bad] = np.broadcast_to(idx[:, :1], idx.shape)[bad]
        dist[bad] = np.inf
    return idx.astype(np.int64), dist


def similar_to(
    U: np.ndarray, queries: np.ndarray, k: int, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of unit matrix ``U`` nearest (cosine) to the mean direction of ``queries``.

    ``queries`` is one vector or several (a selection: their normalised mean is used);
    rows in ``exclude`` (e.g. the selection itself) are skipped. Exact; returns
    ``(indices, distances)`` sorted nearest first.
    """
    q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    if q.shape[1] != U.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions, the index has {U.shape[1]}")
    centre = unit_rows(unit_rows(q).mean(axis=0, keepdims=True))[0]
    d = 1.0 - U @ centre
    if exclude is not None and len(exclude):
        d[np.asarray(exclude, dtype=np.int64)] = np.inf
    k = int(min(k, np.isfinite(d).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    part = np.argpartition(d, k - 1)[:k]
    order = part[np.argsort(d[part], kind="stable")]
    return order.astype(np.int64), np.maximum(d[order], 0.0).astype(np.float32)
