"""The exact-gradient t-SNE kernel behind hardness studies: its gradient, its search, its optimum."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from models import datasets
from models.exact_tsne import conditional_affinities, gradient, optimize, threads
from models.projections import ProjectionError, hardness, joint_affinities, kl_divergence, project, squared_distances


@pytest.fixture(scope="module")
def digits():
    ds = datasets.load("digits", split="test", per_class=20, seed=0)
    return ds.features.astype(np.float64), ds.labels


def test_gradient_matches_finite_differences(digits):
    """gradient() is ∂KL/∂Y divided by t-SNE's constant 4 (openTSNE's convention)."""
    X = digits[0][:30]
    P = joint_affinities(X, 8)
    Y = np.random.default_rng(0).normal(size=(30, 2))
    g = gradient(Y, P)
    h = 1e-5
    numeric = np.zeros_like(Y)
    for i in range(len(Y)):
        for d in range(2):
            up, down = Y.copy(), Y.copy()
            up[i, d] += h
            down[i, d] -= h
            numeric[i, d] = (kl_divergence(P, up) - kl_divergence(P, down)) / (2 * h)
    np.testing.assert_allclose(4 * g, numeric, rtol=2e-3, atol=1e-5)
    # exaggeration scales the attractive part only
    attract = gradient(Y, P, 2.0) - g
    assert np.abs(attract).max() > 1e-4 and not np.allclose(gradient(Y, P, 2.0), 2 * g)


def test_conditional_affinities_match_sklearn_search(digits):
    from sklearn.manifold._utils import _binary_search_perplexity

    D = squared_distances(digits[0])
    ours = conditional_affinities(D, 30.0, 1e-5, 100)
    theirs = _binary_search_perplexity(D.astype(np.float32), 30.0, 0)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert np.allclose(ours.sum(1), 1.0) and np.all(np.diag(ours) == 0)


def test_exact_optimum_beats_barnes_hut_and_sklearn():
    """On the objective we score, the exact optimiser ends no worse than Barnes-Hut at equal steps.

    1,000 digits, the size of a study's sample (below ~500 points every optimiser's local
    optimum differs by a few per cent with the seed, so a smaller case would test noise).
    """
    from sklearn.manifold import TSNE

    X = datasets.load("digits", split="train", per_class=100, seed=0).features.astype(np.float64)
    exact = project(X, "tsne", perplexity=30, seed=0, gradient="exact")
    bh = project(X, "tsne", perplexity=30, seed=0, gradient="bh", n_jobs=1)
    sk = TSNE(perplexity=30, random_state=0, init="pca").fit_transform(X)
    kl_exact = hardness(X, exact.coords, perplexity=30)
    assert exact.extra["gradient"] == "exact" and bh.extra["gradient"] == "bh"
    assert exact.extra["kl_divergence"] == pytest.approx(kl_exact, rel=1e-6)
    assert kl_exact <= hardness(X, bh.coords, perplexity=30) * 1.01
    assert kl_exact <= hardness(X, sk, perplexity=30) * 1.01


def test_exact_is_deterministic_and_honours_init(digits):
    X, _ = digits
    a = project(X, "tsne", seed=3, n_iter=100).coords
    b = project(X, "tsne", seed=3, n_iter=100).coords
    np.testing.assert_array_equal(a, b)
    start = np.random.default_rng(1).normal(size=(len(X), 2))
    given = project(X, "tsne", init=start, n_iter=100, seed=3).coords
    # the array is rescaled to std 1e-4 (openTSNE's advice) and used as the start, seed or not
    expected = optimize(joint_affinities(X, 30), start / start[:, 0].std() * 1e-4, n_iter=100)
    np.testing.assert_allclose(given, expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(given, a, atol=1e-2)


def test_optimize_lowers_kl_from_its_start(digits):
    X, _ = digits
    P = joint_affinities(X, 20)
    start = np.random.default_rng(0).normal(scale=1e-4, size=(len(X), 2))
    Y = optimize(P, start, n_iter=200, early_exaggeration_iter=50)
    assert kl_divergence(P, Y) < kl_divergence(P, start) - 1.0


@pytest.mark.parametrize(
    "params, word",
    [
        ({"gradient": "newton"}, "gradient"),
        ({"gradient": "exact", "theta": 0.5}, "theta"),
        ({"affinities": np.ones((3, 3))}, "affinities"),
        ({"init": "spectral"}, "init"),
    ],
)
def test_bad_tsne_parameters_are_named(digits, params, word):
    with pytest.raises(ProjectionError, match=word):
        project(digits[0], "tsne", **params)


def test_threads_restores_the_setting():
    before = numba.get_num_threads()
    with threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
