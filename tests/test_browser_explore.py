"""The Explore tab in a real browser: load a test-made arrays file, compute the map, filter by
label (and by "predicted ≠ label"), click a point and see its most similar samples."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser import browser_page, compute_explore, hover_card, point_position, running_app, wait_for_points

pytestmark = pytest.mark.browser


def write_embeddings(path, n=400, seed=0):
    """Digits through a random linear map to 32-d (an 'embedding'), with model predictions and
    scores that systematically read some 3s as 8s."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    rng = np.random.default_rng(seed)
    keep = rng.choice(len(raw.target), n, replace=False)
    images = np.clip(raw.images[keep] * 16, 0, 255).astype(np.uint8)
    labels = raw.target[keep].astype(np.int64)
    feats = (raw.data[keep] @ rng.normal(size=(64, 32))).astype(np.float32)
    preds = labels.copy()
    threes = np.flatnonzero(labels == 3)
    preds[threes[: len(threes) // 3]] = 8
    scores = np.full((n, 10), 0.02, dtype=np.float32)
    scores[np.arange(n), preds] = 0.82
    np.savez(
        path,
        features=feats,
        labels=labels,
        predictions=preds,
        scores=scores,
        images=images,
        class_names=np.array([str(c) for c in range(10)]),
    )
    return labels, preds


def n_points(page, graph="explore-scatter"):
    return page.evaluate(
        """(id) => { const gd = document.querySelector(`#${id} .js-plotly-plot`);
        return gd && gd._fullData && gd._fullData[0] ? gd._fullData[0].x.length : -1; }""",
        graph,
    )


def test_explore_filter_click_similar(tmp_path, artifacts):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    labels, preds = write_embeddings(data_dir / "emb.npz")
    with running_app(tmp_path, data_dir=data_dir) as url, browser_page() as page:
        compute_explore(page, url)
        wait_for_points(page, "explore-scatter", minimum=len(labels), timeout=120_000)
        assert n_points(page) == len(labels)
        # the side list ranks the model's 3-read-as-8 mistakes near the top
        page.wait_for_selector("#explore-mistakes .explore-row")
        assert "done" in page.locator("#job-result").inner_text()

        # filter: label = 3 shows exactly the 3s; then predicted ≠ label shows the 3s read as 8
        page.select_option("#explore-label", "3")
        page.wait_for_function(
            "(n) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');"
            " return gd._fullData[0].x.length === n; }",
            arg=int((labels == 3).sum()),
        )
        page.select_option("#explore-pred", "wrong")
        wrong3 = int(((labels == 3) & (preds != 3)).sum())
        page.wait_for_function(
            "(n) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');"
            " return gd._fullData[0].x.length === n; }",
            arg=wrong3,
        )
        page.select_option("#explore-pred", "all")
        page.wait_for_function(
            "(n) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');"
            " return gd._fullData[0].x.length === n; }",
            arg=int((labels == 3).sum()),
        )

        # click a point: the gallery of its most similar samples appears, with images and distances
        pos = point_position(page, "explore-scatter", 0, 4)
        page.mouse.move(pos["x"] - 20, pos["y"] - 20)
        page.mouse.move(pos["x"], pos["y"], steps=5)
        page.mouse.click(pos["x"], pos["y"])
        page.wait_for_selector("#explore-gallery .explore-card", timeout=30_000)
        cards = page.locator("#explore-gallery .explore-card")
        assert cards.count() == 16  # the query + its k = 15 nearest
        text = page.locator("#explore-similar").inner_text()
        assert "d=" in text and "nearest" in text
        src = cards.nth(1).locator("img").get_attribute("src")
        assert src.startswith("data:image/png;base64,")
        page.mouse.move(10, 10)
        page.screenshot(path=str(artifacts / "explore_similar.png"))

        # hover shows the sample's image and scores
        page.select_option("#explore-label", "all")
        page.wait_for_function(
            "(n) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');"
            " return gd._fullData[0].x.length === n; }",
            arg=len(labels),
        )
        page.click("#explore-scatter .modebar-btn[data-title='Reset axes']")

        def hover(point):
            pos = point_position(page, "explore-scatter", 0, point)
            page.mouse.move(pos["x"] - 25, pos["y"] - 25)
            page.mouse.move(pos["x"], pos["y"], steps=6)

        hover_card(page, "explore-tooltip", hover, (0, 7, 40), words=("mistake",))
        page.screenshot(path=str(artifacts / "explore_hover.png"))

        # the error cluster of 3s read as 8 is listed; clicking it selects its members
        page.mouse.move(10, 10)
        page.locator("#explore-side .nav-link", has_text="Clusters").click()
        row = page.locator("#explore-clusters .explore-row").first
        assert "labelled 3, predicted 8" in row.inner_text()
        row.click()
        page.wait_for_selector("#explore-similar >> text=selected")
        with page.expect_download() as dl:
            page.click("#explore-export")
        csv = open(dl.value.path()).read().splitlines()
        assert csv[0].startswith("index,label,prediction,suggested_label,mistake_score")
        assert len(csv) > 5 and all(",3,8," in line for line in csv[1:])

        # the selection is the shell's: its count shows in the header; Esc clears it (rings, dimming,
        # the "N selected" gallery and the selection-only export all go), and so does a double-click
        n = len(csv) - 1
        page.wait_for_function(f"document.querySelector('#selection-count').innerText.startsWith('{n} selected')")
        page.keyboard.press("Escape")
        page.wait_for_function("document.querySelector('#selection-count').innerText.startsWith('0 selected')")
        page.wait_for_function(
            """() => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');
            return gd.data[1].x.length === 0 && !window.LayerScope.picked(gd, 0); }""",
            timeout=15_000,
        )
        assert "selected" not in page.locator("#explore-similar").inner_text()
        with page.expect_download() as dl:
            page.click("#explore-export")
        assert len(open(dl.value.path()).read().splitlines()) == 1 + len(labels), "export kept the old selection"
        page.locator("#explore-side .nav-link", has_text="Clusters").click()
        row.click()
        page.wait_for_selector("#explore-similar >> text=selected")
        box = page.locator("#explore-scatter .nsewdrag").first.bounding_box()
        page.mouse.dblclick(box["x"] + 5, box["y"] + 5)
        page.wait_for_function("document.querySelector('#selection-count').innerText.startsWith('0 selected')")
        page.wait_for_function(
            "() => document.querySelector('#explore-scatter .js-plotly-plot').data[1].x.length === 0"
        )
        page.screenshot(path=str(artifacts / "explore_cleared.png"))
