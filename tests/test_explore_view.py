"""The Explore view's pure parts: filters, CSV export, source options and the map figure."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import figures
from dashboard.config import AppConfig
from dashboard.views.explore import data as view
from models.datasets import Dataset
from models.studies import explore as study
from models.studies import explore_engine


def test_filter_mask_label_and_prediction():
    labels = np.array([3, 3, 3, 1, 8])
    preds = np.array([3, 8, 1, 1, 3])
    assert view.filter_mask(labels, preds, "3", "wrong").tolist() == [False, True, True, False, False]
    assert view.filter_mask(labels, preds, "3", "!=3").tolist() == [False, True, True, False, False]
    assert view.filter_mask(labels, preds, "all", "=3").tolist() == [True, False, False, False, True]
    assert view.filter_mask(labels, preds, None, "right").sum() == 2
    with pytest.raises(ValueError, match="prediction filter"):
        view.filter_mask(labels, preds, "all", "maybe")


def test_selection_csv_and_figure():
    ds = Dataset(
        name="t", features=np.eye(4, dtype=np.float32), labels=np.array([0, 1, 0, 1]), class_names=["cat", "dog"]
    )
    a = {
        "labels": ds.labels,
        "predictions": np.array([0, 0, 0, 1]),
        "suggested": np.array([1, 0, 1, 0]),
        "mistake_score": np.array([0.1, 0.9, 0.2, 0.3], dtype=np.float32),
        "outlier_score": np.zeros(4, dtype=np.float32),
        "index": np.arange(10, 14),
        "coords": np.arange(8, dtype=np.float32).reshape(4, 2),
    }
    csv = view.selection_csv(np.array([0, 1]), a, ds.class_names, ds).splitlines()
    assert csv[0] == "index,label,prediction,suggested_label,mistake_score,outlier_score"
    assert csv[1].startswith("11,dog,cat,cat,0.9")  # highest mistake score first
    marker = figures.explore_marker(np.array([0, 1]), "agreement")
    fig = figures.explore_scatter(a["coords"], np.array([1, 3]), marker, selected=[3])
    assert fig.data[0].customdata == (1, 3) and list(fig.data[0].x) == [2.0, 6.0]
    assert list(fig.data[1].x) == [6.0]
    xr, yr = figures.centred_range(a["coords"], 2)
    assert xr[0] < 4.0 < xr[1] and yr[0] < 5.0 < yr[1]


def test_sources_list_arrays_files_and_run_activations(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "emb.npz", features=np.ones((3, 2)), labels=np.arange(3))
    config = AppConfig(data_dir=data, store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(60, 6)).astype(np.float32)
    labels = np.repeat([0, 1, 2], 20)
    run_id = config.store.save(
        "hardness",
        dataset="digits",
        config={},
        seed=0,
        arrays={"layers": {"layer1": acts, "labels": labels, "index": np.arange(60)}},
    )
    values = [o["value"] for o in view.source_options(config)]
    assert "arrays:emb.npz" in values and f"run:{run_id}/layers/layer1" in values
    ds = study.load_source(f"run:{run_id}/layers/layer1", data_dir=data, store=config.store)
    assert ds.n == 60 and ds.dim == 6 and ds.images is not None  # images come from the run's dataset
    arrays, meta = explore_engine.analyse(ds, method="pca", k=5)
    assert arrays["neighbors"].shape == (60, 5) and meta["prediction_source"] == "neighbour vote"


def test_vectors_list_offers_embeddings_only(tmp_path):
    """A run's per-sample scalars (gne_error) and lattice arrays (u_matrix) are not embeddings."""
    import numpy as np

    from dashboard.config import AppConfig
    from dashboard.views.explore.data import run_activation_options

    config = AppConfig(store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    n = 30
    arrays = {
        "labels": np.arange(n) % 3,
        "hidden1": np.random.rand(n, 16).astype(np.float32),
        "plane": np.random.rand(n, 2),
        "gne_error": np.random.rand(n),
        "u_matrix": np.random.rand(4, 5),
        "index": np.arange(n),
        "names": np.array(["a"] * n),
    }
    run_id = config.store.save("demo", dataset="digits", config={}, seed=0, arrays={"acts": arrays})
    values = sorted(o["value"] for o in run_activation_options(config))
    assert values == [f"run:{run_id}/acts/hidden1", f"run:{run_id}/acts/plane"]


def test_vectors_list_offers_a_hardness_runs_hidden_layers(tmp_path):
    """Layers stored without labels of their own take the run's sample's (the hardness layout)."""
    import numpy as np

    from dashboard.config import AppConfig
    from dashboard.views.explore.data import run_activation_options

    config = AppConfig(store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    n = 20
    run_id = config.store.save(
        "hardness",
        dataset="digits",
        config={},
        seed=0,
        arrays={
            "sample": {"index": np.arange(n), "labels": np.arange(n) % 2, "input": np.random.rand(n, 64)},
            "act-relu-d1-r0": {
                "hidden1": np.random.rand(n, 8),
                "logits": np.random.rand(n, 2),
                "predictions": np.arange(n) % 2,
            },
        },
    )
    values = sorted(o["value"] for o in run_activation_options(config))
    assert values == [f"run:{run_id}/act-relu-d1-r0/hidden1", f"run:{run_id}/act-relu-d1-r0/logits"]


def test_vectors_list_names_a_corrupt_archive_instead_of_hiding_it(tmp_path):
    from dashboard.config import AppConfig
    from dashboard.views.explore.data import run_activation_options

    config = AppConfig(store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    n = 20
    run_id = config.store.save(
        "demo",
        dataset="digits",
        config={},
        seed=0,
        arrays={"acts": {"labels": np.arange(n) % 2, "hidden1": np.ones((n, 3))}},
    )
    good = run_activation_options(config)
    assert [o["value"] for o in good] == [f"run:{run_id}/acts/hidden1"]
    (config.store.root / run_id / "broken.npz").write_bytes(b"PK\x03\x04 cut short")
    options = run_activation_options(config)
    (bad,) = [o for o in options if o.get("disabled")]
    assert bad["value"] == f"unreadable:{run_id}/broken" and "broken.npz: corrupt .npz" in bad["label"]
    assert [o for o in options if not o.get("disabled")] == good
