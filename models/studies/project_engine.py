"""The projection study's engine: every sample of a capture's layers to 2-D, one shared k-NN graph per layer.

Layers go in network order, each started from the previous layer's map (the warm schedule of
:data:`models.projections.chain.WARM`). A layer's k-NN graph (:func:`models.projections.knn_graph.knn_graph`)
is cached under (capture run, step, layer, k) in the store's result cache, so a second projection of the
same layer — t-SNE after UMAP with a bigger k, UMAP after t-SNE always — reads it instead of recomputing.
With two threads or more granted and 10,000 samples or more, t-SNE's chain runs on two worker processes, each
layer started from a snapshot of the previous one (:mod:`.project_pipeline`: openTSNE's FFT gradient uses one
core, so one layer at a time leaves the other idle).
"""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np

from ..cache import ResultCache
from ..errors import UserError
from ..progress import ProgressFn, report, scaled
from ..projections import gpu
from ..projections import knn_graph as graphs
from ..projections.chain import WARM, _umap_init
from ..projections.knn_graph import knn_graph, umap_knn
from ..store import _NPZ_LOCK, CACHE, StoreError
from . import capture as captured
from . import project_pipeline
from .base import check_kind
from .project import KIND, MAX_SAMPLES, Config, cores
from .project_tsne import fit_tsne, tsne_init

TSNE_FIRST = {"early_exaggeration_iter": 250, "n_iter": 500}  # the first layer: openTSNE's default schedule


def graph_key(run_id: str, step: int, layer: str, k: int, seed: int) -> dict:
    """The result-cache key of one layer's k-NN graph (its group is the capture run: deleting it forgets them)."""
    return {
        "run": run_id,
        "step": int(step),
        "layer": layer,
        "method": "knn-graph",
        "metric": "euclidean",
        "k": int(k),
        "seed": int(seed),
    }


def layer_graph(
    cache: ResultCache,
    run_id: str,
    step: int,
    layer: str,
    X: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    n_jobs: int = 1,
    larger: tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """The layer's graph with at least ``k`` neighbours: cached (with ``k`` or one of ``larger``, sliced), else
    computed once and cached."""
    hit = _cached_graph(cache, run_id, step, layer, k, seed, larger)
    if hit is not None:
        return hit
    idx, dist = knn_graph(X, k, seed=seed, n_jobs=n_jobs)
    keep_graph(cache, run_id, step, layer, k, seed, (idx, dist))
    return idx, dist


def keep_graph(cache: ResultCache, run_id: str, step: int, layer: str, k: int, seed: int, graph) -> None:
    """Cache a layer's graph (:func:`graph_key`), with what :func:`cached_graph` checks: its rows, exactness."""
    idx, dist = graph
    meta = {"samples": len(idx), "exact": len(idx) < graphs.EXACT_BELOW}
    cache.put(graph_key(run_id, step, layer, k, seed), {"indices": idx, "distances": dist}, meta)


def _cached_graph(cache: ResultCache, run_id: str, step: int, layer: str, k: int, seed: int, larger=()):
    """The cached graph with ``k`` (or one of ``larger``) neighbours, sliced to ``k``; None if none is cached."""
    for kk in sorted({k, *(x for x in larger if x > k)}):
        hit = cache.get(graph_key(run_id, step, layer, kk, seed))
        if hit is not None:
            return hit[0]["indices"][:, : k + 1], hit[0]["distances"][:, : k + 1]
    return None


def cached_graph(
    cache: ResultCache, run_id: str, step: int, layer: str, k: int, *, samples: int | None = None
) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(indices, distances, exact) of a layer's k-NN graph a projection already cached with at least ``k``
    neighbours (the smallest such, sliced to ``k + 1`` columns, self first), or None: what the Compare study's
    k-NN accuracy and movers read instead of recomputing. ``exact``: the graph is the exact one (below
    :data:`~models.projections.knn_graph.EXACT_BELOW` samples), else pynndescent's approximation.
    ``samples``: the graph must cover this many rows (the capture's every sample)."""
    folder = cache._path({"run": run_id}).parent
    best = None
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else ():
        try:
            with _NPZ_LOCK, np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            continue
        key = meta.get("key", {})
        if (
            key.get("method") == "knn-graph"
            and key.get("run") == run_id
            and key.get("step") == int(step)
            and key.get("layer") == layer
            and key.get("metric") == "euclidean"
            and int(key.get("k", -1)) >= k
            and (samples is None or meta.get("samples") == samples)
            and (best is None or key["k"] < best[0]["k"])
        ):
            best = (key, meta)
    if best is None:
        return None
    hit = cache.get(best[0])
    if hit is None:
        return None
    idx, dist = hit[0]["indices"], hit[0]["distances"]
    exact = bool(best[1].get("exact", best[1].get("samples", len(idx)) < graphs.EXACT_BELOW))
    return idx[:, : k + 1], dist[:, : k + 1], exact


def _tsne(X, graph, previous, config: Config, progress: ProgressFn | None) -> tuple[np.ndarray, float, int]:
    """One layer in this process: the first runs openTSNE's schedule from PCA (:data:`TSNE_FIRST`), a chained
    layer starts from the previous layer's map with :data:`WARM`'s at most (:func:`fit_tsne`)."""
    chained = previous is not None
    return fit_tsne(
        graph,
        tsne_init(X, previous, config.seed),
        chained=chained,
        schedule=dict(WARM["tsne"]) if chained else dict(TSNE_FIRST),
        perplexity=config.perplexity,
        seed=config.seed,
        n_jobs=config.n_jobs,
        progress=progress,
    )


def _umap(X, graph, previous, config: Config) -> np.ndarray:
    import warnings

    import umap

    from ..projections.numba_cache import enable

    enable()
    k = min(config.n_neighbors, len(X) - 1)
    options = {} if previous is None else {"init": _umap_init(previous), **WARM["umap"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no search index: transform unavailable", numba chatter
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=k,
            min_dist=0.1,
            random_state=config.seed,
            precomputed_knn=umap_knn(graph, k),
            **options,
        )
        return np.asarray(reducer.fit_transform(X), dtype=np.float32)


def _pca(X, config: Config) -> np.ndarray:
    from sklearn.decomposition import PCA

    parts = min(2, X.shape[1], len(X))
    Y = np.zeros((len(X), 2), dtype=np.float32)  # a 1-d layer (a scalar per sample) lies on the x axis
    Y[:, :parts] = PCA(n_components=parts, random_state=config.seed).fit_transform(X)
    return Y


def _activations(source, name: str, step: int) -> np.ndarray:
    X = np.asarray(captured.activations(source, name, step), dtype=np.float32)
    if not np.isfinite(X).all():
        raise UserError(f"layer {name!r} of run {source.id} holds NaN or infinite values at step {step}")
    return X


def _pipelined_tsne(cache, source, step: int, names: list[str], config: Config, k: int, samples: int, progress):
    """The chain on two worker processes (:mod:`.project_pipeline`), each layer's graph read from the cache or built
    and cached here; None when the workers could not start."""

    def graph(name: str, threads: int):
        hit = _cached_graph(cache, source.id, step, name, k, config.seed)
        if hit is not None:
            return hit
        return layer_graph(
            cache, source.id, step, name, _activations(source, name, step), k, seed=config.seed, n_jobs=threads
        )

    layers = [
        project_pipeline.Layer(
            name, lambda name=name: _activations(source, name, step), lambda threads, name=name: graph(name, threads)
        )
        for name in names
    ]
    return project_pipeline.chain(
        layers,
        first=dict(TSNE_FIRST),
        warm=dict(WARM["tsne"]),
        perplexity=config.perplexity,
        seed=config.seed,
        n_jobs=config.n_jobs,
        samples=samples,
        first_init=lambda X: tsne_init(X, None, config.seed),
        warm_init=lambda snapshot: tsne_init(None, snapshot, config.seed),
        progress=progress,
    )


def _source(store, config: Config):
    if config.run is None:
        raise UserError("give the capture run to project (--run RUN; python -m models.studies.capture makes one)")
    try:
        source = store.load(config.run)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    return check_kind(source, captured.KIND)


def _layers(source, config: Config) -> list[str]:
    names = [layer["name"] for layer in captured.layers(source)]
    if config.layers is None:
        return names
    unknown = [n for n in config.layers if n not in names]
    if unknown:
        raise UserError(
            f"run {source.id} did not capture layer(s) {', '.join(map(repr, unknown))}; it has {', '.join(names)}"
        )
    return [n for n in names if n in set(config.layers)]  # network order, whatever order they were given in


def run(config: Config, *, store, data_dir=None, progress: ProgressFn | None = None):
    if config.n_jobs == -1:
        config = dataclasses.replace(config, n_jobs=cores())
    source = _source(store, config)
    steps = captured.steps(source)
    step = steps[-1] if config.step is None else int(config.step)
    if step not in steps:
        raise UserError(f"run {source.id} has no step {step}; it has {', '.join(map(str, steps))}")
    names = _layers(source, config)
    n = int(captured.sample(source, step)["labels"].shape[0])
    if n > MAX_SAMPLES:
        raise UserError(f"run {source.id} holds {n:,} samples; projections take at most {MAX_SAMPLES:,}")
    if n < 5:
        raise UserError(f"run {source.id} holds {n} samples; a projection needs at least 5")
    cache = ResultCache(store.root / CACHE)
    tsne_k = min(n - 1, int(3 * config.perplexity))
    k = {"tsne": tsne_k, "umap": min(n - 1, config.n_neighbors), "pca": 0}[config.method]
    with store.writer(
        KIND, dataset=source.manifest.get("dataset", ""), config=config.record(), seed=config.seed
    ) as writer:
        files, seconds, kls, iterations, previous = {}, {}, {}, {}, None

        def save(i: int, name: str, Y: np.ndarray, took: float) -> None:
            if Y.shape != (n, 2) or not np.isfinite(Y).all():
                raise UserError(f"{config.method} gave no finite map of layer {name!r}; try other parameters")
            seconds[name] = round(took, 3)
            files[name] = f"layer{i:03d}.npy"
            np.save(writer.path / files[name], np.ascontiguousarray(Y, dtype=np.float32), allow_pickle=False)

        pipelined = None
        if config.method == "tsne" and not gpu.available() and project_pipeline.usable(n, config.n_jobs, len(names)):
            pipelined = _pipelined_tsne(cache, source, step, names, config, tsne_k, n, progress)
        for i, name in enumerate(names if pipelined is None else ()):
            start = f", from {names[i - 1]}'s map" if i and config.method != "pca" else ""  # PCA: each layer alone
            report(
                progress,
                i,
                len(names),
                f"projecting {name} ({i + 1}/{len(names)}, {config.method}{start}, {n:,} samples)",
            )
            X = _activations(source, name, step)
            t0 = time.perf_counter()
            if config.method == "pca":
                Y = _pca(X, config)
            elif gpu.available():  # cuML on CUDA (optional extra): its own GPU k-NN graph, no chaining needed
                if config.method == "tsne":
                    Y, kls[name] = gpu.tsne(X, config.perplexity, config.seed)
                else:
                    Y = gpu.umap(X, k, config.seed)
            else:
                graph = layer_graph(
                    cache, source.id, step, name, X, k, seed=config.seed, n_jobs=config.n_jobs, larger=(tsne_k,)
                )
                if config.method == "tsne":
                    Y, kls[name], iterations[name] = _tsne(
                        X, graph, previous, config, scaled(progress, i / len(names), (i + 1) / len(names))
                    )
                else:
                    Y = _umap(X, graph, previous, config)
            save(i, name, Y, time.perf_counter() - t0)
            previous = Y
        for i, (name, (Y, kl, iters, took)) in enumerate(zip(names, pipelined or ())):
            kls[name], iterations[name] = kl, iters
            save(i, name, Y, took)
        writer.manifest["projection"] = {
            "layers": files,
            "run": source.id,
            "step": step,
            "method": config.method,
            "samples": n,
            "seconds": seconds,
            "kl": kls,
            "iterations": iterations,  # t-SNE's, per layer (a chained layer stops on a KL plateau)
            "pipelined": pipelined is not None,  # t-SNE's layers on two processes, each from a snapshot of the last
            "k": None if config.method == "pca" else k,
        }
        writer.metrics.update(samples=n, layers=len(names), seconds=round(sum(seconds.values()), 3))
    report(progress, len(names), len(names), f"projected {len(names)} layers × {n:,} samples ({config.method})")
    return store.load(writer.id)
