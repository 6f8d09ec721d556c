"""Exact-gradient t-SNE for the few thousand points of a hardness study.

Why by hand: hardness is the *exact* KL(P‖Q) (:func:`models.projections.hardness`),
with P the dense perplexity-calibrated affinities. For n up to a few thousand the exact
O(n²) gradient of that very objective is cheaper than a Barnes-Hut approximation of it
once it is one fused, vectorised loop (numba, float32, structure-of-arrays, rows spread
over threads): ~0.1 ms per iteration at n = 1,000 on one core, against ~1.5 ms for
openTSNE's or scikit-learn's Barnes-Hut, and it descends the objective we score rather
than an approximation whose optimum sits a little higher (bench/hardness.py measures
both). openTSNE remains the method for larger n and for adding points to an embedding.

The optimiser is openTSNE's: gradient without t-SNE's constant factor 4, learning rate
n / exaggeration, momentum 0.5 during early exaggeration (12, 250 steps) then 0.8,
delta-bar-delta gains (+0.2 on a sign flip, ×0.8 + 0.01 otherwise).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numba
import numpy as np
from numba import prange

#: the most samples the exact method takes by default (P is a dense n×n float32)
EXACT_LIMIT = 3000


@contextmanager
def threads(n_jobs: int | None) -> Iterator[None]:
    """numba threads for the kernels: ``n_jobs`` (≤ 0 or None: all), restored afterwards."""
    before = numba.get_num_threads()
    top = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(top if n_jobs is None or n_jobs <= 0 else min(int(n_jobs), top))
    try:
        yield
    finally:
        numba.set_num_threads(before)


@numba.njit(fastmath=True, parallel=True, cache=True)
def _forces(y0, y1, P, exaggeration, attract, repulse, z):  # pragma: no cover - compiled
    """Per point: exaggerated attraction Σ p_ij w_ij Δ, unnormalised repulsion Σ w_ij² Δ, and Σ_j w_ij."""
    n = y0.shape[0]
    for i in prange(n):
        a = y0[i]
        b = y1[i]
        Pi = P[i]
        a0 = np.float32(0.0)
        a1 = np.float32(0.0)
        r0 = np.float32(0.0)
        r1 = np.float32(0.0)
        zi = np.float32(0.0)
        for j in range(n):
            d0 = a - y0[j]
            d1 = b - y1[j]
            w = np.float32(1.0) / (np.float32(1.0) + d0 * d0 + d1 * d1)
            zi += w
            pw = Pi[j] * w
            a0 += pw * d0
            a1 += pw * d1
            w2 = w * w
            r0 += w2 * d0
            r1 += w2 * d1
        attract[i, 0] = exaggeration * a0
        attract[i, 1] = exaggeration * a1
        repulse[i, 0] = r0
        repulse[i, 1] = r1
        z[i] = zi - np.float32(1.0)  # drop w_ii = 1


@numba.njit(fastmath=True, cache=True)
def _descend(Y, update, gains, attract, repulse, z_sum, momentum, learning_rate, min_gain):  # pragma: no cover
    """One momentum step with delta-bar-delta gains, in place (openTSNE's update rule)."""
    for i in range(Y.shape[0]):
        for d in range(2):
            g = attract[i, d] - repulse[i, d] / z_sum
            if (update[i, d] > 0) != (g > 0):
                gains[i, d] += 0.2
            else:
                gains[i, d] = gains[i, d] * 0.8 + min_gain
            update[i, d] = momentum * update[i, d] - learning_rate * gains[i, d] * g
            Y[i, d] += update[i, d]


@numba.njit(fastmath=False, parallel=True, cache=True)
def conditional_affinities(D, perplexity, tol=1e-5, steps=100):  # pragma: no cover - compiled
    """p_{j|i} ∝ exp(−β_i D_ij), β_i bisected per row to the target perplexity (entropy in nats).

    scikit-learn's ``_binary_search_perplexity`` (tolerance 1e-5, 100 steps, β doubled or
    halved until bracketed, sums floored at 1e-8) in float64, rows spread over threads.
    """
    n = D.shape[0]
    target = np.log(perplexity)
    P = np.zeros((n, n))
    for i in prange(n):
        beta, lo, hi = 1.0, -np.inf, np.inf
        row = P[i]
        for _ in range(steps):
            s = 0.0
            for j in range(n):
                row[j] = 0.0 if j == i else np.exp(-D[i, j] * beta)
                s += row[j]
            if s == 0.0:
                s = 1e-8
            h = 0.0
            for j in range(n):
                row[j] /= s
                h += D[i, j] * row[j]
            diff = np.log(s) + beta * h - target
            if abs(diff) <= tol:
                break
            if diff > 0:  # entropy too high: sharpen
                lo = beta
                beta = beta * 2.0 if hi == np.inf else (beta + hi) / 2.0
            else:
                hi = beta
                beta = beta / 2.0 if lo == -np.inf else (beta + lo) / 2.0
    return P


def gradient(Y: np.ndarray, P: np.ndarray, exaggeration: float = 1.0) -> np.ndarray:
    """∂KL/∂Y / 4 for dense P (zero diagonal, sums to 1): Σ_j (α p_ij − q_ij) w_ij (y_i − y_j)."""
    Y = np.ascontiguousarray(Y, dtype=np.float32)
    P = np.ascontiguousarray(P, dtype=np.float32)
    n = len(Y)
    attract, repulse = np.empty((n, 2), np.float32), np.empty((n, 2), np.float32)
    z = np.empty(n, np.float32)
    _forces(
        np.ascontiguousarray(Y[:, 0]), np.ascontiguousarray(Y[:, 1]), P, np.float32(exaggeration), attract, repulse, z
    )
    return attract.astype(np.float64) - repulse.astype(np.float64) / z.sum(dtype=np.float64)


def optimize(
    P: np.ndarray,
    init: np.ndarray,
    *,
    n_iter: int = 750,
    early_exaggeration_iter: int = 250,
    early_exaggeration: float = 12.0,
    min_gain: float = 0.01,
) -> np.ndarray:
    """Minimise KL(P‖Q) from ``init`` (n×2) by gradient descent with momentum and gains.

    ``early_exaggeration_iter`` steps at exaggeration ``early_exaggeration`` and momentum
    0.5, then ``n_iter`` steps at 1 and 0.8 — openTSNE's schedule. Deterministic: no
    randomness here and every thread sums its own rows.
    """
    P = np.ascontiguousarray(P, dtype=np.float32)
    n = len(P)
    Y = np.array(init, dtype=np.float64)
    y0, y1 = np.empty(n, np.float32), np.empty(n, np.float32)
    attract, repulse = np.empty((n, 2), np.float32), np.empty((n, 2), np.float32)
    z = np.empty(n, np.float32)
    update = np.zeros_like(Y)
    gains = np.ones_like(Y)
    for step in range(early_exaggeration_iter + n_iter):
        early = step < early_exaggeration_iter
        exaggeration = early_exaggeration if early else 1.0
        momentum = 0.5 if early else 0.8
        y0[:] = Y[:, 0]
        y1[:] = Y[:, 1]
        _forces(y0, y1, P, np.float32(exaggeration), attract, repulse, z)
        _descend(
            Y,
            update,
            gains,
            attract,
            repulse,
            z.sum(dtype=np.float64),
            momentum,
            max(200.0, n / exaggeration),
            min_gain,
        )
    return Y
