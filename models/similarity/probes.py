"""What a layer knows about the labels: a linear probe and k-NN in the layer's own space.

The linear probe is scikit-learn's ``LogisticRegression`` on standardized features (the scaler
fitted on each training fold only), cross-validated over fixed, seeded ``StratifiedKFold`` folds:
every layer of every run is scored on the same held-out parts, so the numbers compare across depth,
steps and models. k-NN accuracy is leave-one-out: each sample's class predicted by the majority of
its k nearest other samples (ties: the class of the nearest tied neighbour).
"""

from __future__ import annotations

import warnings

import numpy as np

from .knn import knn_indices

FOLDS = 5
MAX_ITER = 300


def folds(labels: np.ndarray, n_folds: int = FOLDS, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) index pairs of seeded ``StratifiedKFold``; fewer folds when a class is smaller."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    _, counts = np.unique(labels, return_counts=True)
    if counts.size < 2:
        raise ValueError(f"a probe needs at least 2 classes (got {counts.size})")
    n_folds = int(min(n_folds, counts.min()))
    if n_folds < 2:
        raise ValueError(f"a probe needs at least 2 samples of every class (the smallest has {counts.min()})")
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def probe_model(C: float = 1.0, max_iter: int = MAX_ITER, seed: int = 0):
    """Standardize, then multinomial logistic regression (a fresh, unfitted pipeline)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))


def probe_accuracy(
    X: np.ndarray,
    labels: np.ndarray,
    n_folds: int = FOLDS,
    seed: int = 0,
    C: float = 1.0,
    max_iter: int = MAX_ITER,
    splits: list | None = None,
) -> float:
    """Mean held-out accuracy of a linear probe over the folds (``splits``, else :func:`folds`)."""
    from sklearn.exceptions import ConvergenceWarning

    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    if X.ndim != 2 or X.shape[0] != labels.shape[0]:
        raise ValueError(
            f"X must be samples × dimensions with one label per sample (got {X.shape}, {labels.shape[0]} labels)"
        )
    splits = splits if splits is not None else folds(labels, n_folds, seed)
    scores = []
    for train, test in splits:
        model = probe_model(C, max_iter, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X[train], labels[train])
        scores.append(float(np.mean(model.predict(X[test]) == labels[test])))
    return float(np.mean(scores))


def knn_accuracy(X: np.ndarray, labels: np.ndarray, k: int = 10, neighbours: np.ndarray | None = None) -> float:
    """Leave-one-out k-NN accuracy in ``X``'s own (Euclidean) space."""
    labels = np.asarray(labels)
    idx = neighbours if neighbours is not None else knn_indices(X, k)
    return float(np.mean(knn_predict(idx, labels) == labels))


def knn_predict(neighbours: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Majority class among each row's neighbours (nearest first); a tie goes to the nearest tied class."""
    labels = np.asarray(labels)
    classes, coded = np.unique(labels, return_inverse=True)
    votes = coded[neighbours]  # n × k, nearest first
    n, k = votes.shape
    counts = np.zeros((n, classes.size))
    # one vote each, plus a tie-breaker smaller than one vote that favours nearer neighbours
    weights = 1.0 + (k - np.arange(k)) / (k * (k + 1.0))
    np.add.at(counts, (np.repeat(np.arange(n), k), votes.ravel()), np.tile(weights, n))
    return classes[counts.argmax(1)]
