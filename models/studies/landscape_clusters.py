"""The sparse landscape's pure pieces (numpy, scikit-learn): which samples use a 3-unit slice of the
latent space, which slices to look at, their MeanShift density clusters, directions for the
continuity spheres, and one model's row of the consistency table. The engine calls them on the
codes it computes; they know nothing of torch.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

__all__ = [
    "active_units",
    "significant",
    "rank_slices",
    "diverse_slices",
    "slice_clusters",
    "sphere_directions",
    "knn_classifier",
    "consistency_row",
]


def active_units(Z: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Per sample, how many latent units carry at least ``fraction`` of its largest activation."""
    top = Z.max(1, keepdims=True)
    return ((Z >= fraction * top) & (Z > 0)).sum(1)


def significant(Z: np.ndarray, slice_: tuple[int, int, int], f: float = 0.25) -> np.ndarray:
    """Indices of samples whose activation sum on ``slice_`` is ≥ ``f`` × the slice's largest sum."""
    s = Z[:, list(slice_)].sum(1)
    top = s.max() if len(s) else 0.0
    return np.flatnonzero(s >= f * top) if top > 0 else np.array([], dtype=np.int64)


def rank_slices(Z: np.ndarray, f: float, count: int, min_members: int) -> list[tuple[int, int, int]]:
    """The ``count`` slices with most significant samples: built from the most used units, so the
    search stays small instead of visiting every one of C(latent, 3) slices."""
    usage = (Z > 0).mean(0)
    units = np.argsort(-usage)[: min(Z.shape[1], 10)]
    scored = []
    for sl in combinations(sorted(units.tolist()), 3):
        n = len(significant(Z, sl, f))
        if n >= min_members and np.any(Z[:, list(sl)].sum(1) > 0):
            scored.append((n, sl))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [sl for _, sl in scored[:count]]


def diverse_slices(slices: list[tuple[int, int, int]], count: int) -> list[tuple[int, int, int]]:
    """``count`` of ``slices`` (ranked) for the map: greedily those sharing at most one unit with every slice
    already taken, then the rest in rank order — the top-ranked slices all hold the busiest units and
    decode to the same few images, so a map of them repeats one row."""
    taken: list[tuple[int, int, int]] = []
    for sl in slices:
        if len(taken) < count and all(len(set(sl) & set(t)) <= 1 for t in taken):
            taken.append(sl)
    taken += [sl for sl in slices if sl not in taken][: count - len(taken)]
    return taken


def slice_clusters(P: np.ndarray, seed: int = 0, sample: int | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """MeanShift clusters of slice points ``P`` (n×3): centres and sizes ordered by size, and the bandwidth.

    With ``sample`` MeanShift fits on at most that many points (drawn with ``seed``) and every point is
    then assigned to its nearest centre (what MeanShift's own labels are), so a slice of 10,000 MNIST
    images costs what one of 2,000 does."""
    from sklearn.cluster import MeanShift, estimate_bandwidth

    bw = float(estimate_bandwidth(P, quantile=0.2, n_samples=min(500, len(P)), random_state=seed))
    if not bw > 0:
        bw = float(np.std(P) + 1e-6)
    fit_on = P
    if sample is not None and len(P) > sample:
        fit_on = P[np.random.default_rng(seed).choice(len(P), sample, replace=False)]
    ms = MeanShift(bandwidth=bw, bin_seeding=True).fit(fit_on)
    labels = ms.predict(P) if fit_on is not P else ms.labels_
    sizes = np.bincount(labels, minlength=len(ms.cluster_centers_))
    order = np.argsort(-sizes, kind="stable")
    return ms.cluster_centers_[order], sizes[order], bw


def sphere_directions(n: int) -> np.ndarray:
    """``n`` evenly spread unit vectors in 3-D (a Fibonacci sphere)."""
    k = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * k / n)
    theta = np.pi * (1 + 5**0.5) * k
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)


def knn_classifier(features: np.ndarray, labels: np.ndarray, k: int = 10):
    """A kNN classifier of images (flat features) that judges what a decoded centre looks like."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=min(k, len(labels))).fit(features, labels)


def consistency_row(
    sizes: np.ndarray,
    classes: np.ndarray,
    confidences: np.ndarray,
    n_samples: int,
    n_classes: int,
    class_names: list[str],
    margin: float,
    confidence: float,
) -> dict:
    """One model's row: landscape size, recognition, completeness, highest / lowest populated class.

    ``sizes``, ``classes``, ``confidences``: one entry per cluster (all slices together).
    """
    big = sizes >= margin * n_samples
    size = int(big.sum())
    recognised = big & (confidences >= confidence)
    recognition = float(recognised.sum() / size) if size else 0.0
    population = np.zeros(n_classes)
    np.add.at(population, classes[recognised], sizes[recognised])
    present = population > 0
    return {
        "size": size,
        "recognition": round(recognition, 3),
        "completeness": bool(present.all()),
        "classes_found": int(present.sum()),
        "highest": class_names[int(population.argmax())] if present.any() else "",
        "lowest": class_names[int(np.argmin(np.where(present, population, np.inf)))] if present.any() else "",
        "missing": [class_names[i] for i in np.flatnonzero(~present)],
    }
