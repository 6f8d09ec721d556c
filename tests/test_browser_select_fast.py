"""The selection of a big view computed in the page (issue 22), at 20,000 samples × 3 panels: a box in one
Layers panel highlights the same samples in every panel, and exactly the samples whose coordinates (read here,
in Python, from the projection run) lie inside the box; the header counts them; Shift adds a box drawn in
another panel, Alt takes the first one away again; the Data tab (same samples, hidden meanwhile) is not
restyled until it is shown, then shows the same selection; Esc clears. Bounded waits, no timing asserts."""

from __future__ import annotations

import numpy as np
import pytest

from models.store import RunStore
from models.studies import capture as capture_face
from models.studies import project as project_face
from tests.browser import browser_page, compute_explore, point_position, running_app, settled_screenshot
from tests.projection_data import big_capture
from tests.test_browser_selection import count, drag_box, inner_point

pytestmark = pytest.mark.browser

N = 20_000
GD = "document.querySelector('#{0} .js-plotly-plot')"
# what each trace highlights (assets/selection.js: the page's overlay record in a big view)
SELECTED_JS = """(id) => { const gd = document.querySelector(`#${id} .js-plotly-plot`);
    return gd.data.map((t, k) => { const s = window.LayerScope.picked(gd, k);
                                   return s ? s.sort((a, b) => a - b) : null; }); }"""
NONE_JS = """(id) => { const gd = document.querySelector(`#${id} .js-plotly-plot`);
    return gd.data.every((t, k) => !window.LayerScope.picked(gd, k)); }"""
# the data coordinates of page points in panel k (its axes' own pixel → data mapping)
TO_DATA_JS = """([k, pts]) => { const gd = document.querySelector('#layers-graph .js-plotly-plot'), t = gd._fullData[k];
    const l = gd._fullLayout, xa = l[t.xaxis.replace('x', 'xaxis')], ya = l[t.yaxis.replace('y', 'yaxis')];
    const r = gd.getBoundingClientRect();
    return pts.map(p => [xa.p2l(p[0] - r.left - xa._offset), ya.p2l(p[1] - r.top - ya._offset)]); }"""


def box(page, trace, point, half, modifier=None):
    """Drag a box of side 2·half around ``point`` of panel ``trace``; the positions inside it (data coordinates)."""
    drag_box(page, "layers-graph", trace, point, half=half, modifier=modifier)
    # the corners as the page received them (Chromium hands whole pixels to mouse events)
    return page.evaluate(TO_DATA_JS, [trace, page.evaluate("[window.__down, window.__up]")])


def inside(xy: np.ndarray, corners) -> set[int]:
    (x0, y0), (x1, y1) = corners
    lo, hi = np.minimum([x0, y0], [x1, y1]), np.maximum([x0, y0], [x1, y1])
    return set(np.flatnonzero(np.all((xy >= lo) & (xy <= hi), axis=1)).tolist())


def wait_all(page, expected: set[int], panels: int) -> list[int]:
    """Every panel's selectedpoints are ``expected`` and the header says so."""
    want = sorted(expected)
    try:
        _wait_all(page, want, panels)
    except Exception:
        got = page.evaluate(SELECTED_JS, "layers-graph")
        lengths = [None if g is None else len(g) for g in got]
        extra = [sorted(set(g or []) ^ set(want))[:10] for g in got]
        shown = count(page)
        raise AssertionError(f"want {len(want)}, panels hold {lengths}, header {shown}; differing {extra}") from None
    return want


def _wait_all(page, want, panels):
    page.wait_for_function(
        """([want, n]) => { const sel = ("""
        + SELECTED_JS
        + """)('layers-graph');
            const shown = parseInt(document.querySelector('#selection-count').innerText.replace(/,/g, ''));
            return sel.length === n && sel.every(s => s && s.length === want.length && s.every((v, i) => v === want[i]))
                   && shown === want.length; }""",
        arg=[want, panels],
        timeout=60_000,
    )


def test_box_selection_in_the_page_links_every_panel_and_spares_hidden_tabs(tmp_path, artifacts):
    _data, store, run = big_capture(tmp_path, n=N)
    project_face.run(project_face.Config(run=run.id, method="pca"), store=RunStore(tmp_path / "runs"))
    panels_xy, _ = project_face.cached_panels(None, run, capture_face.step_of(run, None), "pca")
    panels = len(panels_xy)
    assert panels == len(run.manifest["capture"]["layers"]) >= 3
    with running_app(tmp_path) as url, browser_page(width=1500, height=950) as page:
        page.on("console", lambda m: print("console:", m.type, m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: print("pageerror:", e))
        page.add_init_script(
            """window.addEventListener('mousedown', e => { window.__down = [e.clientX, e.clientY]; }, true);
            window.addEventListener('mouseup', e => { window.__up = [e.clientX, e.clientY]; }, true);"""
        )
        page.goto(url)
        page.wait_for_selector("#dataset-picker option[value='arrays:clusters.npz']", state="attached", timeout=60_000)
        page.select_option("#dataset-picker", "arrays:clusters.npz")
        page.wait_for_function("document.querySelector('#run-info').innerText.includes('samples')", timeout=60_000)
        # the Data tab (open first) draws the same samples: its restyles are counted from here on
        page.wait_for_function(
            f"""() => {{ const gd = {GD.format("data-scatter")};
            return gd && gd._fullData && gd._fullData[0] && gd._fullData[0].x.length === {N}; }}""",
            timeout=120_000,
        )
        page.evaluate(f"() => {{ {GD.format('data-scatter')}._lsHighlights = 0; }}")  # assets/selection.js counts
        page.evaluate("(id) => window.dash_clientside.set_props('run-picker', {value: id})", run.id)
        page.wait_for_function(f"document.querySelector('#run-info').innerText.includes('{run.id}')", timeout=30_000)
        page.get_by_role("tab", name="Layers").click()
        page.wait_for_selector("#layers-method option[value='pca']", state="attached", timeout=30_000)
        page.select_option("#layers-method", "pca")
        page.wait_for_function(
            f"""() => {{ const gd = {GD.format("layers-graph")};
            return gd && gd._fullData && gd._fullData.length === {panels} && gd._fullData.every(t => t.x.length === {N})
                   && gd.layout.meta && gd.layout.meta.selection; }}""",
            timeout=180_000,
        )
        assert count(page) == 0

        # a box in the first panel: exactly the samples inside it (computed here), in every panel, counted
        first = inner_point(page, "layers-graph", 0)
        a = inside(panels_xy[0][1], box(page, 0, first, half=14))
        assert 0 < len(a) < N
        wait_all(page, a, panels)

        # Shift adds a box drawn in the second panel (its own coordinates)
        second = inner_point(page, "layers-graph", 1, exclude=a)
        b = inside(panels_xy[1][1], box(page, 1, second, half=14, modifier="Shift"))
        assert b - a, "the second box picked nothing new"
        wait_all(page, a | b, panels)

        # Alt takes the first box's samples away again (drawn in the first panel, as before)
        a_again = inside(panels_xy[0][1], box(page, 0, first, half=14, modifier="Alt"))
        left = (a | b) - a_again
        assert left
        wait_all(page, left, panels)
        settled_screenshot(page, artifacts / "select_fast_layers.png")

        # the Data tab was hidden meanwhile: never restyled; shown, it highlights the same samples
        assert not page.evaluate(f"() => {GD.format('data-scatter')}._lsHighlights")
        assert page.evaluate(SELECTED_JS, "data-scatter") == [None] * len(page.evaluate(SELECTED_JS, "data-scatter"))
        index = np.asarray(capture_face.sample(run)["index"])  # the dataset position of each captured sample
        page.get_by_role("tab", name="Data").click()
        want = sorted(int(index[i]) for i in left)
        page.wait_for_function(
            """([want]) => { const gd = document.querySelector('#data-scatter .js-plotly-plot');
                const s = (window.LayerScope.picked(gd, 0) || []).sort((a, b) => a - b);
                return s.length === want.length && s.every((v, i) => v === want[i]); }""",
            arg=[want],
            timeout=30_000,
        )
        assert page.evaluate(f"() => {GD.format('data-scatter')}._lsHighlights") >= 1

        # Esc empties it everywhere
        page.keyboard.press("Escape")
        page.wait_for_function(
            "() => document.querySelector('#selection-count').innerText.startsWith('0 selected')", timeout=20_000
        )
        page.wait_for_function(NONE_JS, arg="data-scatter", timeout=20_000)
        page.get_by_role("tab", name="Layers").click()
        page.wait_for_function(NONE_JS, arg="layers-graph", timeout=20_000)

        # a click off the points (a panel's empty corner) clears too: the click goes to Plotly as before
        drag_box(page, "layers-graph", 0, first, half=14)
        page.wait_for_function(
            "() => !document.querySelector('#selection-count').innerText.startsWith('0 selected')", timeout=20_000
        )
        corner = page.evaluate(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot'), l = gd._fullLayout;
            const r = gd.getBoundingClientRect();
            return [r.left + l.xaxis._offset + 4, r.top + l.yaxis._offset + 4]; }"""
        )
        page.mouse.move(corner[0] + 10, corner[1] + 10)
        page.mouse.move(*corner, steps=3)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_function(
            "() => document.querySelector('#selection-count').innerText.startsWith('0 selected')", timeout=20_000
        )
        page.wait_for_function(NONE_JS, arg="layers-graph", timeout=20_000)


def test_explore_box_is_computed_in_the_page_and_keeps_class_colours(tmp_path, artifacts):
    """Explore: a box picks exactly the samples inside it (the run's own map coordinates, read here), the header
    counts them, the selected points keep their class colour (no dark rings over a big selection)."""
    from dashboard.views.explore.figures import RING_MAX
    from models.studies import explore as explore_face
    from tests.test_browser_explore import write_embeddings

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    labels, _ = write_embeddings(data_dir / "emb.npz")
    with running_app(tmp_path, data_dir=data_dir) as url, browser_page() as page:
        page.add_init_script(
            """window.addEventListener('mousedown', e => {
                window.__down = [e.clientX, e.clientY]; window.__path = [[e.clientX, e.clientY]]; }, true);
            window.addEventListener('mousemove', e => {
                if (e.buttons) window.__path.push([e.clientX, e.clientY]); }, true);
            window.addEventListener('mouseup', e => { window.__up = [e.clientX, e.clientY]; }, true);"""
        )
        compute_explore(page, url)
        page.wait_for_function(
            f"""() => {{ const gd = {GD.format("explore-scatter")};
            return gd && gd._fullData && gd._fullData[0] && gd._fullData[0].x.length === {len(labels)}
                   && gd.layout.meta && gd.layout.meta.selection; }}""",
            timeout=120_000,
        )
        run = RunStore(tmp_path / "runs").list(kind=explore_face.KIND)[0]
        coords = np.asarray(run.arrays(explore_face.ARRAYS)["coords"])
        page.evaluate(f"() => Plotly.relayout({GD.format('explore-scatter')}, {{dragmode: 'select'}})")
        point = inner_point(page, "explore-scatter", 0)
        drag_box(page, "explore-scatter", 0, point, half=90)
        corners = page.evaluate(
            """(pts) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot'), l = gd._fullLayout;
            const r = gd.getBoundingClientRect();
            return pts.map(p => [l.xaxis.p2l(p[0] - r.left - l.xaxis._offset),
                                 l.yaxis.p2l(p[1] - r.top - l.yaxis._offset)]);
            }""",
            page.evaluate("[window.__down, window.__up]"),
        )
        want = sorted(inside(coords, corners))
        assert RING_MAX < len(want) < len(labels), len(want)
        page.wait_for_function(
            """(want) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');
                const s = (window.LayerScope.picked(gd, 0) || []).sort((a, b) => a - b);
                const shown = parseInt(document.querySelector('#selection-count').innerText.replace(/,/g, ''));
                return shown === want.length && s.length === want.length && s.every((v, i) => v === want[i]); }""",
            arg=want,
            timeout=30_000,
        )
        # a big selection: no rings over it; the selected points are drawn in their class colours
        page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')", timeout=30_000)
        rings = page.evaluate(f"() => ({GD.format('explore-scatter')}.data[1].x || []).length")
        assert rings == 0
        assert page.evaluate(f"() => {GD.format('explore-scatter')}._fullData[0].selected.marker.color") is None
        settled_screenshot(page, artifacts / "select_fast_explore.png")

        # Shift + lasso (Explore's own drag mode) adds the samples inside the drawn polygon (even-odd rule)
        page.evaluate(f"() => Plotly.relayout({GD.format('explore-scatter')}, {{dragmode: 'lasso'}})")
        page.wait_for_timeout(300)
        far = inner_point(page, "explore-scatter", 0, exclude=set(want))
        c = point_position(page, "explore-scatter", 0, far)
        page.keyboard.down("Shift")
        page.mouse.move(c["x"] - 70, c["y"] - 50)
        page.mouse.down()
        for x, y in ((c["x"] + 70, c["y"] - 50), (c["x"] + 10, c["y"] + 70), (c["x"] - 70, c["y"] - 45)):
            page.mouse.move(x, y, steps=8)
        page.mouse.up()
        page.keyboard.up("Shift")
        polygon = page.evaluate(
            """(pts) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot'), l = gd._fullLayout;
            const r = gd.getBoundingClientRect();
            return pts.map(p => [l.xaxis.p2l(p[0] - r.left - l.xaxis._offset),
                                 l.yaxis.p2l(p[1] - r.top - l.yaxis._offset)]); }""",
            page.evaluate("window.__path"),
        )
        lassoed = set(np.flatnonzero(even_odd(coords, np.asarray(polygon))).tolist())
        assert lassoed - set(want), "the lasso picked nothing new"
        union = sorted(set(want) | lassoed)
        page.wait_for_function(
            """(want) => { const gd = document.querySelector('#explore-scatter .js-plotly-plot');
                const s = (window.LayerScope.picked(gd, 0) || []).sort((a, b) => a - b);
                return s.length === want.length && s.every((v, i) => v === want[i]); }""",
            arg=union,
            timeout=30_000,
        )


def even_odd(xy: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Which points of ``xy`` lie inside the closed polygon ``poly`` (the even-odd rule, as the page uses)."""
    inside_ = np.zeros(len(xy), dtype=bool)
    x, y = xy[:, 0].astype(np.float64), xy[:, 1].astype(np.float64)
    for (xi, yi), (xj, yj) in zip(poly, np.roll(poly, 1, axis=0)):
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside_ ^= crosses & (x < at)
    return inside_
