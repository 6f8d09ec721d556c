"""Similar samples at scale: which nearest-neighbour index Explore should use, measured side by side.

Explore asks three things of a cosine neighbour search over N × D vectors: the 15 samples most like a
clicked sample, the 15 most like an arbitrary vector (a selection's mean direction), and the all-points
k-NN graph its mistake/outlier scores and its UMAP map are built from. This benchmark makes data with
real structure (a Gaussian mixture whose clusters live on low-dimensional subspaces, plus isotropic
noise, ReLU-clipped like a penultimate layer; ``--data isotropic`` gives the older, harder full-rank
blobs of bench/explore.py), computes the exact answers, and for every candidate measures build time,
query time (one click, a batch of 1,000), the all-points graph, recall@15 against exact cosine, and
the index's size — each against scikit-learn's ``NearestNeighbors(metric="cosine", algorithm="brute")``
run in the same process. Each approximate index is tuned: its search breadth is swept on the sample
queries and the smallest setting with recall@15 ≥ 0.95 on both query kinds is kept for the graph.

    python -m bench.similar                          # 100,000 × 512, 2 threads (minutes)
    python -m bench.similar --n 20000 --dim 128      # a quick look

Candidates not installed are skipped with a note (pynndescent comes with umap-learn; hnswlib, faiss-cpu
and usearch are ``pip install``-able). Brute-force graph times (scikit-learn's and exact BLAS) are
measured on 1,000 rows and scaled to N (brute force is linear in the number of query rows); say so.
"""

from __future__ import annotations

import os

THREADS = os.environ.setdefault("BENCH_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

TARGET = 0.95
HNSW_BREADTHS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)  # ef / efSearch / expansion_search swept


# -- data ------------------------------------------------------------------------------------
def structured_vectors(
    n: int, dim: int, *, clusters: int = 50, intrinsic: int = 12, noise: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A mixture of ``clusters`` Gaussians, each spread along its own ``intrinsic``-dimensional subspace
    (unit variance per direction) around a random centre, plus isotropic noise of std ``noise`` per
    coordinate, ReLU-clipped (penultimate layers are non-negative). Returns (float32 N × D, labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32) * 0.6
    bases = np.linalg.qr(rng.normal(size=(clusters, dim, intrinsic)))[0].transpose(0, 2, 1).astype(np.float32)
    scales = rng.uniform(0.5, 1.5, size=(clusters, intrinsic)).astype(np.float32)
    labels = rng.integers(0, clusters, size=n)
    X = np.empty((n, dim), dtype=np.float32)
    for c in range(clusters):
        rows = np.flatnonzero(labels == c)
        z = rng.normal(size=(len(rows), intrinsic)).astype(np.float32) * scales[c]
        X[rows] = centres[c] + z @ bases[c] + noise * rng.normal(size=(len(rows), dim)).astype(np.float32)
    return np.maximum(X, 0.0), labels.astype(np.int64)


def isotropic_vectors(n: int, dim: int, clusters: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """bench/explore.py's data: full-rank Gaussian blobs (unit noise in every direction), ReLU-clipped."""
    from bench.explore import clustered_vectors

    return clustered_vectors(n, dim, clusters, seed)


# -- exact answers ---------------------------------------------------------------------------
def exact_topk(U: np.ndarray, Q: np.ndarray, k: int, skip: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` rows of unit ``U`` nearest each unit query (cosine), ``skip[i]`` left out."""
    out = np.empty((len(Q), k), dtype=np.int64)
    for s in range(0, len(Q), 256):
        sim = Q[s : s + 256] @ U.T
        if skip is not None:
            sim[np.arange(len(sim)), skip[s : s + 256]] = -np.inf
        part = np.argpartition(-sim, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sim, part, axis=1), axis=1, kind="stable")
        out[s : s + 256] = np.take_along_axis(part, order, axis=1)
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(f[f >= 0].tolist()) & set(t.tolist())) / k for f, t in zip(found, truth)]))


def drop_self(found: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Each row's answer without the row itself (or without its last entry when it is absent)."""
    out = np.empty((len(found), k), dtype=np.int64)
    for i, (f, r) in enumerate(zip(found, rows)):
        f = f[f != r]
        out[i] = f[:k] if len(f) >= k else np.pad(f, (0, k - len(f)), constant_values=-1)
    return out


# -- candidates ------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    params: str
    build: float = float("nan")
    single_ms: float = float("nan")
    batch: float = float("nan")
    graph: float = float("nan")
    recall_sample: float = float("nan")
    recall_vector: float = float("nan")
    recall_graph: float = float("nan")
    nbytes: int = 0
    notes: list[str] = field(default_factory=list)


def _timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def _single_ms(search, Q: np.ndarray, reps: int) -> float:
    times = []
    for q in Q[:reps]:
        t = time.perf_counter()
        search(q[None, :])
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3


class Bench:
    def __init__(self, X, U, k, rows, vectors, truth_sample, truth_vector, threads, single_reps):
        self.X, self.U, self.k, self.rows, self.vectors = X, U, k, rows, vectors
        self.truth_sample, self.truth_vector = truth_sample, truth_vector
        self.threads, self.single_reps = threads, single_reps
        self.n = len(U)
        self.tune_on_vectors = True

    def tune(self, name, params, build, set_breadth, search, breadths, graph_search=None) -> Result:
        """Build, sweep the search breadth on the sample and vector queries, keep the smallest that reaches
        the target on both (else the widest), then the all-points graph at that breadth."""
        gc.collect()
        index, t_build = _timed(build)
        res = Result(name, params, build=t_build)
        chosen = None
        for b in breadths:
            set_breadth(index, b)
            found, t_batch = _timed(search, index, self.U[self.rows], self.k + 1)
            rs = recall(drop_self(found, self.rows, self.k), self.truth_sample)
            rv = recall(search(index, self.vectors, self.k), self.truth_vector)
            print(f"    {name} {params} breadth {b}: recall sample {rs:.3f} · vector {rv:.3f} · batch {t_batch:.2f} s")
            chosen = (b, rs, rv, t_batch)
            if rs >= TARGET and (rv >= TARGET or not self.tune_on_vectors):
                break
        b, res.recall_sample, res.recall_vector, res.batch = chosen
        set_breadth(index, b)
        res.params = f"{params}, breadth {b}"
        res.single_ms = _single_ms(
            lambda q: search(index, q, self.k + 1, threads=1), self.U[self.rows], self.single_reps
        )
        if graph_search is None:  # all-points graph: every row queried, self dropped
            found, t_graph = _timed(search, index, self.U, self.k + 1)
            graph_rows = found[self.rows]
        else:
            graph_rows, t_graph = graph_search(index)
            graph_rows = graph_rows[self.rows]
        res.graph = t_build + t_graph
        res.recall_graph = recall(drop_self(graph_rows, self.rows, self.k), self.truth_sample)
        res.nbytes = self.size_of(index)
        index = None  # freed before the next candidate builds
        gc.collect()
        return res

    size_of = staticmethod(lambda index: 0)


def run_sklearn(b: Bench) -> Result:
    from sklearn.neighbors import NearestNeighbors

    nn, t_build = _timed(lambda: NearestNeighbors(n_neighbors=b.k + 1, metric="cosine", algorithm="brute").fit(b.X))
    res = Result("sklearn brute", 'metric="cosine", algorithm="brute"', build=t_build)
    res.single_ms = _single_ms(lambda q: nn.kneighbors(q), b.X[b.rows], min(b.single_reps, 20))
    (_, found), res.batch = _timed(nn.kneighbors, b.X[b.rows])
    res.recall_sample = recall(drop_self(found, b.rows, b.k), b.truth_sample)
    res.recall_vector = recall(nn.kneighbors(b.vectors, n_neighbors=b.k)[1], b.truth_vector)
    res.graph = t_build + res.batch * b.n / len(b.rows)
    res.recall_graph = res.recall_sample
    res.nbytes = b.X.nbytes
    res.notes.append(f"graph = batch time × N/{len(b.rows):,} (brute force is linear in rows)")
    return res


def run_exact(b: Bench) -> Result:
    from models.neighbors import similar_to, unit_rows

    U, t_build = _timed(unit_rows, b.X)
    res = Result("exact BLAS (ours)", "float32 unit rows, matrix product + argpartition", build=t_build)
    res.single_ms = _single_ms(lambda q: similar_to(U, q[0], b.k + 1), b.X[b.rows], b.single_reps)
    found, res.batch = _timed(exact_topk, U, U[b.rows], b.k + 1)
    res.recall_sample = recall(drop_self(found, b.rows, b.k), b.truth_sample)
    res.recall_vector = recall(exact_topk(U, b.vectors, b.k), b.truth_vector)
    res.graph = t_build + res.batch * b.n / len(b.rows)
    res.recall_graph = res.recall_sample
    res.nbytes = U.nbytes
    res.notes.append(f"graph = batch time × N/{len(b.rows):,}")
    return res


def run_pynndescent(b: Bench, n_neighbors: int = 30, diversify: float = 1.0) -> Result:
    from pynndescent import NNDescent

    def build():
        index = NNDescent(
            b.U,
            metric="cosine",
            n_neighbors=n_neighbors,
            random_state=0,
            n_jobs=b.threads,
            low_memory=True,
            diversify_prob=diversify,
            compressed=False,
        )
        return index

    state = {}

    def set_breadth(index, eps):
        state["eps"] = eps

    def search(index, Q, k, threads=None):
        if not state.get("prepared"):
            index.prepare()
            state["prepared"] = True
        return index.query(Q, k=k, epsilon=state["eps"])[0]

    def graph(index):
        return index.neighbor_graph[0], 0.0

    def size_of(index):
        g = index._search_graph
        return int(
            index._raw_data.nbytes
            + g.data.nbytes
            + g.indices.nbytes
            + g.indptr.nbytes
            + index._neighbor_graph[0].nbytes
            + index._neighbor_graph[1].nbytes
        )

    b.size_of = size_of
    res = b.tune(
        "pynndescent",
        f"n_neighbors {n_neighbors}, diversify_prob {diversify}",
        build,
        set_breadth,
        search,
        (0.1, 0.2, 0.3, 0.4, 0.6),
        graph_search=graph,
    )
    res.notes.append("graph = its NN-descent graph (no queries); breadth = query epsilon; prepare() timed in batch")
    return res


def run_hnswlib(b: Bench, M: int = 16, ef_construction: int = 100) -> Result:
    import hnswlib

    def build():
        index = hnswlib.Index(space="ip", dim=b.U.shape[1])  # unit rows: inner product = 1 - cosine distance
        index.init_index(max_elements=b.n, M=M, ef_construction=ef_construction, random_seed=0)
        index.set_num_threads(b.threads)
        index.add_items(b.U, np.arange(b.n), num_threads=b.threads)
        return index

    def search(index, Q, k, threads=None):
        return index.knn_query(Q, k=k, num_threads=threads or b.threads)[0].astype(np.int64)

    def size_of(index):
        with tempfile.TemporaryDirectory() as tmp:
            index.save_index(str(Path(tmp) / "i"))
            return (Path(tmp) / "i").stat().st_size

    b.size_of = size_of
    return b.tune(
        "hnswlib", f"M {M}, ef_construction {ef_construction}", build, lambda i, ef: i.set_ef(ef), search, HNSW_BREADTHS
    )


def _faiss_search(b: Bench):
    """A faiss index's top-k ids for ``Q``, on ``threads`` (default the bench's) and back to the bench's after."""
    import faiss

    def search(index, Q, k, threads=None):
        faiss.omp_set_num_threads(threads or b.threads)
        out = index.search(np.ascontiguousarray(Q, dtype=np.float32), k)[1]
        faiss.omp_set_num_threads(b.threads)
        return out

    return search


def run_faiss_hnsw(b: Bench, M: int = 16, ef_construction: int = 100) -> Result:
    import faiss

    faiss.omp_set_num_threads(b.threads)

    def build():
        index = faiss.IndexHNSWFlat(b.U.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.add(b.U)
        return index

    search = _faiss_search(b)

    def set_ef(index, ef):
        index.hnsw.efSearch = ef

    b.size_of = lambda index: int(faiss.serialize_index(index).size)
    return b.tune("faiss HNSWFlat", f"M {M}, efConstruction {ef_construction}", build, set_ef, search, HNSW_BREADTHS)


def run_faiss_ivf(b: Bench, nlist: int | None = None) -> Result:
    import faiss

    faiss.omp_set_num_threads(b.threads)
    nlist = nlist or int(4 * np.sqrt(b.n))

    def build():
        quantizer = faiss.IndexFlatIP(b.U.shape[1])
        index = faiss.IndexIVFFlat(quantizer, b.U.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        train = b.U[np.random.default_rng(0).choice(b.n, size=min(b.n, 40 * nlist), replace=False)]
        index.train(train)
        index.add(b.U)
        return index

    search = _faiss_search(b)

    def set_nprobe(index, p):
        index.nprobe = p

    b.size_of = lambda index: int(faiss.serialize_index(index).size)
    return b.tune("faiss IVFFlat", f"nlist {nlist}", build, set_nprobe, search, (4, 8, 16, 24, 32, 48, 64, 96, 128))


def run_faiss_flat(b: Bench) -> Result:
    import faiss

    faiss.omp_set_num_threads(b.threads)

    def build():
        index = faiss.IndexFlatIP(b.U.shape[1])
        index.add(b.U)
        return index

    def search(index, Q, k, threads=None):
        return index.search(np.ascontiguousarray(Q, dtype=np.float32), k)[1]

    b.size_of = lambda index: int(b.U.nbytes)
    res = Result("faiss IndexFlatIP", "exact")
    index, res.build = _timed(build)
    res.single_ms = _single_ms(lambda q: search(index, q, b.k + 1), b.U[b.rows], b.single_reps)
    found, res.batch = _timed(search, index, b.U[b.rows], b.k + 1)
    res.recall_sample = recall(drop_self(found, b.rows, b.k), b.truth_sample)
    res.recall_vector = recall(search(index, b.vectors, b.k), b.truth_vector)
    res.graph = res.build + res.batch * b.n / len(b.rows)
    res.recall_graph = res.recall_sample
    res.nbytes = b.U.nbytes
    res.notes.append(f"graph = batch time × N/{len(b.rows):,}")
    return res


def run_usearch(b: Bench, connectivity: int = 16, expansion_add: int = 128, dtype: str = "f32") -> Result:
    from usearch.index import Index

    def build():
        index = Index(
            ndim=b.U.shape[1], metric="cos", dtype=dtype, connectivity=connectivity, expansion_add=expansion_add
        )
        index.add(np.arange(b.n), b.U, threads=b.threads)
        return index

    def search(index, Q, k, threads=None):
        m = index.search(np.ascontiguousarray(Q, dtype=np.float32), k, threads=threads or b.threads)
        keys = np.asarray(m.keys).reshape(len(Q), -1).astype(np.int64)
        counts = np.asarray(m.counts if hasattr(m, "counts") else [len(m.keys)]).reshape(-1)
        keys[np.arange(keys.shape[1])[None, :] >= counts[:, None]] = -1
        return keys

    def set_exp(index, e):
        index.expansion_search = e

    b.size_of = lambda index: int(index.memory_usage)
    return b.tune(
        "usearch",
        f"connectivity {connectivity}, expansion_add {expansion_add}, {dtype}",
        build,
        set_exp,
        search,
        HNSW_BREADTHS,
    )


def first_map(X: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
    """Explore's time to the first map, before and after sharing one graph, same data, same process.

    Before (the previous pipeline): pynndescent's cosine graph (30-neighbour search graph) for the scores, then
    UMAP on the PCA-50 vectors searching its own neighbours. After: ``explore_engine.analyse`` as Explore runs it
    (HNSW graph once, UMAP from it). Numba compilation is warmed up first, not counted."""
    import warnings

    from pynndescent import NNDescent

    from models.datasets import Dataset
    from models.studies.explore_engine import PCA_DIMS, analyse, embed, reduce

    warm, wl = structured_vectors(4500, 16, seed=9)  # above UMAP's 4,096: its NN-descent path compiles too
    t = time.perf_counter()
    embed(warm, "umap", seed=seed)
    analyse(Dataset("warm", warm, wl % 10, [str(c) for c in range(10)]), method="umap", k=15, exact_below=0)
    _ = NNDescent(warm, metric="cosine", n_neighbors=30, low_memory=True, compressed=True).neighbor_graph
    print(f"first map: warm-up (numba compilation, not counted) {time.perf_counter() - t:.1f} s")
    ds = Dataset("bench", X, labels % 10, [str(c) for c in range(10)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        index = NNDescent(
            X, metric="cosine", n_neighbors=30, random_state=seed, low_memory=True, n_jobs=-1, compressed=True
        )
        _ = index.neighbor_graph
        t1 = time.perf_counter()
        reduced, _ = reduce(X, PCA_DIMS, seed)
        t2 = time.perf_counter()
        embed(reduced, "umap", seed=seed)
        t3 = time.perf_counter()
    before = {"neighbours": t1 - t0, "pca": t2 - t1, "umap": t3 - t2}
    print(
        f"first map, before: {t3 - t0:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in before.items())
        + "; scores and clusters not counted)"
    )
    t = time.perf_counter()
    arrays, meta = analyse(ds, method="umap", k=15, seed=seed)
    total = time.perf_counter() - t
    assert arrays["coords"].shape == (len(X), 2) and np.isfinite(arrays["coords"]).all()
    print(
        f"first map, after (explore_engine.analyse, everything): {total:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in meta["seconds"].items())
        + f") · before/after {(t3 - t0) / total:.2f}×"
    )


def run_ours(b: Bench) -> Result:
    """What Explore runs: models.neighbors.CosineIndex (faiss IVF-Flat, nprobe self-tuned to recall 0.96 on 500
    rows at build) for queries, and knn_graph (index build + every row queried) for the graph."""
    from models.neighbors import CosineIndex, knn_graph

    index, t_build = _timed(CosineIndex, b.U, k=b.k, threads=b.threads)
    res = Result("ours: CosineIndex / knn_graph", f"IVF-Flat nlist {index.nlist}, self-tuned nprobe {index.nprobe}")
    res.build = t_build
    res.single_ms = _single_ms(lambda q: index.query(q, b.k + 1), b.U[b.rows], b.single_reps)
    found, res.batch = _timed(lambda: index.query(b.U[b.rows], b.k + 1)[0])
    res.recall_sample = recall(drop_self(found, b.rows, b.k), b.truth_sample)
    res.recall_vector = recall(index.query(b.vectors, b.k)[0], b.truth_vector)
    res.nbytes = b.U.nbytes + index.nlist * b.U.shape[1] * 4 + b.n * 8
    index = None
    gc.collect()
    (graph, _), res.graph = _timed(knn_graph, b.X, b.k, exact_below=0)
    res.recall_graph = recall(graph[b.rows], b.truth_sample)
    res.notes.append("graph = knn_graph(X, k) end to end (its own index build, tuning and every row queried)")
    return res


CANDIDATES = {
    "exact": (None, run_exact),
    "pynndescent": ("pynndescent", run_pynndescent),
    "pynndescent-60": ("pynndescent", lambda b: run_pynndescent(b, n_neighbors=60)),
    "hnswlib": ("hnswlib", run_hnswlib),
    "hnswlib-32": ("hnswlib", lambda b: run_hnswlib(b, M=32, ef_construction=200)),
    "faiss-hnsw": ("faiss", run_faiss_hnsw),
    "faiss-ivf": ("faiss", run_faiss_ivf),
    "faiss-flat": ("faiss", run_faiss_flat),
    "usearch": ("usearch", run_usearch),
    "ours": ("faiss", run_ours),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.similar", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--k", type=int, default=15)
    p.add_argument("--queries", type=int, default=1000, help="sample queries and vector queries, each")
    p.add_argument("--single", type=int, default=100, help="one-at-a-time queries timed for the click latency")
    p.add_argument("--data", choices=("structured", "isotropic"), default="structured")
    p.add_argument("--only", nargs="*", choices=list(CANDIDATES), help="candidates to run (default: all)")
    p.add_argument(
        "--tune-on",
        choices=("both", "sample"),
        default="both",
        help="recall the breadth sweep must reach: on both query kinds, or on sample queries only (isotropic data: "
        "a cluster's mean direction is nearly equidistant from all its members, so its exact top 15 is near a tie)",
    )
    p.add_argument("--first-map", action="store_true", help="also time Explore's first map, before and after")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    threads = int(THREADS)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    import importlib.util

    from models.neighbors import unit_rows

    print(
        f"machine: {platform.platform()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores "
        f"({threads} threads used) · load average {' / '.join(f'{x:.2f}' for x in os.getloadavg())} · "
        f"numpy {np.__version__}"
    )
    make = structured_vectors if args.data == "structured" else isotropic_vectors
    X, labels = make(args.n, args.dim, seed=args.seed)
    U = unit_rows(X)
    rng = np.random.default_rng(args.seed + 1)
    rows = rng.choice(args.n, size=args.queries, replace=False)
    # arbitrary vectors: the mean direction of a "selection" — 5 random members of one cluster, as a lasso
    # around a group on the map would pick — which is what Explore asks for a selection
    by_label = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    picks = np.stack([rng.choice(by_label[labels[r]], size=5) for r in rng.choice(args.n, size=args.queries)])
    vectors = unit_rows(U[picks].mean(axis=1))
    truth_sample = exact_topk(U, U[rows], args.k, skip=rows)
    truth_vector = exact_topk(U, vectors, args.k)
    print(
        f"data: {args.data}, {args.n:,} × {args.dim} float32 · k = {args.k} · {args.queries:,} sample queries "
        f"and {args.queries:,} vector queries (the mean of 5 samples of one cluster) · cosine"
    )

    # numba compiles pynndescent's kernels once per process: warm up on small data, not counted
    if importlib.util.find_spec("pynndescent") and (
        not args.only or {"pynndescent", "pynndescent-60"} & set(args.only)
    ):
        t = time.perf_counter()
        from pynndescent import NNDescent

        w = NNDescent(
            U[:2000, :16].copy(),
            metric="cosine",
            n_neighbors=10,
            n_jobs=threads,
            low_memory=True,
            diversify_prob=1.0,
            compressed=False,
        )
        w.prepare()
        w.query(U[:5, :16].copy(), k=5, epsilon=0.1)
        print(f"warm-up (numba compilation, not counted): {time.perf_counter() - t:.1f} s")

    b = Bench(X, U, args.k, rows, vectors, truth_sample, truth_vector, threads, args.single)
    b.tune_on_vectors = args.tune_on == "both"
    results = [run_sklearn(b)]
    ref = results[0]
    for name, (module, fn) in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        if module and importlib.util.find_spec(module) is None:
            print(f"  {name}: skipped ({module} is not installed — pip install it to compare)")
            continue
        print(f"  running {name} …", flush=True)
        results.append(fn(b))
        print(f"  {name} done · load average {os.getloadavg()[0]:.2f}", flush=True)

    print(f"\nrecall@{args.k} vs exact cosine; speed-ups vs scikit-learn brute force in this run")
    head = (
        "| index | params | build s | click ms | ×sk | 1,000 queries s | ×sk | graph s | ×sk | "
        "recall sample | recall vector | recall graph | size MB |"
    )
    print(head)
    print("|" + "---|" * 13)
    for r in results:
        print(
            f"| {r.name} | {r.params} | {r.build:.2f} | {r.single_ms:.2f} | {ref.single_ms / r.single_ms:.1f}× | "
            f"{r.batch:.2f} | {ref.batch / r.batch:.1f}× | {r.graph:.1f} | {ref.graph / r.graph:.1f}× | "
            f"{r.recall_sample:.3f} | {r.recall_vector:.3f} | {r.recall_graph:.3f} | {r.nbytes / 2**20:.0f} |"
        )
    for r in results:
        for note in r.notes:
            print(f"  {r.name}: {note}")
    if args.first_map:
        del b
        first_map(X, labels, args.seed)
    print(
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB · load average at end "
        f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
