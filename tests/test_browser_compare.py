"""The Compare tab in a real browser, on the real study: two captures of a small CNN on digits (one over two
steps, one from another seed) and a third on other samples; Compare from the form (working → done), the
heatmaps and curves; a click on a cell lands in Layers on those two layers of run A; back in Compare the
pair's movers are listed with their images and "Select these" makes them the shared selection; a run on
other samples is not offered as run B; a form that cannot run fails with its reason in the view; A × B
draws the cross-model heatmap.
Every state is a screenshot in tests/artifacts/compare_*.png."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, running_app, settled_screenshot, wait_for_points
from tests.compare_fake import capture_run

pytestmark = pytest.mark.browser

HEAT_JS = """(id) => { const gd = document.querySelector(`#${id} .js-plotly-plot`);
    return !!(gd && gd._fullData && gd._fullData.length && gd._fullData[0].type === 'heatmap'); }"""
CELL_JS = """([id, col, row]) => { const gd = document.querySelector(`#${id} .js-plotly-plot`);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.l2p(col), y: box.top + ya._offset + ya.l2p(row)}; }"""


def pick(page, dropdown: str, text: str) -> None:
    page.click(f"#{dropdown}")
    page.get_by_role("option").filter(has_text=text).first.click()


def test_compare_from_the_form_click_a_cell_land_in_layers(tmp_path, artifacts):
    other = capture_run(tmp_path, seed=5, steps=(0,), per_class=4)  # other samples: not a run B
    b = capture_run(tmp_path, seed=3, steps=(0,))  # another seed, the same samples
    a = capture_run(tmp_path, seed=0, steps=(0, 10))  # two checkpoints; the newest run
    with running_app(tmp_path) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.get_by_role("tab", name="Compare").click()
        page.wait_for_selector("#compare-steps input", state="attached")
        assert "no comparison yet" in page.locator("#compare-cka").inner_text()
        assert page.locator("#compare-run-a").inner_text().startswith(a.id)
        assert (
            "A's 3 layers with each other, and each layer over 2 steps"
            in page.locator("#compare-form-note").inner_text()
        )
        settled_screenshot(page, artifacts / "compare_empty.png")
        assert page.locator("#compare-movers-job").inner_text().strip() == ""  # no job starts by itself

        # working…, then done: both heatmaps and the curves
        page.click("#compare-start")
        page.wait_for_selector("#compare-job-working", state="visible", timeout=20_000)
        page.screenshot(path=str(artifacts / "compare_working.png"), full_page=True)
        page.wait_for_function(HEAT_JS, arg="compare-cka", timeout=180_000)
        page.wait_for_selector("#compare-job .job-status-done", timeout=60_000)
        page.wait_for_function(HEAT_JS, arg="compare-steps-heat", timeout=30_000)
        wait_for_points(page, "compare-curves", trace=0, minimum=3)
        ticks = page.evaluate(
            "() => [...document.querySelectorAll('#compare-cka .ytick text')].map(e => e.textContent)"
        )
        assert ticks == ["conv2", "fc1", "output"], ticks
        z = page.evaluate("() => document.querySelector('#compare-cka .js-plotly-plot').data[0].z")
        assert all(abs(z[i][i] - 1) < 1e-6 for i in range(3)) and all(0 <= v <= 1.0 + 1e-9 for r in z for v in r)
        settled_screenshot(page, artifacts / "compare_done.png")

        # a hover shows the pair and its value
        cell = page.evaluate(CELL_JS, ["compare-cka", 1, 0])
        page.mouse.move(cell["x"] - 20, cell["y"] - 20)
        page.mouse.move(cell["x"], cell["y"], steps=5)
        page.wait_for_selector("#compare-cka .hoverlayer .hovertext", timeout=10_000)
        hover = page.locator("#compare-cka .hoverlayer").text_content()
        assert "conv2" in hover and "fc1" in hover and "CKA" in hover, hover
        settled_screenshot(page, artifacts / "compare_hover.png")

        # click the cell (conv2, fc1): Layers opens run A at its last step with both layers marked
        page.mouse.click(cell["x"], cell["y"])
        page.wait_for_function(
            "() => document.querySelector('#tabs .nav-link.active').textContent === 'Layers'", timeout=30_000
        )
        page.wait_for_function(
            "(id) => document.querySelector('#tab-run-picker').value === id", arg=a.id, timeout=30_000
        )
        page.wait_for_function("() => document.querySelector('#layers-project').offsetParent !== null", timeout=30_000)
        page.click("#layers-project")
        page.wait_for_function(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
            return gd && gd._fullData && gd._fullData.length === 3 && gd._fullData[0].x.length > 0; }""",
            timeout=180_000,
        )
        titles = page.evaluate(
            "() => [...document.querySelectorAll('#layers-graph .annotation-text')].map(e => e.textContent)"
        )
        assert "▶ conv2" in titles and "▶ fc1" in titles and "output" in titles, titles
        assert "step 10" in page.locator("#layers-status").inner_text()
        settled_screenshot(page, artifacts / "compare_layers_jump.png")

        # back in Compare: the pair's movers, most moved first, with images; Select these
        page.get_by_role("tab", name="Compare").click()
        page.wait_for_function(
            "() => document.querySelector('#compare-movers-title').textContent.includes('conv2 @ step 10 → fc1')",
            timeout=60_000,
        )
        cards = page.locator("#compare-movers .compare-mover")
        assert cards.count() == 48 and cards.first.locator("img.tooltip-img").count() == 1
        shares = [float(t.split("kept ")[1].rstrip("%")) for t in cards.all_inner_texts()]
        assert shares == sorted(shares), shares
        page.click("#compare-movers-select")
        page.wait_for_function(
            "() => document.querySelector('#selection-count').textContent === '48 selected'", timeout=20_000
        )
        settled_screenshot(page, artifacts / "compare_movers.png")
        page.get_by_role("tab", name="Layers").click()
        page.wait_for_function(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
            return gd.data.every((t, k) => (window.LayerScope.picked(gd, k) || []).length === 48); }""",
            timeout=30_000,
        )
        settled_screenshot(page, artifacts / "compare_movers_in_layers.png")

        # run B offers only runs on A's samples; a form the study cannot run fails with the reason in the view
        page.get_by_role("tab", name="Compare").click()
        page.click("#compare-run-b")
        offered = page.get_by_role("option").all_inner_texts()
        assert any(b.id in o for o in offered) and not any(other.id in o for o in offered), offered
        page.keyboard.press("Escape")
        for box in page.locator("#compare-layers input").all()[1:]:
            box.uncheck()
        page.click("#compare-start")
        page.wait_for_selector("#compare-job .job-status-failed", timeout=120_000)
        reason = page.locator("#compare-job").inner_text()
        assert "tick at least two layers" in reason, reason
        settled_screenshot(page, artifacts / "compare_failed.png")

        # A × B: a model's layers against another's
        pick(page, "compare-run-b", b.id)
        page.click("#compare-start")
        page.wait_for_function(
            """(id) => { const gd = document.querySelector('#compare-cka .js-plotly-plot');
            return gd && gd.layout && gd.layout.xaxis.title.text === 'B · step 0'
                && document.querySelector('#compare-status').textContent.includes(id); }""",
            arg=b.id,
            timeout=180_000,
        )
        z = page.evaluate("() => document.querySelector('#compare-cka .js-plotly-plot').data[0].z")
        assert len(z) == 3 and len(z[0]) == 3 and not all(abs(z[i][i] - 1) < 1e-6 for i in range(3))
        settled_screenshot(page, artifacts / "compare_a_x_b.png")
