"""The selection's highlight in a big view is painted on a canvas over the plot, not by redrawing WebGL (issue 22).

Read back from the page's pixels: after a box in the Layers tab, at every selected point's screen position (the
axes' own data → pixel map) the overlay holds that point's colour as Plotly resolved it (or a selected
neighbour's, where points overlap), opaque; at an unselected point with no selected point near it, exactly the
veil; hover cards come through it; a narrower window and a zoom move the painted points with the axes; a class
hidden in the legend leaves its selected points under the veil; Esc removes the overlay. Plotly's own WebGL
scenes never get select batches."""

from __future__ import annotations

import pytest

from tests import tiny_hardness
from tests.browser import browser_page, hover_card, hover_point, running_app, settled_screenshot, wait_for_points
from tests.test_browser_selection import drag_box, inner_point

pytestmark = pytest.mark.browser

GD = "document.querySelector('#layers-graph .js-plotly-plot')"
#: what the overlay shows at each point of trace k: its pixel (RGBA), whether it is selected and visible (its
#: class not hidden), its colour as WebGL draws it, and the colours of the selected visible points within `near`
#: pixels — computed with Plotly's axes (l2p), not with the overlay's own mapping
PIXELS_JS = f"""([k, near]) => {{
    const gd = {GD}, t = gd._fullData[k], l = gd._fullLayout, c = gd._lsCanvas;
    if (!c || c.style.display === 'none') return null;
    const xa = l[t.xaxis.replace('x', 'xaxis')], ya = l[t.yaxis.replace('y', 'yaxis')];
    const picked = new Set(window.LayerScope.picked(gd, k) || []);
    const cd = gd.calcdata[k][0].t, mo = cd._scene.markerOptions[cd.index];
    const op = t.marker.opacity, alpha = (i) => (op && op.length !== undefined ? op[i] : op);
    const dpr = window.devicePixelRatio || 1, ctx = c.getContext('2d');
    const img = ctx.getImageData(0, 0, c.width, c.height).data;
    const pts = [];
    for (let i = 0; i < t.x.length; i++) {{
        const x = xa._offset + xa.l2p(t.x[i]), y = ya._offset + ya.l2p(t.y[i]);
        const inView = x >= xa._offset + near && x < xa._offset + xa._length - near
                       && y >= ya._offset + near && y < ya._offset + ya._length - near;
        const px = Math.round(x * dpr), py = Math.round(y * dpr), o = 4 * (py * c.width + px);
        const rgb = Array.from(mo.colors[i].slice(0, 3), (v) => Math.round(v * 255));
        pts.push({{i, x, y, inView, sel: picked.has(i), shown: alpha(i) > 0.1, rgb,
                   pixel: Array.from(img.slice(o, o + 4))}});
    }}
    for (const p of pts) {{
        p.near = pts.filter(q => q.sel && q.shown && Math.abs(q.x - p.x) <= near && Math.abs(q.y - p.y) <= near)
                    .map(q => q.rgb);
    }}
    return {{pts, batches: cd._scene.selectBatch[cd.index].length + cd._scene.unselectBatch[cd.index].length}};
}}"""
VEIL = [255, 255, 255, round(0.72 * 255)]  # assets/selection.js: the plot's white background at VEIL_ALPHA


def check(page, k: int) -> tuple[int, int]:
    """Assert what the overlay shows at every point of panel ``k`` in view; (selected checked, unselected checked)."""
    got = page.evaluate(PIXELS_JS, [k, 4])
    assert got is not None, "no overlay painted"
    assert got["batches"] == 0, "Plotly's WebGL scene was given select batches"
    n_sel = n_unsel = 0
    for p in got["pts"]:
        if not p["inView"]:
            continue
        if p["sel"] and p["shown"]:  # vivid: opaque, its own colour or an overlapping selected neighbour's
            assert p["pixel"][3] == 255 and p["pixel"][:3] in p["near"], p
            n_sel += 1
        elif not p["near"]:  # dimmed: exactly the veil (a hidden class's selected points too)
            assert p["pixel"] == VEIL, p
            n_unsel += 1
    return n_sel, n_unsel


def test_overlay_paints_selected_points_over_a_veil_and_follows_zoom_and_legend(tmp_path, artifacts):
    run = tiny_hardness.in_process(tmp_path / "runs", per_class=20)
    labels = run.arrays("sample")["labels"].tolist()
    with running_app(tmp_path) as url, browser_page(1600, 1000) as page:
        page.goto(url)
        page.click("#tabs >> text=Layers")
        wait_for_points(page, "layers-graph", minimum=len(labels))
        page.wait_for_function(f"() => {GD}.layout.meta && {GD}.layout.meta.selection", timeout=30_000)
        panels = page.evaluate(f"() => {GD}._fullData.length")
        assert page.evaluate(f"() => !{GD}._lsCanvas || {GD}._lsCanvas.style.display === 'none'")

        drag_box(page, "layers-graph", 0, inner_point(page, "layers-graph", 0, n=len(labels)), half=45)
        page.wait_for_function(
            f"""(n) => {{ const gd = {GD};
                return gd._lsPainted && gd._lsPainted.counts.length === n
                       && gd._lsPainted.counts.every(c => c > 0); }}""",
            arg=panels,
            timeout=20_000,
        )
        picked = [
            page.evaluate(f"(k) => window.LayerScope.picked({GD}, k).sort((a, b) => a - b)", k) for k in range(panels)
        ]
        assert all(p == picked[0] for p in picked) and 0 < len(picked[0]) < len(labels)
        for k in range(panels):
            n_sel, n_unsel = check(page, k)
            assert n_sel > 0 and n_unsel > 0, (k, n_sel, n_unsel)
        settled_screenshot(page, artifacts / "overlay_layers_selected.png")

        # the overlay takes no pointer events: a selected point's sample card still comes on hover
        hover_card(page, "layers-tooltip", lambda i: hover_point(page, "layers-graph", 1, i), picked[0][:4])
        page.mouse.move(5, 5)

        # a narrower window: the figure re-lays itself out and the overlay is repainted at the new positions
        page.set_viewport_size({"width": 1300, "height": 1000})
        page.wait_for_function(
            f"""() => {{ const gd = {GD}, c = gd._lsCanvas;
                return gd._fullLayout.width < 1250 && c.style.width === gd._fullLayout.width + 'px'; }}""",
            timeout=20_000,
        )
        page.wait_for_timeout(300)
        for k in range(panels):
            n_sel, _ = check(page, k)
            assert n_sel > 0

        # a zoom around the selection in panel 0: the painted points move with the axes, the others stay veiled
        page.evaluate(
            f"""() => {{ const gd = {GD}, t = gd._fullData[0], s = window.LayerScope.picked(gd, 0);
                const xs = s.map(i => t.x[i]), ys = s.map(i => t.y[i]);
                const cx = (Math.min(...xs) + Math.max(...xs)) / 2, cy = (Math.min(...ys) + Math.max(...ys)) / 2;
                const w = (gd._fullLayout.xaxis.range[1] - gd._fullLayout.xaxis.range[0]) / 4;
                const h = (gd._fullLayout.yaxis.range[1] - gd._fullLayout.yaxis.range[0]) / 4;
                return Plotly.relayout(gd, {{'xaxis.range': [cx - w, cx + w], 'yaxis.range': [cy - h, cy + h]}}); }}"""
        )
        page.wait_for_timeout(300)  # the repaint runs on the next animation frame
        n_sel, _ = check(page, 0)
        assert n_sel > 0
        settled_screenshot(page, artifacts / "overlay_layers_zoomed.png")

        # hide the class of a selected point in the legend: its selected points go under the veil
        hidden = labels[picked[0][0]]
        page.locator(".legend-layers .class-chip").nth(hidden).click()
        page.wait_for_function(
            f"""(i) => {{ const t = {GD}._fullData[0], op = t.marker.opacity;
                return op && op.length !== undefined && op[i] < 0.1; }}""",
            arg=picked[0][0],
            timeout=20_000,
        )
        page.wait_for_timeout(500)  # the redrawn figure gets the selection again (a poll, then a frame)
        assert page.evaluate(f"(k) => window.LayerScope.picked({GD}, k).length", 0) == len(picked[0])
        for k in range(panels):
            check(page, k)
        got = page.evaluate(PIXELS_JS, [0, 4])
        assert any(p["sel"] and not p["shown"] and p["inView"] and not p["near"] for p in got["pts"]), (
            "no hidden selected point in view to check"
        )

        page.keyboard.press("Escape")
        page.wait_for_function(
            f"() => {GD}._lsCanvas.style.display === 'none' && !window.LayerScope.picked({GD}, 0)", timeout=20_000
        )
