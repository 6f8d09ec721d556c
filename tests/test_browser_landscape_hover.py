"""Landscape in a real browser: a full cell's tooltip, then nothing over an empty cell (it used to
repeat the previous cell's card); the consistency table fits its column."""

from __future__ import annotations

import pytest

from models.store import RunStore
from models.studies import study
from tests.browser import browser_page, running_app

pytestmark = pytest.mark.browser

CELLS = """() => { const gd = document.querySelector('#landscape-map .js-plotly-plot');
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
    const z = gd._fullData.find(t => t.type === 'heatmap').z;
    const px = (c, row) => [r.left + xa._offset + xa.d2p(c), r.top + ya._offset + ya.d2p(row)];
    const out = {};
    z.forEach((line, row) => line.forEach((v, c) => {
        const full = v !== null && !Number.isNaN(v);
        if (full && !out.full) out.full = px(c, row);
        if (!full && !out.empty) out.empty = px(c, row);
    }));
    return out; }"""


def test_empty_cell_hides_the_tooltip(tmp_path, artifacts):
    land = study("landscape")
    land.run(land.Config(dataset="digits", models=1, epochs=8), store=RunStore(tmp_path / "runs"))
    with running_app(tmp_path) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.click("#tabs >> text=Landscape")
        page.wait_for_selector("#landscape-consistency tbody tr", timeout=60_000)
        page.wait_for_function("document.querySelector('#landscape-map .js-plotly-plot')._fullData.length > 0")
        cells = page.evaluate(CELLS)
        if "empty" not in cells:
            pytest.skip("every slice found as many clusters as the widest: no empty cell to hover")
        page.mouse.move(*cells["full"])
        page.wait_for_selector("#landscape-tooltip", state="visible", timeout=15_000)
        assert "slice" in page.locator("#landscape-tooltip").inner_text()
        page.mouse.move(*cells["empty"])
        page.wait_for_selector("#landscape-tooltip", state="hidden", timeout=15_000)
        # the table is whole inside its column (no column cut off at the card's edge)
        table = page.locator("#landscape-consistency").bounding_box()
        column = page.locator(".landscape-table-scroll").bounding_box()
        assert table["width"] <= column["width"] + 1
        page.screenshot(path=str(artifacts / "landscape_empty_cell.png"))
