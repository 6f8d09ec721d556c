"""Figure functions and callback helpers of the Layers / Hardness / Methods tabs (no browser)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import figures
from dashboard.hardness_samples import point_card
from dashboard.views.layers import panels_for, projection_csv, selection_patch
from models.store import RunStore
from models.studies import hardness
from models.studies.hardness import accuracy_points, kl_tables

NAMES = [str(c) for c in range(10)]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("runs"))
    cfg = hardness.Config(
        depths=[2],
        activations=["tanh"],
        runs=2,
        epochs=3,
        per_class=8,
        perplexity=8,
        methods=["tsne", "pca"],
        n_jobs=1,
        tsne_iter=250,
    )
    return hardness.run(cfg, store=store)


def test_layers_figure_is_one_figure_of_linked_scattergl_panels():
    rng = np.random.default_rng(0)
    panels = [(name, rng.normal(size=(40, 2))) for name in ("input", "hidden1", "logits")]
    labels = np.arange(40) % 10
    fig = figures.layers_figure(
        panels,
        labels,
        NAMES,
        predictions=labels[::-1],
        index=np.arange(100, 140),
        colour="correct",
        selected=[1, 2],
        focus="hidden1",
        uirevision="keep",
    )
    assert [t.type for t in fig.data] == ["scattergl"] * 3
    assert all(list(t.customdata) == list(range(100, 140)) for t in fig.data)
    assert all(list(t.selectedpoints) == [1, 2] for t in fig.data)
    assert fig.layout.uirevision == "keep" and fig.layout.dragmode == "select"
    assert "▶ hidden1" in fig.layout.annotations[1].text
    assert set(np.asarray(fig.data[0].marker.color).tolist()) <= {0, 1}
    with pytest.raises(ValueError, match="shape"):
        figures.layers_figure([("a", np.zeros((3, 2)))], labels, NAMES)


def test_selection_patch_sets_only_selectedpoints_on_every_panel():
    patch = selection_patch({"points": [{"curveNumber": 2, "pointIndex": 7}, {"curveNumber": 2, "pointIndex": 3}]}, 4)
    ops = patch.to_plotly_json()["operations"]
    assert len(ops) == 4
    assert all(op["location"][-1] == "selectedpoints" and op["params"]["value"] == [3, 7] for op in ops)
    cleared = selection_patch(None, 2).to_plotly_json()["operations"]
    assert all(op["params"]["value"] is None for op in cleared)


def test_hardness_figure_bars_per_run_and_mean_line(study):
    tables = kl_tables(study.metrics["hardness"], 2, "tsne", ["tanh"])
    ((act, layers, table),) = tables
    assert act == "tanh" and layers == ["input", "hidden1", "hidden2", "logits"] and table.shape == (2, 4)
    fig = figures.hardness_figure(tables)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 2 and all(b.opacity < 0.5 for b in bars)
    assert list(bars[1].customdata[2]) == ["tanh", "hidden2", 1]
    line = [t for t in fig.data if t.type == "scatter"][0]
    np.testing.assert_allclose(line.y, table.mean(0))
    points = accuracy_points(study.metrics["hardness"], hardness.networks(study))
    assert len(points) == 2 and all(0 <= p["test_accuracy"] <= 1 for p in points)


def test_panels_are_aligned_and_exported(study):
    panels = panels_for(study, "tanh-d2-r0", "tsne")
    assert [name for name, _ in panels] == ["input", "hidden1", "hidden2", "logits"]
    raw = study.arrays("proj-tanh-d2-r0")["tsne.hidden1"]
    a, b = panels[0][1], panels[1][1]
    # Procrustes can only bring hidden1 closer to the input panel than the raw coordinates were
    assert np.linalg.norm(b - a) <= np.linalg.norm(raw - raw.mean(0) - a) + 1e-6
    csv = projection_csv(study, "tanh-d2-r0", "pca").splitlines()
    assert csv[0] == "network,layer,method,x,y,label,prediction,index" and len(csv) == 1 + 4 * 80


def test_hover_card_shows_image_label_prediction():
    imgs = np.zeros((20, 8, 8), np.uint8)
    card = point_card(
        imgs,
        NAMES,
        np.array([10, 11, 12, 13, 14]),
        np.array([1, 2, 3, 4, 5]),
        np.array([1, 2, 9, 4, 5]),
        2,
        layer="hidden1",
        key=("t",),
    )
    text = str(card.to_plotly_json())
    assert "#12 · hidden1" in text and "label 3" in text and "prediction 9 ✗" in text and "data:image/png" in text
