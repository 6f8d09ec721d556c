"""The checks every projection function makes once at its boundary, raising :class:`ProjectionError`
with the parameter's name, the value received and what was expected."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UserError
from ..validation import check_float, check_int


class ProjectionError(UserError):
    """Bad input or parameters for a projection; the message names the parameter."""


def check_input(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ProjectionError(f"X must be 2-D (samples × features), got shape {X.shape}")
    if X.shape[0] < 3:
        raise ProjectionError(f"X needs at least 3 samples to project (got {X.shape[0]})")
    X = X.astype(np.float64 if X.dtype == np.float64 else np.float32, copy=False)
    if not np.isfinite(X).all():
        raise ProjectionError("X contains NaN or infinite values")
    return X


def check_neighbors(n_neighbors: Any, n: int) -> int:
    """A neighbour count: an integer ≥ 2 and below the number of samples."""
    k = check_int("n_neighbors", n_neighbors, 2, error=ProjectionError)
    if k >= n:
        raise ProjectionError(f"n_neighbors must be less than n_samples (got {k} for {n} samples)")
    return k


def check_perplexity(perplexity: Any, n: int) -> float:
    """A perplexity: a positive number below the number of samples."""
    value = check_float("perplexity", perplexity, 0, low_open=True, error=ProjectionError)
    if value >= n:
        raise ProjectionError(f"perplexity must be less than n_samples (got {perplexity} for {n} samples)")
    return value
