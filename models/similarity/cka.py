"""Centered kernel alignment (CKA): how alike two representations of the same samples are.

Linear CKA (Kornblith et al., ICML 2019) of centred features X (n × p) and Y (n × q) is

    CKA = ||Yᵀ X||²_F / (||Xᵀ X||_F · ||Yᵀ Y||_F)

which equals the Gram-matrix form <HKH, HLH> / (||HKH|| ||HLH||) with K = XXᵀ, L = YYᵀ, but costs
n·p·q instead of n²·(p + q) and never forms an n × n matrix; a layer wider than it has samples
(p > n) is held as its centred Gram instead, which is then the smaller object. The *debiased
minibatch* estimator (Nguyen, Raghu & Kornblith, ICLR 2021) averages the unbiased HSIC (Song et
al. 2012) over seeded minibatches: memory b² per layer whatever n is, and no small-sample bias.
RBF CKA uses a Gaussian kernel whose bandwidth is a multiple of the median pairwise distance
(Kornblith et al.), on a seeded subsample when n is large (its Grams are n × n).

:func:`cka_matrix` computes every layer of A against every layer of B, each layer's self-term once,
holding layers in blocks under a memory budget (so twenty 10,000 × 4,096 layers do not sit in memory
at once); everything runs in NumPy, or in torch on the GPU when ``device`` names one.
"""

from __future__ import annotations

import math
import mmap
import os
import shutil
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..progress import ProgressFn, report
from ..validation import check_choice, check_int

METRICS = ("linear", "linear-debiased", "rbf")
BATCH_SIZE = 1024  # debiased minibatch size: b² floats per layer per batch
RBF_SAMPLES = 2000  # RBF CKA on at most this many samples (its Grams are n × n)
MEMORY = 1 << 30  # bytes of centred layers held at once by cka_matrix
SMALL = 2_000_000  # below n·p this many, work in float64 (exact to 1e-12); above, float32 (≈1e-6)

ArrayLike = Any  # np.ndarray, a read-only memmap, or anything np.asarray takes


# -- single pairs: the formulas, kept plain so tests can read them -----------------------------
def center(X: ArrayLike, dtype=np.float64) -> np.ndarray:
    """Columns minus their means (a new array; ``X`` may be a read-only memmap)."""
    X = np.asarray(X, dtype=dtype)
    if X.ndim != 2:
        raise ValueError(f"a representation must be 2-D (samples × dimensions), got shape {X.shape}")
    return X - X.mean(axis=0, keepdims=True)


def _check_pair(X: ArrayLike, Y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.asarray(X), np.asarray(Y)
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"representations must be 2-D (samples × dimensions), got {X.shape} and {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"representations must hold the same samples (got {X.shape[0]} and {Y.shape[0]} rows)")
    if X.shape[0] < 2:
        raise ValueError(f"CKA needs at least 2 samples (got {X.shape[0]})")
    return X, Y


def linear_cka(X: ArrayLike, Y: ArrayLike) -> float:
    """Linear CKA of two representations of the same n samples (rows), computed in float64.

    Uses features (p × q cross-covariance) when both are narrower than n, else Gram matrices.
    Returns 0 when either representation is constant (no variance to align).
    """
    X, Y = _check_pair(X, Y)
    Xc, Yc = center(X), center(Y)
    n = X.shape[0]
    if max(Xc.shape[1], Yc.shape[1]) <= n:
        cross = float(np.sum((Yc.T @ Xc) ** 2))
        sx, sy = float(np.linalg.norm(Xc.T @ Xc)), float(np.linalg.norm(Yc.T @ Yc))
    else:
        K, L = Xc @ Xc.T, Yc @ Yc.T
        cross, sx, sy = float(np.sum(K * L)), float(np.linalg.norm(K)), float(np.linalg.norm(L))
    return _ratio(cross, sx, sy)


def _ratio(cross: float, sx: float, sy: float) -> float:
    if sx <= 0 or sy <= 0 or not math.isfinite(cross):
        return 0.0
    return float(min(1.0, max(0.0, cross / (sx * sy))))


def hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """The unbiased HSIC estimator of Song et al. (2012) for two n × n kernel matrices (n ≥ 4)."""
    n = K.shape[0]
    if n < 4:
        raise ValueError(f"the unbiased HSIC needs at least 4 samples (got {n})")
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    k1, l1 = K.sum(1), L.sum(1)
    value = np.sum(K * L) + k1.sum() * l1.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * float(k1 @ l1)
    return float(value / (n * (n - 3)))


def gram_rbf(X: ArrayLike, sigma: float | None = None, scale: float = 1.0) -> np.ndarray:
    """Gaussian kernel exp(-d²/(2σ²)); σ = ``scale`` × median pairwise distance when not given."""
    X = np.asarray(X, dtype=np.float64)
    sq = np.sum(X * X, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (X @ X.T), 0.0)
    if sigma is None:
        sigma = scale * median_distance(d2)
    return np.exp(-d2 / (2.0 * sigma * sigma)) if sigma > 0 else np.ones_like(d2)


def median_distance(d2: np.ndarray) -> float:
    """Median of the off-diagonal pairwise distances, given the squared distances."""
    n = d2.shape[0]
    upper = d2[np.triu_indices(n, 1)]
    return float(np.sqrt(np.median(upper))) if upper.size else 0.0


def rbf_cka(X: ArrayLike, Y: ArrayLike, scale: float = 1.0) -> float:
    """CKA with Gaussian kernels (bandwidth ``scale`` × median distance of each representation)."""
    X, Y = _check_pair(X, Y)
    K, L = _centre_gram(gram_rbf(X, scale=scale)), _centre_gram(gram_rbf(Y, scale=scale))
    return _ratio(float(np.sum(K * L)), float(np.linalg.norm(K)), float(np.linalg.norm(L)))


def _centre_gram(K):
    K = K - K.mean(0, keepdims=True)
    return K - K.mean(1, keepdims=True)


def minibatch_cka(X: ArrayLike, Y: ArrayLike, batch_size: int = BATCH_SIZE, seed: int = 0) -> float:
    """Debiased minibatch linear CKA (Nguyen et al. 2021): seeded batches, unbiased HSIC averaged."""
    return float(cka_matrix([X], [Y], metric="linear-debiased", batch_size=batch_size, seed=seed)[0, 0])


# -- all pairs ---------------------------------------------------------------------------------
class _Ops:
    """NumPy, or torch on a device: the few operations the matrix needs, on either."""

    def __init__(self, device: str | None, dtype):
        self.torch = None
        self.dtype = dtype
        if device is not None:
            import torch  # only when a device is asked for: the faces stay torch-free

            self.torch = torch
            self.device = torch.device(device)
            self.tdtype = torch.float64 if dtype == np.float64 else torch.float32

    def array(self, X: ArrayLike, rows: np.ndarray | None = None):
        X = np.asarray(X)
        if rows is not None:
            X = X[rows]
        if self.torch is None:
            return np.asarray(X, dtype=self.dtype)
        return self.torch.as_tensor(np.ascontiguousarray(X), device=self.device).to(self.tdtype)

    def exp(self, X):
        return np.exp(X) if self.torch is None else self.torch.exp(X)

    def median(self, d2) -> float:
        if self.torch is None:
            return median_distance(d2)
        n = d2.shape[0]
        iu = self.torch.triu_indices(n, n, 1, device=d2.device)
        upper = d2[iu[0], iu[1]]
        return float(upper.median().clamp_min(0).sqrt()) if upper.numel() else 0.0

    def fill_diagonal_zero(self, K):
        if self.torch is None:
            np.fill_diagonal(K, 0)
        else:
            K.fill_diagonal_(0)
        return K

    def stack(self, items):
        return np.stack(items) if self.torch is None else self.torch.stack(items)

    def host(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) if self.torch is None else X.double().cpu().numpy()


def resolve_device(device: str | None) -> str | None:
    """``"auto"``: ``"cuda"`` when torch sees a GPU, else None (NumPy); anything else as given."""
    if device != "auto":
        return device
    if not (os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi")):
        return None  # no NVIDIA driver: do not pay torch's import to learn there is no GPU
    try:
        import torch
    except ImportError:  # pragma: no cover - torch ships with LayerScope
        return None
    return "cuda" if torch.cuda.is_available() else None


def _layers(layers: Sequence[ArrayLike], what: str) -> list[ArrayLike]:
    layers = list(layers)
    if not layers:
        raise ValueError(f"{what} must hold at least one representation")
    for i, X in enumerate(layers):
        if getattr(X, "ndim", np.ndim(X)) != 2:
            raise ValueError(f"{what}[{i}] must be 2-D (samples × dimensions), got shape {np.shape(X)}")
    return layers


def cka_matrix(
    A: Sequence[ArrayLike],
    B: Sequence[ArrayLike] | None = None,
    *,
    metric: str = "linear",
    batch_size: int = BATCH_SIZE,
    max_samples: int = RBF_SAMPLES,
    rbf_scale: float = 1.0,
    seed: int = 0,
    device: str | None = None,
    memory: int = MEMORY,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """CKA of every representation in ``A`` against every one in ``B`` (default: ``A`` itself).

    Parameters
    ----------
    A, B : sequences of (n × p_i) arrays over the same n samples (memmaps are read, never copied whole).
    metric : ``linear`` (exact), ``linear-debiased`` (minibatch, unbiased HSIC) or ``rbf``.
    batch_size : minibatch size of ``linear-debiased``.
    max_samples : ``rbf`` runs on a seeded subsample of at most this many samples.
    seed : the batches' and the subsample's seed.
    device : None for NumPy, ``"auto"`` (CUDA when present) or a torch device.
    memory : bytes of centred layers held at once; layers are taken in blocks below it.

    Returns
    -------
    len(A) × len(B) float64 array in [0, 1]; symmetric with ones on the diagonal when ``B`` is None.
    """
    check_choice("metric", metric, METRICS)
    same = B is None
    A = _layers(A, "A")
    B = A if same else _layers(B, "B")
    n = np.shape(A[0])[0]
    for X in (*A, *B):
        if np.shape(X)[0] != n:
            raise ValueError(f"every representation must hold the same samples (got {np.shape(X)[0]} and {n} rows)")
    if n < (4 if metric == "linear-debiased" else 2):
        raise ValueError(f"CKA needs at least {4 if metric == 'linear-debiased' else 2} samples (got {n})")
    device = resolve_device(device)
    if metric == "linear-debiased":
        return _debiased(A, B, same, check_int("batch_size", batch_size, low=4), seed, device, progress)
    if metric == "rbf":
        m = check_int("max_samples", max_samples, low=4)
        rows = np.sort(np.random.default_rng(seed).choice(n, m, replace=False)) if n > m else None
        return _blocked(A, B, same, "rbf", rows, rbf_scale, device, memory, progress)
    if _gram_rows_cheaper(A, B, same, n, memory):
        return _gram_rows(A, B, same, device, progress)
    return _blocked(A, B, same, "linear", None, rbf_scale, device, memory, progress)


GRAM_ROWS = 256  # rows of every layer's Gram held at once by _gram_rows


def _gram_rows_cheaper(A, B, same: bool, n: int, memory: int) -> bool:
    """Whether streaming row blocks of the n × n Grams costs fewer flops than the features' cross products.

    Features: 2n·p·q per pair (p·q summed over pairs); Grams: n²·p per layer (half of each symmetric
    Gram) plus n² per pair. Gram rows need every centred layer held at once, so only under ``memory``.
    """
    wa = [np.shape(X)[1] for X in A]
    wb = wa if same else [np.shape(X)[1] for X in B]
    held = 4 * n * (sum(wa) + (0 if same else sum(wb)))
    if held > memory:
        return False
    if same:
        total = sum(wa)
        feat = n * (total * total + sum(w * w for w in wa))  # Σ_{a≤b} 2n·pa·pb
        gram = n * n * total + n * n * len(wa) * (len(wa) + 1) / 2
    else:
        feat = 2 * n * sum(wa) * sum(wb)
        gram = n * n * (sum(wa) + sum(wb)) + n * n * len(wa) * len(wb)
    return gram < feat


def _release(X: ArrayLike) -> None:
    """Drop a memmap's pages from this process once read (the page cache keeps them; our RSS does not)."""
    mm = getattr(X, "_mmap", None)
    if mm is not None and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mm.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # pragma: no cover - a closed or odd mapping: nothing to release
            pass


def _gram_rows(A, B, same: bool, device, progress: ProgressFn | None) -> np.ndarray:
    """Exact linear CKA of all pairs from row blocks of every layer's centred Gram.

    <K_a, K_b> is summed block by block over the upper triangle of blocks (K is symmetric: an
    off-diagonal block counts twice), so each Gram costs n²·p/2 and no n × n matrix is ever held:
    only ``GRAM_ROWS`` × n of every layer at once.
    """
    layers = list(A) if same else list(A) + list(B)
    n = np.shape(layers[0])[0]
    ops = _Ops(device, np.float64 if n * sum(np.shape(X)[1] for X in layers) <= SMALL else np.float32)
    held = []
    for X in layers:
        Xc = ops.array(X)
        held.append(Xc - Xc.mean(0, keepdims=True) if ops.torch is None else Xc - Xc.mean(0, keepdim=True))
        _release(X)
    L = len(held)
    acc = np.zeros((L, L))
    rows = min(GRAM_ROWS, n)
    if ops.torch is None:  # one flat buffer, viewed per block as a contiguous L × r × width array
        flat = np.empty(L * rows * n, dtype=ops.dtype)
    else:
        flat = ops.torch.empty(L * rows * n, dtype=ops.tdtype, device=ops.device)
    starts = list(range(0, n, rows))
    for t, start in enumerate(starts):
        stop = min(n, start + rows)
        r, width = stop - start, n - start
        buf = flat[: L * r * width].reshape(L, r, width)
        for l, Xc in enumerate(held):
            block = buf[l]
            if ops.torch is None:
                np.matmul(Xc[start:stop], Xc[start:].T, out=block)
            else:
                ops.torch.matmul(Xc[start:stop], Xc[start:].T, out=block)
        # an off-diagonal block stands for itself and its mirror below the diagonal (counted twice);
        # the diagonal block (the first r columns) once
        F = buf.reshape(L, -1)
        diagonal = buf[:, :, :r].reshape(L, -1)
        acc += 2.0 * ops.host(F @ F.T) - ops.host(diagonal @ diagonal.T)
        report(progress, t + 1, len(starts), "CKA (linear, Gram rows)")
    d = np.sqrt(np.clip(np.diag(acc), 0, None))
    la = len(A)
    rows_, cols_ = (slice(0, la), slice(0, la)) if same else (slice(0, la), slice(la, None))
    denom = np.outer(d[rows_], d[cols_])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom > 0, acc[rows_, cols_] / denom, 0.0)
    out = np.clip(out, 0.0, 1.0)
    if same:
        np.fill_diagonal(out, np.where(d > 0, 1.0, 0.0))
    return out


def _prepare(ops: _Ops, X: ArrayLike, kind: str, rows, scale: float):
    """A layer as what its cross terms need: ('feat', centred X) or ('gram', centred Gram)."""
    source = X
    X = ops.array(X, rows)
    X = X - X.mean(0, keepdims=True) if ops.torch is None else X - X.mean(0, keepdim=True)
    _release(source)
    n, p = X.shape
    if kind == "linear" and p <= n:
        return ("feat", X, float(((X.T @ X) ** 2).sum()) ** 0.5)
    if kind == "linear":
        K = X @ X.T
    else:
        sq = (X * X).sum(1)
        d2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
        d2 = d2.clip(0) if ops.torch is None else d2.clamp_min(0)
        sigma = scale * ops.median(d2)
        K = ops.exp(-d2 / (2.0 * sigma * sigma)) if sigma > 0 else d2 * 0 + 1
        del d2
        K = K - K.mean(0, keepdims=True) if ops.torch is None else K - K.mean(0, keepdim=True)
        K = K - K.mean(1, keepdims=True) if ops.torch is None else K - K.mean(1, keepdim=True)
    return ("gram", K, float((K * K).sum()) ** 0.5)


def _cross(a, b) -> float:
    (ka, Xa, _), (kb, Xb, _) = a, b
    if ka == "feat" and kb == "feat":
        M = Xb.T @ Xa if Xa.shape[1] >= Xb.shape[1] else Xa.T @ Xb
        return float((M * M).sum())
    if ka == "gram" and kb == "gram":
        return float((Xa * Xb).sum())
    K, X = (Xa, Xb) if ka == "gram" else (Xb, Xa)
    return float(((K @ X) * X).sum())


def _size(X: ArrayLike, kind: str, m: int) -> int:
    p = np.shape(X)[1]
    return 8 * (m * m if kind == "rbf" or p > m else m * p)


def _blocks(layers: Sequence[ArrayLike], kind: str, m: int, memory: int) -> list[list[int]]:
    """Consecutive runs of layer indices whose prepared size stays under half the budget."""
    blocks: list[list[int]] = [[]]
    used = 0
    for i, X in enumerate(layers):
        size = _size(X, kind, m)
        if blocks[-1] and used + size > memory // 2:
            blocks.append([])
            used = 0
        blocks[-1].append(i)
        used += size
    return blocks


def _blocked(
    A, B, same: bool, kind: str, rows, scale: float, device, memory: int, progress: ProgressFn | None
) -> np.ndarray:
    m = len(rows) if rows is not None else np.shape(A[0])[0]
    widest = max(np.shape(X)[1] for X in (*A, *B))
    ops = _Ops(device, np.float64 if m * min(widest, m) <= SMALL else np.float32)
    out = np.zeros((len(A), len(B)))
    blocks_a, blocks_b = _blocks(A, kind, m, memory), (None if same else _blocks(B, kind, m, memory))
    total = len(A) * (len(A) + 1) // 2 if same else len(A) * len(B)
    done = 0
    prep = lambda X: _prepare(ops, X, kind, rows, scale)
    for bi, block_i in enumerate(blocks_a):
        held_i = {i: prep(A[i]) for i in block_i}
        for block_j in blocks_a[bi:] if same else blocks_b:
            held_j = held_i if block_j is block_i else {j: prep(B[j]) for j in block_j}
            for i in block_i:
                for j in block_j:
                    if same and j < i:
                        continue
                    a, b = held_i[i], held_j[j]
                    value = 1.0 if same and i == j and a[2] > 0 else _ratio(_cross(a, b), a[2], b[2])
                    out[i, j] = value
                    if same:
                        out[j, i] = value
                    done += 1
                report(progress, done, total, f"CKA ({kind})")
            del held_j
        del held_i
    return out


def _debiased(A, B, same: bool, batch_size: int, seed: int, device, progress) -> np.ndarray:
    """Nguyen et al.: Σ_batches HSIC₁(Kᵢ, Lᵢ) / sqrt(Σ HSIC₁(Kᵢ, Kᵢ) · Σ HSIC₁(Lᵢ, Lᵢ)), linear kernels."""
    n = np.shape(A[0])[0]
    order = np.random.default_rng(seed).permutation(n)
    count = max(1, -(-n // batch_size))  # batches of at most batch_size samples
    batches = [np.sort(b) for b in np.array_split(order, count) if len(b) >= 4]
    layers = list(A) if same else list(A) + list(B)
    L, top = len(layers), max(len(b) for b in batches)
    ops = _Ops(device, np.float32 if top * top * L > SMALL else np.float64)
    if ops.torch is None:
        grams = np.empty((L, top, top), dtype=ops.dtype)
    else:
        grams = ops.torch.empty((L, top, top), dtype=ops.tdtype, device=ops.device)
    H = np.zeros((L, L))
    for t, rows in enumerate(batches):
        b = len(rows)
        for l, X in enumerate(layers):  # each layer's b × b Gram, its diagonal zeroed (unbiased HSIC)
            Xb = ops.array(X, rows)
            K = grams[l, :b, :b]
            if ops.torch is None:
                np.matmul(Xb, Xb.T, out=K)
            else:
                ops.torch.matmul(Xb, Xb.T, out=K)
            ops.fill_diagonal_zero(K)
        F = grams[:, :b, :b].reshape(L, -1)
        tr = ops.host(F @ F.T)
        R64 = ops.host(grams[:, :b, :b].sum(2))
        s = R64.sum(1)
        H += (tr + np.outer(s, s) / ((b - 1) * (b - 2)) - 2.0 / (b - 2) * (R64 @ R64.T)) / (b * (b - 3))
        report(progress, t + 1, len(batches), "CKA (debiased minibatch)")
    d = np.sqrt(np.clip(np.diag(H), 0, None))
    la = len(A)
    rows_, cols_ = (slice(0, la), slice(0, la)) if same else (slice(0, la), slice(la, None))
    denom = np.outer(d[rows_], d[cols_])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom > 0, H[rows_, cols_] / denom, 0.0)
    return np.clip(out, -1.0, 1.0)


def cka(X: ArrayLike, Y: ArrayLike, metric: str = "linear", **options) -> float:
    """CKA of one pair under ``metric`` (see :func:`cka_matrix` for the options)."""
    return float(cka_matrix([X], [Y], metric=metric, **options)[0, 0])


__all__ = [
    "METRICS",
    "center",
    "cka",
    "cka_matrix",
    "gram_rbf",
    "hsic_unbiased",
    "linear_cka",
    "median_distance",
    "minibatch_cka",
    "rbf_cka",
    "resolve_device",
]
