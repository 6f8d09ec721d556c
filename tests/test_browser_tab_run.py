"""The bar above every tab: which run the open tab draws, and the runs of its kind."""

from __future__ import annotations

import pytest

from models.store import RunStore
from models.studies import study
from tests.browser import browser_page, running_app

pytestmark = pytest.mark.browser


def _runs(root):
    """Two tiny hardness runs and a tiny dnm run (the newest) on digits, made through the study API."""
    store = RunStore(root)
    hard = study("hardness")
    h = [
        hard.run(
            hard.Config(
                dataset="digits",
                depths=(1,),
                activations=(act,),
                runs=1,
                epochs=2,
                per_class=10,
                tsne_iter=50,
                n_jobs=1,
            ),
            store=store,
        )
        for act in ("relu", "tanh")
    ]
    dnm = study("dnm")
    d = dnm.run(
        dnm.Config(dataset="digits", lattice="3x3", pretrain_epochs=1, epochs=1, som_iterations=200, limit=200),
        store=store,
    )
    return h, d


SHOWN = (
    "(() => { const s = document.querySelector('#tab-run-picker'); "
    "return s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text; })()"
)


def _bar(page) -> tuple[str, str]:
    return page.evaluate(SHOWN), page.locator("#tab-run-note").inner_text()


def test_each_tab_names_its_run_and_offers_its_kind(tmp_path, artifacts):
    (older, newer), d = _runs(tmp_path / "runs")
    with running_app(tmp_path) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        # Data draws the dataset, not a run: no bar
        page.wait_for_selector("#tab-run-bar", state="hidden")

        # Maps: the Run picker holds the newest run (the dnm one): the bar names it, nothing to explain
        page.wait_for_function("document.querySelector('#run-picker').innerText.includes('dnm')", timeout=30_000)
        page.click("#tabs >> text=Maps")
        page.wait_for_function(f"{SHOWN}.startsWith('dnm')", timeout=20_000)
        assert _bar(page)[1] == ""

        # Layers cannot draw a dnm run: its bar names the hardness run it draws and says why
        page.click("#tabs >> text=Layers")
        page.wait_for_function(
            f"{SHOWN}.startsWith('hardness') && "
            "document.querySelector('#tab-run-note').innerText.includes('cannot draw')",
            timeout=20_000,
        )
        assert "tanh" in _bar(page)[0] and "cannot draw" in _bar(page)[1]  # the newest hardness run
        options = [o for o in page.locator("#tab-run-picker option").all_inner_texts() if o]  # "" = placeholder
        assert len(options) == 2 and all(o.startswith("hardness") for o in options), options
        page.screenshot(path=str(artifacts / "tab_run_layers.png"))
        page.select_option("#tab-run-picker", older.id)  # choose the other: the Run picker follows
        page.wait_for_function("document.querySelector('#run-picker').innerText.includes('relu')", timeout=20_000)
        assert "relu" in _bar(page)[0]
        page.wait_for_function("document.querySelector('#tab-run-note').innerText === ''", timeout=20_000)

        # back on Maps the bar still names the dnm run and says the picked one is another kind
        page.click("#tabs >> text=Maps")
        page.wait_for_function(
            f"{SHOWN}.startsWith('dnm') && document.querySelector('#tab-run-note').innerText.includes('hardness run')",
            timeout=20_000,
        )

        # a tab with no run of its kind says what to do
        page.click("#tabs >> text=Landscape")
        page.wait_for_function(
            "document.querySelector('#tab-run-note').innerText.includes('no landscape run')", timeout=20_000
        )
        page.screenshot(path=str(artifacts / "tab_run_landscape_empty.png"))
