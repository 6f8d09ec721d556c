"""A job's outcome is said in the view that started it, not only in the sidebar."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser import browser_page, running_app

pytestmark = pytest.mark.browser


def test_explore_compute_failure_is_shown_in_the_view(tmp_path, artifacts):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    rng = np.random.default_rng(0)
    np.savez(data_dir / "tiny.npz", features=rng.random((4, 3), dtype=np.float32), labels=np.array([0, 1, 0, 1]))
    with running_app(tmp_path, data_dir=data_dir) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.locator(".nav-link", has_text="Explore").click()
        # the Vectors box names what it will explore from the start (it was blank)
        shown = (
            "(() => { const s = document.querySelector('#explore-source'); return s.options[s.selectedIndex].text; })()"
        )
        assert page.evaluate(shown).startswith("dataset in the picker")
        assert "press Compute" in page.locator("#explore-job").inner_text()
        page.wait_for_selector("#explore-source option[value='arrays:tiny.npz']", state="attached")
        page.select_option("#explore-source", "arrays:tiny.npz")
        page.select_option("#explore-method", "pca")
        page.click("#explore-compute")  # k = 15 neighbours of 4 samples: refused
        page.wait_for_function("document.querySelector('#explore-job').innerText.includes('failed')", timeout=60_000)
        said = page.locator("#explore-job").inner_text()
        assert "k must be" in said and "1..3" in said
        assert page.locator("#explore-job-working").is_hidden()
        assert not page.locator("#explore-compute").is_disabled()
        page.screenshot(path=str(artifacts / "explore_failed_in_view.png"))
