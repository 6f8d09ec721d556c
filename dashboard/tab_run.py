"""The bar above the tabs: which run the open tab shows, and the runs of its kind.

The left panel's Run picker holds any run; a tab shows a run of its own kind (a Maps tab cannot
draw a hardness run). So a person always sees, above the view, *which* run it draws and can switch
among the runs that view can draw; picking one there picks it in the left panel too, so every tab
agrees with the Run picker whenever the picked run is of their kind.
"""

from __future__ import annotations

from types import ModuleType

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, ctx, html, no_update

from models.store import Run, StoreError

from . import ids, state
from .config import AppConfig


def kinds_of(view: ModuleType) -> tuple[str, ...]:
    """The kinds of run a view draws: ``KINDS``, else its ``KIND`` / ``TRAINS``; () for none (Data)."""
    kinds = getattr(view, "KINDS", None)
    if kinds:
        return tuple(kinds)
    return tuple(dict.fromkeys(k for k in (getattr(view, "KIND", None), getattr(view, "TRAINS", None)) if k))


def note(kinds: tuple[str, ...], picked: Run | None, shown: Run | None, dataset: str | None) -> str:
    source, gone = state.opened(picked) if picked is not None else (None, "")
    if gone:  # a projection run whose capture was deleted: say so, not only "cannot draw"
        return gone
    if shown is None:
        return f"no {' or '.join(kinds)} run for {dataset or 'this dataset'} yet: train one in this tab"
    if picked is not None and source is not None and source.id == shown.id != picked.id:
        return f"with the Run picker's {picked.kind} run, {picked.id}"  # a projection run opens its capture
    if picked is not None and picked.id != shown.id:
        return f"the Run picker holds {state.article(picked.kind)} run, which this tab cannot draw"
    return ""


def bar() -> html.Div:
    return html.Div(
        [
            html.Span("This tab shows", className="small text-muted me-2 tab-run-label"),
            dbc.Select(id=ids.TAB_RUN_PICKER, options=[], value=None, size="sm", className="tab-run-picker"),
            html.Span(id=ids.TAB_RUN_NOTE, className="small text-muted ms-2"),
        ],
        id=ids.TAB_RUN_BAR,
        className="tab-run-bar mb-2",
        title="the runs this tab can draw; picking one picks it in the Run panel too",
        style={"display": "none"},
    )


def register(app: dash.Dash, config: AppConfig, views: list[ModuleType]) -> None:
    kinds = {v.TAB_ID: kinds_of(v) for v in views}
    # a view that keeps the run it draws in its own store (Explore: runs of any vectors, not only
    # the dataset's) names it ``SHOWN``; the bar follows that store there
    own = {v.TAB_ID: v.SHOWN for v in views if getattr(v, "SHOWN", None)}

    @app.callback(
        Output(ids.TAB_RUN_PICKER, "options"),
        Output(ids.TAB_RUN_PICKER, "value"),
        Output(ids.TAB_RUN_NOTE, "children"),
        Output(ids.TAB_RUN_BAR, "style"),
        Output(ids.TAB_RUN_PICKER, "style"),
        Output(ids.RUN_PICKER, "value", allow_duplicate=True),
        Input(ids.TABS, "active_tab"),
        Input(ids.RUN_PICKER, "value"),
        Input(ids.STORE_VERSION, "data"),
        Input(ids.DATASET_PICKER, "value"),
        Input(ids.TAB_RUN_PICKER, "value"),
        *[Input(store, "data") for store in own.values()],
        prevent_initial_call="initial_duplicate",
    )
    def follow(tab, run_id, _version, dataset, chosen, *stores):
        """Keep the bar on what the open tab draws; a run chosen in the bar becomes the picked run."""
        drawn = dict(zip(own, stores))
        pick = no_update
        if ctx.triggered_id == ids.TAB_RUN_PICKER and chosen and chosen != run_id:
            run_id = pick = chosen  # and draw the bar as the Run picker's new value will (no second round)
        mine = kinds.get(tab) or ()
        if not mine:
            return [], None, "", {"display": "none"}, no_update, pick
        runs = [r for r in config.store.list(dataset=None if tab in own else dataset) if r.kind in mine]
        try:
            picked = state.run(config, run_id) if run_id else None
        except StoreError:
            picked = None
        shown = state.shown_run(picked, runs, mine)  # the rule every tab draws by
        if tab in own:  # what the view's own store holds (None: nothing drawn yet), or the run just chosen here
            wanted = chosen if ctx.triggered_id == ids.TAB_RUN_PICKER and chosen else drawn.get(tab)
            shown = next((r for r in runs if r.id == wanted), None)
        if shown is not None and shown.id not in {r.id for r in runs}:
            runs = [shown, *runs]  # a run made from another source (arrays, a model) stays listed
        options = [{"label": state.run_label(r), "value": r.id} for r in runs]
        said = note(mine, picked, shown, dataset)
        if tab in own and shown is None and runs:
            said = "nothing drawn yet: pick a run here, or choose the vectors below and press Compute"
        return (
            options,
            shown.id if shown else None,
            said,
            {},
            {} if options else {"display": "none"},
            pick,
        )  # no empty box: the note says what to do
