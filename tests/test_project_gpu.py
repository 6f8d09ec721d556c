"""The projection study's CUDA branch (cuML): taken only when cuML imports and a GPU is present, else the CPU
path; when taken, no CPU k-NN graph is built and the maps it returns are the run's."""

from __future__ import annotations

import numpy as np

from models.projections import gpu
from models.studies import capture as capture_face
from models.studies import project as face
from models.studies import project_engine as engine
from tests.projection_data import big_capture


def test_without_cuml_or_a_gpu_the_cpu_path_is_used(monkeypatch):
    gpu.available.cache_clear()
    try:
        import cuml  # noqa: F401
    except Exception:
        assert gpu.available() is False
    monkeypatch.setenv("LAYERSCOPE_NO_CUML", "1")
    gpu.available.cache_clear()
    assert gpu.available() is False
    gpu.available.cache_clear()


def test_with_cuml_on_cuda_the_study_uses_it_and_builds_no_graph(tmp_path, monkeypatch):
    data, store, run = big_capture(tmp_path, n=300)
    calls = []
    monkeypatch.setattr(gpu, "available", lambda: True)
    monkeypatch.setattr(gpu, "umap", lambda X, k, seed: calls.append(("umap", len(X), k)) or X[:, :2] * 2)
    monkeypatch.setattr(gpu, "tsne", lambda X, p, seed: calls.append(("tsne", len(X), p)) or (X[:, :2] * 3, 1.25))
    monkeypatch.setattr(engine, "knn_graph", lambda *a, **kw: (_ for _ in ()).throw(AssertionError("CPU graph")))
    names = capture_face.layer_names(run)
    umap_run = face.run(face.Config(run=run.id, method="umap"), store=store)
    tsne_run = face.run(face.Config(run=run.id, method="tsne"), store=store)
    assert calls == [("umap", 300, 15)] * len(names) + [("tsne", 300, 30.0)] * len(names)
    for name in names:
        X = np.asarray(capture_face.activations(run, name), dtype=np.float32)
        np.testing.assert_array_equal(face.coords(umap_run, name), X[:, :2] * 2)
        np.testing.assert_array_equal(face.coords(tsne_run, name), X[:, :2] * 3)
    assert tsne_run.manifest["projection"]["kl"] == {name: 1.25 for name in names}
