"""The cosine neighbour index behind Explore: recall of the index's graph against exact cosine, exactness below the
threshold, UMAP built from the shared graph, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

from models import neighbors
from models.neighbors import EXACT_BELOW, CosineIndex, knn_graph, similar_to, unit_rows


def structured(n: int, dim: int = 64, clusters: int = 20, intrinsic: int = 6, seed: int = 0):
    """Clusters on low-dimensional subspaces plus a little isotropic noise, ReLU-clipped (as bench/similar.py)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 0.6
    bases = np.linalg.qr(rng.normal(size=(clusters, dim, intrinsic)))[0].transpose(0, 2, 1)
    labels = rng.integers(0, clusters, size=n)
    z = rng.normal(size=(n, intrinsic))
    X = centres[labels] + np.einsum("ni,nid->nd", z, bases[labels]) + 0.05 * rng.normal(size=(n, dim))
    return np.maximum(X, 0.0).astype(np.float32), labels


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def test_index_graph_recall_at_15_against_exact_cosine():
    X, _ = structured(10_000)
    assert len(X) >= EXACT_BELOW  # the index path, as Explore takes it on large data
    approx, d = knn_graph(X, 15, seed=0)
    exact, exact_d = knn_graph(X, 15, exact_below=len(X) + 1)
    assert approx.shape == exact.shape == (10_000, 15)
    assert not (approx == np.arange(len(X))[:, None]).any()  # never its own neighbour
    assert (np.diff(d, axis=1) >= -1e-6).all() and (d >= 0).all()
    assert recall(approx, exact) >= 0.95
    # distances are true cosine distances of the pairs returned
    U = unit_rows(X)
    rows = np.arange(0, 10_000, 97)
    true_d = 1.0 - np.einsum("rd,rkd->rk", U[rows], U[approx[rows]])
    assert np.allclose(d[rows], true_d, atol=1e-4)


def test_index_answers_selection_vectors_like_the_exact_query():
    X, labels = structured(8_000, seed=1)
    U = unit_rows(X)
    index = CosineIndex(U, seed=0)
    assert index.recall >= neighbors.TARGET_RECALL and 1 <= index.nprobe <= index.nlist  # measured at build
    rng = np.random.default_rng(2)
    found, truth = [], []
    for _ in range(100):  # a selection's mean direction: 5 members of one cluster
        sel = rng.choice(np.flatnonzero(labels == rng.integers(20)), size=5, replace=False)
        q = unit_rows(U[sel].mean(axis=0, keepdims=True))
        found.append(index.query(q, 15)[0][0])
        truth.append(similar_to(U, X[sel], 15)[0])
    assert recall(found, truth) >= 0.95
    idx, d = index.query(X[:3], 5)  # raw (unnormalised) rows are normalised by the index
    assert idx.shape == (3, 5) and (idx[:, 0] == np.arange(3)).all() and np.allclose(d[:, 0], 0.0, atol=1e-5)


def test_exact_below_the_threshold_matches_brute_force():
    from sklearn.neighbors import NearestNeighbors

    X, _ = structured(1_500, dim=32, seed=3)
    idx, d = knn_graph(X, 10)  # 1,500 < EXACT_BELOW: exact
    _, brute = NearestNeighbors(n_neighbors=11, metric="cosine", algorithm="brute").fit(X).kneighbors(X)
    brute_others = [[j for j in row if j != i][:10] for i, row in enumerate(brute)]
    assert recall(idx, brute_others) == 1.0
    assert (np.diff(d, axis=1) >= 0).all()


def test_umap_builds_the_map_from_the_shared_graph(monkeypatch):
    import umap.umap_ as umap_module

    from models.studies import explore_engine

    X, labels = structured(2_000, dim=32, clusters=8, seed=4)
    graph = knn_graph(X, 14, exact_below=0, seed=0)  # the index path, 14 others + self = UMAP's 15

    def searched(*a, **kw):
        raise AssertionError("UMAP searched for neighbours itself")

    monkeypatch.setattr(umap_module, "nearest_neighbors", searched)
    coords = explore_engine.embed(X, "umap", seed=0, knn=graph)
    assert coords.shape == (2_000, 2) and np.isfinite(coords).all()
    # the map keeps the graph's neighbours far better than chance (15/2,000 ≈ 0.007)
    d2 = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    near2d = np.argsort(d2, axis=1)[:, :14]
    assert recall(near2d, graph[0]) > 0.3


def test_explore_analysis_computes_one_graph_and_umap_reuses_it(monkeypatch):
    import umap.umap_ as umap_module

    from models.datasets import Dataset
    from models.studies import explore_engine

    X, labels = structured(900, dim=24, clusters=6, seed=5)
    ds = Dataset(name="t", features=X, labels=labels % 6, class_names=[str(c) for c in range(6)], split="train")
    calls = []
    real = explore_engine.knn_graph
    monkeypatch.setattr(explore_engine, "knn_graph", lambda X, k, **kw: calls.append(k) or real(X, k, **kw))
    monkeypatch.setattr(umap_module, "nearest_neighbors", lambda *a, **kw: pytest.fail("UMAP searched again"))
    arrays, meta = explore_engine.analyse(ds, method="umap", k=5, exact_below=0)
    assert calls == [14]  # one graph, wide enough for UMAP; the scores read its first k = 5
    assert arrays["neighbors"].shape == (900, 5) and arrays["coords"].shape == (900, 2)
    assert np.isfinite(arrays["coords"]).all()


def test_bad_input_gets_clear_errors():
    X, _ = structured(200, dim=8)
    bad = X.copy()
    bad[[3, 17]] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 2 row\(s\) \(first: 3, 17\)"):
        knn_graph(bad, 5)
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        knn_graph(bad, 5, exact_below=0)
    with pytest.raises(ValueError, match=r"k must be less than the number of samples \(got k=200 for 200"):
        knn_graph(X, 200)
    with pytest.raises(ValueError, match="positive integer"):
        knn_graph(X, 0)
    with pytest.raises(ValueError, match="empty"):
        knn_graph(np.zeros((0, 8), np.float32), 5)
    with pytest.raises(ValueError, match="2-D"):
        knn_graph(X[0], 5)
    index = CosineIndex(unit_rows(X), threads=1)
    with pytest.raises(ValueError, match="9 dimensions, the index has 8"):
        index.query(np.ones((1, 9), np.float32), 5)
    with pytest.raises(ValueError, match="NaN"):
        index.query(np.full((1, 8), np.nan, np.float32), 5)
    with pytest.raises(ValueError, match="k must be less"):
        index.query(X[:1], 201)


def test_all_zero_rows_and_duplicates_stay_valid():
    X, _ = structured(5_000, dim=16, seed=6)
    X[:50] = 0.0  # silent units: cosine distance 1 to everything
    X[50:100] = X[100]  # exact duplicates: self may tie with its copies
    idx, d = knn_graph(X, 10, exact_below=0)
    assert idx.shape == (5_000, 10) and (idx >= 0).all() and (idx < 5_000).all()
    assert not (idx == np.arange(5_000)[:, None]).any() and np.isfinite(d).all()


def test_threads_default_is_positive():
    assert neighbors._threads() >= 1


def test_similar_queries_through_the_index_match_exact_and_leave_the_selection_out(monkeypatch):
    from dashboard.views.explore import data
    from models.datasets import Dataset

    X, labels = structured(6_000, dim=32, clusters=10, seed=7)
    ds = Dataset(name="big", features=X, labels=labels, class_names=[str(c) for c in range(10)], split="train")
    assert data.index_for(ds) is None  # below QUERY_INDEX_FROM: exact only
    monkeypatch.setattr(data, "QUERY_INDEX_FROM", 5_000)
    index = data.index_for(ds, wait=True)
    assert index is not None and index.n == 6_000 and data.index_for(ds) is index  # built once
    U = unit_rows(X)
    found, truth = [], []
    for sel in ([5], [10, 11, 12], list(np.flatnonzero(labels == 3)[:40])):
        idx, d = data.similar(ds, sel, 15)
        exact, _ = similar_to(U, X[sel], 15, exclude=np.asarray(sel))
        assert len(idx) == 15 and not np.isin(idx, sel).any() and (np.diff(d) >= -1e-6).all()
        found.append(idx)
        truth.append(exact)
    assert recall(found, truth) >= 0.9
    # a selection larger than INDEX_EXCLUDE_MAX is answered exactly
    big = list(range(300))
    idx, _ = data.similar(ds, big, 10)
    assert list(idx) == list(similar_to(U, X[big], 10, exclude=np.asarray(big))[0])
