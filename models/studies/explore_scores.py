"""The Explore study's scores: pure functions of arrays (numpy only; HDBSCAN imported when used).

How likely a label is wrong (the neighbours' weighted vote, averaged with the model's class
probabilities when it gave them), which misclassified samples cluster together, and the honest
check of the ranking: flip a seeded fraction of labels and measure precision@k.
"""

from __future__ import annotations

import numpy as np


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


def mistake_scores(
    labels: np.ndarray, votes: np.ndarray, probs: np.ndarray | None = None
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


def error_clusters(
    X: np.ndarray, labels: np.ndarray, predictions: np.ndarray, *, min_cluster_size: int | None = None
) -> tuple[np.ndarray, list[dict]]:
    """HDBSCAN over the samples with prediction ≠ label; per cluster its dominant (label, prediction).

    Returns per-sample cluster ids (−1: not an error or noise) and a list of
    clusters sorted by size, each ``{id, size, label, prediction, share, members}``
    (the JSON an explore run stores; :func:`models.studies.explore.clusters` reads it back typed).
    """
    from sklearn.cluster import HDBSCAN

    n = len(labels)
    cluster = np.full(n, -1, dtype=np.int64)
    wrong = np.flatnonzero(predictions != labels)
    mcs = min_cluster_size or max(5, len(wrong) // 40)
    if len(wrong) < max(2 * mcs, 10):
        return cluster, []
    found = HDBSCAN(min_cluster_size=mcs, min_samples=min(5, mcs), allow_single_cluster=True, copy=True).fit_predict(
        X[wrong]
    )
    cluster[wrong] = found
    out = []
    for c in np.unique(found[found >= 0]):
        members = wrong[found == c]
        pairs, counts = np.unique(np.stack([labels[members], predictions[members]], axis=1), axis=0, return_counts=True)
        top = int(counts.argmax())
        out.append(
            {
                "id": int(c),
                "size": int(len(members)),
                "label": int(pairs[top, 0]),
                "prediction": int(pairs[top, 1]),
                "share": float(counts[top] / len(members)),
                "members": members.tolist(),
            }
        )
    out.sort(key=lambda d: -d["size"])
    return cluster, out


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


# -- ranked lists (the Mistakes and Outliers lists page through every sample) ---------------
def ranked_order(primary: np.ndarray, secondary: np.ndarray, *, secondary_descending: bool = True) -> np.ndarray:
    """Every sample position, highest ``primary`` first; ties broken by ``secondary`` (highest first, or
    lowest with ``secondary_descending=False``), then by position (stable). NaNs sort last."""
    p = np.asarray(primary, dtype=np.float64)
    s = np.asarray(secondary, dtype=np.float64)
    if p.shape != s.shape or p.ndim != 1:
        raise ValueError(f"primary and secondary must be 1-D of one length (got {p.shape} and {s.shape})")
    p = np.where(np.isfinite(p), p, -np.inf)
    s = s if secondary_descending else -s
    s = np.where(np.isfinite(s), s, -np.inf)
    return np.lexsort((np.arange(len(p)), -s, -p))


def page_of(order: np.ndarray, page: int, size: int) -> tuple[np.ndarray, int, int]:
    """(positions on ``page``, that page clamped to the existing ones, number of pages) of ``order``."""
    if size < 1:
        raise ValueError(f"page size must be ≥ 1 (got {size})")
    pages = max(1, -(-len(order) // size))
    page = min(max(int(page or 0), 0), pages - 1)
    return order[page * size : (page + 1) * size], page, pages


def centre_distance(unit: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cosine distance of each (unit-length) row to the mean direction of its own label's class."""
    unit = np.asarray(unit, dtype=np.float32)
    labels = np.asarray(labels)
    out = np.zeros(len(labels), dtype=np.float32)
    for c in np.unique(labels):
        rows = labels == c
        centre = unit[rows].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        out[rows] = 1.0 - unit[rows] @ centre
    return out


def cluster_mix(
    labels: np.ndarray, predictions: np.ndarray, members, *, pure: float = 0.6, most: int = 5
) -> tuple[bool, list[int]]:
    """(whether the cluster is mixed: its commonest (label, prediction) pair is under ``pure`` of its
    members; the classes involved, labels and predictions together, commonest first, at most ``most``)."""
    members = np.asarray(members, dtype=np.int64)
    if members.size == 0:
        return False, []
    pairs, counts = np.unique(np.stack([labels[members], predictions[members]], axis=1), axis=0, return_counts=True)
    mixed = counts.max() / members.size < pure
    classes, n = np.unique(np.concatenate([labels[members], predictions[members]]), return_counts=True)
    return bool(mixed), [int(c) for c in classes[np.lexsort((classes, -n))][:most]]
