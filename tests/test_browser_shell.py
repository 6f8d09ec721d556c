"""The shell in a real browser: the page loads on digits, a hover shows the image,
switching dataset redraws, and a job's progress panel works."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, hover_card, hover_point, running_app, wait_for_points
from tests.conftest import write_mnist_like

pytestmark = pytest.mark.browser


def test_shell_hover_and_switch_dataset(tmp_path, artifacts):
    data_dir = tmp_path / "data"
    write_mnist_like(data_dir / "mnist", n_train=300, n_test=60)
    with running_app(tmp_path, data_dir=data_dir) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        wait_for_points(page, "data-scatter", minimum=1000)
        assert page.locator("#dataset-info").inner_text().startswith("1,442 training samples")

        # hover a point: the tooltip shows that sample's image and class
        hover_card(
            page,
            "data-tooltip",
            lambda point: hover_point(page, "data-scatter", 0, point),
            (0, 17, 100),
            words=("class",),
            timeout=10_000,
        )
        src = page.locator("#data-tooltip img.tooltip-img").get_attribute("src")
        assert src.startswith("data:image/png;base64,") and len(src) > 100
        page.screenshot(path=str(artifacts / "shell_digits_hover.png"))

        # switch dataset: the scatter is redrawn with the other dataset's points
        page.select_option("#dataset-picker", "mnist")
        page.wait_for_function("document.querySelector('#dataset-info').innerText.startsWith('300 training')")
        page.wait_for_function(
            """() => { const gd = document.querySelector('#data-scatter .js-plotly-plot');
                 return gd && gd._fullData[0] && gd._fullData[0].x.length === 300; }""",
            timeout=90_000,
        )
        hover_point(page, "data-scatter", 0, 5)
        page.wait_for_selector("#data-tooltip img.tooltip-img", timeout=15_000)
        page.screenshot(path=str(artifacts / "shell_mnist_hover.png"))
