"""The Methods tab: one layer of a study under all six projections side by side (the paper's
Fig. 1), each with KL, trustworthiness, continuity, k-NN preservation/accuracy and seconds.

Hover shows the sample's card (image, label, prediction); a box/lasso in any panel sets the shared
selection (:mod:`.selection`: Shift adds, Alt subtracts, Esc clears), which all six panels — and the
Layers tab, over the same test samples — highlight."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from models.studies import hardness as study

from .. import figures, state
from ..cards import point_position
from ..config import AppConfig
from ..jobs import Done, job
from . import selection as sel

TAB_ID = "methods"
LABEL = "Methods"
KIND = study.KIND
ALL = ("pca", "lle", "mds", "isomap", "tsne", "umap")


def layout(config: AppConfig):
    return html.Div([
        html.Div([
            dcc.Dropdown(id="methods-network", options=[], clearable=False, style={"width": "220px"}),
            dcc.Dropdown(id="methods-layer", options=[], clearable=False, style={"width": "140px"},
                         className="ms-2"),
            dbc.Button("Project with all six", id="methods-run", color="primary", size="sm", className="ms-2"),
        ], className="d-flex align-items-center mb-2"),
        dcc.Graph(id="methods-graph", figure=figures.empty_figure("pick a layer and press the button"),
                  clear_on_unhover=True, config={"displaylogo": False}),
        dcc.Tooltip(id="methods-tooltip", direction="right"),
        dcc.Store(id="methods-shown", data=None),  # {run, network, layer, space, traces}: what the figure shows
        html.Div(id="methods-table", className="small"),
        html.Div(id="methods-status", className="small text-muted"),
    ])


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, dataset):
        return state.run_for_view(config, run_id, KIND, dataset)

    @app.callback(Output("methods-network", "options"), Output("methods-network", "value"),
                  Output("methods-status", "children"),
                  *state.RUN_INPUTS,
                  State("methods-network", "value"))
    def networks(run_id, _v, dataset, current):
        run, note = shown(run_id, dataset)
        if run is None:
            return [], None, note
        names = [n["name"] for n in study.networks(run)]
        value = current if current in names else (names[0] if names else None)
        return [{"label": n, "value": n} for n in names], value, note

    @app.callback(Output("methods-layer", "options"), Output("methods-layer", "value"),
                  Input("methods-network", "value"), State("run-picker", "value"), State("dataset-picker", "value"),
                  State("methods-layer", "value"))
    def layers(network, run_id, dataset, current):
        run, _ = shown(run_id, dataset)
        if run is None or not network:
            return [], None
        names = study.network_record(run, network)["layers"]
        return [{"label": n, "value": n} for n in names], current if current in names else names[-2]

    @job(app, trigger="methods-run",
         states=[State("run-picker", "value"), State("dataset-picker", "value"), State("methods-network", "value"),
                 State("methods-layer", "value"), State("selection", "data")],
         outputs=[Output("methods-graph", "figure"), Output("methods-table", "children"),
                  Output("methods-shown", "data")],
         failed=lambda message: (figures.empty_figure(message), message, None),
         title=lambda _run_id, _dataset, _network, layer, *_: f"six projections of {layer}")
    def compute(progress, run_id, dataset, network, layer, selection):
        from models.studies.hardness_engine import project_run_layer

        run, _ = shown(run_id, dataset)
        if run is None or not network or not layer:
            return Done(values=(no_update, "no hardness run yet", no_update))
        results = project_run_layer(run, network, layer, ALL, config.results, progress=progress)
        sample = state.arrays(run, "sample")
        ds = state.dataset(config, run.manifest.get("dataset"), "test")
        ordered = [(m, results[m]["coords"], results[m]) for m in ALL]
        fig = figures.methods_figure(ordered, sample["labels"], ds.class_names, index=sample["index"],
                                     uirevision=f"methods-{run.id}-{network}-{layer}")
        where = sel.space(run.manifest.get("dataset"), "test")
        picked = sel.positions(selection, where, sample["index"])
        fig.update_layout(dragmode="select")  # zoom stays in the mode bar
        for trace in fig.data:
            trace.selectedpoints = picked
        shown_ = {"run": run.id, "network": network, "layer": layer, "space": where, "traces": len(fig.data),
                  "methods": list(ALL)}
        header = html.Tr([html.Th(h) for h in ("method", "KL", "trustworthiness", "continuity", "kNN preserved",
                                               "kNN accuracy", "seconds")])
        body = [html.Tr([html.Td(m)] + [html.Td(f"{r[k]:.3f}") for k in study.SCORES]) for m, _, r in ordered]
        return Done(values=(fig, dbc.Table([html.Thead(header), html.Tbody(body)], size="sm", striped=True), shown_))

    @app.callback(Output("selection", "data", allow_duplicate=True),
                  Output("methods-graph", "figure", allow_duplicate=True), Input("methods-graph", "selectedData"),
                  State("methods-shown", "data"), State("selection", "data"), State("selection-mode", "data"),
                  prevent_initial_call=True)
    def select(selected, shown_, selection, mode):
        """A box/lasso in any of the six panels sets the one selection (Shift adds, Alt subtracts)."""
        if not shown_ or not sel.is_drag(selected):
            return no_update, no_update
        index = state.arrays(state.run(config, shown_["run"]), "sample")["index"]
        return sel.on_drag(selected, shown_["space"], index, selection, mode)

    @app.callback(Output("methods-graph", "figure", allow_duplicate=True), Input("selection", "data"),
                  State("methods-shown", "data"), prevent_initial_call=True)
    def link(selection, shown_):
        if not shown_:
            return no_update
        index = state.arrays(state.run(config, shown_["run"]), "sample")["index"]
        return sel.relink(selection, shown_["space"], index, range(shown_["traces"]))

    @app.callback(Output("methods-tooltip", "show"), Output("methods-tooltip", "bbox"),
                  Output("methods-tooltip", "children"), Input("methods-graph", "hoverData"),
                  State("methods-shown", "data"))
    def hover(hover_data, shown_):
        """The sample card: image, ``#index · method``, label, prediction."""
        if not hover_data or not shown_:
            return False, no_update, no_update
        from .layers import hover_card

        point = hover_data["points"][0]
        curve = int(point.get("curveNumber", 0))
        names = shown_.get("methods") or []
        where = names[curve] if curve < len(names) else None
        return True, point["bbox"], hover_card(config, state.run(config, shown_["run"]), shown_["network"],
                                               point_position(point), where)
