"""One k-NN graph per layer, shared by every method that needs neighbours.

t-SNE's affinities (openTSNE, 3 × perplexity neighbours) and UMAP's fuzzy graph (n_neighbors) are
both built from a k-nearest-neighbour graph; computing it is most of their cost on 10⁴–10⁵ samples.
:func:`knn_graph` computes it once (pynndescent; exact below :data:`EXACT_BELOW` samples) and the
helpers below hand the same arrays to openTSNE and umap-learn. Pure: arrays in, arrays out.

A graph is ``(indices, distances)``, each N × (k + 1): row i lists i itself first (distance 0),
then its k nearest neighbours by Euclidean distance, nearest first.
"""

from __future__ import annotations

import numpy as np

from .checks import ProjectionError

EXACT_BELOW = 4096  # below this many samples the exact graph (brute force) is cheaper than NN-descent


def knn_graph(X: np.ndarray, k: int, *, seed: int = 0, n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(indices int64, distances float32), each N × (k + 1), self first (see the module's docstring)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not X.flags.writeable:  # a capture's memory-mapped layer: numba would compile pynndescent anew (~20 s) for
        X = X.copy()  # read-only arrays; the copy costs milliseconds
    n = len(X)
    if not 1 <= k < n:
        raise ProjectionError(f"k must be between 1 and {n - 1} for {n} samples (got {k})")
    if n < EXACT_BELOW:
        from sklearn.neighbors import NearestNeighbors

        dist, idx = NearestNeighbors(n_neighbors=k + 1, n_jobs=n_jobs).fit(X).kneighbors(X)
    else:
        from pynndescent import NNDescent

        from .numba_cache import enable

        enable()  # compiled once per machine, not once per job

        index = NNDescent(
            X,
            n_neighbors=k + 1,
            metric="euclidean",
            random_state=seed,
            n_jobs=n_jobs,
            low_memory=True,
            compressed=True,
            verbose=False,
        )
        idx, dist = index.neighbor_graph
    idx, dist = np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=np.float32)
    return _self_first(idx, dist)


def _self_first(idx: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose first entry is not the point itself (exact duplicates tie at distance 0) get it moved first."""
    rows = np.arange(len(idx))
    bad = np.flatnonzero(idx[:, 0] != rows)
    for i in bad:
        others = [j for j in range(idx.shape[1]) if idx[i, j] != i][: idx.shape[1] - 1]
        idx[i] = np.concatenate([[i], idx[i, others]])
        dist[i] = np.concatenate([[0.0], dist[i, others]]).astype(np.float32)
    return idx, dist


def tsne_affinities(graph: tuple[np.ndarray, np.ndarray], perplexity: float, *, n_jobs: int = 1):
    """openTSNE's perplexity-based affinities from ``graph`` (its first 3 × perplexity neighbours, self left out)."""
    from openTSNE.affinity import PerplexityBasedNN
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    idx, dist = graph
    k = min(idx.shape[1] - 1, int(3 * perplexity))
    knn = PrecomputedNeighbors(idx[:, 1 : k + 1], dist[:, 1 : k + 1].astype(np.float64))
    return PerplexityBasedNN(perplexity=perplexity, knn_index=knn, n_jobs=n_jobs)


def umap_knn(graph: tuple[np.ndarray, np.ndarray], n_neighbors: int) -> tuple[np.ndarray, np.ndarray, None]:
    """umap-learn's ``precomputed_knn`` from ``graph``: its first ``n_neighbors`` columns (self included, as
    UMAP's own)."""
    idx, dist = graph
    if idx.shape[1] < n_neighbors:
        raise ProjectionError(f"the k-NN graph holds {idx.shape[1]} neighbours; UMAP asks for {n_neighbors}")
    return np.ascontiguousarray(idx[:, :n_neighbors]), np.ascontiguousarray(dist[:, :n_neighbors]), None
