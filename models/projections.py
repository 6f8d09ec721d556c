"""Projections to 2-D behind one call, the hardness score, and quality metrics.

``project(X, method, seed=0, **params)`` returns a :class:`Projection`. Methods are
registered in ``METHODS``; each takes validated float arrays and returns
coordinates plus any extras worth keeping (e.g. t-SNE's KL divergence).
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


METHODS: dict[str, Callable[..., tuple[np.ndarray, dict]]] = {"pca": _pca}


def project(X: np.ndarray, method: str, *, seed: int = 0, **params: Any) -> Projection:
    """Project the rows of ``X`` to 2-D with ``method`` (one of ``METHODS``)."""
    if method not in METHODS:
        raise ProjectionError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    X = _check_input(X)
    t0 = time.perf_counter()
    coords, extra = METHODS[method](X, seed, **params)
    seconds = time.perf_counter() - t0
    coords = np.asarray(coords, dtype=np.float32)
    return Projection(coords=coords, method=method, params=dict(params, seed=seed), seconds=seconds, extra=extra)
