"""Explore in a real browser: the Mistakes list pages through every sample (Next by keyboard shows
13–24, ranked below the first page), and a label filter greys the other points out while the map's
axes stay where they were."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests.browser import browser_page, compute_explore, running_app, wait_for_points
from tests.test_browser_explore import write_embeddings

pytestmark = pytest.mark.browser

ROWS = "#explore-mistakes .explore-row"


def rows(page):
    """(sample position, mistake score) of each row of the Mistakes list, top to bottom."""
    out = []
    for el in page.locator(ROWS).all():
        index = json.loads(el.get_attribute("id"))["index"]
        score = float(re.search(r"mistake score ([0-9.]+)", el.inner_text()).group(1))
        out.append((index, score))
    return out


def ranges(page):
    return page.evaluate("""() => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');
        return [gd._fullLayout.xaxis.range.slice(), gd._fullLayout.yaxis.range.slice()]; }""")


def test_mistakes_page_and_filter_greys(tmp_path, artifacts):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    labels, preds = write_embeddings(data_dir / "emb.npz")
    n = len(labels)
    with running_app(tmp_path, data_dir=data_dir) as url, browser_page(1600, 1000) as page:
        compute_explore(page, url)
        wait_for_points(page, "explore-scatter", minimum=n, timeout=120_000)

        # page 1: 12 rows of all n, sorted by score, the header says what breaks ties
        page.wait_for_function(f"document.querySelector('#explore-mistakes-range').innerText === '1–12 of {n}'")
        assert page.locator(ROWS).count() == 12
        assert page.locator("#explore-mistakes-prev").is_disabled()
        head = page.locator("#explore-mistakes .explore-sorted-by").inner_text()
        assert "ties broken by distance to the label's class centre" in head
        first = rows(page)
        assert [s for _, s in first] == sorted((s for _, s in first), reverse=True)

        # Next, reached with the keyboard (focus + Enter): items 13–24, ranked at or below page 1
        page.focus("#explore-mistakes-next")
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.querySelector('#explore-mistakes-range').innerText === '13–24 of {n}'")
        page.wait_for_function(
            "(ids) => { const r = [...document.querySelectorAll('#explore-mistakes .explore-row')];"
            " return r.length === 12 && !ids.includes(JSON.parse(r[0].id).index); }",
            arg=[i for i, _ in first],
        )
        second = rows(page)
        assert not {i for i, _ in first} & {i for i, _ in second}
        assert max(s for _, s in second) <= min(s for _, s in first)
        assert not page.locator("#explore-mistakes-prev").is_disabled()
        page.screenshot(path=str(artifacts / "explore_paging.png"))
        # and back: Prev shows page 1 again, in the same order
        page.click("#explore-mistakes-prev")
        page.wait_for_function(f"document.querySelector('#explore-mistakes-range').innerText === '1–12 of {n}'")
        page.wait_for_function(
            "(i) => JSON.parse(document.querySelector('#explore-mistakes .explore-row').id).index === i",
            arg=first[0][0],
        )
        assert rows(page) == first

        # filter by label 3: the 3s in colour (trace 0), every other sample greyed (trace 2), same axes
        before = ranges(page)
        n3 = int((labels == 3).sum())
        page.select_option("#explore-label", "3")
        page.wait_for_function(
            "([a, b]) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');"
            " return gd._fullData[0].x.length === a && gd._fullData[2].x.length === b; }",
            arg=[n3, n - n3],
        )
        after = ranges(page)
        assert np.allclose(before, after), (before, after)
        grey = page.evaluate(
            "() => document.querySelector('#explore-scatter .js-plotly-plot')._fullData[2].marker.color"
        )
        assert grey.lower() == "#c3c8d0"
        page.mouse.move(10, 10)
        page.screenshot(path=str(artifacts / "explore_filtered.png"))
