"""The upload box refuses a tampered ``.pt2`` in a real browser: the reason (a pickled weight) in the
view, nothing written, nothing in the file run (issue 18)."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, running_app, settled_screenshot
from tests.test_model_safety import _pickled_weight, export_pt2, tampered

pytestmark = pytest.mark.browser


@pytest.mark.timeout(600)
def test_a_tampered_pt2_upload_is_refused_in_the_view(tmp_path, artifacts):
    work, flag = tmp_path / "work", tmp_path / "ran.flag"
    work.mkdir()
    evil = tampered(export_pt2(work / "clean.pt2"), work / "evil.pt2", _pickled_weight(flag))
    with running_app(tmp_path) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.click("#tabs >> text=Data")
        box = page.locator("#data-upload")
        for suffix in (".onnx", ".pt2", ".safetensors"):
            assert suffix in box.inner_text()
        page.set_input_files("#data-upload input[type=file]", str(evil))
        page.wait_for_selector("#data-upload-error", timeout=120_000)
        message = page.locator("#data-upload-error").inner_text()
        assert "evil.pt2" in message and "pickle" in message and "Nothing was written" in message, message
        settled_screenshot(page, artifacts / "model_upload_refused.png")
    assert not flag.exists()
    assert not (tmp_path / "data" / "models" / "evil.pt2").exists()
    assert not [p for p in (tmp_path / "data").glob(".upload-*")]
