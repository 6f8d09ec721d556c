"""Hardness: the exact t-SNE cost KL(P‖Q) of a 2-D embedding, and the affinities it is made of.

Evaluated densely whatever produced the coordinates, so scores compare across layers, runs
and libraries.
"""

from __future__ import annotations

import numpy as np

from .checks import ProjectionError, check_input, check_perplexity

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
    from ..exact_tsne import conditional_affinities as search

    return search(np.ascontiguousarray(D, dtype=np.float64), float(perplexity), float(tol), int(steps))


def joint_affinities(X: np.ndarray, perplexity: float = 30.0) -> np.ndarray:
    """P: symmetrised, normalised perplexity-calibrated affinities of the exact dense distances.

    P_ij = (p_{j|i} + p_{i|j}) / Σ, floored at machine epsilon, as in scikit-learn's
    exact t-SNE (``_joint_probabilities``). Returned as a dense n×n matrix (zero diagonal).
    """
    X = check_input(X)
    perplexity = check_perplexity(perplexity, len(X))
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
    X = check_input(X)
    Y = check_input(Y)
    if len(X) != len(Y):
        raise ProjectionError(f"X and Y must have the same number of rows (got {len(X)} and {len(Y)})")
    if Y.shape[1] != 2:
        raise ProjectionError(f"Y must be n×2 coordinates (got shape {Y.shape})")
    return kl_divergence(joint_affinities(X, perplexity), Y)
