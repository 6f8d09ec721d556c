"""The maths of comparing representations: CKA against its formula, its invariances, the debiased
minibatch estimator, probes equal to scikit-learn's, k-NN lists and the movers' kept share."""

from __future__ import annotations

import numpy as np
import pytest

from models.similarity.cka import (
    cka_matrix,
    gram_rbf,
    hsic_unbiased,
    linear_cka,
    minibatch_cka,
    rbf_cka,
)
from models.similarity.knn import knn_indices
from models.similarity.movers import kept_share, movers
from models.similarity.probes import folds, knn_accuracy, probe_accuracy


def direct_linear_cka(X, Y):
    """Kornblith et al.'s definition, written out: centred Grams, HSIC, normalised."""
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = H @ (X @ X.T) @ H, H @ (Y @ Y.T) @ H
    return np.trace(K @ L) / np.sqrt(np.trace(K @ K) * np.trace(L @ L))


def direct_rbf_cka(X, Y):
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n

    def gram(Z):
        d2 = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
        sigma = np.median(np.sqrt(d2[np.triu_indices(n, 1)]))
        return H @ np.exp(-d2 / (2 * sigma**2)) @ H

    K, L = gram(X), gram(Y)
    return np.trace(K @ L) / np.sqrt(np.trace(K @ K) * np.trace(L @ L))


def related(rng, n, p, q, noise=0.5):
    X = rng.normal(size=(n, p))
    return X, np.tanh(X @ rng.normal(size=(p, q))) + noise * rng.normal(size=(n, q))


@pytest.mark.parametrize("n,p,q", [(60, 5, 8), (40, 70, 12), (30, 50, 90)])  # narrow, one wide, both wider than n
def test_linear_cka_equals_the_formula(n, p, q):
    rng = np.random.default_rng(n + p + q)
    X, Y = related(rng, n, p, q)
    want = direct_linear_cka(X, Y)
    assert abs(linear_cka(X, Y) - want) <= 1e-6
    # all pairs, layers held in blocks of one (memory=1), agrees with the formula pair by pair
    layers = [X, Y, X[:, :3] ** 2]
    M = cka_matrix(layers, memory=1)
    for i, A in enumerate(layers):
        for j, B in enumerate(layers):
            assert abs(M[i, j] - direct_linear_cka(A, B)) <= 1e-6, (i, j)
    assert np.allclose(M, M.T) and np.allclose(np.diag(M), 1)
    assert np.allclose(cka_matrix(layers[:2], layers[1:]), M[:2, 1:], atol=1e-9)


def test_rbf_cka_equals_the_formula():
    rng = np.random.default_rng(3)
    X, Y = related(rng, 50, 6, 9)
    want = direct_rbf_cka(X, Y)
    assert abs(rbf_cka(X, Y) - want) <= 1e-6
    assert abs(cka_matrix([X], [Y], metric="rbf")[0, 0] - want) <= 1e-6
    K = gram_rbf(X)
    assert np.allclose(np.diag(K), 1) and K.min() > 0


@pytest.mark.parametrize("metric", ["linear", "linear-debiased", "rbf"])
def test_cka_of_a_representation_with_itself_is_one(metric):
    X = np.random.default_rng(1).normal(size=(80, 20))
    assert cka_matrix([X], [X.copy()], metric=metric, batch_size=40)[0, 0] == pytest.approx(1.0, abs=1e-9)


def test_linear_cka_is_invariant_to_rotation_and_isotropic_scaling_not_to_any_linear_map():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 10)) @ np.diag(np.linspace(0.2, 3, 10))
    Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert linear_cka(X, X @ Q) == pytest.approx(1.0, abs=1e-10)
    assert linear_cka(X, 7.5 * X) == pytest.approx(1.0, abs=1e-10)
    assert linear_cka(X, 0.01 * X @ Q + 3.0) == pytest.approx(1.0, abs=1e-10)  # a shift is centred away
    A = np.diag(np.geomspace(0.05, 20, 10)) @ rng.normal(size=(10, 10))  # invertible, not orthogonal
    assert abs(np.linalg.det(A)) > 1e-6
    assert linear_cka(X, X @ A) < 0.95
    assert cka_matrix([X], [X @ A])[0, 0] == pytest.approx(linear_cka(X, X @ A), abs=1e-9)


def test_debiased_minibatch_estimate_is_within_001_of_the_exact_value_at_10000_samples():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(10_000, 32))
    layers = [
        X,
        np.maximum(X @ rng.normal(size=(32, 64)), 0),
        np.tanh(X[:, :8] * 2) + 0.3 * rng.normal(size=(10_000, 8)),
    ]
    exact = cka_matrix(layers)
    estimate = cka_matrix(layers, metric="linear-debiased", batch_size=1000, seed=0)
    assert np.abs(estimate - exact).max() <= 0.01, (exact, estimate)
    assert exact[0, 2] < 0.9  # not a trivial all-ones case


def test_minibatch_estimator_is_the_average_of_song_et_al_unbiased_hsic():
    rng = np.random.default_rng(5)
    X, Y = related(rng, 90, 5, 7)
    order = np.random.default_rng(0).permutation(90)
    batches = [np.sort(b) for b in np.array_split(order, 3)]
    k = lambda Z: Z @ Z.T
    xy = sum(hsic_unbiased(k(X[b]), k(Y[b])) for b in batches)
    xx = sum(hsic_unbiased(k(X[b]), k(X[b])) for b in batches)
    yy = sum(hsic_unbiased(k(Y[b]), k(Y[b])) for b in batches)
    assert minibatch_cka(X, Y, batch_size=30, seed=0) == pytest.approx(xy / np.sqrt(xx * yy), abs=1e-9)


def test_cka_refuses_representations_of_different_samples():
    with pytest.raises(ValueError, match="same samples"):
        cka_matrix([np.zeros((10, 2))], [np.zeros((11, 2))])
    with pytest.raises(ValueError, match="metric"):
        cka_matrix([np.zeros((10, 2))], metric="cca")
    with pytest.raises(ValueError, match="2-D"):
        linear_cka(np.zeros(10), np.zeros((10, 2)))


def test_probe_accuracy_equals_scikit_learn_logistic_regression_with_the_same_folds():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=3)
    want = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=300, random_state=3)), X, y, cv=cv
    ).mean()
    assert probe_accuracy(X, y, n_folds=4, seed=3) == pytest.approx(want, abs=1e-12)
    assert [t.tolist() for _, t in folds(y, 4, 3)] == [t.tolist() for _, t in cv.split(X, y)]
    assert 0.85 < want <= 1


def test_knn_lists_and_leave_one_out_accuracy():
    from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    idx = knn_indices(X, 7)
    _, want = NearestNeighbors(n_neighbors=8).fit(X).kneighbors(X)
    assert np.array_equal(idx, want[:, 1:])  # itself first, then the same seven in the same order
    # leave-one-out: each sample voted on by its neighbours, never by itself
    predicted = [
        KNeighborsClassifier(7).fit(np.delete(X, i, 0), np.delete(y, i)).predict(X[i : i + 1])[0]
        for i in range(0, 300, 10)
    ]
    ours = np.array([np.bincount(y[idx[i]], minlength=4).argmax() for i in range(0, 300, 10)])
    assert (ours == np.array(predicted)).mean() >= 0.95  # the same up to ties, broken differently
    # two classes and an odd k: no ties, so leave-one-out accuracy equals scikit-learn's exactly
    y2 = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    loo = np.mean(
        [
            KNeighborsClassifier(7).fit(np.delete(X, i, 0), np.delete(y2, i)).predict(X[i : i + 1])[0] == y2[i]
            for i in range(300)
        ]
    )
    assert knn_accuracy(X, y2, 7) == pytest.approx(loo, abs=1e-12) and loo > 0.75
    assert knn_accuracy(X, y, 7) > 0.7
    assert knn_accuracy(rng.normal(size=(300, 5)), y, 7) < 0.4  # chance is 0.25


def test_movers_keep_every_neighbour_under_rotation_and_scale_and_few_between_unrelated_spaces():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert np.all(movers(X, 3.0 * X @ Q + 1.0, k=10) == 1)
    unrelated = movers(X, rng.normal(size=(400, 6)), k=10)
    assert unrelated.dtype == np.float32 and unrelated.mean() < 0.1
    a = np.array([rng.choice(500, 8, replace=False) for _ in range(100)])
    b = np.array(
        [
            np.r_[rng.permutation(row)[:m], rng.choice(np.setdiff1d(np.arange(500), row), 8 - m, replace=False)]
            for row, m in zip(a, rng.integers(0, 9, 100))
        ]
    )  # m of a row's neighbours kept, any order
    want = [len(set(r) & set(s)) / 8 for r, s in zip(a, b)]
    assert np.allclose(kept_share(a, b), want) and np.allclose(kept_share(a[:10], b[:10]), want[:10])


def test_both_exact_linear_paths_agree_and_memmapped_layers_are_read_in_place(tmp_path):
    """Features' cross products and streamed Gram rows are two routes to the same numbers."""
    from models.similarity import cka as cka_module

    rng = np.random.default_rng(8)
    Z = rng.normal(size=(600, 4))
    layers = [np.maximum(Z @ rng.normal(size=(4, w)) + rng.normal(size=(600, w)), 0) + 2 for w in (3, 200, 450)]
    files = []
    for i, X in enumerate(layers):
        np.save(tmp_path / f"l{i}.npy", X.astype(np.float32))
        files.append(np.load(tmp_path / f"l{i}.npy", mmap_mode="r"))
    assert cka_module._gram_rows_cheaper(files, files, True, 600, 1 << 30)
    rows = cka_module._gram_rows(files, files, True, None, None)
    feats = cka_module._blocked(files, files, True, "linear", None, 1.0, None, 1 << 30, None)
    assert np.abs(rows - feats).max() <= 1e-6
    assert np.abs(cka_module._gram_rows(files[:1], files, False, None, None) - feats[:1]).max() <= 1e-6
    for i in range(3):
        for j in range(3):
            assert (
                abs(
                    rows[i, j]
                    - direct_linear_cka(
                        layers[i].astype(np.float32).astype(float), layers[j].astype(np.float32).astype(float)
                    )
                )
                <= 1e-6
            )


@pytest.mark.parametrize("metric", ["linear", "linear-debiased", "rbf"])
def test_the_torch_path_a_gpu_takes_gives_the_numpy_numbers(metric):
    """``device`` runs the same code on torch tensors (here on the CPU: the GPU path, minus the GPU)."""
    pytest.importorskip("torch")
    from models.similarity import cka as cka_module

    rng = np.random.default_rng(9)
    Z = rng.normal(size=(300, 4))
    layers = [np.tanh(Z @ rng.normal(size=(4, w))) + 0.2 * rng.normal(size=(300, w)) for w in (6, 120, 400)]
    want = cka_matrix(layers, metric=metric, batch_size=100)
    got = cka_matrix(layers, metric=metric, batch_size=100, device="cpu")
    assert np.abs(got - want).max() <= 1e-6
    if metric == "linear":
        assert np.abs(cka_module._gram_rows(layers, layers, True, "cpu", None) - want).max() <= 1e-6
        assert np.abs(cka_matrix(layers[:1], layers, device="cpu") - want[:1]).max() <= 1e-6
