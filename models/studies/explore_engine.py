"""The Explore study's engine: validate the input, compute the analysis (cached), write the run.

Imported only when a run starts (``models.studies.explore.run``); scikit-learn, UMAP and
openTSNE are imported inside the steps that use them.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import datasets
from ..cache import ResultCache
from ..datasets import Dataset, DatasetError
from ..errors import ConfigError
from ..neighbors import EXACT_BELOW, knn_graph, unit_rows
from ..progress import ProgressFn, report, scaled
from ..store import CACHE, Run, RunStore, to_jsonable
from .explore import ARRAYS, KIND, METHODS, PCA_DIMS, VERSION, Config, load_source
from .explore_scores import error_clusters, flip_labels, mistake_scores, neighbour_votes, precision_at_k, probabilities


# -- input -------------------------------------------------------------------
def check_inputs(ds: Dataset, data_dir: str | Path | None = None) -> dict:
    """Validate the per-sample extras (predictions, scores, image paths); return a summary.

    Features and labels were validated by the loader. Predictions must be class
    indices and scores N×C finite numbers; image paths that do not exist are counted
    (``missing_images``), never fatal.
    """
    n, c = ds.n, ds.n_classes
    meta = ds.meta
    if "predictions" in meta:
        p = np.asarray(meta["predictions"])
        if p.shape != (n,):
            raise DatasetError(f"predictions must have shape ({n},) (got {p.shape})")
        if not np.issubdtype(p.dtype, np.integer) or (n and (p.min() < 0 or p.max() >= c)):
            raise DatasetError(f"predictions must be class indices in 0..{c - 1} (got dtype {p.dtype})")
    if "scores" in meta:
        s = np.asarray(meta["scores"])
        if s.ndim != 2 or s.shape != (n, c):
            raise DatasetError(f"scores must have shape ({n}, {c}) — samples × classes (got {s.shape})")
        if not np.isfinite(s).all():
            raise DatasetError(f"scores contain NaN or infinite values ({int((~np.isfinite(s)).sum())} entries)")
    missing = int(meta.get("missing_images", 0) or 0)
    if "image_paths" in meta and "missing_images" not in meta and data_dir is not None:
        root = Path(data_dir).resolve()
        missing = 0
        for rel in np.asarray(meta["image_paths"]).tolist():
            try:
                ok = isinstance(rel, str) and datasets.safe_path(root, rel).is_file()
            except DatasetError:
                ok = False
            missing += not ok
    return {
        "n": n,
        "dim": ds.dim,
        "classes": c,
        "has_predictions": "predictions" in meta or "scores" in meta,
        "has_scores": "scores" in meta,
        "missing_images": missing,
    }


def fingerprint(ds: Dataset) -> str:
    """A hash of what the analysis depends on (vectors, labels, predictions, scores)."""
    h = hashlib.blake2b(digest_size=16)
    for arr in (ds.features, ds.labels, ds.meta.get("predictions"), ds.meta.get("scores")):
        if arr is not None:
            a = np.ascontiguousarray(arr)
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(a.tobytes())
    return h.hexdigest()


# -- the map -------------------------------------------------------------------
def reduce(X: np.ndarray, dims: int = PCA_DIMS, seed: int = 0) -> tuple[np.ndarray, int]:
    """PCA to ``dims`` dimensions when ``X`` is wider (returns ``X`` and its width otherwise)."""
    if X.shape[1] <= dims or X.shape[0] <= dims:
        return X, X.shape[1]
    from sklearn.decomposition import PCA

    return PCA(n_components=dims, random_state=seed, svd_solver="randomized").fit_transform(X).astype(np.float32), dims


def embed(
    X: np.ndarray, method: str = "umap", *, seed: int = 0, knn: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """2-D coordinates of ``X`` by ``method``, through ``models.projections`` where it offers it.

    ``knn``: the samples' k-NN graph ``(indices, distances)`` without self (as :func:`knn_graph` gives it,
    at least ``UMAP_NEIGHBORS - 1`` wide); UMAP then builds its fuzzy graph from it instead of searching
    neighbours again (the same neighbours the scores and the similar lists use).
    """
    from .. import projections

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    options = {}
    if method == "umap" and knn is not None:
        options["precomputed_knn"] = umap_precomputed(knn, UMAP_NEIGHBORS)
    if method in projections.METHODS:
        return projections.project(X, method, seed=seed, **options).coords
    # FALLBACK until models.projections registers umap/tsne (being added on another branch)
    if method == "umap":
        import umap

        return (
            umap.UMAP(n_components=2, n_neighbors=UMAP_NEIGHBORS, min_dist=0.1, random_state=seed, n_jobs=1, **options)
            .fit_transform(X)
            .astype(np.float32)
        )
    from openTSNE import TSNE

    perplexity = float(min(30.0, (X.shape[0] - 1) / 3.0))
    return np.asarray(TSNE(n_components=2, perplexity=perplexity, random_state=seed, n_jobs=1).fit(X), dtype=np.float32)


UMAP_NEIGHBORS = 15  # umap-learn's n_neighbors (self included), as models.projections' default


def umap_precomputed(knn: tuple[np.ndarray, np.ndarray], n_neighbors: int = UMAP_NEIGHBORS):
    """umap-learn's ``precomputed_knn`` from a graph without self: self put first at distance 0, then the
    nearest ``n_neighbors - 1`` others (through :func:`models.projections.knn_graph.umap_knn`)."""
    from ..projections.knn_graph import umap_knn

    idx, dist = knn
    n = len(idx)
    graph = (
        np.concatenate([np.arange(n, dtype=np.int64)[:, None], np.asarray(idx, dtype=np.int64)], axis=1),
        np.concatenate([np.zeros((n, 1), np.float32), np.asarray(dist, dtype=np.float32)], axis=1),
    )
    return umap_knn(graph, n_neighbors)


# -- the analysis --------------------------------------------------------------
def analyse(
    ds: Dataset,
    *,
    method: str = "umap",
    k: int = 15,
    seed: int = 0,
    cache: ResultCache | None = None,
    progress: ProgressFn | None = None,
    exact_below: int = EXACT_BELOW,
) -> tuple[dict[str, np.ndarray], dict]:
    """Everything the Explore view shows, as arrays (per sample) plus a JSON-able summary.

    Arrays: ``coords`` n×2, ``neighbors``/``distances`` n×k (cosine, original space),
    ``mistake_score``, ``suggested`` (the label the evidence favours), ``outlier_score``,
    ``predictions`` (given, from scores, or the neighbours' vote), ``cluster`` (error
    cluster id or −1). Summary: ``clusters``, ``prediction_source``, ``pca_dims``, timings.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    if not isinstance(k, (int, np.integer)) or not 1 <= k < ds.n:
        raise ConfigError(f"k must be an integer in 1..{ds.n - 1} (got {k!r})")
    summary = check_inputs(ds)
    key = {
        "dataset": ds.name,
        "split": ds.split,
        "fingerprint": fingerprint(ds),
        "method": method,
        "k": int(k),
        "seed": int(seed),
        "exact_below": int(exact_below),
        "kind": KIND,
        "version": VERSION,
    }

    computed = []

    def compute():
        computed.append(True)
        return _compute(
            ds, method=method, k=int(k), seed=seed, progress=progress, exact_below=exact_below, summary=summary
        )

    if cache is None:
        return compute()
    arrays, meta = cache.get_or_compute(key, compute)
    meta.pop("key", None)
    if not computed:
        report(progress, 1, 1, "done (cached)")
    return arrays, meta


def _predictions(ds: Dataset, votes: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(predictions, class probabilities as mistake evidence or None, where the predictions came from)."""
    probs = probabilities(ds.meta["scores"]) if "scores" in ds.meta else None
    if "predictions" in ds.meta:
        preds = np.asarray(ds.meta["predictions"], dtype=np.int64)
        # a hard prediction without scores still counts as evidence
        return preds, (np.eye(ds.n_classes)[preds] if probs is None else probs), "model"
    if probs is not None:
        return probs.argmax(axis=1), probs, "model scores"
    return votes.argmax(axis=1), None, "neighbour vote"


def _compute(ds: Dataset, *, method: str, k: int, seed: int, progress, exact_below: int, summary: dict):
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    report(progress, 0, 1, "nearest neighbours")
    # one graph for the scores and for UMAP's fuzzy graph (which needs UMAP_NEIGHBORS - 1 others besides self)
    wide = max(k, min(ds.n - 1, UMAP_NEIGHBORS - 1)) if method == "umap" else k
    graph = knn_graph(ds.features, wide, exact_below=exact_below, seed=seed, progress=scaled(progress, 0.0, 0.3))
    nbr, dist = np.ascontiguousarray(graph[0][:, :k]), np.ascontiguousarray(graph[1][:, :k])
    times["neighbors"] = time.perf_counter() - t0
    labels = ds.labels
    votes = neighbour_votes(labels, nbr, dist, ds.n_classes)
    preds, evidence, source = _predictions(ds, votes)
    mistake, suggested = mistake_scores(labels, votes, evidence)
    outlier = dist[:, -1].astype(np.float32)
    report(progress, 0.35, 1, "reducing with PCA")
    t1 = time.perf_counter()
    reduced, dims = reduce(ds.features, PCA_DIMS, seed)
    times["pca"] = time.perf_counter() - t1
    report(progress, 0.4, 1, f"embedding with {method}")
    t2 = time.perf_counter()
    coords = embed(reduced, method, seed=seed, knn=graph if method == "umap" and wide >= UMAP_NEIGHBORS - 1 else None)
    times["embed"] = time.perf_counter() - t2
    report(progress, 0.9, 1, "clustering errors")
    t3 = time.perf_counter()
    cluster, clusters = error_clusters(unit_rows(reduced), labels, preds)
    times["clusters"] = time.perf_counter() - t3
    arrays = {
        "coords": coords,
        "neighbors": nbr,
        "distances": dist,
        "mistake_score": mistake,
        "suggested": suggested,
        "outlier_score": outlier,
        "predictions": preds.astype(np.int64),
        "cluster": cluster,
    }
    meta = {
        **summary,
        "method": method,
        "k": k,
        "seed": seed,
        "pca_dims": dims if dims < ds.dim else None,
        "prediction_source": source,
        "clusters": clusters,
        "seconds": times,
        "accuracy": float((preds == labels).mean()),
    }
    report(progress, 1, 1, "done")
    return arrays, meta


# -- honest evaluation ---------------------------------------------------------
def evaluate(ds: Dataset, *, fraction: float = 0.05, seed: int = 0, **analyse_kw) -> tuple[dict, dict, dict]:
    """Flip ``fraction`` of labels, analyse, and score the mistake ranking; returns (metrics, arrays, meta)."""
    noisy, flipped = flip_labels(ds.labels, fraction, ds.n_classes, seed)
    arrays, meta = analyse(
        replace(ds, labels=noisy, name=f"{ds.name}+flip{fraction:g}s{seed}"), seed=seed, **analyse_kw
    )
    k = len(flipped)
    metrics = {
        "mistake_precision_at_k": precision_at_k(arrays["mistake_score"], flipped, k),
        "base_rate": k / ds.n,
        "k": k,
        "n_flipped": k,
        "outlier_precision_at_k": precision_at_k(arrays["outlier_score"], flipped, k),
    }
    arrays = {**arrays, "labels": noisy, "true_labels": ds.labels, "flipped": flipped}
    return metrics, arrays, meta


# -- a run in the store ---------------------------------------------------------
def save(store: RunStore, ds: Dataset, arrays: dict, meta: dict, config: Config, *, metrics: dict | None = None) -> Run:
    """Write a run of kind ``explore``: per-sample arrays, clusters and input summary beside the manifest."""
    arrays = dict(arrays)
    arrays.setdefault("labels", ds.labels)
    arrays["index"] = ds.index if ds.index is not None else np.arange(ds.n)
    record = {
        **config.record(),
        "source": config.source,
        "prediction_source": meta.get("prediction_source"),
        "pca_dims": meta.get("pca_dims"),
        "summary": f"{config.method} · {ds.n:,} samples",
    }
    with store.writer(KIND, dataset=ds.name, config=record, seed=config.seed) as w:
        w.metrics.update(
            {
                "accuracy": meta.get("accuracy"),
                "missing_images": meta.get("missing_images", 0),
                "n_clusters": len(meta.get("clusters", [])),
                **(metrics or {}),
            }
        )
        w.add_arrays(ARRAYS, arrays)
        w.add_file("clusters.json", json.dumps(to_jsonable(meta.get("clusters", []))))
        w.add_file("summary.json", json.dumps(to_jsonable({k: v for k, v in meta.items() if k != "clusters"})))
    return store.load(w.id)


def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None) -> Run:
    """Analyse ``config.source`` (with ``flip_labels``: evaluate the mistake ranking) and save one run."""
    ds = load_source(config.source, data_dir=data_dir, store=store, split=config.split)
    inputs = check_inputs(ds, data_dir)
    ds = replace(ds, meta={**ds.meta, "missing_images": inputs["missing_images"]})
    cache = ResultCache(Path(store.root) / CACHE)
    options = dict(method=config.method, k=config.k, cache=cache, progress=progress)
    metrics = None
    if config.flip_labels:
        metrics, arrays, meta = evaluate(ds, fraction=config.flip_labels, seed=config.seed, **options)
    else:
        arrays, meta = analyse(ds, seed=config.seed, **options)
    return save(store, ds, arrays, meta, config, metrics=metrics)
