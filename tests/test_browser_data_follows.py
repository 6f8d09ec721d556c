"""Follow a selection from Layers into Data (a person selects a cluster and follows it
through every tab): Layers draws the test split's sample, so Data switches to the test split and highlights the
same samples, by dataset index."""

from __future__ import annotations

import pytest

from tests import tiny_hardness
from tests.browser import browser_page, running_app
from tests.test_browser_selection import count, drag_box, inner_point, wait_count, wait_selected

pytestmark = pytest.mark.browser


def test_layers_selection_lights_up_in_data(tmp_path, artifacts):
    run = tiny_hardness.in_process(tmp_path / "runs", per_class=20)
    index = run.arrays("sample")["index"]
    with running_app(tmp_path) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.wait_for_function("document.querySelector('#data-split')?.value === 'train'", timeout=60_000)
        page.get_by_role("tab", name="Layers").click()
        page.wait_for_function(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
            return !!(gd && gd._fullData && gd._fullData.length === 3 && gd._fullData[0].x.length === 200); }""",
            timeout=60_000,
        )
        drag_box(page, "layers-graph", 0, inner_point(page, "layers-graph", 0))
        picked = wait_selected(page, "layers-graph", None, 3)
        wait_count(page, len(picked))
        expected = sorted(int(index[i]) for i in picked)  # test-split positions of the selected samples

        page.get_by_role("tab", name="Data").click()
        page.wait_for_function("document.querySelector('#data-split')?.value === 'test'", timeout=30_000)
        page.wait_for_function(
            """(n) => { const gd = document.querySelector('#data-scatter .js-plotly-plot');
                 const t = gd && gd._fullData && gd._fullData[0];
                 const s = t && window.LayerScope.picked(gd, 0);
                 return t && t.x.length === 355 && !!s && s.length === n; }""",
            arg=len(expected),
            timeout=90_000,
        )
        shown = page.evaluate("""() => { const gd = document.querySelector('#data-scatter .js-plotly-plot');
            return window.LayerScope.picked(gd, 0).map(i => gd._fullData[0].customdata[i]).sort((a, b) => a - b); }""")
        assert shown == expected
        assert count(page) == len(expected)
        page.screenshot(path=str(artifacts / "data_follows_layers.png"))
