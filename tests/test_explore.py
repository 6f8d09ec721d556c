"""The Explore study: mistake ranking, outliers, error clusters, similar samples, validation."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from models import datasets
from models.cache import ResultCache
from models.datasets import Dataset, DatasetError
from models.neighbors import knn_graph, similar_to, unit_rows
from models.store import RunStore
from models.studies import explore, explore_engine, explore_scores


def clustered(n_per=60, classes=4, dim=20, seed=0):
    """Well-separated Gaussian blobs: class c lives around its own random direction."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 3
    labels = np.repeat(np.arange(classes), n_per)
    X = (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32)
    return X, labels


def test_mistake_ranking_finds_flipped_digits_labels_via_cli(tmp_path, capsys):
    store_dir = tmp_path / "runs"
    rc = explore.main(
        [
            "--dataset",
            "digits",
            "--flip-labels",
            "0.05",
            "--seed",
            "0",
            "--method",
            "pca",
            "--store-dir",
            str(store_dir),
        ]
    )
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    manifest = json.loads((tmp_path / "runs" / last.split("/")[-1] / "manifest.json").read_text())
    m = manifest["metrics"]
    assert manifest["kind"] == "explore"
    assert m["base_rate"] == pytest.approx(0.05, abs=0.002)
    assert m["mistake_precision_at_k"] > 0.6
    assert m["mistake_precision_at_k"] > 5 * m["base_rate"]
    run = RunStore(store_dir).load(last.split("/")[-1])
    arrays = run.arrays("explore")
    assert arrays["coords"].shape == (1442, 2) and np.isfinite(arrays["coords"]).all()
    # the flipped samples' suggested label is mostly their true label
    f = arrays["flipped"]
    assert (arrays["suggested"][f] == arrays["true_labels"][f]).mean() > 0.6


def test_precision_at_k_and_flip():
    labels = np.arange(100) % 10
    noisy, flipped = explore_scores.flip_labels(labels, 0.1, 10, seed=3)
    assert len(flipped) == 10 and (noisy[flipped] != labels[flipped]).all()
    assert (noisy[np.setdiff1d(np.arange(100), flipped)] == labels[np.setdiff1d(np.arange(100), flipped)]).all()
    scores = np.zeros(100)
    scores[flipped[:7]] = 1.0
    assert explore_scores.precision_at_k(scores, flipped) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="fraction"):
        explore_scores.flip_labels(labels, 1.5, 10)


def test_similar_samples_self_first_and_sorted():
    X, _ = clustered()
    U = unit_rows(X)
    for i in (0, 77, 200):
        idx, d = similar_to(U, X[i], 10)
        assert idx[0] == i and d[0] == pytest.approx(0.0, abs=1e-5)
        assert (np.diff(d) >= 0).all()
    # a selection: its members are excluded, answers sorted
    idx, d = similar_to(U, X[:5], 8, exclude=np.arange(5))
    assert not np.isin(idx, np.arange(5)).any() and (np.diff(d) >= 0).all()
    nbr, dist = knn_graph(X, 5)
    assert not (nbr == np.arange(len(X))[:, None]).any()
    assert (np.diff(dist, axis=1) >= 0).all()
    # the graph agrees with the query for a sample (its own index excluded)
    q, qd = similar_to(U, X[3], 5, exclude=[3])
    assert set(q) == set(nbr[3]) and np.allclose(qd, dist[3], atol=1e-5)


def test_approximate_graph_matches_exact():
    X, _ = clustered(n_per=150, dim=16, seed=1)
    exact, _ = knn_graph(X, 10)
    approx, d = knn_graph(X, 10, exact_below=0, seed=0)
    assert approx.shape == (600, 10) and not (approx == np.arange(600)[:, None]).any()
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall > 0.9


def test_error_clusters_find_a_pattern_of_mistakes():
    X, labels = clustered(n_per=80, classes=4)
    preds = labels.copy()
    group = np.flatnonzero(labels == 2)[:30]  # a systematic confusion: 2 read as 1
    preds[group] = 1
    group2 = np.flatnonzero(labels == 0)[:25]  # and 0 read as 3
    preds[group2] = 3
    rng = np.random.default_rng(0)
    scattered = rng.choice(np.flatnonzero((labels == 1) | (labels == 3)), 6, replace=False)
    preds[scattered] = (labels[scattered] + 1) % 4
    cluster, clusters = explore_scores.error_clusters(unit_rows(X), labels, preds, min_cluster_size=8)
    assert clusters, "expected at least one error cluster"
    top = clusters[0]
    assert (top["label"], top["prediction"]) == (2, 1) and top["size"] >= 20
    assert set(top["members"]) <= set(group.tolist())
    assert {(c["label"], c["prediction"]) for c in clusters} >= {(2, 1), (0, 3)}
    assert (cluster[preds == labels] == -1).all()


def write_arrays(data_dir, n_per=50, with_paths=False):
    X, labels = clustered(n_per=n_per, classes=4, dim=64)
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(len(labels), 4)).astype(np.float32)
    scores[np.arange(len(labels)), labels] += 4.0
    preds = scores.argmax(axis=1)
    extra = {}
    if with_paths:
        extra["image_paths"] = np.array([f"img/{i}.png" for i in range(len(labels))])
    np.savez(
        data_dir / "emb.npz",
        features=X,
        labels=labels,
        predictions=preds,
        scores=scores,
        class_names=np.array(["a", "b", "c", "d"]),
        **extra,
    )
    return X, labels, preds


def test_arrays_file_analysis_with_scores_and_cache(tmp_path, data_dir):
    X, labels, preds = write_arrays(data_dir)
    store = RunStore(tmp_path / "runs")
    cache = ResultCache(tmp_path / "runs" / ".cache")
    run = explore.run(explore.Config(arrays="emb.npz", method="umap", k=10), store=store, data_dir=data_dir)
    a = run.arrays("explore")
    assert a["coords"].shape == (len(labels), 2) and np.isfinite(a["coords"]).all()
    assert (a["predictions"] == preds).all() and run.config["prediction_source"] == "model"
    assert a["neighbors"].shape == (len(labels), 10)
    order = np.argsort(-a["mistake_score"])
    wrong = np.flatnonzero(preds != labels)
    if len(wrong):  # samples the model gets wrong rank above those it gets right
        assert a["mistake_score"][wrong].mean() > a["mistake_score"][preds == labels].mean()
    assert order.shape == (len(labels),)
    summary = explore.input_summary(run)
    assert summary.has_scores and summary.missing_images == 0
    # a second look is served from the cache: same arrays, no recompute
    calls = []
    ds = explore.load_source("arrays:emb.npz", data_dir=data_dir)
    assert np.allclose(ds.features, X)  # embeddings are used as given, not min–max scaled
    arrays, _ = explore_engine.analyse(ds, method="umap", k=10, cache=cache, progress=lambda p: calls.append(p.message))
    assert np.array_equal(arrays["coords"], a["coords"]) and calls == ["done (cached)"]


def test_validation_errors_name_the_problem(tmp_path, data_dir):
    X, labels = clustered(n_per=10, classes=3, dim=5)
    bad = X.copy()
    bad[4, 2] = np.nan
    np.savez(data_dir / "nan.npz", features=bad, labels=labels)
    with pytest.raises(DatasetError, match="NaN"):
        explore.load_source("arrays:nan.npz", data_dir=data_dir)
    np.savez(data_dir / "short.npz", features=X, labels=labels[:-3])
    with pytest.raises(DatasetError, match="labels"):
        explore.load_source("arrays:short.npz", data_dir=data_dir)
    ds = datasets.validate(Dataset(name="t", features=X, labels=labels, class_names=["a", "b", "c"]))
    with pytest.raises(DatasetError, match=r"scores must have shape \(30, 3\)"):
        explore_engine.check_inputs(replace(ds, meta={"scores": np.zeros((30, 2))}))
    with pytest.raises(DatasetError, match="predictions must be class indices"):
        explore_engine.check_inputs(replace(ds, meta={"predictions": np.full(30, 7)}))
    with pytest.raises(ValueError, match="k must be"):
        explore_engine.analyse(ds, k=30)
    with pytest.raises(ValueError, match="method must be one of"):
        explore_engine.analyse(ds, method="lda")
    # unknown image paths are counted, never fatal
    (data_dir / "img").mkdir()
    (data_dir / "img" / "0.png").write_bytes(b"png")
    paths = np.array(["img/0.png", "img/missing.png", "../escape.png"] + ["img/0.png"] * 27, dtype=object)
    summary = explore_engine.check_inputs(replace(ds, meta={"image_paths": paths}), data_dir)
    assert summary["missing_images"] == 2


def test_models_do_not_import_dash():
    import subprocess
    import sys

    code = "import sys, models.studies.explore, models.neighbors; print('dash' in sys.modules, 'plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
