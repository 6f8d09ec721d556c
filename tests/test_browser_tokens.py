"""A text model captured over a token dataset, in a real browser: Layers projects its blocks and a
hover shows the sample's text (a token dataset has no image)."""

from __future__ import annotations

import numpy as np
import pytest

from models.store import RunStore
from models.studies import capture as face
from tests.arch_models import export_all, make
from tests.browser import (
    browser_page,
    hover_point,
    running_app,
    settled_screenshot,
    wait_for_points,
)

pytestmark = pytest.mark.browser


def test_hover_shows_the_text_of_a_token_sample(tmp_path, artifacts):
    data = tmp_path / "data"
    export_all(make("text"), "text", data / "models", "text", formats=("onnx",))
    rng = np.random.default_rng(0)
    n, length = 60, 12
    lengths = rng.integers(4, length + 1, n)
    mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int64)
    ids = rng.integers(1, 50, (n, length)) * mask
    texts = np.array(
        [f"sentence {i}: " + " ".join(f"w{t}" for t in row[:k]) for i, (row, k) in enumerate(zip(ids, lengths))]
    )
    np.savez(data / "tokens.npz", input_ids=ids, attention_mask=mask, labels=np.arange(n) % 3, texts=texts)
    run = face.run(
        face.Config(dataset="arrays:tokens.npz", model=("text.onnx",)), store=RunStore(tmp_path / "runs"), data_dir=data
    )
    names = [layer["name"] for layer in face.layers(run)]
    assert names[:3] == ["embed", "blocks.0", "blocks.1"]
    with running_app(tmp_path) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.wait_for_selector("#dataset-picker option[value='arrays:tokens.npz']", state="attached", timeout=30_000)
        page.select_option("#dataset-picker", "arrays:tokens.npz")
        page.get_by_role("tab", name="Layers").click()
        page.wait_for_function("() => document.querySelector('#layers-project').offsetParent !== null", timeout=30_000)
        page.click("#layers-project")
        page.wait_for_function(
            """(n) => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
            return !!(gd && gd._fullData && gd._fullData.length >= n && gd._fullData[0].x.length > 0); }""",
            arg=len(names),
            timeout=180_000,
        )
        wait_for_points(page, "layers-graph", trace=1, minimum=30)
        # the card's text is read in the evaluation that saw it: read afterwards, a later hover event can
        # already have put "Loading..." back (seen once in CI; tests/browser.hover_card does the same)
        shown = """() => { const t = document.getElementById('layers-tooltip');
                    const ok = !!(t && t.querySelector('.tooltip-text') && t.innerText.includes('label'));
                    return ok ? t.innerText : false; }"""
        text = ""
        for point in (0, 7, 21, 40):
            hover_point(page, "layers-graph", 1, point)
            try:
                text = page.wait_for_function(shown, timeout=8_000).json_value()
            except Exception:
                continue
            break
        assert text.startswith("sentence ") and " w" in text and "blocks.0" in text, text
        assert page.locator("#layers-tooltip img").count() == 0  # a text, not an image
        settled_screenshot(page, artifacts / "model_tokens_hover.png")
