"""Issue 21 in a real browser: the journey of a new user on MNIST with only its test files and their own
model — no job starts unasked, Your model offers only the split that is there, Layers says "working…"
while it projects and gives a capture run the class chips, a Layers selection lights the same samples
in Explore, the open tab and the picked model survive a reload; and an offline download says so in the
Data tab, leaving no empty folder."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, running_app, settled_screenshot, wait_for_points
from tests.test_browser_selection import inner_point, stable_position
from tests.test_reproduce_cli import write_test_split_only

pytestmark = pytest.mark.browser

TRACES_JS = """(n) => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
                return !!(gd && gd._fullData && gd._fullData.length === n && gd._fullData[0].x.length > 0); }"""
RINGS_JS = """() => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');
                return gd && gd.data && gd.data[1] ? gd.data[1].x.length : -1; }"""


def _jobs(tmp_path) -> list:
    from dashboard.job_records import JobRecords

    path = tmp_path / "runs" / ".jobs.sqlite"
    return JobRecords(path).recent(limit=50) if path.exists() else []


def _visible(page, selector: str) -> bool:
    return page.evaluate(
        "(s) => { const e = document.querySelector(s); return !!(e && e.offsetParent !== null); }", selector
    )


def test_test_only_mnist_own_model_nothing_unasked_one_selection(tmp_path, artifacts):
    import torch

    from models.store import RunStore
    from models.studies import capture as face
    from models.studies.explore import capture_source
    from tests.test_capture import make_cnn

    data = tmp_path / "data"
    write_test_split_only(data, n=400)
    (data / "models").mkdir()
    torch.onnx.export(
        make_cnn(),
        (torch.zeros(2, 1, 8, 8),),
        str(data / "models" / "my_cnn.onnx"),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        dynamo=False,
    )
    with running_app(tmp_path, data_dir=data) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.wait_for_selector("#dataset-picker option[value='mnist']", state="attached")
        page.select_option("#dataset-picker", "mnist")
        page.wait_for_selector("#dataset-info:has-text('400 test samples')")  # the split that is there
        page.wait_for_timeout(1500)  # what a page load and a dataset change would have started by now
        assert _jobs(tmp_path) == [], [j.title for j in _jobs(tmp_path)]
        # at rest: no empty progress bar, no greyed Cancel
        assert not _visible(page, "#job-progress") and not _visible(page, "#job-cancel")
        settled_screenshot(page, artifacts / "last_mile_data_rest.png")

        # Your model: only the split MNIST has here; picking the model finds its layers, split untouched
        page.get_by_role("tab", name="Your model").click()
        page.wait_for_selector("#model-split option[value='test']", state="attached")
        offered = page.eval_on_selector_all("#model-split option", "os => os.map(o => o.value).filter(Boolean)")
        assert offered == ["test"]
        assert page.eval_on_selector("#model-split", "s => s.value") == "test"
        assert _jobs(tmp_path) == []  # opening the tab starts nothing either
        page.click("#model-file")
        page.get_by_role("listbox").get_by_text("my_cnn.onnx", exact=True).click()
        page.wait_for_selector("#model-layers input[value='fc1']", timeout=90_000)
        assert "mnist → 1×8×8" in page.locator("#model-plan").inner_text()
        assert page.locator("#job-result .alert-danger").count() == 0
        settled_screenshot(page, artifacts / "last_mile_model_tree.png")
        page.fill("#model-per-class", "30")
        page.click("#model-capture")
        page.wait_for_selector("#model-message .alert-success", state="attached", timeout=120_000)
        run = RunStore(tmp_path / "runs").list(kind="capture")[0]
        assert run.config["split"] == "test"

        # Layers: "working…" while it projects (not "press Project…"), then the panels with class chips
        page.wait_for_function("() => document.querySelector('#layers-project').offsetParent !== null", timeout=30_000)
        page.click("#layers-project")
        page.wait_for_selector("#layers-projecting", state="visible", timeout=10_000)
        assert _visible(page, "#layers-project-job-working") and not _visible(page, "#layers-graph")
        assert "working…" in page.locator("#layers-projecting").inner_text()
        page.wait_for_function(
            "() => document.querySelector('#job-cancel').offsetParent !== null", timeout=10_000
        )  # a job runs: the bar and Cancel show (at the panel's next poll)
        page.screenshot(path=str(artifacts / "last_mile_layers_working.png"), full_page=True)
        n_layers = len(run.manifest["capture"]["layers"])
        page.wait_for_function(TRACES_JS, arg=n_layers, timeout=180_000)
        wait_for_points(page, "layers-graph", trace=0, minimum=300)
        page.wait_for_selector(".legend-layers .class-chip")
        assert page.locator(".legend-layers .class-chip").count() == 10
        assert not page.evaluate(
            "() => document.querySelector('#layers-graph .js-plotly-plot')._fullData"
            ".some(t => t.marker && t.marker.showscale)"
        )  # chips, not a colour bar

        # a box in the first panel selects samples (by dataset index) …
        # a point near the panel's middle: a box around one at the edge starts between panels (no drag)
        a = stable_position(page, "layers-graph", 0, inner_point(page, "layers-graph", 0))
        page.mouse.move(a["x"] - 40, a["y"] - 40)
        page.mouse.down()
        page.mouse.move(a["x"] + 40, a["y"] + 40, steps=8)
        page.mouse.up()
        page.wait_for_function(
            "() => !document.querySelector('#selection-count').textContent.startsWith('0 ')", timeout=20_000
        )
        count = int(page.locator("#selection-count").inner_text().split()[0].replace(",", ""))
        assert count > 0
        settled_screenshot(page, artifacts / "last_mile_layers_selected.png")

        # … and Explore of a captured layer lights the same samples, as many
        page.get_by_role("tab", name="Explore").click()
        hidden = [layer["name"] for layer in run.manifest["capture"]["layers"] if layer["name"] != "output"][-1]
        source = capture_source(run.id, 0, hidden)  # the last hidden layer ticked by default
        page.wait_for_selector(f"#explore-source option[value='{source}']", state="attached")
        page.select_option("#explore-source", source)
        page.select_option("#explore-method", "pca")
        page.click("#explore-compute")
        wait_for_points(page, "explore-scatter", minimum=300, timeout=120_000)
        page.wait_for_function(f"() => ({RINGS_JS})() === {count}", timeout=20_000)
        assert page.locator("#selection-count").inner_text().startswith(f"{count} selected")
        # the run bar holds the drawn run, never "nothing drawn yet" beside a drawn plot
        page.wait_for_function("() => document.querySelector('#tab-run-picker').value !== ''")
        assert "nothing drawn yet" not in page.locator("#tab-run-note").inner_text()
        # each row is numbered by its sample's dataset index (as in Layers and Data), not its row in the run
        rows = page.evaluate("""() => [...document.querySelectorAll('#explore-mistakes .explore-row')].map(b =>
            [JSON.parse(b.id).index, parseInt(b.querySelector('.explore-row-title').textContent.slice(1))])""")
        index = face.sample(run)["index"]
        assert rows and all(shown == int(index[position]) for position, shown in rows), rows
        assert any(shown != position for position, shown in rows)
        settled_screenshot(page, artifacts / "last_mile_explore_selected.png")

        # a second map, then the first picked again in the bar above the tab: the picker keeps it, the map
        # draws it (the same samples ringed), and no "nothing drawn yet" beside it
        first = page.eval_on_selector("#tab-run-picker", "s => s.value")
        page.fill("#explore-k", "10")
        page.click("#explore-compute")
        page.wait_for_function(
            "(first) => { const s = document.querySelector('#tab-run-picker');"
            " return s.options.length >= 2 && s.value && s.value !== first; }",
            arg=first,
            timeout=120_000,
        )
        page.select_option("#tab-run-picker", first)
        page.wait_for_timeout(2000)
        page.wait_for_function(f"() => ({RINGS_JS})() === {count}", timeout=20_000)
        assert page.eval_on_selector("#tab-run-picker", "s => s.value") == first
        assert "nothing drawn yet" not in page.locator("#tab-run-note").inner_text()
        page.wait_for_function(
            "() => document.querySelector('#run-picker').innerText.includes('explore ·')", timeout=10_000
        )  # the Run panel names it too (not a blank box)
        settled_screenshot(page, artifacts / "last_mile_explore_picked.png")

        # a reload keeps the tab and the picked model, and starts no layer search
        searches = len([j for j in _jobs(tmp_path) if j.kind.endswith("find_layers")])
        page.reload()
        page.wait_for_selector("text=LayerScope")
        page.wait_for_function("() => document.querySelector('#tabs .nav-link.active').textContent === 'Explore'")
        page.get_by_role("tab", name="Your model").click()
        page.wait_for_selector("#model-file:has-text('my_cnn.onnx')")
        page.wait_for_timeout(1500)
        assert len([j for j in _jobs(tmp_path) if j.kind.endswith("find_layers")]) == searches
        assert not _visible(page, "#job-progress")


def test_an_offline_download_fails_in_the_data_tab_and_leaves_no_folder(tmp_path, artifacts):
    with running_app(tmp_path, env={"LAYERSCOPE_MIRROR": "http://127.0.0.1:9"}) as url, browser_page() as page:
        page.goto(url)
        page.wait_for_selector("#data-download-name option", state="attached")
        name = page.eval_on_selector("#data-download-name", "s => s.value")
        page.click("#data-download-button")
        page.wait_for_selector("#data-download-job .job-status-failed", timeout=60_000)
        text = page.locator("#data-download-job").inner_text()
        assert f"download {name}: failed" in text and "put" in text, text  # which file to put where
        assert not (tmp_path / "data" / name).exists()
        settled_screenshot(page, artifacts / "last_mile_download_offline.png")
