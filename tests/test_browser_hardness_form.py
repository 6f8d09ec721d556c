"""The Hardness tab's grid form in a real browser: tick two activations and one depth, see the work
estimate change as the form changes, train the grid, and get one panel per activation with a mark per
run and the runs' spread; then project one layer six ways in Methods with changed parameters."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, running_app, settled_screenshot, wait_for_points

pytestmark = pytest.mark.browser

BARS = "document.querySelector('#hardness-bars .js-plotly-plot')"


def tick(page, checklist: str, label: str) -> None:
    page.locator(f"#{checklist} label", has_text=label).first.click()


def test_grid_form_trains_one_panel_per_activation(tmp_path, artifacts):
    with running_app(tmp_path) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.get_by_role("tab", name="Hardness").click()
        page.wait_for_selector("#hardness-estimate:has-text('networks')")
        # the empty state says what to do
        page.wait_for_selector("#hardness-bars text:has-text('Train grid')", timeout=30_000)

        # relu and tanh are ticked by default; a third activation changes the estimate live, then goes again
        checked = page.evaluate("""() => [...document.querySelectorAll('#hardness-train-activations input')]
                                   .filter(i => i.checked).map(i => i.value)""")
        assert sorted(checked) == ["relu", "tanh"], checked
        tick(page, "hardness-train-activations", "softsign")
        page.wait_for_selector("#hardness-estimate:has-text('3 activations')")
        tick(page, "hardness-train-activations", "softsign")
        tick(page, "hardness-train-depths", "3")  # off: no depth → the form says so and Train is off
        page.wait_for_selector("#hardness-estimate:has-text('depth')")
        assert page.evaluate("() => document.querySelector('#hardness-train').disabled")
        tick(page, "hardness-train-depths", "2")
        page.fill("#hardness-train-runs", "2")
        page.fill("#hardness-train-epochs", "3")
        page.fill("#hardness-train-per-class", "10")
        page.wait_for_selector(
            "#hardness-estimate:has-text('4 networks (2 activations × 1 depth × 2 runs) × 3 epochs')"
        )
        text = page.locator("#hardness-estimate").inner_text()
        assert "≈" in text and "estimate" in text and (" s " in text or " min " in text), text
        assert not page.evaluate("() => document.querySelector('#hardness-train').disabled")
        settled_screenshot(page, artifacts / "hardness_form.png")

        page.click("#hardness-train")
        page.wait_for_function(
            f"""() => {{ const gd = {BARS};
            return gd && gd._fullData && gd._fullData.filter(t => t.type === 'bar').length === 4; }}""",
            timeout=300_000,
        )
        assert "trained hardness-" in page.locator("#hardness-train-result").inner_text()
        fig = page.evaluate(f"""() => {{ const gd = {BARS};
            return {{titles: (gd.layout.annotations || []).map(a => a.text),
                    bars: gd.data.filter(t => t.type === 'bar')
                                 .map(t => [t.customdata[0][0], t.offsetgroup, t.y.length]),
                    means: gd.data.filter(t => t.type === 'scatter').map(t => [t.error_y && t.error_y.visible,
                                                                                  t.error_y.array.length])}}; }}""")
        assert fig["titles"] == ["tanh", "relu"], fig  # one panel per activation, in the study's order
        assert sorted(b[0] for b in fig["bars"]) == ["relu", "relu", "tanh", "tanh"]
        assert all(b[2] == 4 for b in fig["bars"])  # in, h1, h2, out
        assert {b[1] for b in fig["bars"] if b[0] == "relu"} == {"run0", "run1"}  # each run its own bar
        assert fig["means"] == [[True, 4], [True, 4]]  # the spread of the runs on every mean
        depths = page.evaluate(
            "() => [...document.querySelectorAll('#hardness-depth option')].map(o => o.value).filter(v => v)"
        )
        assert depths == ["2"], depths
        page.mouse.move(5, 5)
        settled_screenshot(page, artifacts / "hardness_grid.png")

        # Methods: the main parameters go into the projection and the table says what ran
        page.get_by_role("tab", name="Methods").click()
        page.wait_for_function("() => !document.querySelector('#methods-run').disabled")
        page.fill("#methods-perplexity", "12")
        page.fill("#methods-umap-neighbors", "8")
        page.click("#methods-run")
        wait_for_points(page, "methods-graph", trace=5, minimum=100, timeout=240_000)
        rows = page.locator("#methods-table tbody tr").all_inner_texts()
        assert len(rows) == 6
        assert any("perplexity 12" in r for r in rows) and any("neighbours 8" in r for r in rows), rows
        assert "compile" in page.locator("#methods-timing").inner_text()
        settled_screenshot(page, artifacts / "methods_params.png")
