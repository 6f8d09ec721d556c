"""How faithful a 2-D embedding is: trustworthiness, continuity, k-NN preservation, and k-NN
accuracy in 2-D (the separation a person sees)."""

from __future__ import annotations

import numpy as np

from ..validation import check_int
from .checks import ProjectionError, check_input


def _knn(X: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]


def _knn_of(X: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    found = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X[rows], return_distance=False)
    # each query row's own index first, wherever the search put it (exact duplicates tie at distance 0)
    return np.array([[j for j in r if j != i][:k] for i, r in zip(rows, found)])


def knn_preservation(X: np.ndarray, Y: np.ndarray, k: int = 10, *, queries: int | None = None, seed: int = 0) -> float:
    """Mean fraction of each point's k nearest neighbours in ``X`` that stay among its k in ``Y``.

    ``queries``: score only that many seeded random points (their neighbours still searched among all
    samples), so 70,000-sample maps are scored in seconds rather than an exact all-pairs search."""
    if queries is not None and queries < len(X):
        rows = np.sort(np.random.default_rng(seed).choice(len(X), size=queries, replace=False))
        a, b = _knn_of(np.asarray(X), k, rows), _knn_of(np.asarray(Y), k, rows)
    else:
        a, b = _knn(X, k), _knn(Y, k)
    return float(np.mean([len(np.intersect1d(r, s, assume_unique=True)) for r, s in zip(a, b)]) / k)


def knn_accuracy(Y: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out k-NN classification accuracy in the embedding (the separation a person sees)."""
    labels = np.asarray(labels)
    votes = labels[_knn(Y, k)]
    n_classes = int(labels.max()) + 1
    counts = np.zeros((len(labels), n_classes))
    np.add.at(counts, (np.repeat(np.arange(len(labels)), k), votes.ravel()), 1)
    return float(np.mean(counts.argmax(1) == labels))


def quality(X: np.ndarray, Y: np.ndarray, labels: np.ndarray | None = None, *, k: int = 10) -> dict[str, float]:
    """Trustworthiness, continuity (trustworthiness with the roles swapped) and k-NN preservation at ``k``,
    plus k-NN accuracy in 2-D when ``labels`` are given."""
    from sklearn.manifold import trustworthiness

    X = check_input(X)
    Y = check_input(Y)
    k = check_int("k", k, 1, max(1, len(X) // 2 - 1), error=ProjectionError)
    out = {
        "trustworthiness": float(trustworthiness(X, Y, n_neighbors=k)),
        "continuity": float(trustworthiness(Y, X, n_neighbors=k)),
        "knn_preservation": knn_preservation(X, Y, k),
    }
    if labels is not None:
        out["knn_accuracy"] = knn_accuracy(Y, labels, k)
    return out
