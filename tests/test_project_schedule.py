"""A chained t-SNE layer stops on a KL plateau and still lands within 2 % of a full independent run."""

from __future__ import annotations

import numpy as np
import pytest

from models.projections.knn_graph import knn_graph
from models.studies import project as face
from models.studies import project_engine as engine
from models.studies import project_tsne as one


def _layers(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two 'layers' of the same samples: clustered 24-d points, and a rotated, noisier, partly mixed 16-d view
    of them (as a network's next layer arranges the same samples similarly, not identically)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(8, 24))
    labels = rng.integers(0, 8, n)
    X1 = centres[labels] + rng.normal(0, 1.2, size=(n, 24))
    W = np.linalg.qr(rng.normal(size=(24, 24)))[0][:, :16]
    X2 = np.tanh(X1 @ W / 3) * 3 + rng.normal(0, 0.4, size=(n, 16))
    return X1.astype(np.float32), X2.astype(np.float32)


def test_plateau_waits_for_the_minimum_then_stops_on_a_flat_kl():
    every = one.TSNE_CALLBACK_EVERY
    falling = [2.0 * 0.9**i for i in range(30)]  # 10 % per step: never a plateau
    flat = [1.5] * 30
    assert not any(one.plateaued(falling[: i + 1], (i + 1) * every) for i in range(30))
    stops = [i for i in range(30) if one.plateaued(flat[: i + 1], (i + 1) * every)]
    assert stops and stops[0] * every + every >= one.TSNE_MIN_ITER


def test_a_chained_layer_stops_early_within_two_percent_of_an_independent_run():
    X1, X2 = _layers()
    config = face.Config(run="test", n_jobs=1)
    g1, g2 = knn_graph(X1, 90), knn_graph(X2, 90)
    first, _, _ = engine._tsne(X1, g1, None, config, None)
    _, independent, _ = engine._tsne(X2, g2, None, config, None)
    seen = []
    chained, kl, iterations = engine._tsne(X2, g2, first, config, seen.append)
    last = seen[-1]
    assert last.done < last.total  # the plateau stopped it before WARM's cap
    assert iterations == last.done
    assert chained.shape == (len(X2), 2) and np.isfinite(chained).all()
    assert kl == pytest.approx(last.metrics["kl"])  # the KL reported is the map's, not the exaggerated phase's
    assert kl <= 1.02 * independent, (kl, independent)
