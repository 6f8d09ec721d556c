"""The Explore tab's callbacks: the compute job, which run is shown, the map, the selection
(click, lasso, a list row, an error cluster), similar samples, the hover card and the CSV export.

Runs are read through ``dashboard.state`` (once per process), so a hover or a click reads
nothing from disk again.
"""

from __future__ import annotations

import dash
import numpy as np
from dash import ALL, Input, Output, Patch, State, ctx, dcc, html, no_update

from models.store import StoreError
from models.studies import explore as study

from ... import figures as shared_figures
from ... import ids, state
from ... import selection as shared_selection
from ...config import AppConfig
from ...jobs import Done, describe_error, job
from . import figures
from .data import DATASET, filter_mask, meta_columns, selection_csv, shown, similar, source_options
from .layout import ANY, EMPTY_MAP, EMPTY_SIMILAR, TAB_ID, color_options, label_options, pred_options

DEFAULT_K = 15  # neighbours per sample when the k box is empty
GALLERY_K = 12  # similar samples shown when the k box is empty


def register_list(app: dash.Dash, config: AppConfig, what: str) -> None:
    """A ranked list ("mistakes" or "outliers") paging through every sample of the run: Prev/Next move
    its page (a new run starts at the first), the page draws its rows and the "1–12 of N" pager."""

    @app.callback(
        Output(f"explore-{what}-page", "data"),
        Input(f"explore-{what}-prev", "n_clicks"),
        Input(f"explore-{what}-next", "n_clicks"),
        Input("explore-run", "data"),
        State(f"explore-{what}-page", "data"),
        prevent_initial_call=True,
    )
    def turn(_prev, _next, _run, page):
        trig = ctx.triggered_id
        if trig == "explore-run":
            return 0
        return max(0, int(page or 0) + (1 if trig == f"explore-{what}-next" else -1))

    @app.callback(
        Output(f"explore-{what}", "children"),
        Output(f"explore-{what}-range", "children"),
        Output(f"explore-{what}-prev", "disabled"),
        Output(f"explore-{what}-next", "disabled"),
        Input(f"explore-{what}-page", "data"),
        Input("explore-run", "data"),
    )
    def draw_list(page, run_id):
        if not run_id:
            return None, "", True, True
        try:
            body, label, first, last, _ = figures.ranked_rows(shown(config, run_id), what[:-1], page or 0)
        except Exception as exc:
            return html.Div(describe_error(exc), className="text-danger small"), "", True, True
        return body, label, first, last


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output("explore-source", "options"), Input(ids.TABS, "active_tab"), Input(ids.STORE_VERSION, "data"))
    def refresh_sources(tab, _v):
        if tab != TAB_ID:
            return no_update
        return source_options(config)

    def source_of(source, picked) -> str:
        return (source if source and source != DATASET else None) or picked or config.default_dataset

    @job(
        app,
        trigger="explore-compute",
        states=[
            State("explore-source", "value"),
            State(ids.DATASET_PICKER, "value"),
            State("explore-method", "value"),
            State("explore-k", "value"),
        ],
        outputs=[Output("explore-run", "data", allow_duplicate=True)],
        status="explore-job",
        title=lambda source, picked, *_: f"explore {source_of(source, picked)}",
    )
    def compute(progress, source, picked, method, k):
        study_config = study.Config.for_source(
            source_of(source, picked), method=method or "umap", k=int(k or DEFAULT_K)
        )
        run = study.run(study_config, store=config.store, data_dir=config.data_dir, progress=progress)
        pca = run.config.get("pca_dims")
        note = f" (PCA to {pca} dims first)" if pca else ""
        return Done(
            run=run, message=f"explore: {study_config.method}{note} of {run.manifest['dataset']} done", values=(run.id,)
        )

    @app.callback(
        Output("explore-run", "data"),
        Input(ids.TABS, "active_tab"),
        Input("explore-source", "value"),
        Input(ids.DATASET_PICKER, "value"),
        Input(ids.RUN_PICKER, "value"),
        State("explore-run", "data"),
    )
    def choose_run(tab, source, picked, run_id, current):
        """The picked run when it is an explore run; else, when the vectors change, their newest explore run."""
        if tab != TAB_ID:
            return no_update
        if ctx.triggered_id == ids.RUN_PICKER and run_id:
            try:
                run = state.run(config, run_id)
            except StoreError:
                return no_update
            if run.kind != study.KIND:
                return no_update
        else:
            runs = config.store.list(kind=study.KIND, dataset=source_of(source, picked))
            run = runs[0] if runs else None
        new = run.id if run is not None else None
        return no_update if new == current else new

    @app.callback(
        Output("explore-label", "options"),
        Output("explore-pred", "options"),
        Output("explore-color", "options"),
        Output("explore-clusters", "children"),
        Output("explore-status", "children"),
        Output("explore-selection", "data", allow_duplicate=True),
        Input("explore-run", "data"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def show_run(run_id, selection):
        if not run_id:
            return (
                [ANY],
                pred_options([]),
                color_options(),
                None,
                "no explore run for these vectors yet: press Compute",
                [],
            )
        try:
            s = shown(config, run_id)
            a = s.arrays
            clusters = figures.cluster_rows(s.clusters, s.names, a["labels"], a["predictions"])
            status = figures.status_line(s)
        except Exception as exc:
            return (no_update,) * 4 + (describe_error(exc), [])
        picked = s.positions_of(shared_selection.ids_in(selection, s.space))  # a selection made elsewhere shows here
        return (
            label_options(s.names),
            pred_options(s.names),
            color_options(meta_columns(s.dataset)),
            clusters,
            status,
            picked,
        )

    for what in ("mistakes", "outliers"):
        register_list(app, config, what)

    @app.callback(
        Output("explore-scatter", "figure"),
        Input("explore-run", "data"),
        Input("explore-color", "value"),
        Input("explore-label", "value"),
        Input("explore-pred", "value"),
        State(ids.SELECTION, "data"),
    )
    def draw(run_id, color, label, pred, selection):
        if not run_id:
            return shared_figures.empty_figure(EMPTY_MAP)
        try:
            s = shown(config, run_id)  # the shared selection, read here too: a new run draws it at once
            picked = s.positions_of(shared_selection.ids_in(selection, s.space))
            return figures.map_figure(s, color, label, pred, picked)
        except Exception as exc:
            return shared_figures.empty_figure(describe_error(exc))

    @app.callback(
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Input("explore-scatter", "clickData"),
        Input("explore-scatter", "selectedData"),
        Input({"type": "explore-row", "index": ALL}, "n_clicks"),
        Input({"type": "explore-cluster", "index": ALL}, "n_clicks"),
        State("explore-run", "data"),
        State(ids.SELECTION, "data"),
        State(ids.SELECTION_MODE, "data"),
        prevent_initial_call=True,
    )
    def select(click, selected, _rows, _clusters, run_id, selection, mode):
        """Every way to pick samples here writes the one selection (its space: this run's samples);
        a lasso/box replaces it, with Shift adds, with Alt subtracts. ``explore-selection`` follows it."""
        trig = ctx.triggered_id
        if trig is None or not run_id:
            return no_update
        s = shown(config, run_id)
        where = s.space  # the dataset split the samples come from: ids are dataset indices, as in Layers and Data
        if isinstance(trig, dict):
            if not ctx.triggered[0]["value"]:
                return no_update  # a list re-rendered, nobody clicked
            if trig["type"] == "explore-row":
                return shared_selection.combine(None, where, s.ids_at([trig["index"]]), "replace")
            for c in s.clusters:
                if c.id == trig["index"]:
                    return shared_selection.combine(None, where, s.ids_at(c.members), "replace")
            return no_update
        if trig == "explore-scatter" and ctx.triggered[0]["prop_id"].endswith("clickData"):
            pts = [p for p in (click or {}).get("points", []) if p.get("curveNumber", 0) == 0]
            return (
                shared_selection.combine(None, where, s.ids_at([pts[0]["customdata"]]), "replace") if pts else no_update
            )
        if not shared_selection.is_drag(selected):
            return no_update  # a deselect by the person clears through assets/selection.js
        pts = [p for p in selected.get("points", []) if p.get("curveNumber", 0) == 0]
        return shared_selection.combine(selection, where, s.ids_at([p["customdata"] for p in pts]), mode)

    @app.callback(
        Output("explore-selection", "data"),
        Input(ids.SELECTION, "data"),
        State("explore-run", "data"),
        State("explore-selection", "data"),
        prevent_initial_call=True,
    )
    def follow(selection, run_id, current):
        """The map's selection (positions in this run) is the shared one when its samples are this run's
        dataset split's (a selection made in Layers or Data lights the same samples here), else none."""
        wanted = []
        if run_id:
            try:
                s = shown(config, run_id)
            except Exception:  # the run or its vectors went away: nothing to light
                return no_update if not current else []
            wanted = s.positions_of(shared_selection.ids_in(selection, s.space))
        return no_update if list(current or []) == wanted else wanted

    @app.callback(
        Output("explore-scatter", "figure", allow_duplicate=True),
        Output("explore-similar", "children"),
        Output("explore-side", "active_tab"),
        Input("explore-selection", "data"),
        State("explore-run", "data"),
        State("explore-k", "value"),
        State("explore-label", "value"),
        State("explore-pred", "value"),
        prevent_initial_call=True,
    )
    def show_selection(selection, run_id, k, label, pred):
        if not run_id:
            return no_update, no_update, no_update
        s = shown(config, run_id)
        sel = s.valid(selection)
        coords = s.arrays["coords"]
        patch = Patch()
        # rings round a small selection; the highlight itself (selected points in their class colour, the others
        # grey) is drawn in the page by assets/selection.js, for every size
        patch["data"][1] = shared_figures.selection_trace(coords, figures.rings(sel)).to_plotly_json()
        if not sel:  # cleared: no rings, no dimming, no "N selected" gallery
            patch["layout"]["selections"] = []
            return patch, html.Div(EMPTY_SIMILAR, className="text-muted small"), no_update
        if len(sel) == 1:  # centre the map on a single sample
            xr, yr = shared_figures.centred_range(coords, sel[0])
            patch["layout"]["xaxis"]["range"] = xr
            patch["layout"]["yaxis"]["range"] = yr
            patch["layout"]["xaxis"]["autorange"] = False
            patch["layout"]["yaxis"]["autorange"] = False
        idx, dist = similar(s.dataset, sel, int(k or GALLERY_K))
        return patch, figures.similar_gallery(s, sel, idx, dist), "similar"

    @app.callback(
        Output("explore-tooltip", "show"),
        Output("explore-tooltip", "bbox"),
        Output("explore-tooltip", "children"),
        Input("explore-scatter", "hoverData"),
        State("explore-run", "data"),
    )
    def hover(hover_data, run_id):
        if not hover_data or not run_id:
            return False, no_update, no_update
        point = hover_data["points"][0]
        if point.get("curveNumber", 0) != 0 or "customdata" not in point:
            return False, no_update, no_update
        return True, point["bbox"], figures.hover_card(shown(config, run_id), int(point["customdata"]))

    @app.callback(
        Output("explore-download", "data"),
        Input("explore-export", "n_clicks"),
        State("explore-selection", "data"),
        State("explore-run", "data"),
        State("explore-label", "value"),
        State("explore-pred", "value"),
        prevent_initial_call=True,
    )
    def export(_n, selection, run_id, label, pred):
        if not run_id:
            return no_update
        s = shown(config, run_id)
        a = s.arrays
        sel = np.asarray(selection or [], dtype=np.int64)
        if sel.size == 0:
            sel = np.flatnonzero(filter_mask(a["labels"], a["predictions"], label, pred))
        numbered = {**a, "index": s.ids}  # dataset indices, as the tab shows them
        return dcc.send_string(selection_csv(sel, numbered, s.names, s.dataset), f"explore-{run_id}-selection.csv")
