"""Data and Maps on the shared selection, and the Data tab's upload box, in a real browser:
a box in the Data scatter selects samples (count in the header, same points highlighted), a DNM trained
on the same split outlines the nodes holding them, a box over nodes selects their members; an npz
uploaded through the box appears in the dataset picker, a broken one is refused in the view."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.browser import browser_page, point_position, running_app, settled_screenshot, wait_for_points

pytestmark = pytest.mark.browser

SELECTED_JS = """(id) => { const gd = document.querySelector(`#${id} .js-plotly-plot`);
    const s = window.LayerScope.picked(gd, 0); return s ? s.length : -1; }"""


def count(page) -> int:
    return int(page.locator("#selection-count").inner_text().split()[0].replace(",", ""))


def box(page, graph, a, b):
    page.mouse.move(a["x"], a["y"])
    page.mouse.down()
    page.mouse.move(b["x"], b["y"], steps=10)
    page.mouse.up()


def _npz(path, n=60):
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    np.savez(buf, X=rng.normal(size=(n, 5)).astype(np.float32), y=np.arange(n) % 3)
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.timeout(600)
def test_upload_select_in_data_and_maps(tmp_path, artifacts):
    with running_app(tmp_path) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.click("#tabs >> text=Data")
        wait_for_points(page, "data-scatter", 0, 100)

        # upload: a broken file is refused in the view, nothing offered; a good npz appears in the picker
        bad = tmp_path / "broken.npz"
        bad.write_bytes(b"PK\x03\x04 this is no archive")
        page.set_input_files("#data-upload input[type=file]", str(bad))
        page.wait_for_selector("#data-upload-error", timeout=60_000)
        assert "Nothing was written" in page.locator("#data-upload-error").inner_text()
        assert not (tmp_path / "data" / "uploads" / "broken.npz").exists()
        page.set_input_files("#data-upload input[type=file]", str(_npz(tmp_path / "small.npz")))
        page.wait_for_selector("#data-upload-done", timeout=90_000)
        assert "60 samples" in page.locator("#data-upload-done").inner_text()
        assert (tmp_path / "data" / "uploads" / "small.npz").is_file()
        page.wait_for_selector(
            "#dataset-picker option[value='arrays:uploads/small.npz']", state="attached", timeout=20_000
        )
        settled_screenshot(page, artifacts / "data_upload.png")

        # a box in the Data scatter: the header counts it, the scatter highlights exactly those points
        gd = page.evaluate("""() => { const gd = document.querySelector('#data-scatter .js-plotly-plot');
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, b = gd.getBoundingClientRect();
            return {l: b.left + xa._offset, t: b.top + ya._offset, w: xa._length, h: ya._length}; }""")
        a = {"x": gd["l"] + gd["w"] * 0.35, "y": gd["t"] + gd["h"] * 0.35}
        b = {"x": gd["l"] + gd["w"] * 0.6, "y": gd["t"] + gd["h"] * 0.6}
        box(page, "data-scatter", a, b)
        page.wait_for_function("parseInt(document.querySelector('#selection-count').innerText) > 0", timeout=20_000)
        n = count(page)
        page.wait_for_function(f"({SELECTED_JS})('data-scatter') === {n}", timeout=20_000)
        page.mouse.move(5, 500)
        settled_screenshot(page, artifacts / "data_selected.png")

        # Maps: train a small DNM on the same (train) split; the nodes holding the selection are outlined
        page.click("#tabs >> text=Maps")
        for id_, v in (
            ("maps-rows", 6),
            ("maps-cols", 6),
            ("maps-pretrain", 3),
            ("maps-epochs", 1),
            ("maps-som-iterations", 1000),
        ):
            page.fill(f"#{id_}", str(v))
        page.click("#maps-train")
        page.wait_for_function("document.querySelector('#maps-status').innerText.includes('purity')", timeout=400_000)
        assert count(page) == n  # the selection survived the training
        page.wait_for_function(
            """() => { const gd = document.querySelector('#maps-lattice .js-plotly-plot');
            return gd && gd.layout && (gd.layout.shapes || []).length > 0; }""",
            timeout=30_000,
        )
        outlined = page.evaluate("document.querySelector('#maps-lattice .js-plotly-plot').layout.shapes.length")
        assert 1 <= outlined <= 36

        # a box over the top-left 3×3 nodes: the selection becomes exactly their members
        tl, br = point_position(page, "maps-lattice", 1, 0), point_position(page, "maps-lattice", 1, 14)
        box(page, "maps-lattice", {"x": tl["x"] - 20, "y": tl["y"] - 20}, {"x": br["x"] + 20, "y": br["y"] + 20})
        page.wait_for_function(
            f"parseInt(document.querySelector('#selection-count').innerText.replace(/,/g, '')) !== {n}", timeout=20_000
        )
        page.wait_for_function(
            """() => { const s = document.querySelector('#maps-lattice .js-plotly-plot').layout.shapes || [];
            return s.length >= 1 && s.length <= 9 && s.every(r => r.x1 < 3 && r.y1 < 3); }""",
            timeout=20_000,
        )
        page.mouse.move(5, 500)
        settled_screenshot(page, artifacts / "maps_selected.png")
