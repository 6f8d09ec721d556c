"""Maps and Landscape tabs in a real browser: train both on digits from the UI (small settings),
hover a lattice node and see its decoded prototype; screenshots for a person to look at."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, running_app

pytestmark = pytest.mark.browser

CELL_JS = """
([graphId, r, c]) => {
  const gd = document.querySelector(`#${CSS.escape(graphId)} .js-plotly-plot`);
  if (!gd || !gd._fullLayout || !gd._fullData || !gd._fullData[0] || gd._fullData[0].type !== 'heatmap') return null;
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  return {x: box.left + xa._offset + xa.l2p(c), y: box.top + ya._offset + ya.l2p(r)};
}
"""


def _fill(page, id_, value):
    page.fill(f"#{id_}", str(value))


def _hover_cell(page, graph, r, c):
    pos = page.evaluate(CELL_JS, [graph, r, c])
    assert pos is not None
    page.mouse.move(pos["x"] - 25, pos["y"] - 25)
    page.mouse.move(pos["x"], pos["y"], steps=6)


@pytest.mark.timeout(900)  # two trainings from the UI; the landscape counts 120 slices per model
def test_train_maps_and_landscape_from_ui(tmp_path, artifacts):
    with running_app(tmp_path) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.click("#tabs >> text=Maps")
        for id_, v in (
            ("maps-rows", 8),
            ("maps-cols", 8),
            ("maps-pretrain", 6),
            ("maps-epochs", 1),
            ("maps-som-iterations", 2000),
        ):
            _fill(page, id_, v)
        page.click("#maps-train")
        page.wait_for_function(
            "document.querySelector('#job-result').innerText.includes('DNM trained')", timeout=240_000
        )
        page.wait_for_function("document.querySelector('#maps-status').innerText.includes('purity')", timeout=60_000)
        page.wait_for_function(f"({CELL_JS})(['maps-lattice', 0, 0]) !== null", timeout=30_000)
        for r, c in ((3, 3), (4, 5), (1, 6)):
            _hover_cell(page, "maps-lattice", r, c)
            try:
                page.wait_for_selector("#maps-tooltip img.maps-prototype", timeout=10_000)
                break
            except Exception:
                continue
        src = page.locator("#maps-tooltip img.maps-prototype").get_attribute("src")
        assert src.startswith("data:image/png;base64,") and len(src) > 100
        assert "node (" in page.locator("#maps-tooltip").inner_text()
        page.screenshot(path=str(artifacts / "maps_lattice_hover.png"))
        page.click("#maps-overlay >> text=majority class")
        page.wait_for_timeout(1500)
        page.mouse.move(5, 5)
        page.screenshot(path=str(artifacts / "maps_lattice_majority.png"))

        page.click("#tabs >> text=Landscape")
        _fill(page, "landscape-models", 3)
        _fill(page, "landscape-epochs", 20)
        page.click("#landscape-train")
        page.wait_for_function(
            "document.querySelector('#job-result').innerText.includes('landscape trained')", timeout=540_000
        )
        page.wait_for_selector("#landscape-consistency tbody tr:nth-child(3)", timeout=60_000)
        header = page.locator("#landscape-consistency thead").inner_text().lower()
        for col in ("size", "recognition", "completeness", "highest", "lowest"):
            assert col in header
        page.wait_for_timeout(1500)
        page.screenshot(path=str(artifacts / "landscape_tab.png"))
