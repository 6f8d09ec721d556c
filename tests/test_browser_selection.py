"""One selection in a real browser: box/lasso replaces, Shift adds, Alt subtracts, Esc
and the shell's Clear empty it; every Layers panel and both Latent planes show the same samples;
the count in the header matches; Export CSV writes the selection; no tooltip stays after a lasso."""

from __future__ import annotations

import pytest

from models.store import RunStore
from tests.browser import (
    browser_page,
    hover_card,
    hover_point,
    point_position,
    running_app,
    settled_screenshot,
    wait_for_points,
)

pytestmark = pytest.mark.browser

GD = "document.querySelector('#{0} .js-plotly-plot')"
# what each sample trace highlights: LayerScope.picked (a big view's overlay record, Plotly's selectedpoints elsewhere)
SELECTED_JS = """(id) => { const gd = document.querySelector(`#${id} .js-plotly-plot`);
    return gd.data.map((t, k) => [t, k])
                  .filter(([t]) => t.type === 'scattergl' && t.mode === 'markers' && t.name !== 'held-out (placed)'
                                   && t.name !== 'before move' && t.name !== 'after training on')
                  .map(([t, k]) => { const s = window.LayerScope.picked(gd, k);
                                     return s ? s.sort((a, b) => a - b) : null; }); }"""


def drag_box(page, graph, trace, point, half=28, dx=0, modifier=None):
    a = stable_position(page, graph, trace, point)
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.move(a["x"] - half + dx, a["y"] - half)
    page.mouse.down()
    page.mouse.move(a["x"] + half + dx, a["y"] + half, steps=8)
    page.mouse.up()
    if modifier:
        page.keyboard.up(modifier)


LAID_OUT_JS = """(id) => { const gd = document.querySelector(`#${id} .js-plotly-plot`);
    const r = gd && gd.getBoundingClientRect();
    return !!(gd && gd._fullLayout && r.height > 0 && Math.abs(gd._fullLayout.height - r.height) < 1
              && Math.abs(gd._fullLayout.width - r.width) < 1); }"""


SHOWS_DRAWN_JS = """(id) => { const gd = document.querySelector(`#${id} .js-plotly-plot`), l = gd._fullLayout;
    const drawn = gd.layout.meta && gd.layout.meta.ranges, r = [l.xaxis.range, l.yaxis.range];
    if (!drawn) return false;
    const tol = (i) => 1e-6 * (drawn[i][1] - drawn[i][0]);
    const same = [0, 1].map(i => Math.abs(r[i][0] - drawn[i][0]) < tol(i) && Math.abs(r[i][1] - drawn[i][1]) < tol(i));
    const holds = [0, 1].map(i => r[i][0] <= drawn[i][0] + tol(i) && r[i][1] >= drawn[i][1] - tol(i));
    return (same[0] || same[1]) && holds[0] && holds[1]; }"""  # the region drawn, one axis widened for the aspect


def stable_position(page, graph, trace, point, tries=20):
    """The point's position once the page has stopped moving (a status line above a graph that grows
    after a selection would move the graph under a box drawn at the old position) and the plot is laid out
    at its container's size: a plot sized in ``vh`` that the window squeezed (a full-page screenshot
    collapses the viewport while it captures) re-lays itself out up to half a second after the window is
    back, and a box drawn before that lands on other points."""
    page.wait_for_function(LAID_OUT_JS, arg=graph, timeout=20_000)
    a = point_position(page, graph, trace, point)
    for _ in range(tries):
        page.wait_for_timeout(150)
        b = point_position(page, graph, trace, point)
        if abs(a["x"] - b["x"]) < 0.5 and abs(a["y"] - b["y"]) < 0.5:
            return b
        a = b
    return a


def inner_point(page, graph, trace, exclude=(), n=200) -> int:
    """A point of ``trace`` near its panel's middle (not in ``exclude``): a box drawn around a point at
    the panel's edge would start in the gap between panels, which is no selection drag."""
    where = {i: point_position(page, graph, trace, i) for i in range(n)}
    cx = sorted(p["x"] for p in where.values())[n // 2]
    cy = sorted(p["y"] for p in where.values())[n // 2]
    return min(
        (i for i in where if i not in exclude), key=lambda i: (where[i]["x"] - cx) ** 2 + (where[i]["y"] - cy) ** 2
    )


def count(page) -> int:
    return int(page.locator("#selection-count").inner_text().split()[0].replace(",", ""))


def wait_selected(page, graph, previous, n_traces, others=()):
    """Wait until every sample trace of ``graph`` (and of the ``others`` graphs) shows one new
    (≠ ``previous``) selection whose size the header's count shows; return it."""
    page.wait_for_function(
        """([ids, prev, n]) => { const sel = ids.flatMap(id => ("""
        + SELECTED_JS
        + """)(id));
            const shown = parseInt(document.querySelector('#selection-count').innerText.replace(/,/g, ''));
            return sel.length >= n && sel.every(s => JSON.stringify(s) === JSON.stringify(sel[0]))
                   && JSON.stringify(sel[0]) !== JSON.stringify(prev) && (sel[0] || []).length === shown; }""",
        arg=[[graph, *others], previous, n_traces + len(others)],
        timeout=20_000,
    )
    return page.evaluate(SELECTED_JS, graph)[0]


def wait_count(page, n):
    page.wait_for_function(
        f"document.querySelector('#selection-count').innerText.startsWith('{n:,} selected')", timeout=20_000
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from models.studies import gne, hardness

    tmp = tmp_path_factory.mktemp("selection")
    store = RunStore(tmp / "runs")
    hardness.run(
        hardness.Config(depths=[3], activations=["relu"], runs=1, epochs=5, per_class=20, methods=["pca"], n_jobs=1),
        store=store,
        data_dir=tmp / "data",
    )
    gne.run(gne.Config(dataset="digits", epochs=4, batch_size=128), store=store, data_dir=tmp / "data")
    return tmp


def test_layers_selection_replace_add_subtract_clear_export_and_tooltip(runs, artifacts, tmp_path):
    with running_app(runs) as url, browser_page(width=1600, height=1000) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.get_by_role("tab", name="Layers").click()
        page.wait_for_function(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
            return !!(gd && gd._fullData && gd._fullData.length === 5 && gd._fullData[4].x.length === 200); }""",
            timeout=60_000,
        )
        assert count(page) == 0

        # replace: a box in the input panel selects the same samples in all five panels
        first = inner_point(page, "layers-graph", 0)
        drag_box(page, "layers-graph", 0, first)
        a = wait_selected(page, "layers-graph", None, 5)
        assert 0 < len(a) < 200
        wait_count(page, len(a))
        page.wait_for_timeout(600)
        assert page.evaluate(SELECTED_JS, "layers-graph") == [a] * 5, "a panel kept another selection"

        # Shift adds a box drawn in hidden1 (another place): the union, the same in every panel
        here = point_position(page, "layers-graph", 1, a[0])
        near = [i for i in range(200) if abs(point_position(page, "layers-graph", 1, i)["x"] - here["x"]) < 80]
        far = inner_point(page, "layers-graph", 1, exclude=set(a) | set(near))  # away from the first box's
        drag_box(page, "layers-graph", 1, far, modifier="Shift")
        union = wait_selected(page, "layers-graph", a, 5)
        assert set(a) < set(union), (a, union)
        wait_count(page, len(union))
        added = sorted(set(union) - set(a))
        page.screenshot(path=str(artifacts / "selection_layers_added.png"), full_page=True)

        # Alt subtracts: the first box again takes its samples away, the second box's stay
        drag_box(page, "layers-graph", 0, first, modifier="Alt")
        left = wait_selected(page, "layers-graph", union, 5)
        assert left == added, (left, added)
        wait_count(page, len(left))

        # Export CSV writes every row with a `selected` column: 1 for exactly the selected samples
        with page.expect_download() as download:
            page.click("#layers-export")
        path = tmp_path / "export.csv"
        download.value.save_as(path)
        rows = path.read_text().splitlines()
        assert rows[0].endswith(",selected") and len(rows) == 1 + 5 * 200
        marked = [r for r in rows[1:] if r.endswith(",1")]
        assert len(marked) == 5 * len(left), (len(marked), len(left))
        assert "-selected.csv" in download.value.suggested_filename

        # a plain box replaces (drawn around a point outside the current selection)
        drag_box(page, "layers-graph", 2, inner_point(page, "layers-graph", 2, exclude=left))
        again = wait_selected(page, "layers-graph", left, 5)
        assert again and set(again) != set(left)
        wait_count(page, len(again))
        settled_screenshot(page, artifacts / "selection_layers_replaced.png")

        # Esc empties it everywhere
        page.keyboard.press("Escape")
        page.wait_for_function(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
                       return gd.data.every((t, k) => !window.LayerScope.picked(gd, k)); }""",
            timeout=20_000,
        )
        wait_count(page, 0)
        # and the Clear button too
        drag_box(page, "layers-graph", 3, 5)
        wait_selected(page, "layers-graph", None, 5)
        page.click("#selection-clear")
        wait_count(page, 0)
        page.wait_for_function(
            """() => { const gd = document.querySelector('#layers-graph .js-plotly-plot');
                       return gd.data.every((t, k) => !window.LayerScope.picked(gd, k)); }""",
            timeout=20_000,
        )

        # no stuck tooltip: a lasso that starts on a point (its card showing) ends with no card
        page.evaluate(
            "() => Plotly.relayout(document.querySelector('#layers-graph .js-plotly-plot'), {dragmode: 'lasso'})"
        )
        hover_card(
            page,
            "layers-tooltip",
            lambda p: hover_point(page, "layers-graph", 2, p),
            (0, 11, 42, 100),
            words=("label",),
        )
        p, start = page.mouse, None
        for i in (0, 11, 42, 100):
            hover_point(page, "layers-graph", 2, i)
            page.wait_for_timeout(300)
            if page.evaluate(TOOLTIP_SHOWN_JS):
                start = point_position(page, "layers-graph", 2, i)
                break
        assert start is not None, "no card to start the lasso from"
        p.down()
        for dx, dy in ((60, 0), (60, 60), (0, 60), (0, 5)):
            p.move(start["x"] + dx, start["y"] + dy, steps=5)
        p.up()
        page.wait_for_function(f"!({TOOLTIP_SHOWN_JS})()", timeout=5_000)
        page.mouse.move(5, 500)
        page.wait_for_timeout(800)
        assert not page.evaluate(TOOLTIP_SHOWN_JS), "the card stayed after the lasso"
        settled_screenshot(page, artifacts / "selection_after_lasso.png")


TOOLTIP_SHOWN_JS = """() => { const t = document.getElementById('layers-tooltip');
    const box = t && t.closest('.dcc-tooltip-bounding-box');
    return !!(box && getComputedStyle(box).display !== 'none'); }"""


def test_latent_selection_links_both_planes(runs, artifacts):
    with running_app(runs) as url, browser_page(width=1600, height=1100) as page:
        page.goto(url)
        page.wait_for_selector("text=LayerScope")
        page.click("a.nav-link:has-text('Latent plane')")
        wait_for_points(page, "latent-gne-scatter", 0, minimum=1000, timeout=60_000)
        wait_for_points(page, "latent-vae-scatter", 0, minimum=1000, timeout=30_000)

        both = dict(others=["latent-vae-scatter"])
        drag_box(page, "latent-gne-scatter", 0, 0, half=30)
        gne_sel = wait_selected(page, "latent-gne-scatter", None, 1, **both)
        assert len(gne_sel) > 0
        wait_count(page, len(gne_sel))
        page.wait_for_function("/points selected/.test(document.querySelector('#latent-selection-info').innerText)")

        # Shift in the VAE plane adds its samples; both planes show the union
        drag_box(page, "latent-vae-scatter", 0, 500, half=30, modifier="Shift")
        union = wait_selected(page, "latent-gne-scatter", gne_sel, 1, **both)
        assert set(gne_sel) < set(union)
        wait_count(page, len(union))
        settled_screenshot(page, artifacts / "selection_latent_linked.png")
        # the window squeezed and restored, as a full-page screenshot does while it captures (for longer than
        # Plotly's 100 ms resize delay under load): the planes (46vh high) re-lay out twice and must show the
        # same region after, so the Alt box below covers the first box's points (it did not: the equal aspect
        # had widened the ranges at 1 px high and kept them)
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": 1})
        page.wait_for_timeout(300)
        page.set_viewport_size(size)
        for plane in ("latent-gne-scatter", "latent-vae-scatter"):
            page.wait_for_function(f"(id) => ({LAID_OUT_JS})(id) && ({SHOWS_DRAWN_JS})(id)", arg=plane, timeout=20_000)

        # Alt in GNE takes the first box away again
        drag_box(page, "latent-gne-scatter", 0, 0, half=30, modifier="Alt")
        left = wait_selected(page, "latent-gne-scatter", union, 1, **both)
        assert set(left) == set(union) - set(gne_sel)
        wait_count(page, len(left))
        # a plain box in the VAE plane replaces it on both
        drag_box(page, "latent-vae-scatter", 0, 900, half=30)
        again = wait_selected(page, "latent-vae-scatter", left, 1, others=["latent-gne-scatter"])
        assert again and set(again) != set(left)

        page.keyboard.press("Escape")
        wait_count(page, 0)
        page.wait_for_function(
            """() => ['latent-gne-scatter', 'latent-vae-scatter'].every(id =>
            { const t = document.querySelector(`#${id} .js-plotly-plot`).data[0];
              return t.selectedpoints === null || t.selectedpoints === undefined; })""",
            timeout=20_000,
        )
        assert page.locator("#latent-selection-info").inner_text().strip() == ""
