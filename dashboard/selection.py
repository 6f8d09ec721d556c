"""One selection per browser tab, shared by every view.

The shell holds ``dcc.Store(id=ids.SELECTION)`` = ``{"space": str | None, "ids": [int, …]}``: sample
indices (positions in a dataset split, e.g. ``"digits:test"``, or in a run's own sample, e.g.
``"explore:<run>"``) and the space they index. Views whose points live in that space highlight
the same samples; others ignore it. A view's box/lasso replaces it, with Shift it adds, with Alt
it subtracts (``assets/selection.js`` records the modifier held at the drag's start into
``selection-mode`` and hands Plotly a plain drag, so Plotly keeps no selection of its own); Esc or
the shell's Clear button empties it. The count is always shown in the header ("N selected · Clear").
"""

from __future__ import annotations

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


def ids_in(selection: dict | None, space_: str | None) -> list[int]:
    """The selected ids when the selection indexes ``space_``, else ``[]``."""
    if not selection or space_ is None or selection.get("space") != space_:
        return []
    return list(selection.get("ids") or [])


def combine(current: dict | None, space_: str, ids: Iterable[int], mode: str | None) -> dict:
    """The selection after a drag picked ``ids`` in ``space_``: replace (default), ``add`` or ``subtract``."""
    old = set(ids_in(current, space_))
    new = {int(i) for i in ids}
    out = old | new if mode == "add" else old - new if mode == "subtract" else new
    return {"space": space_, "ids": sorted(out)}


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
    n = len((selection or {}).get("ids") or [])
    return f"{n:,} selected"


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
    def count(selection):
        return label(selection), not (selection or {}).get("ids")

    @app.callback(
        Output(STORE, "data", allow_duplicate=True),
        Input(ids.SELECTION_CLEAR, "n_clicks"),
        State(STORE, "data"),
        prevent_initial_call=True,
    )
    def clear(_n, selection):
        return empty((selection or {}).get("space")) if (selection or {}).get("ids") else no_update

    @app.callback(
        Output(STORE, "data", allow_duplicate=True),
        Input(ids.DATASET_PICKER, "value"),
        State(STORE, "data"),
        prevent_initial_call=True,
    )
    def new_dataset(name, selection):
        """Samples of another dataset are other samples: the selection empties."""
        if (selection or {}).get("ids") and not str((selection or {}).get("space") or "").startswith(f"{name}:"):
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


def relink(selection: dict | None, space_: str | None, index, traces: Iterable[int]) -> Patch:
    """The figure patch for a view's ``link`` callback: ``traces`` highlight the selected samples."""
    return highlight(Patch(), traces, positions(selection, space_, index))
