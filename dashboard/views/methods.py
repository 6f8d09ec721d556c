"""The Methods tab: one layer of a study under all six projections side by side (the paper's
Fig. 1), each with KL, trustworthiness, continuity, k-NN preservation/accuracy and seconds."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from models.studies import hardness as study

from .. import figures, state
from ..config import AppConfig
from ..jobs import Done, job

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
                  config={"displaylogo": False}),
        html.Div(id="methods-table", className="small"),
        html.Div(id="methods-status", className="small text-muted"),
    ])


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, dataset):
        return state.run_for_view(config, run_id, KIND, dataset)

    @app.callback(Output("methods-network", "options"), Output("methods-network", "value"),
                  Output("methods-status", "children"),
                  Input("run-picker", "value"), Input("store-version", "data"), Input("dataset-picker", "value"),
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
                 State("methods-layer", "value")],
         outputs=[Output("methods-graph", "figure"), Output("methods-table", "children")],
         failed=lambda message: (figures.empty_figure(message), message),
         title=lambda _run_id, _dataset, _network, layer: f"six projections of {layer}")
    def compute(progress, run_id, dataset, network, layer):
        from models.studies.hardness_engine import project_run_layer

        run, _ = shown(run_id, dataset)
        if run is None or not network or not layer:
            return Done(values=(no_update, "no hardness run yet"))
        results = project_run_layer(run, network, layer, ALL, config.results, progress=progress)
        sample = state.arrays(run, "sample")
        ds = state.dataset(config, run.manifest.get("dataset"), "test")
        ordered = [(m, results[m]["coords"], results[m]) for m in ALL]
        fig = figures.methods_figure(ordered, sample["labels"], ds.class_names, index=sample["index"],
                                     uirevision=f"methods-{run.id}-{network}-{layer}")
        header = html.Tr([html.Th(h) for h in ("method", "KL", "trustworthiness", "continuity", "kNN preserved",
                                               "kNN accuracy", "seconds")])
        body = [html.Tr([html.Td(m)] + [html.Td(f"{r[k]:.3f}") for k in study.SCORES]) for m, _, r in ordered]
        return Done(values=(fig, dbc.Table([html.Thead(header), html.Tbody(body)], size="sm", striped=True)))
