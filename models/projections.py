"""Projections to 2-D behind one call, the hardness score, and quality metrics.

``project(X, method, seed=0, **params)`` returns a :class:`Projection`. Methods are
registered in ``METHODS``; each takes validated float arrays and returns
coordinates plus any extras worth keeping (e.g. t-SNE's KL divergence).

Methods: ``pca`` (scikit-learn), ``lle``, ``mds``, ``isomap`` (scikit-learn; O(n²)
or worse, so they refuse more than ``LIMITS[method]`` samples unless
``subsample=True``, which projects a seeded random subset and returns its
positions in ``extra["index"]``), ``tsne`` (exact-gradient kernel up to
``models.exact_tsne.EXACT_LIMIT`` samples, openTSNE beyond) and ``umap`` (umap-learn).

Hardness (:func:`hardness`) is the exact KL(P‖Q) of a 2-D embedding, the cost
t-SNE minimises, evaluated densely whatever produced the coordinates so scores
compare across layers, runs and libraries. Quality metrics (:func:`quality`):
trustworthiness, continuity, k-NN preservation, and k-NN accuracy in 2-D.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


class ProjectionError(ValueError):
    """Bad input or parameters for a projection; the message names the parameter."""


@dataclass(frozen=True)
class Projection:
    coords: np.ndarray          # float32 n×2
    method: str
    params: dict
    seconds: float
    extra: dict = field(default_factory=dict)


def _check_input(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ProjectionError(f"X must be 2-D (samples × features), got shape {X.shape}")
    if X.shape[0] < 3:
        raise ProjectionError(f"X needs at least 3 samples to project (got {X.shape[0]})")
    X = X.astype(np.float64 if X.dtype == np.float64 else np.float32, copy=False)
    if not np.isfinite(X).all():
        raise ProjectionError("X contains NaN or infinite values")
    return X


def _pca(X: np.ndarray, seed: int, **params: Any) -> tuple[np.ndarray, dict]:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed, **params)
    coords = pca.fit_transform(X)
    return coords, {"explained_variance_ratio": pca.explained_variance_ratio_.tolist()}


#: the most samples the O(n²)-or-worse methods accept without ``subsample=True``
LIMITS = {"lle": 5000, "mds": 2000, "isomap": 5000}


def _int_param(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (high is not None and value > high):
        span = f"an integer ≥ {low}" if high is None else f"an integer from {low} to {high}"
        raise ProjectionError(f"{name} must be {span} (got {value!r})")
    return int(value)


def _neighbors(n_neighbors: Any, n: int) -> int:
    k = _int_param("n_neighbors", n_neighbors, 2)
    if k >= n:
        raise ProjectionError(f"n_neighbors must be less than n_samples (got {k} for {n} samples)")
    return k


def _lle(X: np.ndarray, seed: int, n_neighbors: int = 10, **params: Any) -> tuple[np.ndarray, dict]:
    from sklearn.manifold import LocallyLinearEmbedding

    k = _neighbors(n_neighbors, len(X))
    lle = LocallyLinearEmbedding(n_components=2, n_neighbors=k, random_state=seed, **params)
    coords = lle.fit_transform(X.astype(np.float64))
    return coords, {"reconstruction_error": float(lle.reconstruction_error_)}


def _mds(X: np.ndarray, seed: int, **params: Any) -> tuple[np.ndarray, dict]:
    from sklearn.manifold import MDS

    params.setdefault("n_init", 1)
    params.setdefault("init", "classical_mds")  # deterministic start; also sklearn's future default
    mds = MDS(n_components=2, random_state=seed, **params)
    coords = mds.fit_transform(X.astype(np.float64))
    return coords, {"stress": float(mds.stress_)}


def _isomap(X: np.ndarray, seed: int, n_neighbors: int = 10, **params: Any) -> tuple[np.ndarray, dict]:
    from sklearn.manifold import Isomap

    k = _neighbors(n_neighbors, len(X))
    iso = Isomap(n_components=2, n_neighbors=k, **params)
    coords = iso.fit_transform(X)
    return coords, {"reconstruction_error": float(iso.reconstruction_error())}


def _check_perplexity(perplexity: Any, n: int) -> float:
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float, np.number)) \
            or not np.isfinite(perplexity) or perplexity <= 0:
        raise ProjectionError(f"perplexity must be a positive number (got {perplexity!r})")
    if perplexity >= n:
        raise ProjectionError(f"perplexity must be less than n_samples (got {perplexity} for {n} samples)")
    return float(perplexity)


def _tsne(X: np.ndarray, seed: int, perplexity: float = 30.0, n_iter: int = 750, init: Any = "pca",
          n_jobs: int = 1, gradient: str = "auto", early_exaggeration_iter: int = 250,
          affinities: np.ndarray | None = None, **params: Any) -> tuple[np.ndarray, dict]:
    """t-SNE: the exact objective for n ≤ ``EXACT_LIMIT`` (our kernel), openTSNE beyond.

    ``gradient``: ``"auto"``, ``"exact"`` (dense P, exact gradient, :mod:`models.exact_tsne`;
    ``extra["kl_divergence"]`` is then the exact KL, i.e. the hardness), ``"bh"`` or
    ``"fft"`` (openTSNE, which also takes its own keyword options). ``init`` is ``"pca"``,
    ``"random"`` or an n×2 array (e.g. the previous layer); all are rescaled to openTSNE's
    recommended standard deviation of 1e-4. ``affinities`` may pass a precomputed exact P.
    """
    from openTSNE import initialization

    from models.exact_tsne import EXACT_LIMIT

    perplexity = _check_perplexity(perplexity, len(X))
    n_iter = _int_param("n_iter", n_iter, 1)
    early_exaggeration_iter = _int_param("early_exaggeration_iter", early_exaggeration_iter, 0)
    if gradient not in ("auto", "exact", "bh", "fft"):
        raise ProjectionError(f"gradient must be one of auto, exact, bh, fft (got {gradient!r})")
    exact = gradient == "exact" or (gradient == "auto" and len(X) <= EXACT_LIMIT)
    if isinstance(init, np.ndarray):
        init = np.asarray(init, dtype=np.float64)
        if init.shape != (len(X), 2) or not np.isfinite(init).all():
            raise ProjectionError(f"init must be a finite n×2 array (got shape {init.shape})")
        init = initialization.rescale(init)
    elif init == "pca":
        init = initialization.pca(X, random_state=seed, verbose=False)
    elif init == "random":
        init = initialization.random(X, random_state=seed, verbose=False)
    else:
        raise ProjectionError(f"init must be 'pca', 'random' or an n×2 array (got {init!r})")
    if not exact:
        from openTSNE import TSNE

        params.setdefault("neighbors", "exact" if len(X) <= 2000 else "auto")
        tsne = TSNE(n_components=2, perplexity=perplexity, n_iter=n_iter, initialization=init,
                    early_exaggeration_iter=early_exaggeration_iter, random_state=seed, n_jobs=n_jobs,
                    negative_gradient_method="fft" if gradient == "auto" else gradient, verbose=False, **params)
        emb = tsne.fit(X)
        return np.asarray(emb), {"kl_divergence": float(emb.kl_divergence), "gradient": tsne.negative_gradient_method}
    if params:
        raise ProjectionError(f"bad parameter for tsne: {', '.join(sorted(params))} "
                              "(openTSNE's options apply with gradient='bh' or 'fft')")
    if affinities is None:
        P = joint_affinities(X, perplexity)
    else:
        P = np.asarray(affinities)
        if P.shape != (len(X), len(X)):
            raise ProjectionError(f"affinities must be n×n for n={len(X)} (got shape {P.shape})")
    from models.exact_tsne import optimize, threads

    with threads(n_jobs):
        Y = optimize(P, init, n_iter=n_iter, early_exaggeration_iter=early_exaggeration_iter)
    return Y, {"kl_divergence": kl_divergence(P, Y), "gradient": "exact"}


def _umap(X: np.ndarray, seed: int, n_neighbors: int = 15, min_dist: float = 0.1, **params: Any) -> tuple[np.ndarray, dict]:
    import warnings

    import umap

    k = _neighbors(n_neighbors, len(X))
    if not (isinstance(min_dist, (int, float)) and 0 <= min_dist):
        raise ProjectionError(f"min_dist must be a number ≥ 0 (got {min_dist!r})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state" and numba chatter
        reducer = umap.UMAP(n_components=2, n_neighbors=k, min_dist=min_dist, random_state=seed, **params)
        coords = reducer.fit_transform(X)
    return coords, {}


METHODS: dict[str, Callable[..., tuple[np.ndarray, dict]]] = {
    "pca": _pca, "lle": _lle, "mds": _mds, "isomap": _isomap, "tsne": _tsne, "umap": _umap,
}


def project(X: np.ndarray, method: str, *, seed: int = 0, subsample: bool = False, **params: Any) -> Projection:
    """Project the rows of ``X`` to 2-D with ``method`` (one of ``METHODS``).

    ``lle``, ``mds`` and ``isomap`` refuse more than ``LIMITS[method]`` rows unless
    ``subsample=True``; then a seeded subset of that size is projected and
    ``extra["index"]`` holds the rows used.
    """
    if method not in METHODS:
        raise ProjectionError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    X = _check_input(X)
    extra_index = None
    limit = LIMITS.get(method)
    if limit is not None and len(X) > limit:
        if not subsample:
            raise ProjectionError(f"{method} handles at most {limit:,} samples (got {len(X):,}); "
                                  f"pass subsample=True to project a random {limit:,} of them, or use tsne/umap")
        extra_index = np.sort(np.random.default_rng(seed).choice(len(X), size=limit, replace=False))
        X = X[extra_index]
    t0 = time.perf_counter()
    try:
        coords, extra = METHODS[method](X, seed, **params)
    except TypeError as exc:  # an unknown keyword: say so in our terms
        raise ProjectionError(f"bad parameter for {method}: {exc}") from None
    seconds = time.perf_counter() - t0
    coords = np.asarray(coords, dtype=np.float32)
    if not np.isfinite(coords).all():
        raise ProjectionError(f"{method} produced non-finite coordinates; try other parameters")
    if extra_index is not None:
        extra = dict(extra, index=extra_index)
    params = dict(params, seed=seed)
    if isinstance(params.get("init"), np.ndarray):
        params["init"] = "array"
    params.pop("affinities", None)
    return Projection(coords=coords, method=method, params=params, seconds=seconds, extra=extra)


# -- hardness: the exact t-SNE cost of an embedding ---------------------------
MACHINE_EPSILON = np.finfo(np.double).eps


def squared_distances(X: np.ndarray) -> np.ndarray:
    """Dense squared Euclidean distances (float64, zero diagonal, never negative)."""
    X = np.asarray(X, dtype=np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    D = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    np.maximum(D, 0.0, out=D)
    np.fill_diagonal(D, 0.0)
    return D


def conditional_affinities(D: np.ndarray, perplexity: float, *, tol: float = 1e-5, steps: int = 100) -> np.ndarray:
    """p_{j|i} ∝ exp(-β_i D_ij) with β_i found by bisection so each row's perplexity matches.

    The same search as scikit-learn's ``_binary_search_perplexity`` (entropy in nats,
    tolerance 1e-5, 100 steps, β doubled/halved until bracketed), compiled with numba
    and spread over rows (:func:`models.exact_tsne.conditional_affinities`).
    """
    from models.exact_tsne import conditional_affinities as search

    return search(np.ascontiguousarray(D, dtype=np.float64), float(perplexity), float(tol), int(steps))


def joint_affinities(X: np.ndarray, perplexity: float = 30.0) -> np.ndarray:
    """P: symmetrised, normalised perplexity-calibrated affinities of the exact dense distances.

    P_ij = (p_{j|i} + p_{i|j}) / Σ, floored at machine epsilon, as in scikit-learn's
    exact t-SNE (``_joint_probabilities``). Returned as a dense n×n matrix (zero diagonal).
    """
    X = _check_input(X)
    perplexity = _check_perplexity(perplexity, len(X))
    cond = conditional_affinities(squared_distances(X), perplexity)
    P = cond + cond.T
    P /= max(P.sum(), MACHINE_EPSILON)
    np.maximum(P, MACHINE_EPSILON, out=P)
    np.fill_diagonal(P, 0.0)
    return P


def student_affinities(Y: np.ndarray) -> np.ndarray:
    """Q: Student-t (one degree of freedom) affinities of 2-D points, normalised, floored at eps."""
    W = 1.0 / (1.0 + squared_distances(Y))
    np.fill_diagonal(W, 0.0)
    Q = W / max(W.sum(), MACHINE_EPSILON)
    np.maximum(Q, MACHINE_EPSILON, out=Q)
    np.fill_diagonal(Q, 0.0)
    return Q


def kl_divergence(P: np.ndarray, Y: np.ndarray) -> float:
    """KL(P‖Q) over off-diagonal pairs, Q the Student-t affinities of ``Y``."""
    Q = student_affinities(Y)
    off = ~np.eye(len(P), dtype=bool)
    p, q = P[off], Q[off]
    return float(np.sum(p * np.log(np.maximum(p, MACHINE_EPSILON) / q)))


def hardness(X: np.ndarray, Y: np.ndarray, *, perplexity: float = 30.0) -> float:
    """The hardness of embedding ``X`` as ``Y``: the exact t-SNE cost KL(P‖Q) in nats.

    P are the symmetrised perplexity-calibrated affinities of the exact dense
    squared Euclidean distances of ``X`` (:func:`joint_affinities`), Q the Student-t
    affinities of the 2-D coordinates ``Y`` (:func:`student_affinities`), both over
    the same n points. It is the quantity scikit-learn's exact ``TSNE`` reports as
    ``kl_divergence_`` (same P, same Q, same epsilon floors), evaluated in O(n²)
    memory and time — cheap for the n ≤ 5,000 samples of a study — so a layer's score
    does not depend on which optimiser or approximation produced ``Y``.
    """
    X = _check_input(X)
    Y = _check_input(Y)
    if len(X) != len(Y):
        raise ProjectionError(f"X and Y must have the same number of rows (got {len(X)} and {len(Y)})")
    if Y.shape[1] != 2:
        raise ProjectionError(f"Y must be n×2 coordinates (got shape {Y.shape})")
    return kl_divergence(joint_affinities(X, perplexity), Y)


# -- quality metrics ------------------------------------------------------------
def _knn(X: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]


def knn_preservation(X: np.ndarray, Y: np.ndarray, k: int = 10) -> float:
    """Mean fraction of each point's k nearest neighbours in ``X`` that stay among its k in ``Y``."""
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

    X = _check_input(X)
    Y = _check_input(Y)
    k = _int_param("k", k, 1, max(1, len(X) // 2 - 1))
    out = {"trustworthiness": float(trustworthiness(X, Y, n_neighbors=k)),
           "continuity": float(trustworthiness(Y, X, n_neighbors=k)),
           "knn_preservation": knn_preservation(X, Y, k)}
    if labels is not None:
        out["knn_accuracy"] = knn_accuracy(Y, labels, k)
    return out


def procrustes_align(coords: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate/reflect and scale ``coords`` to best match ``reference`` (orthogonal Procrustes).

    Both are centred; the result keeps ``coords``' shape up to a similarity, so
    consecutive layers' panels can be read side by side.
    """
    from scipy.linalg import orthogonal_procrustes

    A = np.asarray(coords, dtype=np.float64)
    B = np.asarray(reference, dtype=np.float64)
    if A.shape != B.shape:
        raise ProjectionError(f"coords and reference must have the same shape (got {A.shape} and {B.shape})")
    A = A - A.mean(0)
    B = B - B.mean(0)
    R, _ = orthogonal_procrustes(A, B)
    aligned = A @ R
    scale = np.linalg.norm(B) / (np.linalg.norm(aligned) or 1.0)
    return (aligned * scale).astype(np.float32)
