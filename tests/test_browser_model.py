"""A person's own model in a real browser: an ONNX CNN in <data-dir>/models is picked in the
Your model tab, two layers are ticked, it is captured on digits, projected in Layers, and every
captured layer shows as a panel whose hover shows the image, label and prediction."""

from __future__ import annotations

import pytest
import torch

from tests.browser import browser_page, hover_card, hover_point, running_app, settled_screenshot, wait_for_points
from tests.test_capture import make_cnn

pytestmark = pytest.mark.browser

TRACES_JS = """(n) => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
                return !!(gd && gd._fullData && gd._fullData.length === n && gd._fullData[0].x.length > 0); }"""


def test_pick_tick_capture_project_hover(tmp_path, artifacts):
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    torch.onnx.export(
        make_cnn(),
        (torch.zeros(2, 1, 8, 8),),
        str(models / "my_cnn.onnx"),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        dynamo=False,
    )
    (models / "broken.onnx").write_bytes(b"not an onnx file")
    with running_app(tmp_path) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.get_by_role("tab", name="Your model").click()

        # nothing is picked for the person (a pick starts the layer search); picking a file that is not a
        # model shows the loader's message in the tab, not as a red box in the sidebar
        page.click("#model-file")
        page.get_by_role("listbox").get_by_text("broken.onnx", exact=True).click()
        page.wait_for_selector("#model-message .alert-danger", timeout=60_000)
        assert "broken.onnx" in page.locator("#model-message").inner_text()
        assert page.locator("#job-result .alert-danger").count() == 0

        page.click("#model-file")
        page.get_by_role("listbox").get_by_text("my_cnn.onnx", exact=True).click()
        page.wait_for_selector("#model-layers input[value='conv1']", timeout=60_000)
        page.wait_for_function("() => document.querySelectorAll('#model-layers input:checked').length > 0")
        assert "digits → 1×8×8" in page.locator("#model-plan").inner_text()
        settled_screenshot(page, artifacts / "model_tree.png")
        # tick exactly two layers (the output is always captured for predictions)
        checked = page.locator("#model-layers input:checked")
        while checked.count():
            checked.first.uncheck()
        for name in ("conv1", "fc1"):
            page.locator(f"#model-layers input[value='{name}']").check()
        page.fill("#model-per-class", "20")
        page.click("#model-capture")

        # the new run opens in Layers; Project lays the layers out
        page.wait_for_selector("#model-message .alert-success", state="attached", timeout=120_000)
        assert "captured capture-" in page.locator("#model-message").text_content()
        page.wait_for_function("() => document.querySelector('#layers-project').offsetParent !== null", timeout=30_000)
        page.click("#layers-project")
        page.wait_for_function(TRACES_JS, arg=3, timeout=180_000)
        wait_for_points(page, "layers-graph", trace=1, minimum=200)
        titles = page.evaluate(
            "() => [...document.querySelectorAll('#layers-graph .annotation-text')].map(e => e.textContent)"
        )
        assert {"conv1", "fc1", "output"} <= set(titles), titles

        text = hover_card(
            page,
            "layers-tooltip",
            lambda p: hover_point(page, "layers-graph", 1, p),
            (0, 17, 55, 120),
            words=("label", "prediction", "fc1"),
        )
        assert "#" in text
        settled_screenshot(page, artifacts / "model_layers_hover.png")
        page.mouse.move(5, 5)

        # linked selection: a box in the first panel highlights the same samples in every panel
        from tests.browser import point_position

        a = point_position(page, "layers-graph", 0, 0)
        page.mouse.move(a["x"] - 30, a["y"] - 30)
        page.mouse.down()
        page.mouse.move(a["x"] + 30, a["y"] + 30, steps=8)
        page.mouse.up()
        page.wait_for_function(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
            return gd.data.every((t, k) => (window.LayerScope.picked(gd, k) || []).length > 0); }""",
            timeout=20_000,
        )
        settled_screenshot(page, artifacts / "model_layers_selected.png")

        # Hardness of the captured layers
        page.get_by_role("tab", name="Hardness").click()
        page.click("#hardness-compute")
        page.wait_for_function(
            """() => { const gd = document.querySelector('#hardness-bars .js-plotly-plot');
            return gd && gd._fullData && gd._fullData.some(t => t.type === 'bar' && t.y.length === 3); }""",
            timeout=120_000,
        )
        settled_screenshot(page, artifacts / "model_hardness.png")
