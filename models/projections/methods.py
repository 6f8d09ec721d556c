"""The projection methods behind one call: ``project(X, method, seed=0, **params)``.

Methods are registered in ``METHODS``; each takes validated float arrays and returns
coordinates plus any extras worth keeping (e.g. t-SNE's KL divergence): ``pca`` (scikit-learn),
``lle``, ``mds``, ``isomap`` (scikit-learn; O(n²) or worse, so they refuse more than
``LIMITS[method]`` samples unless ``subsample=True``, which projects a seeded random subset and
returns its positions in ``extra["index"]``), ``tsne`` (exact-gradient kernel up to
``models.exact_tsne.EXACT_LIMIT`` samples, openTSNE beyond) and ``umap`` (umap-learn).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..validation import check_choice, check_float, check_int
from .affinity import joint_affinities, kl_divergence
from .checks import ProjectionError, check_input, check_neighbors, check_perplexity


@dataclass(frozen=True)
class Projection:
    coords: np.ndarray  # float32 n×2
    method: str
    params: dict
    seconds: float
    extra: dict = field(default_factory=dict)


def _pca(X: np.ndarray, seed: int, **params: Any) -> tuple[np.ndarray, dict]:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed, **params)
    coords = pca.fit_transform(X)
    return coords, {"explained_variance_ratio": pca.explained_variance_ratio_.tolist()}


#: the most samples the O(n²)-or-worse methods accept without ``subsample=True``
LIMITS = {"lle": 5000, "mds": 2000, "isomap": 5000}


def _lle(X: np.ndarray, seed: int, n_neighbors: int = 10, **params: Any) -> tuple[np.ndarray, dict]:
    from sklearn.manifold import LocallyLinearEmbedding

    k = check_neighbors(n_neighbors, len(X))
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

    k = check_neighbors(n_neighbors, len(X))
    iso = Isomap(n_components=2, n_neighbors=k, **params)
    coords = iso.fit_transform(X)
    return coords, {"reconstruction_error": float(iso.reconstruction_error())}


def _tsne(
    X: np.ndarray,
    seed: int,
    perplexity: float = 30.0,
    n_iter: int = 750,
    init: Any = "pca",
    n_jobs: int = 1,
    gradient: str = "auto",
    early_exaggeration_iter: int = 250,
    affinities: np.ndarray | None = None,
    **params: Any,
) -> tuple[np.ndarray, dict]:
    """t-SNE: the exact objective for n ≤ ``EXACT_LIMIT`` (our kernel), openTSNE beyond.

    ``gradient``: ``"auto"``, ``"exact"`` (dense P, exact gradient, :mod:`models.exact_tsne`;
    ``extra["kl_divergence"]`` is then the exact KL, i.e. the hardness), ``"bh"`` or
    ``"fft"`` (openTSNE, which also takes its own keyword options). ``init`` is ``"pca"``,
    ``"random"`` or an n×2 array (e.g. the previous layer); all are rescaled to openTSNE's
    recommended standard deviation of 1e-4. ``affinities`` may pass a precomputed exact P.
    """
    from openTSNE import initialization

    from ..exact_tsne import EXACT_LIMIT

    perplexity = check_perplexity(perplexity, len(X))
    n_iter = check_int("n_iter", n_iter, 1, error=ProjectionError)
    early_exaggeration_iter = check_int("early_exaggeration_iter", early_exaggeration_iter, 0, error=ProjectionError)
    check_choice("gradient", gradient, ("auto", "exact", "bh", "fft"), error=ProjectionError)
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
        tsne = TSNE(
            n_components=2,
            perplexity=perplexity,
            n_iter=n_iter,
            initialization=init,
            early_exaggeration_iter=early_exaggeration_iter,
            random_state=seed,
            n_jobs=n_jobs,
            negative_gradient_method="fft" if gradient == "auto" else gradient,
            verbose=False,
            **params,
        )
        emb = tsne.fit(X)
        return np.asarray(emb), {"kl_divergence": float(emb.kl_divergence), "gradient": tsne.negative_gradient_method}
    if params:
        raise ProjectionError(
            f"bad parameter for tsne: {', '.join(sorted(params))} "
            "(openTSNE's options apply with gradient='bh' or 'fft')"
        )
    if affinities is None:
        P = joint_affinities(X, perplexity)
    else:
        P = np.asarray(affinities)
        if P.shape != (len(X), len(X)):
            raise ProjectionError(f"affinities must be n×n for n={len(X)} (got shape {P.shape})")
    from ..exact_tsne import optimize, threads

    with threads(n_jobs):
        Y = optimize(P, init, n_iter=n_iter, early_exaggeration_iter=early_exaggeration_iter)
    return Y, {"kl_divergence": kl_divergence(P, Y), "gradient": "exact"}


def _umap(
    X: np.ndarray, seed: int, n_neighbors: int = 15, min_dist: float = 0.1, **params: Any
) -> tuple[np.ndarray, dict]:
    import warnings

    import umap

    from .numba_cache import enable

    enable()
    k = check_neighbors(n_neighbors, len(X))
    min_dist = check_float("min_dist", min_dist, 0, error=ProjectionError)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state" and numba chatter
        reducer = umap.UMAP(n_components=2, n_neighbors=k, min_dist=min_dist, random_state=seed, **params)
        coords = reducer.fit_transform(X)
    return coords, {}


METHODS: dict[str, Callable[..., tuple[np.ndarray, dict]]] = {
    "pca": _pca,
    "lle": _lle,
    "mds": _mds,
    "isomap": _isomap,
    "tsne": _tsne,
    "umap": _umap,
}


def project(X: np.ndarray, method: str, *, seed: int = 0, subsample: bool = False, **params: Any) -> Projection:
    """Project the rows of ``X`` to 2-D with ``method`` (one of ``METHODS``).

    ``lle``, ``mds`` and ``isomap`` refuse more than ``LIMITS[method]`` rows unless
    ``subsample=True``; then a seeded subset of that size is projected and
    ``extra["index"]`` holds the rows used.
    """
    if method not in METHODS:
        raise ProjectionError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    X = check_input(X)
    extra_index = None
    limit = LIMITS.get(method)
    if limit is not None and len(X) > limit:
        if not subsample:
            raise ProjectionError(
                f"{method} handles at most {limit:,} samples (got {len(X):,}); "
                f"pass subsample=True to project a random {limit:,} of them, or use tsne/umap"
            )
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
