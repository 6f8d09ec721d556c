"""Pure pieces of the Data/Maps/Landscape views: the shared drag helper, Maps' nodes → members
and outlines, the Landscape table's ✓/✗ with its definition."""

import numpy as np

from dashboard import selection as sel
from dashboard.views.landscape import COMPLETENESS, consistency_table
from dashboard.views.maps import members_of, node_outlines, selected_per_node
from models.studies import dnm


def _lattice(bmu, rows=2, cols=3):
    n = rows * cols
    z = np.zeros((rows, cols))
    return dnm.Lattice(
        prototype_images=np.zeros((n, 4, 4), np.uint8),
        hits=z,
        majority=z - 1,
        purity=z,
        u_matrix=z,
        class_counts=np.zeros((n, 2)),
        bmu=np.asarray(bmu),
        labels=np.zeros(len(bmu)),
    )


def test_on_drag_combines_ids_and_ignores_non_drags():
    index = np.array([10, 11, 12, 13])
    drag = {"points": [{"pointIndex": 1}, {"pointIndex": 3}]}
    new, patch = sel.on_drag(drag, "d:train", index, None, None)
    assert new == {"space": "d:train", "ids": [11, 13]} and "selections" in str(patch.to_plotly_json())
    added, _ = sel.on_drag({"points": [{"pointIndex": 0}]}, "d:train", index, new, "add")
    assert added["ids"] == [10, 11, 13]
    assert sel.on_drag({"points": []}, "d:train", index, new, None) == (sel.no_update, sel.no_update)


def test_maps_nodes_to_members_and_outlines():
    lat = _lattice([0, 0, 4, 5, 4, 1])
    index = np.array([100, 101, 102, 103, 104, 105])  # sample ids of the map's positions
    assert members_of(lat, [4], index) == [102, 104]
    assert members_of(lat, [0, 5], index) == [100, 101, 103]
    counts = selected_per_node({"space": "d:train", "ids": [101, 104, 999]}, "d:train", index, lat)
    assert counts.tolist() == [1, 0, 0, 0, 1, 0]
    assert selected_per_node({"space": "other:test", "ids": [101]}, "d:train", index, lat).sum() == 0
    rects = node_outlines(counts, 3)
    assert [(round(r["x0"] + 0.46), round(r["y0"] + 0.46)) for r in rects] == [(0, 0), (1, 1)]  # (col, row)


def test_landscape_table_marks_completeness_with_its_definition():
    rows = [
        {"model": 1, "completeness": True, "missing": []},
        {"model": 2, "completeness": False, "missing": ["7", "9"]},
    ]
    text = str(consistency_table(rows).to_plotly_json())
    assert "✓" in text and "✗" in text and "missing: 7, 9" in text
    assert COMPLETENESS in text and "completeness" in text and "landscape-table-scroll" in text
    assert "children='True'" not in text and "children='False'" not in text and "children='✗'" in text
