"""The Hardness tab's grid form (estimate, checks), the bars' per-run marks and spread, and the Methods
tab's parameters and compile-free timings (no browser)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import figures
from dashboard.views import hardness as view
from dashboard.views import methods as methods_view
from models.cache import ResultCache
from models.store import RunStore
from models.studies import hardness, hardness_engine


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    cfg = hardness.Config(
        depths=[2],
        activations=["relu", "tanh"],
        runs=2,
        epochs=2,
        per_class=8,
        perplexity=8,
        methods=["tsne"],
        n_jobs=1,
        tsne_iter=100,
    )
    return hardness.run(cfg, store=store), store


def test_grid_values_are_checked_and_ordered_like_the_study():
    acts, depths, runs, epochs, per_class = view.grid_values(["tanh", "relu", "bogus"], [3, 1, 3], "2", 5, 20)
    assert acts == ("tanh", "relu") and depths == (1, 3) and (runs, epochs, per_class) == (2, 5, 20)
    for bad, word in (
        (([], [1], 1, 1, 5), "activation"),
        ((["relu"], [], 1, 1, 5), "depth"),
        ((["relu"], [1], 11, 1, 5), "runs"),
        ((["relu"], [1], 1, None, 5), "epochs"),
    ):
        with pytest.raises(ValueError, match=word):
            view.grid_values(*bad)


def test_estimate_counts_networks_and_grows_with_the_work():
    nets, base = view.estimate(["relu", "tanh"], [2, 5], 3, 10, 50, 1400)
    assert nets == 2 * 2 * 3 and base > 0
    assert view.estimate(["relu", "tanh"], [2, 5], 3, 20, 50, 1400)[1] > base  # more epochs
    assert view.estimate(["relu", "tanh"], [2, 5], 3, 10, 50, 14000)[1] > base  # more data
    assert view.estimate(["relu", "tanh"], [2, 7], 3, 10, 50, 1400)[1] > base  # deeper
    assert view.estimate(["relu"], [2, 5], 3, 10, 50, 1400)[0] == 6
    assert view.TRAINS == hardness.KIND  # New run… → Layer hardness opens the grid form


def test_bars_one_panel_per_activation_runs_side_by_side_and_spread(study):
    run, _ = study
    tables = hardness.kl_tables(run.metrics["hardness"], 2, "tsne", run.config["activations"])
    assert [t[0] for t in tables] == ["relu", "tanh"]
    fig = figures.hardness_figure(tables)
    assert [a.text for a in fig.layout.annotations] == ["relu", "tanh"]
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 4 and len({b.offsetgroup for b in bars}) == 2 and fig.layout.barmode == "group"
    means = [t for t in fig.data if t.type == "scatter"]
    assert len(means) == 2
    for (_, _, table), mean in zip(tables, means):
        np.testing.assert_allclose(mean.y, table.mean(0))
        np.testing.assert_allclose(np.asarray(mean.y) + np.asarray(mean.error_y.array), table.max(0))
        np.testing.assert_allclose(np.asarray(mean.y) - np.asarray(mean.error_y.arrayminus), table.min(0))
        assert mean.error_y.visible


def test_method_params_from_the_inputs():
    assert methods_view.method_params(None, 30, "", 12) == {"umap": {"n_neighbors": 30}, "isomap": {"n_neighbors": 12}}
    assert methods_view.method_params(5.5, None, None, None) == {"tsne": {"perplexity": 5.5}}
    with pytest.raises(ValueError, match="UMAP neighbours"):
        methods_view.method_params(None, 2.5, None, None)
    with pytest.raises(ValueError, match="perplexity"):
        methods_view.method_params(1, None, None, None)


def test_parameters_change_the_result_and_the_cache_key(study, monkeypatch):
    run, store = study
    cache = ResultCache(store.root / ".cache")
    base = hardness_engine.project_run_layer(run, "relu-d2-r0", "hidden1", ["tsne"], cache)
    assert base["tsne"]["cached"]  # the study's own perplexity: the study's result, not recomputed
    np.testing.assert_array_equal(base["tsne"]["coords"], run.arrays("proj-relu-d2-r0")["tsne.hidden1"])
    other = hardness_engine.project_run_layer(
        run, "relu-d2-r0", "hidden1", ["tsne"], cache, params={"tsne": {"perplexity": 4}}
    )
    assert not other["tsne"]["cached"]
    assert not np.allclose(other["tsne"]["coords"], base["tsne"]["coords"])
    again = hardness_engine.project_run_layer(
        run, "relu-d2-r0", "hidden1", ["tsne"], cache, params={"tsne": {"perplexity": 4.0}}
    )
    assert again["tsne"]["cached"]
    np.testing.assert_array_equal(again["tsne"]["coords"], other["tsne"]["coords"])
    cfg = hardness.Config.from_record(run.config)
    assert hardness_engine.run_layer_params(cfg, "umap", {"umap": {"n_neighbors": 15}}) == {}
    assert hardness_engine.run_layer_params(cfg, "umap", {"umap": {"n_neighbors": 7}}) == {"n_neighbors": 7}


def test_each_computed_method_is_warmed_up_before_its_timed_call(study, monkeypatch):
    run, store = study
    cache = ResultCache(store.root / ".cache")
    calls = []
    real = hardness_engine.project

    def spy(X, method, **kw):
        calls.append((method, len(X)))
        return real(X, method, **kw)

    monkeypatch.setattr(hardness_engine, "project", spy)
    monkeypatch.setattr(hardness_engine, "WARMED", {})
    out = hardness_engine.project_run_layer(
        run, "tanh-d2-r1", "hidden2", ["pca", "umap"], cache, params={"umap": {"n_neighbors": 6}}
    )
    n = len(run.arrays("sample")["labels"])
    # the warm-up on 40 rows comes first, outside the timed call; then the real projection
    assert calls == [("pca", 40), ("pca", n), ("umap", 40), ("umap", n)]
    assert set(hardness_engine.WARMED) == {"pca", "umap"}
    assert out["umap"]["warmup_seconds"] == hardness_engine.WARMED["umap"] and out["umap"]["seconds"] >= 0
    # warmed once per process: another setting computes again without a second warm-up
    calls.clear()
    hardness_engine.project_run_layer(
        run, "tanh-d2-r1", "hidden2", ["umap"], cache, params={"umap": {"n_neighbors": 7}}
    )
    assert calls == [("umap", n)]
    note = methods_view._timing_note(out)
    assert "umap" in note and "compile" in note
