"""The projection study's path vs independent openTSNE / umap-learn runs per layer (issue 22).

Capture-sized data the benchmark makes (``--samples`` × ``--dims`` × ``--layers``, the made-up network of
:func:`bench.capture.layered`). Ours: each layer's k-NN graph computed ONCE (pynndescent,
:func:`models.projections.knn_graph.knn_graph`) and shared by t-SNE's affinities (openTSNE) and UMAP's
fuzzy graph (umap-learn), each layer started from the previous layer's map (the warm schedule) — what
``python -m models.studies.project`` runs. Peer: openTSNE's ``TSNE().fit`` and umap-learn's
``UMAP().fit_transform`` on each layer on their own (each builds its own neighbours), in the same process.
Prints seconds, the speed ratio (target ≥ 1.5×) and t-SNE's KL per layer (target: ours within 2 %).

    python -m bench.project [--samples 70000] [--layers 6] [--dims 64] [--jobs 1] [--methods tsne umap]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np

from bench.capture import layered
from models.projections.knn_graph import knn_graph
from models.studies import project_engine as engine
from models.studies.project import Config


def peer(arrays, methods, jobs: int) -> tuple[dict, list[float]]:
    import umap
    from openTSNE import TSNE

    seconds, kls = {m: 0.0 for m in methods}, []
    for X in arrays:
        if "tsne" in methods:
            t0 = time.perf_counter()
            emb = TSNE(n_jobs=jobs, random_state=0, verbose=False).fit(X)
            seconds["tsne"] += time.perf_counter() - t0
            kls.append(float(emb.kl_divergence))
        if "umap" in methods:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                umap.UMAP(random_state=0).fit_transform(X)
            seconds["umap"] += time.perf_counter() - t0
    return seconds, kls


def ours(arrays, methods, jobs: int) -> tuple[dict, list[float]]:
    config = Config(run="bench", n_jobs=jobs)
    k = int(3 * config.perplexity) if "tsne" in methods else config.n_neighbors
    seconds, kls, previous = {"knn": 0.0, **{m: 0.0 for m in methods}}, [], {m: None for m in methods}
    for X in arrays:
        t0 = time.perf_counter()
        graph = knn_graph(X, k, n_jobs=jobs)  # once per layer, for both methods
        seconds["knn"] += time.perf_counter() - t0
        if "tsne" in methods:
            t0 = time.perf_counter()
            previous["tsne"], kl, _ = engine._tsne(X, graph, previous["tsne"], config, None)
            seconds["tsne"] += time.perf_counter() - t0
            kls.append(kl)
        if "umap" in methods:
            t0 = time.perf_counter()
            previous["umap"] = engine._umap(X, graph, previous["umap"], config)
            seconds["umap"] += time.perf_counter() - t0
    return seconds, kls


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=70_000)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--dims", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=1, help="threads for the k-NN graph, openTSNE and UMAP")
    parser.add_argument("--methods", nargs="+", default=["tsne", "umap"], choices=["tsne", "umap"])
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {args.samples:,} samples × {args.dims} dims × {args.layers} "
        f"layers; {', '.join(args.methods)}; {args.jobs} thread(s)"
    )
    arrays = layered(args.samples, args.layers, dim=args.dims)
    # warm numba (pynndescent, umap) on a small array first so neither side pays the compilation
    small = [arrays[0][:600]]
    warm = [m for m in args.methods if m == "umap"]  # t-SNE (openTSNE) compiles nothing; UMAP/pynndescent do
    if warm:
        ours(small, warm, args.jobs), peer(small, warm, args.jobs)
    knn_graph(np.repeat(small[0], 8, axis=0)[:4800] + 0.01, 15)  # pynndescent's own path (above EXACT_BELOW)
    t0 = time.perf_counter()
    s_peer, kl_peer = peer(arrays, args.methods, args.jobs)
    t_peer = time.perf_counter() - t0
    t0 = time.perf_counter()
    s_ours, kl_ours = ours(arrays, args.methods, args.jobs)
    t_ours = time.perf_counter() - t0
    print(f"  independent (peer) {t_peer:8.1f} s  " + "  ".join(f"{k} {v:.1f}" for k, v in s_peer.items()))
    print(f"  shared graph+chain {t_ours:8.1f} s  " + "  ".join(f"{k} {v:.1f}" for k, v in s_ours.items()))
    print(f"  speed-up {t_peer / t_ours:.2f}× (target ≥ 1.5×)")
    if kl_peer:
        diff = 100 * (np.array(kl_ours) - np.array(kl_peer)) / np.array(kl_peer)
        print(
            f"  t-SNE KL per layer: peer {np.round(kl_peer, 3).tolist()}  ours {np.round(kl_ours, 3).tolist()}  "
            f"mean {diff.mean():+.2f} % (worst {diff.max():+.2f} %, target within 2 %)"
        )
    print(f"  load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
