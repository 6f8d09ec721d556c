"""The Latent plane in a real browser: the empty state before any run, hovering empty space of a plane
decodes the image there, and the decoded grid is a figure linked to the plane (a clicked cell is marked
where it sits)."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, running_app, settled_screenshot, wait_for_points

pytestmark = pytest.mark.browser

# page coordinates of the spot of a plane farthest (in pixels) from every point, and that distance
EMPTY_SPOT_JS = """
(graphId) => {
  const gd = document.querySelector(`#${CSS.escape(graphId)} .js-plotly-plot`);
  const t = gd._fullData[0], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const px = t.x.map(v => xa.l2p(v)), py = t.y.map(v => ya.l2p(v));
  let best = null;
  for (let i = 1; i < 30; i++) for (let j = 1; j < 30; j++) {
    const x = xa._length * i / 30, y = ya._length * j / 30;
    let d = Infinity;
    for (let k = 0; k < px.length; k++) d = Math.min(d, Math.hypot(px[k] - x, py[k] - y));
    if (!best || d > best.d) best = {x, y, d};
  }
  const box = gd.getBoundingClientRect();
  return {x: box.left + xa._offset + best.x, y: box.top + ya._offset + best.y, d: best.d};
}
"""

# page coordinates and latent point of cell (row, col) of a decoded-grid figure
CELL_JS = """
([graphId, row, col]) => {
  const gd = document.querySelector(`#${CSS.escape(graphId)} .js-plotly-plot`);
  const t = gd._fullData[0], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const k = t.x.length, x = t.x[col], y = t.y[k - 1 - row];   // heat-map rows go up; grid row 0 is the top
  const box = gd.getBoundingClientRect();
  return {px: box.left + xa._offset + xa.l2p(x), py: box.top + ya._offset + ya.l2p(y), x, y, k,
          cell: xa._length / k};
}
"""

MARKER_JS = """
(graphId) => {
  const gd = document.querySelector(`#${CSS.escape(graphId)} .js-plotly-plot`);
  const t = gd && gd._fullData && gd._fullData[6];
  return t && t.x && t.x.length ? {x: t.x[0], y: t.y[0], name: t.name} : null;
}
"""


def test_latent_empty_decode_hover_and_linked_grid(tmp_path, artifacts):
    with running_app(tmp_path) as url, browser_page(width=1600, height=1000) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.click("a.nav-link:has-text('Latent plane')")
        page.wait_for_selector("#latent-train-button")

        # empty state (fresh store): the planes and grids say what to do, and no image is left without a source
        page.wait_for_function("""() => { const t = document.querySelector('#latent-view').innerText;
                                         return /no gne run for digits yet: set epochs and press/.test(t); }""")
        page.wait_for_function("""() => [...document.querySelectorAll('#latent-gne-scatter .annotation-text')]
                                         .some(a => /set epochs and press/.test(a.textContent))""")
        settled_screenshot(page, artifacts / "latent_empty.png")
        missing = page.evaluate("""() => [...document.querySelectorAll('#latent-view img')]
                                          .filter(i => !i.getAttribute('src')).length""")
        assert missing == 0

        # train a small GNE + VAE from the UI
        page.fill("#latent-epochs", "10")
        page.fill("#latent-batch", "64")
        page.click("#latent-train-button")
        wait_for_points(page, "latent-gne-scatter", 0, minimum=1000, timeout=240_000)
        wait_for_points(page, "latent-vae-scatter", 0, minimum=1000, timeout=30_000)
        for side in ("gne", "vae"):
            page.wait_for_function(
                f"(document.querySelector('#latent-{side}-neighbours') || {{}}).src"
                f" && document.querySelector('#latent-{side}-neighbours').src.startsWith('data:')"
            )
            wait_for_points(page, f"latent-{side}-grid", 0, minimum=5)

        # hovering empty space of each plane shows the image its generator decodes there
        for side in ("vae", "gne"):
            spot = page.evaluate(EMPTY_SPOT_JS, f"latent-{side}-scatter")
            assert spot["d"] > 25, spot  # really away from every point: the hover is the decode layer's
            page.mouse.move(spot["x"] - 15, spot["y"] - 15)
            page.mouse.move(spot["x"], spot["y"], steps=5)
            # the card's text is read in the evaluation that saw it: read afterwards, a later hover event (the
            # mouse settling) can already have put "Loading..." back (CI failed that way once)
            text = page.wait_for_function(
                """(id) => { const t = document.getElementById(id);
                   const img = t && t.querySelector('img.decoded-img');
                   const ok = img && img.getAttribute('src').startsWith('data:image/png') &&
                              /decoded at \\(/.test(t.innerText);
                   return ok ? t.innerText : false; }""",
                arg=f"latent-{side}-tooltip",
                timeout=60_000,
            ).json_value()  # the first imports torch
            assert f"{side.upper()} generator" in text, text
        page.screenshot(path=str(artifacts / "latent_decode_hover.png"))
        page.mouse.move(5, 5)

        # the decoded grid: hovering a cell names its latent point, clicking it marks the point on the plane
        assert page.evaluate(MARKER_JS, "latent-gne-scatter") is None
        page.locator("#latent-gne-grid").scroll_into_view_if_needed()
        cell = page.evaluate(CELL_JS, ["latent-gne-grid", 2, 7])
        assert cell["k"] == 10 and cell["cell"] >= 28, cell  # readable: ≥ 28 px per cell at the default size
        page.mouse.move(cell["px"] - 10, cell["py"] - 10)
        page.mouse.move(cell["px"], cell["py"], steps=4)
        page.wait_for_function("""() => /row 3, column 8/.test(
            (document.querySelector('#latent-gne-grid .hoverlayer') || {}).textContent || '')""")
        label = page.evaluate("document.querySelector('#latent-gne-grid .hoverlayer').textContent")
        assert f"latent ({cell['x']:.3f}, {cell['y']:.3f})" in label.replace("−", "-"), label
        page.mouse.click(cell["px"], cell["py"])
        page.wait_for_function(f"({MARKER_JS})('latent-gne-scatter') !== null", timeout=20_000)
        marker = page.evaluate(MARKER_JS, "latent-gne-scatter")
        assert abs(marker["x"] - cell["x"]) < 1e-9 and abs(marker["y"] - cell["y"]) < 1e-9, (marker, cell)
        assert page.evaluate(MARKER_JS, "latent-vae-scatter") is None  # each grid marks its own plane
        # the same on the VAE side, another cell
        vcell = page.evaluate(CELL_JS, ["latent-vae-grid", 8, 1])
        page.mouse.click(vcell["px"], vcell["py"])
        page.wait_for_function(f"({MARKER_JS})('latent-vae-scatter') !== null", timeout=20_000)
        vmarker = page.evaluate(MARKER_JS, "latent-vae-scatter")
        assert abs(vmarker["x"] - vcell["x"]) < 1e-9 and abs(vmarker["y"] - vcell["y"]) < 1e-9, (vmarker, vcell)
        page.mouse.move(cell["px"], cell["py"])
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / "latent_grid_linked.png"), full_page=True)
