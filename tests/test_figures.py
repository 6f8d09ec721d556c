"""Figure and image functions: pure, so tested without a browser."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from dashboard import figures, images


def test_label_scatter_carries_indices_as_a_list():
    coords = np.random.default_rng(0).normal(size=(50, 2))
    labels = np.arange(50) % 5
    fig = figures.label_scatter(coords, labels, [str(i) for i in range(5)], index=np.arange(100, 150))
    trace = fig.data[0]
    assert trace.type == "scattergl" and trace.hoverinfo == "none"
    assert isinstance(fig.to_plotly_json()["data"][0]["customdata"], list)
    assert list(trace.customdata[:3]) == [100, 101, 102]
    assert trace.marker.cmin == -0.5 and trace.marker.cmax == 4.5
    assert fig.layout.uirevision == "scatter"


def test_label_scatter_rejects_bad_shapes():
    with pytest.raises(ValueError, match="n×2"):
        figures.label_scatter(np.zeros((4, 3)), np.zeros(4), ["a"])
    with pytest.raises(ValueError, match="3 labels for 4 points"):
        figures.label_scatter(np.zeros((4, 2)), np.zeros(3), ["a"])


def test_discrete_colorscale_steps():
    scale = figures.discrete_colorscale(3)
    assert scale[0][1] == scale[1][1] == figures.PALETTE[0]
    assert scale[-1] == [1.0, figures.PALETTE[2]]


def test_png_data_uri_and_tile():
    img = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    uri = images.png_data_uri(img, size=32)
    decoded = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert decoded.size == (32, 32)
    grid = images.tile(np.stack([img] * 6), rows=2, cols=3, pad=1)
    assert grid.shape == (2 * 9 + 1, 3 * 9 + 1)
    assert grid[1:9, 1:9].tolist() == img.tolist()
    assert images.to_uint8(np.array([0.0, 0.5, 2.0])).tolist() == [[0, 128, 255]]
    assert images.to_uint8(np.linspace(0, 1, 16)).shape == (4, 4)


def test_cell_mosaic_keeps_cells_aligned_with_a_gap():
    imgs = np.stack([np.full((8, 8), 10 * (k + 1), np.uint8) for k in range(6)])
    m = images.cell_mosaic(imgs, rows=2, cols=3, gap=2, fill=70)
    assert m.shape == (2 * 10, 3 * 10)  # every cell exactly 8 + 2 pixels: stretched over cells it stays aligned
    for k in range(6):
        r, c = divmod(k, 3)
        cell = m[r * 10 : (r + 1) * 10, c * 10 : (c + 1) * 10]
        assert (cell[1:9, 1:9] == 10 * (k + 1)).all()  # the image, centred
        assert (cell[0] == 70).all() and (cell[:, -1] == 70).all()  # the gap around it
