"""The Latent plane's pure parts: its figure, the handle read back from relayoutData, and the
run-reading helpers of the view, without a browser."""

from __future__ import annotations

import sys

import numpy as np

from dashboard.config import AppConfig
from dashboard.views import latent
from dashboard.views.latent import figures
from models.studies import gne


def _component(tree, component_id):
    """The component with ``component_id`` in a layout tree."""
    if getattr(tree, "id", None) == component_id:
        return tree
    children = getattr(tree, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        found = _component(child, component_id) if child is not None and not isinstance(child, str) else None
        if found is not None:
            return found
    return None


def test_view_offers_the_study_constants(tmp_path):
    """The view imports GNE's constants (no copies): what it offers is what the study accepts."""
    page = latent.layout(AppConfig(data_dir=tmp_path, store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache"))
    assert latent.TRAINS == gne.KIND
    slider = _component(page, "latent-grid-size")
    assert tuple(int(slider.marks[i]) for i in sorted(slider.marks)) == gne.GRID_SIZES
    assert [o["value"] for o in _component(page, "latent-init").options] == list(gne.INITS)


def test_moved_and_metrics_text():
    m = gne.Metrics(0.05, 0.06, 0.01, 0.02, 15, 64, "cpu", parent="p", pinned=True, epochs_on=2)
    mv = gne.Moved(np.array([1, 2]), np.zeros((2, 2)), np.ones((2, 2)), np.ones((2, 2)), True)
    text = figures.moved_text(mv, m, parent_mse=0.07)
    assert text.startswith("Moved 2 points (pinned) by 1.414") and "ended 0.000 from where" in text
    assert "GNE mse 0.0700 before → 0.0500 after" in text and figures.moved_text(None, m) == ""
    assert "".join(figures.metrics_text("r1", m)) == (
        "r1: GNE mse 0.0500 · 0.010 s/epoch  |  VAE mse 0.0600 · 0.020 s/epoch  (15 epochs, batch 64, cpu)"
    )


def test_latent_scatter_traces_and_handle():
    coords = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    fig = figures.latent_scatter(
        coords,
        np.array([0, 1, 1]),
        ["a", "b"],
        index=np.array([5, 6, 9]),
        heldout={"coords": np.array([[0.5, 0.5]]), "labels": np.array([1]), "index": [3]},
        moved={"ids": np.array([2]), "before": np.array([[2.0, 0.5]]), "after": np.array([[3.0, 1.0]])},
        handle=(1.0, 2.0),
        handle_radius=0.5,
    )
    assert len(fig.data) == 5
    assert list(fig.data[figures.LATENT_TRAIN].customdata) == [5, 6, 9]
    assert list(fig.data[figures.LATENT_HELDOUT].customdata) == [3]
    assert fig.data[figures.LATENT_HELDOUT].marker.symbol == "x"
    assert list(fig.data[figures.LATENT_AFTER].customdata) == [9]  # the moved sample, as a dataset index
    assert all(t.hoverinfo in ("none", "skip") for t in fig.data)
    shape = fig.layout.shapes[0]
    assert (shape.type, shape.x0, shape.x1, shape.y0, shape.y1) == ("circle", 0.5, 1.5, 1.5, 2.5)
    empty = figures.latent_scatter(coords, np.zeros(3, int), ["a"])
    assert empty.data[figures.LATENT_HELDOUT].visible == "legendonly" and not empty.layout.shapes


def test_handle_center_from_relayout_data():
    assert figures.handle_center(None) is None
    assert figures.handle_center({"xaxis.range[0]": 1}) is None
    moved = {"shapes[0].x0": 1.0, "shapes[0].x1": 3.0, "shapes[0].y0": -1.0, "shapes[0].y1": 1.0}
    assert figures.handle_center(moved) == (2.0, 0.0)
    assert figures.handle_center({"shapes": [{"x0": 0, "x1": 2, "y0": 2, "y1": 4}]}) == (1.0, 3.0)


def test_view_does_not_import_torch():
    assert "dashboard.views.latent" in sys.modules
    import subprocess

    code = "import sys, dashboard.views.latent; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plane_has_a_decode_layer_and_the_grid_figure_names_each_cells_point():
    """Hovering anywhere on the plane reaches the transparent decode layer (trace LATENT_DECODE, spanning well
    beyond the points); the grid figure's cells sit at the latent points the engine decoded."""
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(50, 2)).astype(np.float32)
    plane = gne.Plane(coords, np.zeros(50), rng.integers(0, 3, 50), np.arange(50))
    fig = figures.plane_figure("gne", plane, ["a", "b", "c"], run_id="r")
    layer, cell = fig.data[figures.LATENT_DECODE], fig.data[figures.LATENT_CELL]
    assert layer.type == "heatmap" and layer.hoverinfo == "none" and cell.type == "scatter" and len(cell.x) == 0
    n = len(layer.z)
    x0, x1 = layer.x0 - layer.dx / 2, layer.x0 + (n - 0.5) * layer.dx
    y0, y1 = layer.y0 - layer.dy / 2, layer.y0 + (n - 0.5) * layer.dy
    (ax0, ax1), (ay0, ay1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert fig.layout.meta["ranges"] == [[ax0, ax1], [ay0, ay1]]  # what a window resize starts from (latent.js)
    assert x0 < ax0 < coords[:, 0].min() and coords[:, 0].max() < ax1 < x1
    assert y0 < ay0 < coords[:, 1].min() and coords[:, 1].max() < ay1 < y1
    extent = np.array([[-1.0, 3.0], [-2.0, 2.0]])
    grid = figures.grid_figure("vae", "data:image/png;base64,", extent, 5, run_id="r")
    heat = grid.data[0]
    xs, ys = figures.grid_cells(extent, 5)
    # the engine's grid_points: row-major, first row at the top (largest y)
    points = np.stack(np.meshgrid(np.linspace(-1, 3, 5), np.linspace(2, -2, 5)), -1).reshape(-1, 2)
    for r in range(5):
        for c in range(5):
            hr = list(heat.y).index(ys[r])
            assert heat.customdata[hr][c] == [r + 1, c + 1]
            assert np.allclose((heat.x[c], heat.y[hr]), points[r * 5 + c])
    image = grid.layout.images[0]
    assert image.x < xs[0] and image.x + image.sizex > xs[-1] and image.y > ys[0] and image.y - image.sizey < ys[-1]
    marker = figures.cell_marker((0.5, -0.25), 5)
    assert list(marker.x) == [0.5] and list(marker.y) == [-0.25]


def test_a_collapsed_plane_is_named_beside_it(tmp_path):
    """The collapse warning is drawn in the view next to the collapsed plane (not only in the status line)."""
    from dashboard.views.latent import callbacks
    from models.store import Run

    run = Run("r", tmp_path, {"kind": gne.KIND, "metrics": {"gne_knn": 0.71, "vae_knn": 0.33, "n_classes": 10}})
    alert = callbacks.collapse_alert(run, "vae")
    text = "".join(c if isinstance(c, str) else c.children for c in alert.children)
    assert "VAE plane collapsed" in text and "0.33" in text and "0.71" in text and "alert-danger" in alert.className
    assert callbacks.collapse_alert(run, "gne") is None
    fine = Run("s", tmp_path, {"kind": gne.KIND, "metrics": {"gne_knn": 0.71, "vae_knn": 0.69, "n_classes": 10}})
    assert callbacks.collapse_alert(fine, "vae") is None and callbacks.collapse_alert(fine, "gne") is None
