"""The Layers legend in a real browser: click a class to hide it, double-click to isolate it."""

from __future__ import annotations

import pytest

from tests import tiny_hardness
from tests.browser import browser_page, running_app, wait_for_points

pytestmark = pytest.mark.browser

ALPHAS = """(k) => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
  const t = gd._fullData[0], op = t.marker.opacity;
  return Array.from(t.customdata, (_, i) => op && op.length !== undefined ? op[i] : op); }"""


def test_click_hides_and_double_click_isolates(tmp_path, artifacts):
    run = tiny_hardness.in_process(tmp_path / "runs", per_class=10)
    labels = run.arrays("sample")["labels"].tolist()
    with running_app(tmp_path) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.click("#tabs >> text=Layers")
        wait_for_points(page, "layers-graph", minimum=len(labels))
        chip = lambda k: page.locator(".legend-layers .class-chip").nth(k)  # noqa: E731
        page.wait_for_selector(".legend-layers .class-chip")
        assert page.locator(".legend-layers .class-chip").count() == 10

        chip(3).click()  # hide 3: its points fade, the others stay
        page.wait_for_function(f"({ALPHAS})().some(a => a < 0.1)", timeout=20_000)
        alpha = page.evaluate(ALPHAS)
        assert all((a < 0.1) == (lab == 3) for a, lab in zip(alpha, labels))
        assert "off" in chip(3).get_attribute("class")
        page.screenshot(path=str(artifacts / "legend_hidden.png"))

        chip(5).dblclick()  # isolate 5
        page.wait_for_function(f"({ALPHAS})().filter(a => a > 0.1).length === {labels.count(5)}", timeout=20_000)
        alpha = page.evaluate(ALPHAS)
        assert all((a > 0.1) == (lab == 5) for a, lab in zip(alpha, labels))
        page.screenshot(path=str(artifacts / "legend_isolated.png"))

        chip(5).dblclick()  # again: every class back
        page.wait_for_function(f"({ALPHAS})().every(a => a > 0.1)", timeout=20_000)
