"""Orthogonal Procrustes: turn one layer's embedding to match the previous one's."""

from __future__ import annotations

import numpy as np

from .checks import ProjectionError


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
