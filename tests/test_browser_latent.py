"""The Latent plane tab in a real browser: train GNE + VAE on digits from the UI, hover a point,
select points, drag the handle (and click to place it), train on, and place held-out samples."""

from __future__ import annotations

import re

import pytest

from tests.browser import browser_page, hover_card, hover_point, point_position, running_app, wait_for_points

pytestmark = pytest.mark.browser

HANDLE_JS = """
(graphId) => {
  const gd = document.querySelector(`#${CSS.escape(graphId)} .js-plotly-plot`);
  const s = gd && gd._fullLayout.shapes && gd._fullLayout.shapes[0];
  if (!s) return null;
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  return {x: box.left + xa._offset + xa.l2p((s.x0 + s.x1) / 2), y: box.top + ya._offset + ya.l2p((s.y0 + s.y1) / 2)};
}
"""

# the source of the image a decoded-grid figure shows ('' before it has one)
GRID_SOURCE_JS = """
(graphId) => {
  const gd = document.querySelector(`#${CSS.escape(graphId)} .js-plotly-plot`);
  const im = gd && gd._fullLayout && gd._fullLayout.images && gd._fullLayout.images[0];
  return (im && im.source) || '';
}
"""


def _hover_shows_image(page, graph: str, tooltip: str) -> None:
    hover_card(page, tooltip, lambda point: hover_point(page, graph, 0, point), (0, 11, 50, 200))


def test_latent_plane_train_hover_move_and_place(tmp_path, artifacts):
    with running_app(tmp_path) as url, browser_page(width=1600, height=1100) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.click("a.nav-link:has-text('Latent plane')")
        page.wait_for_selector("#latent-train-button")

        # train both networks from the UI (small: 15 epochs, batch 64)
        page.fill("#latent-epochs", "15")
        page.fill("#latent-batch", "64")
        page.click("#latent-train-button")
        wait_for_points(page, "latent-gne-scatter", 0, minimum=1000, timeout=240_000)
        wait_for_points(page, "latent-vae-scatter", 0, minimum=1000, timeout=30_000)
        metrics = page.locator("#latent-metrics").inner_text()
        assert re.search(r"GNE mse 0\.\d+ · \d+\.\d+ s/epoch", metrics), metrics
        assert re.search(r"VAE mse 0\.\d+ · \d+\.\d+ s/epoch", metrics), metrics
        for img in ("gne-neighbours", "vae-neighbours"):
            page.wait_for_function(f"(document.querySelector('#latent-{img}').src || '').startsWith('data:image/png')")
        for side in ("gne", "vae"):  # the decoded grid is a figure: its tiled image sits behind the cells
            page.wait_for_function(f"({GRID_SOURCE_JS})('latent-{side}-grid').startsWith('data:image/png')")

        # hover: the tooltip shows the sample's image, on both planes
        _hover_shows_image(page, "latent-gne-scatter", "latent-gne-tooltip")
        page.screenshot(path=str(artifacts / "latent_trained_hover.png"))
        _hover_shows_image(page, "latent-vae-scatter", "latent-vae-tooltip")
        page.mouse.move(5, 5)

        # grid-size slider: a 5×5 grid replaces the 10×10 one
        before = page.evaluate(GRID_SOURCE_JS, "latent-gne-grid")
        thumb = page.locator("#latent-grid-size [role=slider]").first
        thumb.focus()
        thumb.press("Home")
        page.wait_for_function(f"(s) => ({GRID_SOURCE_JS})('latent-gne-grid') !== s", arg=before)

        # box-select around a point, then drag the red handle
        p = point_position(page, "latent-gne-scatter", 0, 0)
        page.mouse.move(p["x"] - 30, p["y"] - 30)
        page.mouse.down()
        page.mouse.move(p["x"] + 30, p["y"] + 30, steps=8)
        page.mouse.up()
        page.wait_for_function("/points selected/.test(document.querySelector('#latent-selection-info').innerText)")
        page.wait_for_function(f"({HANDLE_JS})('latent-gne-scatter') !== null")
        h = page.evaluate(HANDLE_JS, "latent-gne-scatter")
        page.mouse.move(h["x"], h["y"])
        page.mouse.down()
        page.mouse.move(h["x"] + 90, h["y"] - 70, steps=10)
        page.mouse.up()
        page.wait_for_function(
            "/to move by/.test(document.querySelector('#latent-selection-info').innerText)", timeout=10_000
        )
        h2 = page.evaluate(HANDLE_JS, "latent-gne-scatter")
        # the handle followed the mouse (Plotly shape drag → relayoutData → the move's target)
        assert abs(h2["x"] - (h["x"] + 90)) < 6 and abs(h2["y"] - (h["y"] - 70)) < 6, (h, h2)
        assert page.locator("#latent-pin").is_checked()
        page.screenshot(path=str(artifacts / "latent_handle_dragged.png"))
        # the other way to place the handle: click the spot (a point far from the selection)
        q = point_position(page, "latent-gne-scatter", 0, 700)
        page.mouse.click(q["x"], q["y"])
        page.wait_for_function(
            f"(h) => {{ const c = ({HANDLE_JS})('latent-gne-scatter'); "
            "return Math.abs(c.x - h.x) + Math.abs(c.y - h.y) > 5; }",
            arg=h2,
        )
        h3 = page.evaluate(HANDLE_JS, "latent-gne-scatter")
        assert abs(h3["x"] - q["x"]) + abs(h3["y"] - q["y"]) < 6, (h3, q)
        page.fill("#latent-move-epochs", "2")
        page.wait_for_function("!document.querySelector('#latent-move-button').disabled")
        page.click("#latent-move-button")
        page.wait_for_function(
            "/^Moved \\d+ points \\(pinned\\)/.test(document.querySelector('#latent-move-info').innerText)",
            timeout=120_000,
        )
        info = page.locator("#latent-move-info").inner_text()
        assert "ended 0.000 from where they were put" in info, info
        wait_for_points(page, "latent-gne-scatter", 3, minimum=1)  # the "after" diamonds

        # held-out samples placed by new-point embedding, drawn as crosses on both planes
        page.fill("#latent-heldout-count", "100")
        page.click("#latent-heldout-button")
        wait_for_points(page, "latent-gne-scatter", 1, minimum=100, timeout=120_000)
        wait_for_points(page, "latent-vae-scatter", 1, minimum=100, timeout=30_000)
        assert "held-out: 100 test samples" in page.locator("#latent-metrics").inner_text()
        hover_point(page, "latent-gne-scatter", 1, 0)
        page.screenshot(path=str(artifacts / "latent_moved_heldout.png"), full_page=True)
