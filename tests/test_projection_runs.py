"""Projection runs in the shell: picking one opens its capture in Layers drawn with it (its step, method and
layers); deleting a capture deletes its projection runs; one whose capture is gone says so; the status names
what each method does from layer to layer (PCA is not started from the previous layer's map)."""

from __future__ import annotations

import pytest

from dashboard import app as shell
from dashboard import capture_panels, state, tab_run
from dashboard.config import AppConfig
from dashboard.views import layers
from models import studies
from models.store import StoreError
from models.studies import capture as capture_face
from models.studies import project as face
from models.studies import project_engine as engine
from tests.projection_data import big_capture


@pytest.fixture
def setup(tmp_path):
    """(config, capture run, a PCA projection of its first layer only, a PCA projection of every layer)."""
    data, store, run = big_capture(tmp_path, n=300)
    config = AppConfig(data_dir=data, store_dir=store.root, cache_dir=tmp_path / "cache")
    first = capture_face.layer_names(run)[0]
    some = face.run(face.Config(run=run.id, method="pca", layers=(first,)), store=store)
    every = face.run(face.Config(run=run.id, method="pca"), store=store)
    return config, run, some, every


def test_picking_a_projection_run_opens_its_capture_drawn_with_it(setup):
    config, run, some, every = setup
    dataset = run.manifest["dataset"]
    shown, note = state.run_for_view(config, some.id, layers.KINDS, dataset)
    assert shown.id == run.id and note == ""  # the capture, not the newest hardness run (there is none)
    runs = config.store.list(dataset=dataset)
    assert state.shown_run(state.run(config, some.id), runs, layers.KINDS).id == run.id  # the bar's rule too
    said = tab_run.note(layers.KINDS, state.run(config, some.id), shown, dataset)
    assert "cannot draw" not in said and some.id in said
    assert state.run_for_view(config, some.id, ("dnm",), dataset)[0] is None  # a tab without captures: not opened
    # drawn with the picked projection: its one layer, not the newest run of every layer
    picked = layers.picked_projection(config, some.id, run)
    assert picked.id == some.id and layers.picked_projection(config, run.id, run) is None
    fig, text = capture_panels.figure(config, run, None, "pca", "label", picked=picked)
    assert len(fig.data) == 1 and "300 of 300 samples" in text
    assert "previous one's map" not in text and "own PCA" in text  # PCA is not started from the previous layer
    assert capture_panels.panel_names(config, run, None, "pca", picked) == face.layer_names(some)
    fig, _ = capture_panels.figure(config, run, None, "pca", "label")  # nothing picked: every layer
    assert len(fig.data) == len(capture_face.layer_names(run))
    assert capture_panels.panel_names(config, run, None, "pca") == capture_face.layer_names(run)
    # the picked projection's points map to the capture's samples (the shared selection goes through them)
    config.store.delete(every.id)
    assert capture_panels.sample_index(config, run, None, "pca") is None  # no projection of every layer now
    index = capture_panels.sample_index(config, run, None, "pca", picked)
    assert list(index) == list(capture_face.sample(run)["index"])
    # the Run picker tells the two projection runs apart and names the capture they open
    labels = state.run_label(some), state.run_label(every)  # (every: its manifest, read before the delete)
    assert labels[0] != labels[1] and all(run.id in label and "pca" in label for label in labels)
    assert "of 1 layer of" in labels[0]


def test_deleting_a_capture_deletes_its_projection_runs_and_says_so(setup):
    config, run, some, every = setup
    message = shell.delete_text(config, run.id)
    assert "2 projection runs" in message
    assert "projection" not in shell.delete_text(config, some.id)
    other = config.store.save("hardness", dataset="digits", config={}, seed=0)
    (config.store.root / ".cache" / run.id).mkdir(parents=True, exist_ok=True)
    gone = studies.delete_run(config.store, run.id)
    assert gone[0] == run.id and set(gone) == {run.id, some.id, every.id}
    assert [r.id for r in config.store.list()] == [other]  # the rest is untouched
    assert not (config.store.root / ".cache" / run.id).exists()
    with pytest.raises(StoreError, match="no run"):
        studies.delete_run(config.store, run.id)
    assert [r.id for r in config.store.list()] == [other]


def test_a_projection_whose_capture_is_gone_says_so(setup):
    config, run, some, every = setup
    config.store.delete(run.id)  # as a capture deleted before projections went with it
    picked = state.run(config, some.id)
    shown, note = state.run_for_view(config, some.id, layers.KINDS, run.manifest["dataset"])
    assert shown is None and f"capture run {run.id}" in note and "deleted" in note
    assert "deleted" in tab_run.note(layers.KINDS, picked, None, run.manifest["dataset"])
    assert state.opened(picked)[0] is None
    with pytest.raises(StoreError, match="no longer in the store"):
        face.source(picked)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_the_status_says_what_each_method_does_from_layer_to_layer(method):
    said = face.how(method)
    assert ("previous one's map" in said) == (method != "pca")
    assert "own PCA" in said or method != "pca"


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_progress_names_the_previous_map_only_where_a_layer_starts_from_it(setup, method, monkeypatch):
    config, run, _, _ = setup
    monkeypatch.setattr(engine, "TSNE_FIRST", {"early_exaggeration_iter": 20, "n_iter": 20})  # short: the text counts
    monkeypatch.setitem(engine.WARM, "tsne", {"early_exaggeration_iter": 0, "n_iter": 20})
    seen = []
    face.run(face.Config(run=run.id, method=method), store=config.store, progress=lambda p: seen.append(p.message))
    names = capture_face.layer_names(run)
    steps = [m for m in seen if m.startswith("projecting ")]
    assert len(steps) == len(names) and "'s map" not in steps[0]
    for previous, message in zip(names, steps[1:]):
        assert (f"from {previous}'s map" in message) == (method != "pca"), message
