"""The Compare study reads the k-NN graph a projection cached for the same capture layer (issue 22): built once,
never again for the k-NN accuracy and the movers; the same numbers as computing the neighbours directly where
the graph is exact, within a stated tolerance where it is pynndescent's approximation."""

from __future__ import annotations

import numpy as np
import pytest

from models.cache import ResultCache
from models.projections import knn_graph as knn_module
from models.similarity.knn import knn_indices
from models.store import CACHE
from models.studies import capture as capture_face
from models.studies import compare, compare_engine
from models.studies import project as face
from models.studies import project_engine as engine
from tests.projection_data import big_capture

N = 1500


@pytest.fixture()
def small(tmp_path, monkeypatch):
    # short t-SNE schedules: what is counted here is the graphs, not the optimisation
    monkeypatch.setattr(engine, "TSNE_FIRST", {"early_exaggeration_iter": 30, "n_iter": 30})
    monkeypatch.setitem(engine.WARM, "tsne", {"early_exaggeration_iter": 10, "n_iter": 30})
    return big_capture(tmp_path, n=N)


def _counting(monkeypatch):
    """(graph builds, direct k-NN searches of the compare study): lists the wrapped functions append to."""
    builds, direct = [], []
    real_graph, real_direct = engine.knn_graph, compare_engine.knn_indices
    monkeypatch.setattr(engine, "knn_graph", lambda X, k, **kw: builds.append((len(X), k)) or real_graph(X, k, **kw))
    monkeypatch.setattr(compare_engine, "knn_indices", lambda X, k: direct.append((len(X), k)) or real_direct(X, k))
    return builds, direct


def _compare_twice(store, run):
    """The compare run reading the cached graphs, then the same compare with the cache forgotten (direct)."""
    config = compare.Config(runs=(run.id,), k=10, folds=2)
    with_graph = compare.run(config, store=store)
    ResultCache(store.root / CACHE).forget(run.id)
    assert engine.cached_graph(ResultCache(store.root / CACHE), run.id, 0, "hidden1", 10) is None
    direct = compare.run(config, store=store)
    return with_graph, direct


def test_compare_reads_the_projection_graph_built_once_and_matches_the_exact_lists(small, monkeypatch):
    data, store, run = small
    builds, direct = _counting(monkeypatch)
    layers = capture_face.layer_names(run)
    face.run(face.Config(run=run.id, method="tsne"), store=store)
    assert builds == [(N, 90)] * len(layers)  # one graph per layer (3 × perplexity neighbours), exact below 4,096
    found = engine.cached_graph(ResultCache(store.root / CACHE), run.id, 0, layers[0], 10, samples=N)
    assert found is not None and found[2] is True and found[0].shape == (N, 11)
    assert engine.cached_graph(ResultCache(store.root / CACHE), run.id, 0, layers[0], 91) is None  # too few

    for layer in layers:  # exact graph: the same neighbour lists as the direct search, in the same order
        idx = engine.cached_graph(ResultCache(store.root / CACHE), run.id, 0, layer, 10, samples=N)[0]
        X = np.asarray(capture_face.activations(run, layer, 0), dtype=np.float32)
        np.testing.assert_array_equal(idx[:, 1:], knn_indices(X, 10))
    with_graph, plain = _compare_twice(store, run)
    assert len(builds) == len(layers)  # the compare study built no graph
    assert direct == [(N, 10)] * len(layers)  # ... and searched directly only once the cache was forgotten
    a, b = with_graph.manifest["metrics"], plain.manifest["metrics"]
    assert a["knn"] == b["knn"]
    np.testing.assert_array_equal(with_graph.arrays("movers")["kept"], plain.arrays("movers")["kept"])
    assert a["movers"]["mean_kept"] == b["movers"]["mean_kept"]


def test_an_approximate_graph_gives_the_compare_numbers_within_tolerance(small, monkeypatch):
    data, store, run = small
    monkeypatch.setattr(knn_module, "EXACT_BELOW", 0)  # pynndescent even at this size
    builds, direct = _counting(monkeypatch)
    layers = capture_face.layer_names(run)
    face.run(face.Config(run=run.id, method="tsne"), store=store)
    cache = ResultCache(store.root / CACHE)
    for layer in layers:
        idx, _, exact = engine.cached_graph(cache, run.id, 0, layer, 10, samples=N)
        assert exact is False
        X = np.asarray(capture_face.activations(run, layer, 0), dtype=np.float32)
        truth = knn_indices(X, 10)
        recall = np.mean([len(np.intersect1d(r, s)) / 10 for r, s in zip(idx[:, 1:], truth)])
        assert recall >= 0.95, (layer, recall)
    direct.clear()
    with_graph, plain = _compare_twice(store, run)
    assert len(builds) == len(layers)
    assert direct == [(N, 10)] * len(layers)  # only the forgotten-cache compare searched
    a, b = with_graph.manifest["metrics"], plain.manifest["metrics"]
    for layer in layers:  # stated tolerance: k-NN accuracy within 0.01, the movers' mean share within 0.02
        assert abs(a["knn"][layer] - b["knn"][layer]) <= 0.01
    assert abs(a["movers"]["mean_kept"] - b["movers"]["mean_kept"]) <= 0.02
    kept_a, kept_b = with_graph.arrays("movers")["kept"], plain.arrays("movers")["kept"]
    assert np.mean(np.abs(kept_a - kept_b)) <= 0.05


def test_a_subsampled_compare_does_not_read_a_graph_of_every_sample(small, monkeypatch):
    data, store, run = small
    builds, direct = _counting(monkeypatch)
    face.run(face.Config(run=run.id, method="tsne"), store=store)
    compare.run(compare.Config(runs=(run.id,), k=10, folds=2, probe_samples=500), store=store)
    # the graph's neighbours are among all 1,500 samples, not the 500 compared: the lists are searched directly
    assert direct == [(500, 10)] * len(capture_face.layer_names(run))
