"""Projecting a network's layers as a chain: each layer started from the previous layer's map
lines neighbouring panels up (lower Procrustes disparity) at nearly the same t-SNE cost."""

from __future__ import annotations

import numpy as np
import pytest

from bench.capture import layered as bench_layered
from models.projections import ProjectionError
from models.projections.chain import adjacent_disparity, project_layers


def layered(n: int = 900, n_layers: int = 4, dim: int = 24, seed: int = 0) -> list[np.ndarray]:
    return bench_layered(n, n_layers, dim, seed, classes=8)


def test_previous_layer_init_aligns_neighbours_at_nearly_the_same_kl():
    arrays = layered()
    seen = []
    chain = project_layers(arrays, "tsne", init="previous", seed=0, on_layer=lambda i, p: seen.append(i))
    alone = project_layers(arrays, "tsne", init="independent", seed=0)
    assert seen == [0, 1, 2, 3] and all(p.coords.shape == (900, 2) for p in chain)
    d_chain = adjacent_disparity([p.coords for p in chain])
    d_alone = adjacent_disparity([p.coords for p in alone])
    assert np.mean(d_chain) < np.mean(d_alone), (d_chain, d_alone)
    assert all(a < b for a, b in zip(d_chain, d_alone)), (d_chain, d_alone)
    kl_chain = np.array([p.extra["kl_divergence"] for p in chain])
    kl_alone = np.array([p.extra["kl_divergence"] for p in alone])
    assert np.all(kl_chain <= kl_alone * 1.04), (kl_chain, kl_alone)  # within a few per cent
    assert chain[1].params["init"] == "array" and chain[1].params["n_iter"] < alone[1].params.get("n_iter", 750)


def test_umap_chain_and_bad_input():
    arrays = layered(n=300, n_layers=2)
    maps = project_layers(arrays, "umap", seed=0, n_neighbors=10)
    assert len(maps) == 2 and all(np.isfinite(p.coords).all() for p in maps)
    assert adjacent_disparity([p.coords for p in maps])[0] < 0.9
    with pytest.raises(ProjectionError, match="same samples"):
        project_layers([arrays[0], arrays[1][:10]], "tsne")
    with pytest.raises(ProjectionError, match="method"):
        project_layers(arrays, "pca")
    assert project_layers([], "tsne") == []
