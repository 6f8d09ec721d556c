"""A categorical legend a person can click: one chip per class.

Click a chip (or Enter on it) to hide that class (its points fade to almost nothing in every panel),
click again to show it; double-click a chip to isolate the class, and again to show all.
assets/legend.js tells a click from a double-click and presses the chip's hidden twin button
(``class-toggle`` or ``class-only``), so the store sees one event, never two toggles and an isolate. The hidden
classes live in a per-view
store ``{"type": "class-hidden", "view": <prefix>}`` so a view's figure callbacks read them; the
figure's point colours stay (the same :func:`dashboard.figures.class_colors` everywhere).
"""

from __future__ import annotations

from typing import Callable, Sequence

import dash
import numpy as np
from dash import ALL, MATCH, Input, Output, Patch, State, dcc, html, no_update

from .figures import class_colors

#: opacity of a hidden class's points: faint enough to read as gone, still there to keep the layout
HIDDEN_OPACITY = 0.04


def store_id(prefix: str) -> dict:
    return {"type": "class-hidden", "view": prefix}


def legend(prefix: str) -> html.Div:
    """The (empty) legend of a view and its store; :func:`chips` fills it when classes are known."""
    return html.Div(
        [
            html.Div(id={"type": "class-legend", "view": prefix}, className=f"class-legend legend-{prefix}"),
            dcc.Store(id=store_id(prefix), data=[]),
        ],
        className="class-legend-box",
    )


def chips(prefix: str, class_names: Sequence[str], hidden: Sequence[int] = ()) -> list:
    """One chip per class, coloured like its points; hidden ones struck through."""
    colours = class_colors(len(class_names))
    out = [
        html.Span(
            "classes",
            className="small text-muted me-1",
            title="click a class to hide it, double-click to show it alone",
        )
    ]
    for k, name in enumerate(class_names):
        off = k in set(hidden)
        out.append(
            html.Button(
                [html.Span(className="class-swatch", style={"background": colours[k]}), str(name)],
                id={"type": "class-chip", "view": prefix, "k": k},
                **{"data-k": str(k)},
                className="class-chip" + (" off" if off else ""),
                title=f"{name}: click to hide or show, double-click to show it alone",
            )
        )
        for twin in ("class-toggle", "class-only"):  # what assets/legend.js presses for a click / double-click
            out.append(
                html.Button(
                    twin,
                    id={"type": twin, "view": prefix, "k": k},
                    n_clicks=0,
                    **{"data-k": str(k)},
                    className=f"class-twin {twin}",
                    tabIndex="-1",
                    **{"aria-hidden": "true"},
                )
            )
    return out


def toggle(hidden: Sequence[int], k: int) -> list[int]:
    """Hide ``k``, or show it when hidden."""
    h = set(hidden)
    return sorted(h - {k} if k in h else h | {k})


def isolate(hidden: Sequence[int], k: int, n: int) -> list[int]:
    """Show ``k`` alone; when it already is, show all."""
    alone = sorted(set(range(n)) - {k})
    return [] if sorted(hidden) == alone else alone


def opacity(labels: np.ndarray, hidden: Sequence[int] | None, shown: float = 0.8) -> float | np.ndarray:
    """Per-point opacity fading the hidden classes' points: a scalar when nothing is hidden, else a float32
    array (sent as a typed array: a 70,000-point list would cost a JSON list per panel)."""
    if not hidden:
        return shown
    return np.where(np.isin(np.asarray(labels), list(hidden)), HIDDEN_OPACITY, shown).astype(np.float32)


def typed(values):
    """``values`` as Plotly's typed-array spec (``{"dtype", "bdata"}``, what a figure's numpy arrays become) when
    an array, for a ``Patch`` (which would send a JSON list); a scalar as it is."""
    if not isinstance(values, np.ndarray):
        return values
    import base64

    return {"dtype": "f4", "bdata": base64.b64encode(values.astype("<f4").tobytes()).decode("ascii")}


#: the click rule of :func:`toggle` / :func:`isolate`, run in the browser: a double-click is three
#: events in a row (two chip clicks, then "only"), and a server round trip each would race
CLICK_JS = """
function(chipClicks, onlyClicks, hidden) {
    const trig = window.dash_clientside.callback_context.triggered_id;
    if (!trig || typeof trig !== 'object' || ![...(chipClicks || []), ...(onlyClicks || [])].some(Boolean)) {
        return window.dash_clientside.no_update;
    }
    const k = trig.k, h = new Set(hidden || []);
    if (trig.type === 'class-only') {
        const alone = [...Array(chipClicks.length).keys()].filter(j => j !== k);
        const same = alone.length === h.size && alone.every(j => h.has(j));
        return same ? [] : alone;
    }
    if (h.has(k)) { h.delete(k); } else { h.add(k); }
    return [...h].sort((a, b) => a - b);
}
"""


def register(app: dash.Dash) -> None:
    app.clientside_callback(
        CLICK_JS,
        Output({"type": "class-hidden", "view": MATCH}, "data"),
        Input({"type": "class-toggle", "view": MATCH, "k": ALL}, "n_clicks"),
        Input({"type": "class-only", "view": MATCH, "k": ALL}, "n_clicks"),
        State({"type": "class-hidden", "view": MATCH}, "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        """function(hidden, ids) { const off = new Set(hidden || []);
               return ids.map(i => 'class-chip' + (off.has(i.k) ? ' off' : '')); }""",
        Output({"type": "class-chip", "view": MATCH, "k": ALL}, "className"),
        Input({"type": "class-hidden", "view": MATCH}, "data"),
        State({"type": "class-chip", "view": MATCH, "k": ALL}, "id"),
    )


#: ``classes(shown) -> (labels of the drawn points, class names)`` or None when the legend does not apply
ClassesFn = Callable[[dict], "tuple[np.ndarray, Sequence[str]] | None"]


def connect(app: dash.Dash, prefix: str, graph: str, shown: str, classes: ClassesFn) -> None:
    """Give view ``prefix`` its legend: chips drawn for what ``shown`` (a store ``{..., "traces": n}``
    describing the figure of ``graph``) holds, and the hidden classes faded in all its traces. The
    view's own draw applies :func:`opacity` too (State of :func:`store_id`), so a redraw keeps them."""

    @app.callback(
        Output({"type": "class-legend", "view": prefix}, "children"),
        Input(shown, "data"),
        State(store_id(prefix), "data"),
    )
    def draw_chips(shown_, hidden):
        got = classes(shown_) if shown_ else None
        return chips(prefix, got[1], hidden) if got else []

    @app.callback(
        Output(graph, "figure", allow_duplicate=True),
        Input(store_id(prefix), "data"),
        State(shown, "data"),
        prevent_initial_call=True,
    )
    def fade(hidden, shown_):
        got = classes(shown_) if shown_ else None
        if not got:
            return no_update
        patch, alpha = Patch(), typed(opacity(got[0], hidden))
        for k in range(int(shown_.get("traces", 1))):
            patch["data"][k]["marker"]["opacity"] = alpha
        return patch
