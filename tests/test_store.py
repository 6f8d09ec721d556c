"""The run store: round trips, atomic writes (a writer killed mid-way leaves nothing), listing, deletion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from models.cache import ResultCache, cache_key
from models.store import RunStore, StoreError

ROOT = Path(__file__).resolve().parent.parent


def test_save_load_roundtrip(store_dir):
    store = RunStore(store_dir)
    net = torch.nn.Linear(3, 2)
    run_id = store.save(
        "demo",
        dataset="digits",
        config={"depth": 3},
        seed=7,
        metrics={"acc": np.float32(0.5), "bad": float("nan"), "rows": [{"kl": np.float64(1.25)}]},
        arrays={"coords": {"xy": np.arange(6.0).reshape(3, 2), "labels": np.array([0, 1, 1])}},
        weights={"model": net.state_dict()},
        files={"hardness.csv": "a,b\n1,2\n"},
    )
    run = store.load(run_id)
    assert run.kind == "demo" and run.manifest["dataset"] == "digits" and run.manifest["seed"] == 7
    assert run.config == {"depth": 3}
    assert run.metrics["acc"] == pytest.approx(0.5) and run.metrics["bad"] is None
    assert run.metrics["rows"][0]["kl"] == 1.25
    assert run.manifest["status"] == "complete" and "numpy" in run.manifest["versions"]
    np.testing.assert_array_equal(run.arrays("coords")["xy"], np.arange(6.0).reshape(3, 2))
    state = run.weights("model")
    assert torch.equal(state["weight"], net.weight.detach())
    assert run.file("hardness.csv").read_text().startswith("a,b")
    assert json.loads((run.path / "manifest.json").read_text())["id"] == run_id


def test_list_newest_first_and_filters(store_dir):
    store = RunStore(store_dir)
    a = store.save("alpha", dataset="digits", config={}, seed=0, run_id="alpha-1")
    b = store.save("beta", dataset="mnist", config={}, seed=0, run_id="beta-1")
    (store_dir / "beta-1" / "manifest.json").write_text(
        (store_dir / "beta-1" / "manifest.json").read_text().replace('"created": "', '"created": "9')
    )
    assert [r.id for r in store.list()] == [b, a]
    assert [r.id for r in store.list(kind="alpha")] == [a]
    assert [r.id for r in store.list(dataset="mnist")] == [b]


def test_failed_writer_leaves_nothing(store_dir):
    store = RunStore(store_dir)
    with pytest.raises(RuntimeError):
        with store.writer("demo", dataset="digits", config={}, seed=0) as w:
            w.add_arrays("a", {"x": np.zeros(3)})
            raise RuntimeError("boom")
    assert store.list() == [] and list(store_dir.iterdir()) == []


def test_bad_names_and_missing_runs(store_dir):
    store = RunStore(store_dir)
    for bad in ("../etc", "a/b", "", ".hidden"):
        with pytest.raises(StoreError, match="not a run id"):
            store.load(bad)
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.load("nope")
    run_id = store.save("demo", dataset="digits", config={}, seed=0)
    with pytest.raises(StoreError, match="no arrays named 'missing'"):
        store.load(run_id).arrays("missing")
    with pytest.raises(StoreError, match="array name"):
        store.load(run_id).arrays("../../x")
    with pytest.raises(StoreError, match="dtype object"):
        store.save("demo", dataset="d", config={}, seed=0, arrays={"a": {"x": np.array([{}, 1], dtype=object)}})


def test_corrupt_manifest_is_reported_and_skipped(store_dir):
    store = RunStore(store_dir)
    run_id = store.save("demo", dataset="digits", config={}, seed=0)
    (store_dir / run_id / "manifest.json").write_text("{not json")
    with pytest.raises(StoreError, match="unreadable manifest"):
        store.load(run_id)
    assert store.list() == []


def test_delete(store_dir):
    store = RunStore(store_dir)
    run_id = store.save("demo", dataset="digits", config={}, seed=0)
    store.delete(run_id)
    assert store.list() == [] and not (store_dir / run_id).exists()
    with pytest.raises(StoreError):
        store.delete(run_id)


WRITER = textwrap.dedent("""
    import sys, time, numpy as np
    from models.store import RunStore
    store = RunStore(sys.argv[1])
    store.save("done", dataset="digits", config={}, seed=0, run_id="complete-run")
    with store.writer("half", dataset="digits", config={}, seed=0, run_id="half-run") as w:
        w.add_arrays("big", {"x": np.zeros((1000, 1000))})
        print("writing", flush=True)
        time.sleep(60)
""")


def test_writer_killed_mid_way_leaves_store_intact(store_dir):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(store_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = RunStore(store_dir)
    assert [r.id for r in store.list()] == ["complete-run"]
    assert not (store_dir / "half-run").exists()
    assert any(p.name.startswith(".tmp-half-run") for p in store_dir.iterdir())
    assert store.cleanup() == 1  # the dead writer's leftovers are removed
    assert sorted(p.name for p in store_dir.iterdir()) == ["complete-run"]


def test_result_cache_keys_and_roundtrip(tmp_path):
    cache = ResultCache(tmp_path)
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})
    calls = []

    def compute():
        calls.append(1)
        return {"coords": np.ones((4, 2))}, {"seconds": 0.5}

    key = {"run": "r1", "layer": 2, "method": "tsne", "params": {"perplexity": 30}}
    first = cache.get_or_compute(key, compute)
    second = cache.get_or_compute(key, compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first[0]["coords"], second[0]["coords"])
    assert second[1]["seconds"] == 0.5
    cache.forget("r1")
    assert cache.get(key) is None


def test_results_cached_for_a_run_that_never_landed_are_removed(tmp_path):
    """A study that fails (or is cancelled) after caching results leaves no cache debris, and
    cleanup removes what a killed writer left; a dataset's or a landed run's results stay."""
    from models.cache import ResultCache

    store = RunStore(tmp_path / "runs")
    cache = ResultCache(store.root / ".cache")
    with pytest.raises(ValueError):
        with store.writer("demo", dataset="digits", config={}, seed=0) as w:
            cache.put({"run": w.id, "layer": 1}, {"x": np.zeros(3)})
            assert (store.root / ".cache" / w.id).is_dir()
            raise ValueError("cancelled mid-study")
    assert not (store.root / ".cache" / w.id).exists()

    landed = store.save("demo", dataset="digits", config={}, seed=0)
    cache.put({"run": landed, "layer": 1}, {"x": np.zeros(3)})
    cache.put({"dataset": "digits", "method": "pca"}, {"x": np.zeros(3)})
    killed = "demo-20260101-000000-abcdef"  # a writer SIGKILLed: its results, no run, no live writer
    cache.put({"run": killed, "layer": 1}, {"x": np.zeros(3)})
    store.cleanup()
    assert sorted(p.name for p in (store.root / ".cache").iterdir()) == sorted([landed, "digits"])


def test_runs_made_within_one_second_list_newest_first(store_dir):
    """The run just made is the newest even when an older one was made in the same second (the Run
    picker and every tab's "newest run" rely on it; ids alone would order by kind)."""
    store = RunStore(store_dir)
    for _ in range(3):
        first = store.save("zeta", dataset="digits", config={}, seed=0)
        second = store.save("alpha", dataset="digits", config={}, seed=0)
        assert [r.id for r in store.list()[:2]] == [second, first]
        store.delete(first), store.delete(second)


def test_the_stores_doctest_runs_and_passes():
    """The example in ``RunStore``'s docstring is real code: it runs here and must give what it shows."""
    import doctest

    import models.store

    result = doctest.testmod(models.store, verbose=False)
    assert result.attempted >= 4 and result.failed == 0
