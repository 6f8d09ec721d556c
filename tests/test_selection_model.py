"""The one selection's rules (dashboard/selection.py) and the Layers export of a selection (no browser)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import figures
from dashboard import selection as sel


def test_replace_add_subtract_and_other_space():
    s = sel.combine(None, "digits:test", [5, 3, 3], None)
    assert s == {"space": "digits:test", "ids": [3, 5]}
    s = sel.combine(s, "digits:test", [7, 5], "add")
    assert s["ids"] == [3, 5, 7]
    s = sel.combine(s, "digits:test", [3, 9], "subtract")
    assert s["ids"] == [5, 7]
    assert sel.combine(s, "digits:test", [1], "replace")["ids"] == [1]
    # a drag over another dataset's samples starts afresh, whatever the modifier
    assert sel.combine(s, "mnist:test", [1], "add") == {"space": "mnist:test", "ids": [1]}
    assert sel.ids_in(s, "mnist:test") == [] and sel.ids_in(None, "digits:test") == []


def test_positions_map_ids_through_a_trace_index():
    s = {"space": "d:train", "ids": [10, 40]}
    assert sel.positions(s, "d:train", np.array([40, 20, 10, 30])) == [0, 2]
    assert sel.positions(s, "d:test", np.array([40, 20])) is None  # another space: nothing highlighted
    assert sel.positions(sel.empty("d:train"), "d:train", np.array([1])) is None


def test_highlight_patch_and_drag_events():
    ops = sel.highlight(sel.Patch(), range(3), [1, 2]).to_plotly_json()["operations"]
    assert [op["location"] for op in ops] == [["data", k, "selectedpoints"] for k in range(3)]
    assert sel.drop_outline().to_plotly_json()["operations"][0]["location"] == ["layout", "selections"]
    assert sel.is_drag({"points": [], "range": {"x": [0, 1], "y": [0, 1]}})  # an empty box empties
    assert not sel.is_drag({"points": []}) and not sel.is_drag(None)


def test_selected_keep_colour_and_others_grey_in_every_figure():
    rng = np.random.default_rng(0)
    fig = figures.layers_figure([("a", rng.normal(size=(6, 2)))], np.arange(6) % 3, ["x", "y", "z"], selected=[1])
    t = fig.data[0]
    assert t.selected.marker.color is None and t.selected.marker.size > t.marker.size
    assert t.unselected.marker.color == figures.UNSELECTED_GREY and t.unselected.marker.opacity >= 0.3
    ring = figures.selection_trace(rng.normal(size=(4, 2)), [1]).marker
    assert ring.symbol == "circle-open" and ring.color != "#111"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from models.store import RunStore
    from models.studies import hardness

    cfg = hardness.Config(
        depths=[1],
        activations=["tanh"],
        runs=1,
        epochs=2,
        per_class=6,
        perplexity=5,
        methods=["pca"],
        n_jobs=1,
        tsne_iter=250,
    )
    return hardness.run(cfg, store=RunStore(tmp_path_factory.mktemp("runs")))


def test_layers_export_marks_the_selection(study):
    from dashboard import state
    from dashboard.views.layers import projection_csv

    index = state.arrays(study, "sample")["index"]
    picked = [int(index[0]), int(index[7])]
    rows = projection_csv(study, "tanh-d1-r0", "pca", picked).splitlines()
    assert rows[0].endswith(",index,selected") and len(rows) == 1 + 3 * len(index)
    marked = [r for r in rows[1:] if r.endswith(",1")]
    assert len(marked) == 3 * 2 and {int(r.split(",")[-2]) for r in marked} == set(picked)
