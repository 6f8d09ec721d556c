"""Projections (six methods), the exact hardness score and quality metrics."""

from __future__ import annotations

import numpy as np
import pytest

from models import datasets
from models.projections import (
    LIMITS,
    METHODS,
    ProjectionError,
    hardness,
    joint_affinities,
    procrustes_align,
    project,
    quality,
)


@pytest.fixture(scope="module")
def small():
    ds = datasets.load("digits", split="test", per_class=12, seed=0)
    return ds.features.astype(np.float64), ds.labels


def direct_kl(X, Y, perplexity):
    """A plain, loop-per-row NumPy KL(P‖Q) (bisection on each row's entropy), written independently."""
    n = len(X)
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    cond = np.zeros((n, n))
    for i in range(n):
        d = np.delete(D[i], i)
        lo, hi = 0.0, 1e6
        for _ in range(200):
            beta = (lo + hi) / 2
            p = np.exp(-beta * (d - d.min()))
            p /= p.sum()
            H = -np.sum(p[p > 0] * np.log(p[p > 0]))
            if H > np.log(perplexity):
                lo = beta
            else:
                hi = beta
        cond[i] = np.insert(p, i, 0.0)
    P = (cond + cond.T) / (2 * n)
    W = 1 / (1 + ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(W, 0)
    Q = W / W.sum()
    off = ~np.eye(n, dtype=bool)
    return float(np.sum(P[off] * np.log(P[off] / Q[off])))


def test_hardness_matches_direct_numpy(small):
    X, _ = small
    X = X[:40]
    Y = np.random.default_rng(1).normal(size=(40, 2))
    assert hardness(X, Y, perplexity=8) == pytest.approx(direct_kl(X, Y, 8), rel=1e-4)
    P = joint_affinities(X, 8)
    assert P.sum() == pytest.approx(1.0) and np.allclose(P, P.T) and np.all(np.diag(P) == 0)


def test_hardness_matches_sklearn_exact_kl(small):
    """Same embedding, same P as scikit-learn (squared distances, its bisection): KL within 1%."""
    from sklearn.manifold import TSNE

    X, _ = small
    tsne = TSNE(n_components=2, method="exact", perplexity=20, random_state=0, init="pca", max_iter=500)
    Y = tsne.fit_transform(X)
    ours = hardness(X, Y, perplexity=20)
    assert ours == pytest.approx(tsne.kl_divergence_, rel=0.01)
    # and exactly scikit-learn's own KL of that embedding (its private functions, when present)
    try:
        from sklearn.manifold._t_sne import _joint_probabilities, _kl_divergence
        from sklearn.metrics import pairwise_distances
    except ImportError:
        return
    P = _joint_probabilities(pairwise_distances(X, squared=True), 20, 0)
    theirs, _ = _kl_divergence(Y.ravel().astype(np.float64), P, 1, len(X), 2, compute_error=True)
    assert ours == pytest.approx(theirs, rel=1e-3)


def test_hardness_prefers_the_better_embedding(small):
    X, labels = small
    good = project(X, "tsne", perplexity=20, seed=0).coords
    bad = np.random.default_rng(0).permutation(good)
    assert hardness(X, good, perplexity=20) < hardness(X, bad, perplexity=20) - 0.5


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_gives_finite_coords(small, method):
    X, labels = small
    params = {"perplexity": 15} if method == "tsne" else {}
    proj = project(X, method, seed=3, **params)
    assert proj.coords.shape == (len(X), 2) and np.isfinite(proj.coords).all()
    assert proj.method == method and proj.params["seed"] == 3 and proj.seconds >= 0
    if method in ("tsne", "umap", "mds"):  # seeded: the same seed gives the same picture
        again = project(X, method, seed=3, **params)
        np.testing.assert_allclose(again.coords, proj.coords, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "method, params, word",
    [
        ("tsne", {"perplexity": 120}, "perplexity"),
        ("tsne", {"perplexity": -1}, "perplexity"),
        ("umap", {"n_neighbors": 1}, "n_neighbors"),
        ("isomap", {"n_neighbors": 1}, "n_neighbors"),
        ("lle", {"n_neighbors": 500}, "n_neighbors"),
        ("pca", {"bogus": 1}, "bogus"),
    ],
)
def test_bad_parameters_raise_clear_errors(small, method, params, word):
    X, _ = small
    with pytest.raises(ProjectionError, match=word):
        project(X, method, **params)


def test_nan_and_size_limits(small):
    X, _ = small
    bad = X.copy()
    bad[3, 2] = np.nan
    for method in ("tsne", "umap", "pca"):
        with pytest.raises(ProjectionError, match="NaN"):
            project(bad, method)
    with pytest.raises(ProjectionError, match="perplexity must be less than n_samples"):
        hardness(X[:20], X[:20, :2], perplexity=20)
    big = np.random.default_rng(0).random((LIMITS["mds"] + 1, 3))
    with pytest.raises(ProjectionError, match="subsample=True"):
        project(big, "mds")


def test_quality_metrics(small):
    X, labels = small
    Y = project(X, "tsne", perplexity=20).coords
    q = quality(X, Y, labels)
    assert set(q) == {"trustworthiness", "continuity", "knn_preservation", "knn_accuracy"}
    assert 0.85 < q["trustworthiness"] <= 1 and 0.8 < q["continuity"] <= 1
    assert q["knn_accuracy"] > 0.8  # digits separate well under t-SNE
    rand = quality(X, np.random.default_rng(0).normal(size=Y.shape), labels)
    assert rand["knn_preservation"] < q["knn_preservation"] and rand["knn_accuracy"] < 0.4


def test_procrustes_recovers_a_rotation():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(50, 2))
    theta = 0.7
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    B = 3 * A @ R
    np.testing.assert_allclose(procrustes_align(A, B), B - B.mean(0), atol=1e-4)
