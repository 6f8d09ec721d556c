"""A projection run picked in the Run picker opens its capture's Layers drawn with it (its method, its layers);
Delete run on the capture says it takes the projection runs along, and does."""

from __future__ import annotations

import pytest

from models.studies import capture as capture_face
from models.studies import project as face
from tests.browser import browser_page, running_app, settled_screenshot, wait_for_points
from tests.projection_data import big_capture

pytestmark = pytest.mark.browser

DATASET = "arrays:clusters.npz"


def _open_layers(page, url: str) -> None:
    """The app on the test's dataset, Layers open."""
    page.goto(url)
    page.wait_for_selector("text=LayerScope")
    page.wait_for_selector(f"#dataset-picker option[value='{DATASET}']", state="attached")
    page.select_option("#dataset-picker", DATASET)
    page.get_by_role("tab", name="Layers").click()


def _pick_run(page, text: str) -> None:
    page.click("#run-picker")
    page.get_by_role("option").filter(has_text=text).first.click()
    if page.get_by_role("option").count():  # the menu stayed open: close it (what a person sees next)
        page.keyboard.press("Escape")


def test_a_picked_projection_opens_its_capture_and_goes_with_it(tmp_path, artifacts):
    data, store, run = big_capture(tmp_path, n=400)
    first = capture_face.layer_names(run)[0]
    some = face.run(face.Config(run=run.id, method="pca", layers=(first,)), store=store)
    face.run(face.Config(run=run.id, method="umap", n_neighbors=5), store=store)  # the newest run
    with running_app(tmp_path, data_dir=data) as url, browser_page(1500, 950) as page:
        _open_layers(page, url)
        _pick_run(page, "pca of 1 layer")
        # the capture's Layers with that projection: PCA, its one layer, every sample
        page.wait_for_function("document.querySelector('#layers-method').value === 'pca'", timeout=30_000)
        wait_for_points(page, "layers-graph", 0, 400)
        page.wait_for_function("document.querySelector('#layers-status').innerText.includes('own PCA')", timeout=30_000)
        page.wait_for_selector(".legend-layers .class-chip")  # the panels map to samples: chips, selection
        traces = page.evaluate("document.querySelector('#layers-graph .js-plotly-plot')._fullData.length")
        assert traces == 1
        note = page.locator("#tab-run-note").inner_text()
        assert some.id in note and "cannot draw" not in note
        assert "previous one's map" not in page.locator("#layers-status").inner_text()
        settled_screenshot(page, artifacts / "projection_run_picked_layers.png")

        # Delete run on the capture: the confirmation names its two projection runs; all three go
        _pick_run(page, "capture · mlp.onnx")
        page.wait_for_function(
            "!document.querySelector('#run-delete-button').disabled && "
            "document.querySelector('#run-info').innerText.startsWith('capture')",
            timeout=30_000,
        )
        asked = []
        page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
        page.click("#run-delete-button")
        page.wait_for_function("document.querySelector('#run-picker').innerText.includes('no run yet')", timeout=30_000)
        assert asked and "2 projection runs" in asked[0], asked
        assert store.list() == []


def test_a_projection_whose_capture_is_gone_says_so(tmp_path, artifacts):
    data, store, run = big_capture(tmp_path, n=200)
    orphan = face.run(face.Config(run=run.id, method="pca"), store=store)
    store.delete(run.id)  # as a capture deleted before its projections went with it
    with running_app(tmp_path, data_dir=data) as url, browser_page(1500, 950) as page:
        _open_layers(page, url)
        _pick_run(page, "pca of")
        page.wait_for_function(
            "document.querySelector('#run-info').innerText.includes('no longer in the store')", timeout=30_000
        )
        page.wait_for_function(
            "document.querySelector('#tab-run-note').innerText.includes('(deleted)')", timeout=30_000
        )
        assert run.id in page.locator("#layers-status").inner_text()  # the tab's own line names the capture too
        assert orphan.id in page.locator("#run-info").inner_text()
        settled_screenshot(page, artifacts / "projection_run_orphan.png")


def test_a_tab_reloaded_while_projecting_opens_the_projection_from_the_jobs_list(tmp_path, artifacts):
    """Project, reload mid-job: the job goes on, the reloaded tab's Jobs list marks it "this tab", and once it is
    done its "open run" draws the capture's layers with it (the reloaded page no longer awaits the job's result)."""
    data, store, run = big_capture(tmp_path, n=3000)
    with running_app(tmp_path, data_dir=data) as url, browser_page(1500, 950) as page:
        _open_layers(page, url)
        page.wait_for_function(f"document.querySelector('#run-info').innerText.includes('{run.id}')", timeout=30_000)
        page.select_option("#layers-method", "umap")
        page.click("#layers-project")
        page.wait_for_selector(".job-row[data-status='running']", timeout=60_000)
        page.reload()
        _open_layers(page, url)
        row = page.locator(".job-row[data-status='done']", has_text="this tab").first
        row.wait_for(timeout=240_000)
        assert "project captured layers (umap" in row.inner_text()
        row.get_by_role("button", name="open run").click()
        page.wait_for_function("document.querySelector('#layers-method').value === 'umap'", timeout=30_000)
        layers = len(capture_face.layer_names(run))
        for trace in range(layers):
            wait_for_points(page, "layers-graph", trace, 3000)
        assert len(store.list(face.KIND)) == 1  # the job's one run, drawn; nothing computed again
        settled_screenshot(page, artifacts / "projection_after_reload.png")
