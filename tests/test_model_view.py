"""The Your model tab and what Layers, Hardness and Explore read of capture runs, without a
browser: the form → config, the layer tree, projections and hardness cached per layer, the
panels' figure and sample card, and captured layers as Explore sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dashboard import capture_panels as panels
from dashboard.config import AppConfig
from dashboard.views.explore.data import run_activation_options
from dashboard.views.model import data
from models.capture import ModelError
from models.studies import capture as face
from models.studies import capture as runs
from models.studies import explore
from models.studies import project as projections
from tests.test_capture import make_cnn


@pytest.fixture(scope="module")
def app_config(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-view")
    (root / "data" / "models").mkdir(parents=True)
    torch.onnx.export(
        make_cnn(),
        (torch.zeros(2, 1, 8, 8),),
        str(root / "data" / "models" / "cnn.onnx"),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        dynamo=False,
    )
    return AppConfig(data_dir=root / "data", store_dir=root / "runs", cache_dir=root / "cache")


@pytest.fixture(scope="module")
def run(app_config):
    cfg = data.capture_config(
        "digits", "cnn.onnx", ["conv1", "fc1"], "mean", "per_class", 12, "train", False, "", "", True, "unit", "", ""
    )
    cfg = face.Config(**{**cfg.record(), "dataset": "digits", "model": ("cnn.onnx", "cnn.onnx"), "steps": (0, 5)})
    return face.run(cfg, store=app_config.store, data_dir=app_config.data_dir)


def test_form_parsing_and_channels():
    assert data.numbers("1, 28 28", int) == (1, 28, 28) and data.numbers("  ") is None
    with pytest.raises(ValueError, match="input shape"):
        data.numbers("1 x 28", int, "input shape")
    assert data.input_shape("", "3", [1, 8, 8]) == (3, 8, 8)
    assert data.input_shape("28 28 1", "3", None) == (28, 28, 3)
    assert data.input_shape("", "", None) is None
    cfg = data.capture_config(
        "digits", "m.onnx", ["a"], "max", "all", 9, "test", True, "1 8 8", "model", False, "custom", "0.5", "0.25"
    )
    assert (cfg.per_class, cfg.split, cfg.float16, cfg.pooling, cfg.mean, cfg.std, cfg.resize) == (
        None,
        "test",
        True,
        "max",
        (0.5,),
        (0.25,),
        False,
    )
    with pytest.raises(ValueError, match="pick a model"):
        data.capture_config("digits", None, None, "mean", "all", 1, "train", False, "", "", True, "unit", "", "")


def test_layer_tree_defaults_and_a_misfit(app_config):
    assert data.model_options(app_config) == [{"label": "cnn.onnx", "value": "cnn.onnx"}]
    cfg = data.capture_config(
        "digits", "cnn.onnx", None, "mean", "all", 1, "train", False, "", "", True, "unit", "", ""
    )
    tree = data.inspect(app_config, "digits", cfg)
    names = [layer["name"] for layer in tree["layers"]]
    assert {"conv1", "fc1", "output"} <= set(names) and tree["default"][-1] == "output"
    options = data.tree_options(tree)
    assert any(o["value"] == "conv1" and "4×8×8" in o["label"] for o in options)
    assert any("· Conv ·" in o["label"] and o["label"].startswith("\u2003") for o in options)
    assert "digits → 1×8×8" in data.plan_text(tree) and "model input" in data.plan_text(tree)
    bad = data.capture_config(
        "digits", "cnn.onnx", None, "mean", "all", 1, "train", False, "3 32 32", "", False, "unit", "", ""
    )
    with pytest.raises(ModelError, match="8×8") as err:
        data.inspect(app_config, "digits", bad)
    assert "32" in str(err.value)


def test_projections_are_chained_stored_and_drawn(app_config, run):
    names = runs.layer_names(run)
    assert names == ["conv1", "fc1", "output"] and face.steps(run) == [0, 5]
    assert projections.cached_panels(app_config.results, run, 5, "tsne") is None
    fig, text = panels.figure(app_config, run, 5, "tsne", "label")
    assert "press Project" in fig.layout.annotations[0].text
    maps = projections.project_run(app_config.store, run, 5, "tsne")
    assert [n for n, _ in maps] == names and all(xy.shape == (120, 2) for _, xy in maps)
    projection = projections.projection_run(run, 5, "tsne")  # a run of the projection study, every sample
    assert projection.kind == "projection" and projection.manifest["projection"]["run"] == run.id
    found, positions = projections.cached_panels(app_config.results, run, 5, "tsne")
    assert [n for n, _ in found] == names and len(positions) == 120
    fig, text = panels.figure(app_config, run, 5, "tsne", "correct", focus_layer="fc1")
    assert [t.type for t in fig.data] == ["scattergl"] * 3 and "step 5" in text and "120 of 120 samples" in text
    assert "▶ fc1" in fig.layout.annotations[1].text
    card = str(panels.card(app_config, run, 5, 3, "fc1").to_plotly_json())
    idx = int(face.sample(run)["index"][3])
    assert f"#{idx} · fc1" in card and "label" in card and "prediction" in card and "data:image/png" in card
    # a second look reads the stored run: nothing is recomputed, no second run is written
    again = projections.project_run(app_config.store, run, 5, "tsne")
    np.testing.assert_array_equal(again[2][1], maps[2][1])
    assert len(app_config.store.list("projection")) == 1
    assert projections.cached_panels(app_config.results, run, 0, "tsne") is None  # another step is its own projection
    assert runs.step_of(run, None) == 5 and runs.step_of(run, 0) == 0 and runs.step_of(run, 7) == 5
    low, high, marks, value, style = panels.step_controls(run)
    assert (low, high, value) == (0, 5, 5) and set(marks) == {0, 5} and "display" not in style


def test_balanced_sample_and_hardness_over_steps(app_config, run):
    pos, tag = runs.balanced_positions(np.arange(3000) % 10, 1000)
    assert (
        len(pos) == 1000 and tag.startswith("balanced100pc") and np.all(np.bincount(np.arange(3000)[pos] % 10) == 100)
    )
    assert runs.hardness_table(app_config.results, run) is None
    names, table = runs.hardness_table(app_config.results, run, compute=True)
    assert names == ["conv1", "fc1", "output"] and table.shape == (2, 3) and np.isfinite(table).all()
    cached = runs.hardness_table(app_config.results, run)
    np.testing.assert_array_equal(cached[1], table)
    from dashboard import figures

    fig = figures.hardness_figure(runs.hardness_tables(run, names, table))
    assert len([t for t in fig.data if t.type == "bar"]) == 2


def test_captured_layers_are_explore_sources(app_config, run):
    options = [o for o in run_activation_options(app_config) if run.id in o["value"]]
    assert len(options) == 6 and options[0]["value"] == f"run:{run.id}/step-5/conv1"
    ds = explore.load_source(
        explore.capture_source(run.id, 0, "fc1"), data_dir=app_config.data_dir, store=app_config.store
    )
    sample = face.sample(run, 0)
    assert ds.features.shape == (120, 16) and np.array_equal(ds.labels, sample["labels"])
    assert np.array_equal(ds.meta["predictions"], sample["predictions"]) and ds.images.shape == (120, 8, 8)
    assert "%2F" in explore.capture_source("r", 0, "/conv/Conv_output_0")
