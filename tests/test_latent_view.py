"""The Latent plane's pure parts: its figure, the handle read back from relayoutData, and the
run-reading helpers of the view, without a browser."""
from __future__ import annotations

import sys

import numpy as np

from dashboard import figures
from dashboard.views import latent


def test_view_constants_match_the_study():
    from models.studies import gne

    assert latent.KIND == gne.KIND and latent.GRID_SIZES == gne.GRID_SIZES


def test_latent_scatter_traces_and_handle():
    coords = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    fig = figures.latent_scatter(coords, np.array([0, 1, 1]), ["a", "b"], index=np.array([5, 6, 9]),
                                 heldout={"coords": np.array([[0.5, 0.5]]), "labels": np.array([1]), "index": [3]},
                                 moved={"ids": np.array([2]), "before": np.array([[2.0, 0.5]]),
                                        "after": np.array([[3.0, 1.0]])},
                                 handle=(1.0, 2.0), handle_radius=0.5)
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
