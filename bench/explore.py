"""Explore at scale: import + PCA-50 + UMAP + neighbour graph on synthetic clustered vectors,
and the time to answer a similar-samples query against brute-force scikit-learn in the same run.

    python -m bench.explore                 # 100,000 × 512 (minutes on 2 cores)
    python -m bench.explore --n 5000 --dim 64 --queries 50   # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def clustered_vectors(n: int, dim: int, clusters: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around random centres (ReLU-like: non-negative, as penultimate layers are)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32) * 2.0
    labels = rng.integers(0, clusters, size=n)
    X = centres[labels] + rng.normal(size=(n, dim)).astype(np.float32)
    return np.maximum(X, 0.0).astype(np.float32), labels.astype(np.int64)


def percentiles(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)) * 1e3, float(np.percentile(times, 95)) * 1e3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.explore")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--k", type=int, default=15)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from sklearn.neighbors import NearestNeighbors

    from models import datasets
    from models.neighbors import knn_graph, similar_to, unit_rows
    from models.studies.explore_engine import embed, reduce

    print(
        f"machine: {platform.platform()} · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} cores · numpy {np.__version__}"
    )
    t = time.perf_counter()  # numba compiles UMAP's and NN-descent's kernels once per process: not counted
    Xw, _ = clustered_vectors(600, 16, seed=1)
    embed(Xw, "umap", seed=0)
    knn_graph(Xw, 5, exact_below=0)
    print(f"warm-up (numba compilation, not counted): {time.perf_counter() - t:.1f} s")
    X, labels = clustered_vectors(args.n, args.dim, seed=args.seed)
    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "emb.npz", features=X, labels=labels)
        t = time.perf_counter()
        ds = datasets.load("arrays:emb.npz", data_dir=tmp, normalize=False)
        stages["import"] = time.perf_counter() - t
    t = time.perf_counter()
    reduced, dims = reduce(ds.features, 50, args.seed)
    stages[f"pca-{dims}"] = time.perf_counter() - t
    t = time.perf_counter()
    coords = embed(reduced, "umap", seed=args.seed)
    stages["umap"] = time.perf_counter() - t
    t = time.perf_counter()
    nbr, dist = knn_graph(ds.features, args.k, seed=args.seed)
    stages["neighbour graph"] = time.perf_counter() - t
    U = unit_rows(ds.features)
    total = sum(stages.values())
    print(
        f"{args.n:,} × {args.dim}: "
        + " · ".join(f"{k} {v:.1f} s" for k, v in stages.items())
        + f" · total {total:.1f} s"
    )
    assert coords.shape == (args.n, 2)

    rng = np.random.default_rng(1)
    picks = rng.choice(args.n, size=args.queries, replace=False)
    brute = NearestNeighbors(n_neighbors=args.k + 1, metric="cosine", algorithm="brute").fit(ds.features)
    ours_lookup, ours_query, theirs = [], [], []
    agree, ratio = [], []
    for i in picks:
        t = time.perf_counter()
        idx, d = nbr[i], dist[i]
        ours_lookup.append(time.perf_counter() - t)
        t = time.perf_counter()
        q_idx, _ = similar_to(U, ds.features[i], args.k + 1)
        ours_query.append(time.perf_counter() - t)
        t = time.perf_counter()
        _, b_idx = brute.kneighbors(ds.features[i : i + 1])
        theirs.append(time.perf_counter() - t)
        exact = [j for j in b_idx[0].tolist() if j != int(i)][: args.k]
        agree.append(len(set(idx.tolist()) & set(exact)) / max(1, len(exact)))
        exact_d = 1.0 - U[exact] @ U[i]
        ratio.append(float(np.mean(d) / max(np.mean(exact_d), 1e-12)))
    (l50, l95), (q50, q95), (b50, b95) = percentiles(ours_lookup), percentiles(ours_query), percentiles(theirs)
    print(f"similar-samples query ({args.queries} queries, k={args.k}):")
    print(f"  sklearn NearestNeighbors brute cosine: p50 {b50:.2f} ms · p95 {b95:.2f} ms")
    print(
        f"  ours, clicked sample (graph lookup):   p50 {l50 * 1e3:.1f} µs · p95 {l95 * 1e3:.1f} µs · "
        f"{b50 / max(l50, 1e-6):,.0f}× faster at p50 · recall@{args.k} vs exact {np.mean(agree):.3f} · "
        f"mean neighbour distance approx/exact {np.mean(ratio):.4f}"
    )
    print(
        f"  ours, click or selection (exact, as the tab answers):    p50 {q50:.2f} ms · p95 {q95:.2f} ms · "
        f"{b50 / q50:.1f}× faster at p50"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
