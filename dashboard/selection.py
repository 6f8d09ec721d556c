"""One selection per browser tab, shared by every view.

The shell holds ``dcc.Store(id=ids.SELECTION)`` = ``{"space": str | None, "ids": [int, …]}`` or, compact,
``{"space", "n", "size", "bits"}`` (``bits``: base64 of a little-endian bitmask over sample ids, what the browser
writes after a box/lasso in a big view: :func:`compact`; :func:`ids_in` reads both, so every server reader
sees ids): sample indices (positions in a dataset split, e.g. ``"digits:test"``, or in a run's own sample, e.g.
``"explore:<run>"``) and the space they index. Views whose points live in that space highlight
the same samples; others ignore it. A view's box/lasso replaces it, with Shift it adds, with Alt
it subtracts (``assets/selection.js`` records the modifier held at the drag's start into
``selection-mode`` and hands Plotly a plain drag, so Plotly keeps no selection of its own); Esc or
the shell's Clear button empties it. The count is always shown in the header ("N selected · Clear").

Big views (Layers, Data, Explore) mark their figure with :func:`mark`: ``assets/selection.js`` then draws the
box/lasso itself, computes the hit set from the panel's own coordinates, highlights every visible graph of the
space (hidden tabs when shown) on a 2-D canvas over the plot (a veil dims every point, the selected ones are
painted in their colours; the WebGL scenes are not redrawn) and writes the compact form; no list of point
objects crosses the wire and these figures carry no ``selectedpoints`` (the page's ``LayerScope.picked(gd, k)``
says what a trace highlights).
"""

from __future__ import annotations

import base64
from typing import Iterable, Sequence

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, Patch, State, dcc, html, no_update

from . import ids

STORE = ids.SELECTION
MODE = ids.SELECTION_MODE


def space(dataset: str | None, split: str) -> str:
    return f"{dataset}:{split}"


def empty(space_: str | None = None) -> dict:
    return {"space": space_, "ids": []}


#: the most sample ids a compact selection may name (the projection study's cap is 100,000 samples; a
#: dataset split may be bigger): a ``size`` past it is refused, so a request cannot make us allocate more
MAX_IDS = 50_000_000
#: a selection of more ids than this is written compact by the server too
COMPACT_FROM = 2_000


def compact(space_: str | None, ids: Iterable[int]) -> dict:
    """``{"space", "n", "size", "bits"}``: ``ids`` as a base64 bitmask (bit ``i % 8`` of byte ``i // 8``)."""
    ids = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64))
    if ids.size and (ids[0] < 0 or ids[-1] >= MAX_IDS):
        raise ValueError(f"sample ids must lie in [0, {MAX_IDS}) (got {ids[0]}…{ids[-1]})")
    size = int(ids[-1]) + 1 if ids.size else 0
    mask = np.zeros(size, dtype=bool)
    mask[ids] = True
    bits = np.packbits(mask, bitorder="little").tobytes()
    return {"space": space_, "n": int(ids.size), "size": size, "bits": base64.b64encode(bits).decode("ascii")}


def decode(selection: dict | None) -> np.ndarray:
    """The sorted sample ids a selection holds (either form); a malformed one holds none."""
    if not selection:
        return np.zeros(0, dtype=np.int64)
    if selection.get("bits") is not None:
        try:
            raw = base64.b64decode(str(selection["bits"]), validate=True)
            size = min(int(selection.get("size") or 8 * len(raw)), 8 * len(raw), MAX_IDS)
        except (ValueError, TypeError):
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=size, bitorder="little"))
    try:
        ids = np.asarray(selection.get("ids") or [], dtype=np.int64)
    except (ValueError, TypeError):
        return np.zeros(0, dtype=np.int64)
    return np.unique(ids[ids >= 0]) if ids.ndim == 1 else np.zeros(0, dtype=np.int64)


def ids_in(selection: dict | None, space_: str | None) -> list[int]:
    """The selected ids when the selection indexes ``space_``, else ``[]`` (THE accessor: either form)."""
    if not selection or space_ is None or selection.get("space") != space_:
        return []
    if selection.get("bits") is None:
        return list(selection.get("ids") or [])
    return decode(selection).tolist()


def count(selection: dict | None) -> int:
    """How many samples the selection holds."""
    return (
        int(decode(selection).size)
        if (selection or {}).get("bits") is not None
        else len((selection or {}).get("ids") or [])
    )


def combine(current: dict | None, space_: str, ids: Iterable[int], mode: str | None) -> dict:
    """The selection after a drag picked ``ids`` in ``space_``: replace (default), ``add`` or ``subtract``
    (compact when it is big)."""
    old = set(ids_in(current, space_))
    new = {int(i) for i in ids}
    out = old | new if mode == "add" else old - new if mode == "subtract" else new
    return compact(space_, sorted(out)) if len(out) > COMPACT_FROM else {"space": space_, "ids": sorted(out)}


def mark(fig, space_: str | None, traces: Sequence[int], key: str = "customdata", lookup=None, above=()):
    """Mark ``fig`` as a big view's: its box/lasso is computed in the browser (``assets/selection.js``), and its
    selection painted there on a canvas over the plot (the figure itself is drawn plain: no ``selectedpoints``).

    ``traces`` are the sample traces; a point's sample id is its ``customdata`` (``key="customdata"``) or its
    position (``"position"``), mapped through ``lookup`` (sample id per customdata value) when given. ``above``:
    traces of open rings the server draws over a small selection, redrawn over the canvas's veil."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    record = {"space": space_, "traces": [int(k) for k in traces], "key": key}
    if above:
        record["above"] = [int(k) for k in above]
    if lookup is not None:
        record["lookup"] = base64.b64encode(np.ascontiguousarray(lookup, dtype="<i4").tobytes()).decode("ascii")
    fig.layout.meta = {**meta, "selection": record}
    return fig


def positions(selection: dict | None, space_: str | None, index: Sequence[int] | np.ndarray) -> list[int] | None:
    """Positions within ``index`` (a trace's sample ids) of the selected samples; None when nothing is selected."""
    ids = ids_in(selection, space_)
    if not ids:
        return None
    return np.flatnonzero(np.isin(np.asarray(index), np.asarray(ids, dtype=np.int64))).tolist()


def highlight(patch: Patch, traces: Iterable[int], picked: list[int] | None) -> Patch:
    """Set ``selectedpoints`` of ``traces`` (``None`` = every point drawn normally)."""
    for k in traces:
        patch["data"][k]["selectedpoints"] = picked
    return patch


def drop_outline() -> Patch:
    """Remove Plotly's own box/lasso outline from the graph a drag ended in. Plotly re-selects the
    outline's points on every redraw, which would undo a union/difference drawn across panels (and the
    outline would take a drag meant for a shape under it). Sent with the new selection, before the
    views set ``selectedpoints`` (in the same update Plotly would reset those to none)."""
    patch = Patch()
    patch["layout"]["selections"] = []
    return patch


def is_drag(selected: dict | None) -> bool:
    """A ``selectedData`` a person made: with points, or with the box/lasso drawn (an empty box).
    Plotly's own re-selection after :func:`drop_outline` carries neither, and a deselect is ``None``."""
    return bool(selected) and bool(selected.get("points") or selected.get("range") or selected.get("lassoPoints"))


def label(selection: dict | None) -> str:
    return f"{count(selection):,} selected"


def shell_components() -> html.Div:
    """The header's "N selected · Clear" and the stores (selection, the drag's modifier)."""
    return html.Div(
        [
            html.Span(label(None), id=ids.SELECTION_COUNT, className="selection-count"),
            html.Span("·", className="mx-1"),
            dbc.Button(
                "Clear",
                id=ids.SELECTION_CLEAR,
                size="sm",
                color="light",
                outline=True,
                className="selection-clear py-0",
                title="Empty the selection (Esc)",
            ),
            dcc.Store(id=STORE, data=empty()),
            dcc.Store(id=MODE, data="replace"),
        ],
        className="selection-bar",
        title="Box/lasso replaces the selection, Shift adds, Alt subtracts, Esc clears",
    )


def register(app: dash.Dash) -> None:
    @app.callback(
        Output(ids.SELECTION_COUNT, "children"), Output(ids.SELECTION_CLEAR, "disabled"), Input(STORE, "data")
    )
    def shown_count(selection):
        return label(selection), not count(selection)

    @app.callback(
        Output(STORE, "data", allow_duplicate=True),
        Input(ids.SELECTION_CLEAR, "n_clicks"),
        State(STORE, "data"),
        prevent_initial_call=True,
    )
    def clear(_n, selection):
        return empty((selection or {}).get("space")) if count(selection) else no_update

    # every change of the one selection (a server's, Clear, Esc) highlights the big views in the page
    app.clientside_callback(
        """function(selection) {
            if (window.LayerScope && window.LayerScope.selectionChanged) window.LayerScope.selectionChanged(selection);
            return window.dash_clientside.no_update;
        }""",
        Output(MODE, "data", allow_duplicate=True),
        Input(STORE, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(STORE, "data", allow_duplicate=True),
        Input(ids.DATASET_PICKER, "value"),
        State(STORE, "data"),
        prevent_initial_call=True,
    )
    def new_dataset(name, selection):
        """Samples of another dataset are other samples: the selection empties."""
        if count(selection) and not str((selection or {}).get("space") or "").startswith(f"{name}:"):
            return empty()
        return no_update


# -- the one select/link pattern every scatter view uses (Methods, Data, Maps) -------------------------
def dragged_ids(selected: dict | None, index: Sequence[int] | np.ndarray, position=None) -> set[int]:
    """The sample ids of the points a box/lasso picked: ``index[position(point)]`` for each point
    (``position`` defaults to the point's place in its trace)."""
    if position is None:
        from .cards import point_position as position
    index = np.asarray(index)
    return {int(index[position(p)]) for p in (selected or {}).get("points") or []}


def on_drag(selected: dict | None, space_: str | None, index, selection: dict | None, mode: str | None, position=None):
    """``(selection, figure patch)`` for a view's ``select`` callback: the new shared selection and the
    outline removed; ``(no_update, no_update)`` when ``selected`` is not a person's drag."""
    if space_ is None or not is_drag(selected):
        return no_update, no_update
    return combine(selection, space_, dragged_ids(selected, index, position), mode), drop_outline()
