"""A new user's path through the hardness views in a real browser: train a small MLP from
Layers (the progress bar moves), see the bars in Hardness, hover and box-select in Layers
(every panel highlights), project one layer six ways in Methods, and cancel a job."""

from __future__ import annotations

import time

import pytest

from tests.browser import (
    browser_page,
    hover_card,
    hover_point,
    point_position,
    running_app,
    settled_screenshot,
    wait_for_points,
)

pytestmark = pytest.mark.browser

BAR_WIDTH_JS = (
    "() => { const b = document.querySelector('#job-progress .progress-bar'); "
    "return b ? parseFloat(b.style.width || '0') : -1; }"
)


def open_tab(page, label):
    page.get_by_role("tab", name=label).click()


def watch_progress(page, until_js: str, timeout: float = 120.0) -> set[float]:
    """Poll the job bar's width until ``until_js`` is true; return the widths seen."""
    seen, deadline = set(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.add(page.evaluate(BAR_WIDTH_JS))
        if page.evaluate(until_js):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"timed out; progress widths seen {sorted(seen)}")


def test_train_inspect_select_and_cancel(tmp_path, artifacts):
    with running_app(tmp_path) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        open_tab(page, "Layers")
        page.fill("#layers-depth", "3")
        page.fill("#layers-runs", "1")
        page.fill("#layers-epochs", "25")  # long enough (~1 s of training) for the 1 s progress polls
        page.fill("#layers-per-class", "30")
        page.click("#layers-train")
        done_js = """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
                     return !!(gd && gd._fullData && gd._fullData.length === 5
                               && gd._fullData[0].x.length === 300); }"""
        seen = watch_progress(page, done_js, timeout=150)
        assert any(0 < w < 100 for w in seen), f"the progress bar never moved: {sorted(seen)}"
        assert "trained hardness-" in page.locator("#job-result").inner_text()
        page.wait_for_function("!document.querySelector('#layers-train').disabled", timeout=30_000)
        time.sleep(1.0)
        assert page.evaluate(BAR_WIDTH_JS) in (0.0, -1.0), "the bar stayed part-filled after the job"

        # hover: the tooltip shows the sample's image, label and prediction
        hover_card(
            page,
            "layers-tooltip",
            lambda point: hover_point(page, "layers-graph", 2, point),
            (0, 11, 42, 100),
            words=("label", "prediction", "#"),
        )
        page.mouse.move(5, 5)

        # box-select around some points of the first panel: every other panel highlights them
        a = point_position(page, "layers-graph", 0, 0)
        page.mouse.move(a["x"] - 25, a["y"] - 25)
        page.mouse.down()
        page.mouse.move(a["x"] + 25, a["y"] + 25, steps=8)
        page.mouse.up()
        page.wait_for_function(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
            return gd.data.every((t, k) => (window.LayerScope.picked(gd, k) || []).length > 0); }""",
            timeout=20_000,
        )
        counts = page.evaluate("""() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
                                  return gd.data.map((t, k) => window.LayerScope.picked(gd, k).length); }""")
        assert len(set(counts)) == 1 and 0 < counts[0] < 300, counts
        page.screenshot(path=str(artifacts / "hardness_layers_selected.png"), full_page=True)

        # Hardness: one translucent bar trace per run plus the mean line
        open_tab(page, "Hardness")
        page.wait_for_function(
            """() => { const gd = document.querySelector('#hardness-bars .js-plotly-plot');
            return gd && gd._fullData && gd._fullData.some(t => t.type === 'bar' && t.y.length === 5); }""",
            timeout=30_000,
        )
        settled_screenshot(page, artifacts / "hardness_bars.png")

        # clicking a bar opens that layer in Layers
        page.evaluate("""() => { const gd = document.querySelector('#hardness-bars .js-plotly-plot');
            const pts = [{curveNumber: 0, pointNumber: 2, customdata: gd.data[0].customdata[2], data: gd.data[0]}];
            gd.emit('plotly_click', {points: pts}); }""")
        page.wait_for_function("() => document.querySelector('#layers-graph').offsetParent !== null", timeout=15_000)
        page.wait_for_selector("#layers-graph text:has-text('▶ hidden2')", timeout=20_000)

        # Methods: a job we cancel, then the same job to the end
        open_tab(page, "Methods")
        page.wait_for_function("() => !document.querySelector('#methods-run').disabled")
        page.click("#methods-run")
        page.wait_for_function("() => !document.querySelector('#job-cancel').disabled", timeout=15_000)
        page.click("#job-cancel")
        page.wait_for_function(
            "() => document.querySelector('#job-cancel').disabled && !document.querySelector('#methods-run').disabled",
            timeout=30_000,
        )
        assert page.evaluate("""() => { const gd = document.querySelector('#methods-graph .js-plotly-plot');
                                return !gd.data || gd.data.length === 0; }"""), "a cancelled job drew its result"
        page.click("#methods-run")
        wait_for_points(page, "methods-graph", trace=5, minimum=300, timeout=150_000)
        assert page.locator("#methods-table tbody tr").count() == 6
        settled_screenshot(page, artifacts / "hardness_methods.png")

        # Methods: hover shows the sample's card; a box in one panel selects the same samples in all six
        # (and the header counts them)
        hover_card(
            page,
            "methods-tooltip",
            lambda point: hover_point(page, "methods-graph", 4, point),
            (0, 11, 42, 100),
            words=("label", "prediction", "tsne"),
        )
        page.mouse.move(5, 5)
        m = point_position(page, "methods-graph", 0, 0)
        page.mouse.move(m["x"] - 25, m["y"] - 25)
        page.mouse.down()
        page.mouse.move(m["x"] + 25, m["y"] + 25, steps=8)
        page.mouse.up()
        page.wait_for_function(
            """() => { const gd = document.querySelector('#methods-graph .js-plotly-plot');
            const n = parseInt(document.querySelector('#selection-count').innerText);
            return gd.data.length === 6 && n > 0
                   && gd.data.every((t, k) => (window.LayerScope.picked(gd, k) || []).length === n); }""",
            timeout=20_000,
        )
        settled_screenshot(page, artifacts / "hardness_methods_selected.png")

        # Methods hidden (Layers open): Esc clears the selection; the hidden panels are not restyled until shown
        methods_gd = "document.querySelector('#methods-graph .js-plotly-plot')"
        highlights = page.evaluate(f"() => {methods_gd}._lsHighlights || 0")
        open_tab(page, "Layers")
        page.wait_for_function("() => document.querySelector('#layers-graph').offsetParent !== null", timeout=15_000)
        page.mouse.move(5, 5)
        page.keyboard.press("Escape")
        page.wait_for_function("() => document.querySelector('#selection-count').innerText.startsWith('0 ')")
        picked = "(gd) => gd.data.map((t, k) => window.LayerScope.picked(gd, k))"
        layers_gd = "document.querySelector('#layers-graph .js-plotly-plot')"
        page.wait_for_function(f"() => ({picked})({layers_gd}).every(p => !p || p.length === 0)")
        assert page.evaluate(f"() => {methods_gd}._lsHighlights || 0") == highlights, (
            "the hidden Methods tab was redrawn"
        )
        picked = f"() => ({picked})({methods_gd})"
        assert all(p for p in page.evaluate(picked)), "the hidden Methods tab lost its highlight before it was shown"
        open_tab(page, "Methods")
        page.wait_for_function(f"() => ({picked})().every(p => !p || p.length === 0)", timeout=20_000)
