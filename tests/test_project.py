"""The projection study: every sample of a capture's layers, in the capture's order, from the command line;
each layer's k-NN graph computed once and shared by t-SNE and UMAP; bad runs refused with nothing stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from models.progress import Cancelled
from models.projections import knn_graph as knn_module
from models.studies import capture as capture_face
from models.studies import project as face
from models.studies import project_engine as engine
from tests.projection_data import big_capture

ROOT = Path(__file__).resolve().parent.parent
N = 20_000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return big_capture(tmp_path_factory.mktemp("big"), n=N)


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "models.studies.project", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _knn_accuracy(coords: np.ndarray, labels: np.ndarray, k: int = 10, n: int = 2000) -> float:
    """How often a sample's class is the majority of its 2-D neighbours (a map in a shuffled order scores ~0.1)."""
    from sklearn.neighbors import KNeighborsClassifier

    rows = np.random.default_rng(0).choice(len(coords), n, replace=False)
    clf = KNeighborsClassifier(k + 1).fit(coords, labels)
    return float(np.mean(clf.predict(coords[rows]) == labels[rows]))


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_command_line_projects_every_sample_in_the_capture_order(big, method):
    data, store, run = big
    out = _cli("--run", run.id, "--method", method, "--store-dir", str(store.root), "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    folder = Path(out.stdout.strip().splitlines()[-1])
    projection = store.load(folder.name)
    manifest = json.loads((folder / "manifest.json").read_text())
    record = manifest["projection"]
    names = [layer["name"] for layer in capture_face.layers(run)]
    assert list(record["layers"]) == names  # network order, every captured layer
    assert record["run"] == run.id and record["method"] == method and record["step"] == capture_face.steps(run)[-1]
    labels = np.asarray(capture_face.sample(run)["labels"])
    for name in names:
        xy = face.coords(projection, name)
        assert xy.shape == (N, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
        if method == "pca":  # row i is sample i: PCA of the captured vectors, up to each axis's sign
            from sklearn.decomposition import PCA

            X = np.asarray(capture_face.activations(run, name), dtype=np.float32)
            want = PCA(n_components=2, random_state=0).fit_transform(X)
            np.testing.assert_allclose(np.abs(xy), np.abs(want), rtol=1e-3, atol=1e-3 * np.abs(want).max())
        else:  # the clusters of the data the test made are clusters of the map, in the capture's order
            assert _knn_accuracy(xy, labels) > 0.9
            assert _knn_accuracy(xy[np.random.default_rng(1).permutation(N)], labels) < 0.3
    assert f"projected {N:,} samples" in out.stdout
    assert face.find(store, run, record["step"], method).id == projection.id


@pytest.fixture()
def small(tmp_path):
    return big_capture(tmp_path, n=1500)


def test_each_layer_graph_is_computed_once_and_shared_by_tsne_and_umap(small, monkeypatch):
    data, store, run = small
    monkeypatch.setattr(knn_module, "EXACT_BELOW", 0)  # NN-descent even at this size
    # short t-SNE schedules: what is counted here is the graphs, not the optimisation
    monkeypatch.setattr(engine, "TSNE_FIRST", {"early_exaggeration_iter": 50, "n_iter": 50})
    monkeypatch.setitem(engine.WARM, "tsne", {"early_exaggeration_iter": 10, "n_iter": 50})
    monkeypatch.setitem(engine.WARM, "umap", {"n_epochs": 30})
    calls = []
    real = engine.knn_graph
    monkeypatch.setattr(engine, "knn_graph", lambda X, k, **kw: calls.append((len(X), k)) or real(X, k, **kw))

    def no_own_neighbours(*args, **kwargs):
        raise AssertionError("a projection built its own k-NN graph")

    import openTSNE.affinity
    import umap.umap_

    monkeypatch.setattr(openTSNE.affinity, "get_knn_index", no_own_neighbours)
    monkeypatch.setattr(umap.umap_, "nearest_neighbors", no_own_neighbours)
    layers = len(capture_face.layers(run))
    tsne = face.run(face.Config(run=run.id, method="tsne"), store=store)
    assert calls == [(1500, 90)] * layers  # one graph per layer, 3 × perplexity neighbours
    umap_run = face.run(face.Config(run=run.id, method="umap"), store=store)
    again = face.run(face.Config(run=run.id, method="tsne", seed=0), store=store)
    assert len(calls) == layers  # UMAP read the t-SNE graph's first 15 neighbours; t-SNE again read its own
    for name in face.layer_names(tsne):
        np.testing.assert_array_equal(face.coords(tsne, name), face.coords(again, name))
        assert face.coords(umap_run, name).shape == (1500, 2)
    assert all(v > 0 for v in tsne.manifest["projection"]["kl"].values())


def test_the_default_grants_this_process_its_cores_and_a_bad_count_is_refused(small, monkeypatch):
    """The command line and the API get the cores the Project button gets (the two-worker t-SNE chain needs ≥ 2)."""
    from models.errors import ConfigError
    from models.studies import project_pipeline

    data, store, run = small
    monkeypatch.setattr(engine, "cores", lambda: 3)
    granted = []
    monkeypatch.setattr(project_pipeline, "usable", lambda n, n_jobs, layers: granted.append(n_jobs) and False)
    monkeypatch.setattr(engine, "TSNE_FIRST", {"early_exaggeration_iter": 50, "n_iter": 50})
    monkeypatch.setitem(engine.WARM, "tsne", {"early_exaggeration_iter": 10, "n_iter": 50})
    two = tuple(capture_face.layer_names(run)[:2])
    face.run(face.Config(run=run.id, method="tsne", layers=two), store=store)
    face.run(face.Config(run=run.id, method="tsne", n_jobs=1, layers=two), store=store)
    assert granted == [3, 1]
    for bad in (0, -2, 1.5):
        with pytest.raises(ConfigError, match="n_jobs"):
            face.Config(run=run.id, n_jobs=bad)


def test_two_jobs_projecting_one_capture_compute_it_once_and_the_waiting_one_can_cancel(small):
    """Two tabs press Project on one capture: the second job waits for the first's lock, says so, and reads the
    first's run; a waiting job cancelled stops waiting and stores nothing."""
    data, store, run = small
    step = capture_face.steps(run)[-1]
    holding, waited, got = threading.Event(), threading.Event(), []

    def first(p):
        holding.set()  # inside the lock: the study reports its first layer
        assert waited.wait(60), "the second job never said it waits"

    worker = threading.Thread(target=lambda: got.append(face.project_run(store, run, step, "pca", progress=first)))
    worker.start()
    assert holding.wait(60)
    with pytest.raises(Cancelled):  # a waiting job cancelled: it leaves, nothing stored
        face.project_run(store, run, step, "pca", progress=lambda p: p.message.startswith("waiting for another"))
    messages = []

    def second(p):
        messages.append(p.message)
        waited.set()

    maps = face.project_run(store, run, step, "pca", progress=second)
    worker.join(60)
    assert messages and all(m.startswith("waiting for another job projecting this capture (pca") for m in messages)
    assert len(store.list(face.KIND)) == 1  # computed once
    assert [name for name, _ in maps] == [name for name, _ in got[0]]
    for (_, a), (_, b) in zip(maps, got[0]):
        np.testing.assert_array_equal(a, b)


def test_layers_are_projected_in_network_order_and_cancel_leaves_nothing(small):
    data, store, run = small
    names = [layer["name"] for layer in capture_face.layers(run)]
    chosen = face.run(face.Config(run=run.id, method="pca", layers=tuple(reversed(names[:2]))), store=store)
    assert face.layer_names(chosen) == names[:2]
    before = {r.id for r in store.list()}
    seen = []

    def progress(p):
        seen.append(p.message)
        return len(seen) > 1  # cancel as the second layer starts

    with pytest.raises(Cancelled):
        face.run(face.Config(run=run.id, method="pca"), store=store, progress=progress)
    assert {r.id for r in store.list()} == before


def test_bad_runs_layers_and_steps_are_refused_and_nothing_is_stored(small):
    data, store, run = small
    other = face.run(face.Config(run=run.id, method="pca"), store=store)
    before = sorted(p.name for p in store.root.iterdir())
    cases = [
        (("--run", "capture-20990101-000000-abcdef"), "no run"),
        (("--run", "../outside"), "not a run id"),
        (("--run", other.id), "not a capture run"),
        (("--run", run.id, "--layers", "no_such_layer"), "no_such_layer"),
        (("--run", run.id, "--step", "7"), "no step 7"),
        ((), "--run"),
    ]
    for args, words in cases:
        out = _cli(*args, "--method", "pca", "--store-dir", str(store.root))
        errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
        assert out.returncode == 2 and len(errors) == 1 and words in errors[0], (args, out.stderr)
        assert out.stdout == ""
    assert sorted(p.name for p in store.root.iterdir()) == before
    out = _cli("--run", run.id, "--method", "bogus", "--store-dir", str(store.root))
    assert out.returncode == 2 and "bogus" in out.stderr


def test_knn_graph_lists_each_point_first_then_its_nearest():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    X[1] = X[0]  # an exact duplicate: each still lists itself first
    idx, dist = knn_module.knn_graph(X, 10)
    assert idx.shape == dist.shape == (300, 11) and (idx[:, 0] == np.arange(300)).all() and (dist[:, 0] == 0).all()
    exact = np.argsort(((X[:, None] - X[None]) ** 2).sum(-1), axis=1)[:, :11]
    assert np.mean([len(set(a) & set(b)) / 11 for a, b in zip(idx, exact)]) > 0.99
    assert idx[0, 1] == 1 and idx[1, 1] == 0
    with pytest.raises(ValueError, match="k must be"):
        knn_module.knn_graph(X[:5], 10)


def test_counts_read_as_integers_and_points_travel_as_typed_arrays():
    import plotly.graph_objects as go
    from plotly.io.json import to_json_plotly

    from dashboard.numbers import metric_text
    from dashboard.shown_points import count_text, typed_points

    assert metric_text(20000) == "20,000" and metric_text(20000.0) == "20,000" and metric_text(0.91234) == "0.9123"
    assert metric_text(3) == "3" and metric_text(True) == "True"
    assert count_text(20_000, 20_000) == "20,000 of 20,000 samples" and count_text(10_000, 70_000).startswith(
        "10,000 of"
    )
    fig = go.Figure(go.Scattergl(x=np.zeros(N, np.float32), y=np.ones(N, np.float32), customdata=list(range(N))))
    typed_points(fig)
    assert isinstance(fig.data[0].customdata, np.ndarray) and fig.data[0].customdata.dtype == np.int32
    text = to_json_plotly(fig)
    assert text.count('"bdata"') == 3 and '"customdata":{"dtype":"i4"' in text  # base64, not a list


def test_the_neighbour_and_umap_functions_numba_compiles_are_cached_on_disk(tmp_path):
    """pynndescent compiles most of its functions without numba's cache (every job paid ~30 s for its first
    graph): after a graph in a fresh process, one of those (a parallel one) is in the cache folder."""
    code = (
        "import numpy as np; from models.projections.knn_graph import knn_graph; "
        "knn_graph(np.random.default_rng(0).normal(size=(4200, 8)).astype(np.float32), 10)"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "Cannot cache" not in out.stderr  # numba's warning for the few it cannot cache is not the user's concern
    cached = {p.name.split("-")[0] for p in tmp_path.rglob("*.nbi")}
    assert "pynndescent_.generate_leaf_updates" in cached, sorted(cached)[:20]  # cache=False in pynndescent
