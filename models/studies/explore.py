"""Explore your own embeddings: likely label mistakes, outliers, error clusters, similar samples.

A person brings vectors (say a classifier's penultimate layer) with labels and,
optionally, the model's predictions and class scores (an ``arrays:<file>`` dataset),
or picks a run's layer activations. :func:`analyse` then computes, once per input
and cached under a fingerprint of it:

- a 2-D embedding (UMAP by default; wide data is reduced with PCA to 50 dimensions
  first, the standard practice that keeps 10⁵ × 2,048 feasible on a laptop);
- the cosine k-NN graph in the *original* space (exact or pynndescent), which also
  answers similar-sample queries by lookup;
- a **mistake score**: how strongly a sample's neighbours disagree with its label,
  averaged with the model's confidence in another class when scores exist;
- an **outlier score**: cosine distance to the k-th neighbour;
- **error clusters**: HDBSCAN over the samples whose prediction differs from the
  label, each with its dominant (label, prediction) pair.

:func:`evaluate` measures the mistake finder honestly: flip a seeded fraction of
labels and report precision@k (k = number flipped) of the ranking vs the base rate.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from models import datasets
from models.cache import ResultCache
from models.datasets import Dataset, DatasetError
from models.neighbors import EXACT_BELOW, knn_graph
from models.studies.cli import finish
from models.progress import ProgressFn, report, scaled

KIND = "explore"
TITLE = "Explore embeddings"
METHODS = ("umap", "tsne", "pca")
PCA_DIMS = 50
VERSION = 1


# -- input -------------------------------------------------------------------
def load_source(source: str, *, data_dir: str | Path | None = None, store=None) -> Dataset:
    """The dataset behind ``source``: a dataset name (``digits``, ``arrays:<file>``, …) or a run's activations.

    ``run:<id>/<arrays>/<key>`` takes array ``key`` of the run's ``<arrays>.npz``
    as vectors; that file must also hold ``labels`` (and may hold ``predictions``,
    ``scores`` and ``index`` — positions in the run's dataset, used to show images).
    Vectors are used as given (no min–max scaling), since cosine geometry is the point.
    """
    if source.startswith("run:"):
        return _run_activations(source, data_dir=data_dir, store=store)
    # embeddings keep their geometry: per-dimension min–max scaling would move the origin and bend cosines
    return datasets.load(source, data_dir=data_dir, normalize=False)


def _run_activations(source: str, *, data_dir, store) -> Dataset:
    parts = source[4:].split("/")
    if len(parts) != 3 or store is None:
        raise DatasetError(f"source {source!r}: expected run:<run id>/<arrays name>/<array key> and a store")
    run_id, name, key = parts
    run = store.load(run_id)
    arrays = run.arrays(name)
    for need in (key, "labels"):
        if need not in arrays:
            raise DatasetError(f"run {run_id} arrays {name!r} has no {need!r}; found {sorted(arrays)}")
    feats = arrays[key].reshape(arrays[key].shape[0], -1)
    labels = arrays["labels"]
    base = None
    try:
        base = datasets.load(run.manifest.get("dataset", ""), data_dir=data_dir)
    except DatasetError:
        pass
    names = base.class_names if base is not None else [str(c) for c in range(int(labels.max()) + 1)]
    images = None
    if base is not None and base.images is not None and "index" in arrays:
        images = base.images[np.asarray(arrays["index"], dtype=np.int64)]
    meta = {k: arrays[k] for k in ("predictions", "scores") if k in arrays}
    ds = Dataset(name=source, features=feats, labels=labels, class_names=names, images=images,
                 source=f"{run.path}/{name}.npz:{key}", meta=meta)
    return datasets.validate(ds)


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
    return {"n": n, "dim": ds.dim, "classes": c, "has_predictions": "predictions" in meta or "scores" in meta,
            "has_scores": "scores" in meta, "missing_images": missing}


def fingerprint(ds: Dataset) -> str:
    """A hash of what the analysis depends on (vectors, labels, predictions, scores)."""
    h = hashlib.blake2b(digest_size=16)
    for arr in (ds.features, ds.labels, ds.meta.get("predictions"), ds.meta.get("scores")):
        if arr is not None:
            a = np.ascontiguousarray(arr)
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(a.tobytes())
    return h.hexdigest()


# -- the pieces --------------------------------------------------------------
def probabilities(scores: np.ndarray) -> np.ndarray:
    """Class scores → probabilities: rows already on the simplex are kept, others get a softmax."""
    s = np.asarray(scores, dtype=np.float64)
    if (s >= 0).all() and np.allclose(s.sum(axis=1), 1.0, atol=1e-3):
        return s
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def neighbour_votes(labels: np.ndarray, nbr: np.ndarray, dist: np.ndarray, n_classes: int) -> np.ndarray:
    """n×C: the similarity-weighted share of each sample's neighbours in each class."""
    w = np.clip(1.0 - dist, 1e-3, None)  # cosine similarity, kept positive
    w = np.where(np.isfinite(w), w, 0.0)
    votes = np.zeros((nbr.shape[0], n_classes))
    np.add.at(votes, (np.repeat(np.arange(nbr.shape[0]), nbr.shape[1]), labels[nbr].ravel()), w.ravel())
    return votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-12)


def mistake_scores(labels: np.ndarray, votes: np.ndarray, probs: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """How likely each label is wrong, in [0, 1], and the label the evidence suggests instead.

    The neighbours' disagreement ``1 − vote(label)``, averaged with the model's
    ``1 − p(label)`` when class probabilities exist.
    """
    rows = np.arange(len(labels))
    evidence = votes if probs is None else 0.5 * (votes + probs)
    score = 1.0 - evidence[rows, labels]
    others = evidence.copy()
    others[rows, labels] = -1.0
    return score.astype(np.float32), others.argmax(axis=1).astype(np.int64)


def error_clusters(X: np.ndarray, labels: np.ndarray, predictions: np.ndarray, *,
                   min_cluster_size: int | None = None) -> tuple[np.ndarray, list[dict]]:
    """HDBSCAN over the samples with prediction ≠ label; per cluster its dominant (label, prediction).

    Returns per-sample cluster ids (−1: not an error or noise) and a list of
    clusters sorted by size, each ``{id, size, label, prediction, share, members}``.
    """
    from sklearn.cluster import HDBSCAN

    n = len(labels)
    cluster = np.full(n, -1, dtype=np.int64)
    wrong = np.flatnonzero(predictions != labels)
    mcs = min_cluster_size or max(5, len(wrong) // 40)
    if len(wrong) < max(2 * mcs, 10):
        return cluster, []
    found = HDBSCAN(min_cluster_size=mcs, min_samples=min(5, mcs), allow_single_cluster=True,
                    copy=True).fit_predict(X[wrong])
    cluster[wrong] = found
    out = []
    for c in np.unique(found[found >= 0]):
        members = wrong[found == c]
        pairs, counts = np.unique(np.stack([labels[members], predictions[members]], axis=1), axis=0,
                                  return_counts=True)
        top = int(counts.argmax())
        out.append({"id": int(c), "size": int(len(members)), "label": int(pairs[top, 0]),
                    "prediction": int(pairs[top, 1]), "share": float(counts[top] / len(members)),
                    "members": members.tolist()})
    out.sort(key=lambda d: -d["size"])
    return cluster, out


def reduce(X: np.ndarray, dims: int = PCA_DIMS, seed: int = 0) -> tuple[np.ndarray, int]:
    """PCA to ``dims`` dimensions when ``X`` is wider (returns ``X`` and its width otherwise)."""
    if X.shape[1] <= dims or X.shape[0] <= dims:
        return X, X.shape[1]
    from sklearn.decomposition import PCA

    return PCA(n_components=dims, random_state=seed, svd_solver="randomized").fit_transform(X).astype(np.float32), dims


def embed(X: np.ndarray, method: str = "umap", *, seed: int = 0) -> np.ndarray:
    """2-D coordinates of ``X`` by ``method``, through ``models.projections`` where it offers it."""
    from models import projections

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    if method in projections.METHODS:
        return projections.project(X, method, seed=seed).coords
    # FALLBACK until models.projections registers umap/tsne (being added on another branch)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, random_state=seed,
                         n_jobs=1).fit_transform(X).astype(np.float32)
    from openTSNE import TSNE

    perplexity = float(min(30.0, (X.shape[0] - 1) / 3.0))
    return np.asarray(TSNE(n_components=2, perplexity=perplexity, random_state=seed, n_jobs=1).fit(X),
                      dtype=np.float32)


# -- the analysis --------------------------------------------------------------
def analyse(ds: Dataset, *, method: str = "umap", k: int = 15, seed: int = 0, cache: ResultCache | None = None,
            progress: ProgressFn | None = None, exact_below: int = EXACT_BELOW) -> tuple[dict[str, np.ndarray], dict]:
    """Everything the Explore view shows, as arrays (per sample) plus a JSON-able summary.

    Arrays: ``coords`` n×2, ``neighbors``/``distances`` n×k (cosine, original space),
    ``mistake_score``, ``suggested`` (the label the evidence favours), ``outlier_score``,
    ``predictions`` (given, from scores, or the neighbours' vote), ``cluster`` (error
    cluster id or −1). Summary: ``clusters``, ``prediction_source``, ``pca_dims``, timings.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    if not isinstance(k, (int, np.integer)) or not 1 <= k < ds.n:
        raise ValueError(f"k must be an integer in 1..{ds.n - 1} (got {k!r})")
    summary = check_inputs(ds)
    key = {"dataset": ds.name, "split": ds.split, "fingerprint": fingerprint(ds), "method": method, "k": int(k),
           "seed": int(seed), "exact_below": int(exact_below), "kind": KIND, "version": VERSION}

    computed = []

    def compute():
        computed.append(True)
        return _compute(ds, method=method, k=int(k), seed=seed, progress=progress, exact_below=exact_below,
                        summary=summary)

    if cache is None:
        return compute()
    arrays, meta = cache.get_or_compute(key, compute)
    meta.pop("key", None)
    if not computed:
        report(progress, 1, 1, "done (cached)")
    return arrays, meta


def _compute(ds: Dataset, *, method: str, k: int, seed: int, progress, exact_below: int, summary: dict):
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    report(progress, 0, 1, "nearest neighbours")
    nbr, dist = knn_graph(ds.features, k, exact_below=exact_below, seed=seed, progress=scaled(progress, 0.0, 0.3))
    times["neighbors"] = time.perf_counter() - t0
    labels = ds.labels
    votes = neighbour_votes(labels, nbr, dist, ds.n_classes)
    probs = probabilities(ds.meta["scores"]) if "scores" in ds.meta else None
    if "predictions" in ds.meta:
        preds, source = np.asarray(ds.meta["predictions"], dtype=np.int64), "model"
    elif probs is not None:
        preds, source = probs.argmax(axis=1), "model scores"
    else:
        preds, source = votes.argmax(axis=1), "neighbour vote"
    if probs is None and source == "model":
        probs_for_score = np.eye(ds.n_classes)[preds]  # a hard prediction still counts as evidence
    else:
        probs_for_score = probs
    mistake, suggested = mistake_scores(labels, votes, probs_for_score)
    outlier = dist[:, -1].astype(np.float32)
    report(progress, 0.35, 1, "reducing with PCA")
    t1 = time.perf_counter()
    reduced, dims = reduce(ds.features, PCA_DIMS, seed)
    times["pca"] = time.perf_counter() - t1
    report(progress, 0.4, 1, f"embedding with {method}")
    t2 = time.perf_counter()
    coords = embed(reduced, method, seed=seed)
    times["embed"] = time.perf_counter() - t2
    report(progress, 0.9, 1, "clustering errors")
    t3 = time.perf_counter()
    from models.neighbors import unit_rows

    cluster, clusters = error_clusters(unit_rows(reduced), labels, preds)
    times["clusters"] = time.perf_counter() - t3
    arrays = {"coords": coords, "neighbors": nbr, "distances": dist, "mistake_score": mistake,
              "suggested": suggested, "outlier_score": outlier, "predictions": preds.astype(np.int64),
              "cluster": cluster}
    meta = {**summary, "method": method, "k": k, "seed": seed, "pca_dims": dims if dims < ds.dim else None,
            "prediction_source": source, "clusters": clusters, "seconds": times,
            "accuracy": float((preds == labels).mean())}
    report(progress, 1, 1, "done")
    return arrays, meta


# -- honest evaluation ---------------------------------------------------------
def flip_labels(labels: np.ndarray, fraction: float, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with a seeded ``fraction`` changed to a different random class; returns (labels, flipped indices)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1) (got {fraction})")
    rng = np.random.default_rng(seed)
    n = len(labels)
    flipped = np.sort(rng.choice(n, size=max(1, int(round(fraction * n))), replace=False))
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + rng.integers(1, n_classes, size=len(flipped))) % n_classes
    return noisy, flipped


def precision_at_k(scores: np.ndarray, positives: np.ndarray, k: int | None = None) -> float:
    """Share of the ``k`` highest ``scores`` that are in ``positives`` (k defaults to their number)."""
    k = len(positives) if k is None else k
    top = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(np.isin(top, positives).mean()) if k else 0.0


def evaluate(ds: Dataset, *, fraction: float = 0.05, seed: int = 0, **analyse_kw) -> tuple[dict, dict, dict]:
    """Flip ``fraction`` of labels, analyse, and score the mistake ranking; returns (metrics, arrays, meta)."""
    noisy, flipped = flip_labels(ds.labels, fraction, ds.n_classes, seed)
    arrays, meta = analyse(replace(ds, labels=noisy, name=f"{ds.name}+flip{fraction:g}s{seed}"), seed=seed,
                           **analyse_kw)
    k = len(flipped)
    metrics = {"mistake_precision_at_k": precision_at_k(arrays["mistake_score"], flipped, k),
               "base_rate": k / ds.n, "k": k, "n_flipped": k,
               "outlier_precision_at_k": precision_at_k(arrays["outlier_score"], flipped, k)}
    arrays = {**arrays, "labels": noisy, "true_labels": ds.labels, "flipped": flipped}
    return metrics, arrays, meta


# -- a run in the store ---------------------------------------------------------
def save_run(store, ds: Dataset, arrays: dict, meta: dict, *, source: str, method: str, k: int, seed: int,
             metrics: dict | None = None):
    """Write a run of kind ``explore``: per-sample arrays, clusters and input summary in the manifest."""
    arrays = dict(arrays)
    arrays.setdefault("labels", ds.labels)
    arrays["index"] = ds.index if ds.index is not None else np.arange(ds.n)
    with store.writer(KIND, dataset=ds.name, config={"source": source, "method": method, "k": k,
                                                     "prediction_source": meta.get("prediction_source"),
                                                     "pca_dims": meta.get("pca_dims"),
                                                     "summary": f"{method} · {ds.n:,} samples"}, seed=seed) as w:
        w.metrics.update({"accuracy": meta.get("accuracy"), "missing_images": meta.get("missing_images", 0),
                          "n_clusters": len(meta.get("clusters", [])), **(metrics or {})})
        w.add_arrays("explore", arrays)
        import json

        from models.store import to_jsonable

        w.add_file("clusters.json", json.dumps(to_jsonable(meta.get("clusters", []))))
        w.add_file("summary.json", json.dumps(to_jsonable({k2: v for k2, v in meta.items() if k2 != "clusters"})))
    return store.load(w.id)


def run_explore(source: str, *, data_dir=None, store, method: str = "umap", k: int = 15, seed: int = 0,
                flip: float | None = None, cache: ResultCache | None = None, progress: ProgressFn | None = None):
    """The one entry point for the command line and the dashboard: analyse ``source``, save a run."""
    ds = load_source(source, data_dir=data_dir, store=store)
    summary = check_inputs(ds, data_dir)
    ds = replace(ds, meta={**ds.meta, "missing_images": summary["missing_images"]})
    if flip:
        metrics, arrays, meta = evaluate(ds, fraction=flip, seed=seed, method=method, k=k, cache=cache,
                                         progress=progress)
    else:
        metrics = None
        arrays, meta = analyse(ds, method=method, k=k, seed=seed, cache=cache, progress=progress)
    return save_run(store, ds, arrays, meta, source=source, method=method, k=k, seed=seed, metrics=metrics)


def load_run_meta(run) -> tuple[list[dict], dict]:
    """(clusters, summary) of an explore run."""
    import json

    return (json.loads(run.file("clusters.json").read_text()), json.loads(run.file("summary.json").read_text()))


# -- command line ---------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.studies.explore",
                                description="Likely label mistakes, outliers, error clusters and a 2-D map of "
                                            "a dataset's vectors (or your own embeddings with --arrays).")
    p.add_argument("--dataset", default="digits", help="dataset name (default digits)")
    p.add_argument("--arrays", help="your own embeddings: an arrays file inside --data-dir (.npz, …)")
    p.add_argument("--run", help="a run's activations: <run id>/<arrays name>/<array key>")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--store-dir", default="runs")
    p.add_argument("--method", choices=METHODS, default="umap")
    p.add_argument("--k", type=int, default=15, help="neighbours per sample (default 15)")
    p.add_argument("--flip-labels", type=float, default=None,
                   help="evaluate: flip this fraction of labels (e.g. 0.05) and report precision@k")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from models.store import RunStore

    store = RunStore(args.store_dir)
    source = f"arrays:{args.arrays}" if args.arrays else f"run:{args.run}" if args.run else args.dataset
    def summary(run):
        m = run.metrics
        if "mistake_precision_at_k" in m:
            yield f"mistake precision@{m['k']}: {m['mistake_precision_at_k']:.3f} (base rate {m['base_rate']:.3f})"
        yield (f"accuracy of predictions ({run.config.get('prediction_source')}): {m.get('accuracy', 0):.3f}; "
               f"error clusters: {m.get('n_clusters', 0)}; missing images: {m.get('missing_images', 0)}")

    return finish(lambda progress: run_explore(source, data_dir=args.data_dir, store=store, method=args.method, k=args.k,
                                      seed=args.seed, flip=args.flip_labels,
                                      cache=ResultCache(Path(args.store_dir) / ".cache"), progress=progress),
                  summary)


if __name__ == "__main__":
    sys.exit(main())
