"""Cosine nearest neighbours: the k-NN graph of a dataset, and similar-sample queries.

The graph (each sample's k nearest others, by cosine distance in the original space)
is built once — exactly for small data, with an inverted-file index (faiss ``IndexIVFFlat``,
inner product over unit rows) for large data — and then answers "which samples are like this
one" by a table lookup. The index was picked with ``python -m bench.similar`` (BENCHMARKS.md):
on 100,000 × 512 it gives the all-points graph and the queries at recall@15 ≥ 0.95 and ≥ 10×
scikit-learn's brute force on both structured and full-rank data, where pynndescent's graph
stopped near 0.87 and HNSW's graph fell under 10× on the hard data. The index checks its own
recall: it measures it against exact answers for a few hundred rows and widens its search
(``nprobe``) until :data:`TARGET_RECALL` (0.96) is reached, so the recall holds on the data at hand.
A query for an arbitrary vector (e.g. the mean of a selection) is exact (:func:`similar_to`)
below :data:`QUERY_INDEX_FROM` rows and goes through the index above when one is built.
"""

from __future__ import annotations

import os

import numpy as np

from .progress import ProgressFn, report

EXACT_BELOW = 4096  # below this many samples the exact graph is cheaper than building an index
TARGET_RECALL = 0.96  # recall@k the index tunes itself to on a sample of rows (0.95 asked, a margin for sampling)
TUNE_ROWS = 500  # rows whose exact neighbours the tuning compares with (recall's standard error ≈ 0.003 there)
NPROBES = (8, 12, 16, 20, 24, 28, 32, 40, 48, 64, 96, 128)  # inverted lists searched per query, tried in order
TRAIN_PER_LIST = 40  # k-means trains on at most this many rows per list (faiss asks for ≥ 39)
#: a similar-sample query goes through an index (when one is built) only from this many rows: below it the
#: exact matrix–vector product answers in a few milliseconds
QUERY_INDEX_FROM = 50_000
INDEX_EXCLUDE_MAX = 256  # a larger selection is left out of the answer exactly (the index would need k + its size)


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32); an all-zero row stays zero (distance 1 to everything)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def _check_k(k: int, n: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer (got {k!r})")
    if k >= n:
        raise ValueError(f"k must be less than the number of samples (got k={k} for {n} samples)")
    return int(k)


def check_vectors(X: np.ndarray, what: str = "X") -> np.ndarray:
    """``X`` as a 2-D float array with at least one row and only finite values, or a ``ValueError`` that says
    which rows are bad."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what} must be 2-D (samples × dimensions), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {X.shape}): nearest neighbours need at least one sample")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{what} must hold real numbers (got dtype {X.dtype})")
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"{what} has NaN or infinite values in {len(rows):,} row(s) (first: {', '.join(map(str, rows[:5]))}); "
            "drop or fix them before searching for neighbours"
        )
    return X


def _threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _exact_top(U: np.ndarray, Q: np.ndarray, k: int, skip: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` rows of unit ``U`` nearest each unit query, ``skip[i]`` left out of row i."""
    sim = Q @ U.T
    if skip is not None:
        sim[np.arange(len(Q)), skip] = -np.inf
    return np.argpartition(-sim, k - 1, axis=1)[:, :k]


class CosineIndex:
    """An approximate cosine index (faiss ``IndexIVFFlat`` over unit rows, inner product) with exact-style
    answers: ``query`` returns (indices int64, cosine distances float32 ≥ 0), nearest first.

    Built with k-means into about 4·√n inverted lists (seeded); ``nprobe``, the lists searched per query, is
    tuned at build time to reach :data:`TARGET_RECALL` for ``k`` neighbours on :data:`TUNE_ROWS` sample rows
    (``recall`` holds what it measured).
    """

    def __init__(self, U: np.ndarray, *, k: int = 15, seed: int = 0, threads: int | None = None):
        import faiss

        U = np.ascontiguousarray(U, dtype=np.float32)
        self.n, self.dim = U.shape
        self.threads = threads or _threads()
        nlist = max(1, int(min(4 * np.sqrt(self.n), self.n // 39)))  # faiss wants ≥ 39 training points per list
        with self._faiss_threads():
            quantizer = faiss.IndexFlatIP(self.dim)
            self._index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            self._index.cp.seed = int(seed)
            rng = np.random.default_rng(seed)
            train = (
                U if self.n <= TRAIN_PER_LIST * nlist else U[rng.choice(self.n, TRAIN_PER_LIST * nlist, replace=False)]
            )
            self._index.train(train)
            self._index.add(U)
        self.nlist = nlist
        self.nprobe, self.recall = self._tune(U, min(int(k), self.n - 1), seed)

    def _faiss_threads(self):
        import contextlib

        import faiss

        @contextlib.contextmanager
        def limited():
            before = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(self.threads)
            try:
                yield
            finally:
                faiss.omp_set_num_threads(before)

        return limited()

    def _tune(self, U: np.ndarray, k: int, seed: int) -> tuple[int, float]:
        """The smallest ``nprobe`` whose recall@k on sample rows (self left out) reaches the target."""
        if k < 1:
            return self.nlist, 1.0
        rows = np.random.default_rng(seed).choice(self.n, size=min(TUNE_ROWS, self.n), replace=False)
        truth = _exact_top(U, U[rows], k, skip=rows)
        recall = 0.0
        for nprobe in [p for p in NPROBES if p < self.nlist] + [self.nlist]:
            self._index.nprobe = nprobe
            with self._faiss_threads():
                _, found = self._index.search(U[rows], k + 1)
            recall = float(
                np.mean(
                    [
                        len(set(f[(f != r) & (f >= 0)][:k].tolist()) & set(t.tolist())) / k
                        for f, t, r in zip(found, truth, rows)
                    ]
                )
            )
            if recall >= TARGET_RECALL:
                return nprobe, recall
        return self.nlist, recall  # every list: exact

    def query(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` indexed rows nearest (cosine) each row of ``Q`` (normalised here), nearest first; an index
        of -1 (distance inf) where fewer than ``k`` were found."""
        k = _check_k(k, self.n + 1)
        Q = check_vectors(np.atleast_2d(Q), "queries")
        if Q.shape[1] != self.dim:
            raise ValueError(f"queries have {Q.shape[1]} dimensions, the index has {self.dim}")
        self._index.nprobe = self.nprobe
        with self._faiss_threads():
            sim, idx = self._index.search(np.ascontiguousarray(unit_rows(Q)), k)
        idx = idx.astype(np.int64)
        dist = np.where(idx >= 0, np.maximum(1.0 - sim, 0.0), np.inf).astype(np.float32)
        return idx, dist


def knn_graph(
    X: np.ndarray, k: int, *, exact_below: int = EXACT_BELOW, seed: int = 0, progress: ProgressFn | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows by cosine distance, nearest first.

    Returns ``(indices, distances)``, both n×k; a sample is never its own neighbour.
    Exact (chunked matrix products) when ``n < exact_below``; otherwise an inverted-file index
    (:class:`CosineIndex`, self-tuned to recall@k ≥ :data:`TARGET_RECALL`) queried for every row.
    """
    X = check_vectors(X)
    n = X.shape[0]
    k = _check_k(k, n)
    U = unit_rows(X)
    if n < exact_below:
        idx = np.empty((n, k), dtype=np.int64)
        dist = np.empty((n, k), dtype=np.float32)
        step = max(1, 2_000_000 // max(1, n))
        for start in range(0, n, step):
            stop = min(n, start + step)
            d = 1.0 - U[start:stop] @ U.T
            d[np.arange(stop - start), np.arange(start, stop)] = np.inf
            part = np.argpartition(d, k, axis=1)[:, :k]
            pd = np.take_along_axis(d, part, axis=1)
            order = np.argsort(pd, axis=1, kind="stable")
            idx[start:stop] = np.take_along_axis(part, order, axis=1)
            dist[start:stop] = np.take_along_axis(pd, order, axis=1)
            report(progress, stop, n, "nearest neighbours (exact)")
        return idx, np.maximum(dist, 0.0)

    report(progress, 0, 1, "nearest neighbours (building the index)")
    index = CosineIndex(U, k=k, seed=seed)
    idx = np.empty((n, k + 1), dtype=np.int64)
    dist = np.empty((n, k + 1), dtype=np.float32)
    step = max(1000, n // 20)
    for start in range(0, n, step):  # in slices, so progress moves and Cancel is heard
        stop = min(n, start + step)
        idx[start:stop], dist[start:stop] = index.query(U[start:stop], k + 1)
        report(progress, 0.3 + 0.7 * stop / n, 1, f"nearest neighbours (index, recall@{k} ≈ {index.recall:.2f})")
    holes = np.flatnonzero((idx < 0).any(axis=1))  # a row whose probed lists held fewer than k + 1: exact
    for start in range(0, len(holes), 1024):
        rows = holes[start : start + 1024]
        top = _exact_top(U, U[rows], k + 1)
        d = 1.0 - np.einsum("rd,rkd->rk", U[rows], U[top])
        order = np.argsort(d, axis=1, kind="stable")
        idx[rows], dist[rows] = np.take_along_axis(top, order, axis=1), np.take_along_axis(d, order, axis=1)
    idx, dist = _drop_self(idx, dist, k)
    return idx, np.maximum(dist, 0.0)


def _drop_self(nbr: np.ndarray, d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index (or, if absent, its farthest entry) so k others remain."""
    n = nbr.shape[0]
    is_self = nbr == np.arange(n)[:, None]
    is_self[~is_self.any(axis=1), -1] = True  # self not found: drop the farthest instead
    first = is_self.argmax(axis=1)
    keep = np.ones_like(is_self)
    keep[np.arange(n), first] = False
    idx = nbr[keep].reshape(n, -1)[:, :k]
    dist = d[keep].reshape(n, -1)[:, :k]
    # NN-descent can leave -1 holes for isolated points; fill them with the row's last valid entry
    bad = idx < 0
    if bad.any():
        idx[bad] = np.broadcast_to(idx[:, :1], idx.shape)[bad]
        dist[bad] = np.inf
    return idx.astype(np.int64), dist


def similar_to(
    U: np.ndarray,
    queries: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
    *,
    index: CosineIndex | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of unit matrix ``U`` nearest (cosine) to the mean direction of ``queries``.

    ``queries`` is one vector or several (a selection: their normalised mean is used);
    rows in ``exclude`` (e.g. the selection itself) are skipped. Exact, unless ``index`` (a
    :class:`CosineIndex` over the same rows) is given and at most :data:`INDEX_EXCLUDE_MAX` rows are
    excluded: then the index answers (recall@15 ≥ 0.95, under a millisecond). Returns
    ``(indices, distances)`` sorted nearest first.
    """
    q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    if q.shape[1] != U.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions, the index has {U.shape[1]}")
    centre = unit_rows(unit_rows(q).mean(axis=0, keepdims=True))[0]
    skip = np.unique(np.asarray(exclude, dtype=np.int64)) if exclude is not None and len(exclude) else None
    if index is not None and index.n == len(U) and np.isfinite(centre).all():
        n_skip = 0 if skip is None else len(skip)
        want = min(int(k) + n_skip, index.n)
        if n_skip <= INDEX_EXCLUDE_MAX and want >= 1:
            idx, d = index.query(centre[None, :], want)
            idx, d = idx[0], d[0]
            keep = idx >= 0
            if skip is not None:
                keep &= ~np.isin(idx, skip)
            idx, d = idx[keep], d[keep]
            if len(idx) >= min(int(k), index.n - n_skip):
                return idx[: int(k)], d[: int(k)]
    d = 1.0 - U @ centre
    if skip is not None:
        d[skip] = np.inf
    k = int(min(k, np.isfinite(d).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    part = np.argpartition(d, k - 1)[:k]
    order = part[np.argsort(d[part], kind="stable")]
    return order.astype(np.int64), np.maximum(d[order], 0.0).astype(np.float32)
