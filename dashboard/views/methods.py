"""The Methods tab: one layer of a study under all six projections side by side (the paper's
Fig. 1), each with KL, trustworthiness, continuity, k-NN preservation/accuracy and seconds."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from models.progress import Cancelled

from .. import figures, state
from ..config import AppConfig
from ..jobs import describe_error, job_options, reporter

TAB_ID = "methods"
LABEL = "Methods"
KIND = "hardness"
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
    ])


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output("methods-network", "options"), Output("methods-network", "value"),
                  Input("run-picker", "value"), Input("store-version", "data"), Input("dataset-picker", "value"),
                  State("methods-network", "value"))
    def networks(run_id, _v, dataset, current):
        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None:
            return [], None
        names = [n["name"] for n in run.metrics.get("networks", [])]
        return [{"label": n, "value": n} for n in names], current if current in names else (names[0] if names else None)

    @app.callback(Output("methods-layer", "options"), Output("methods-layer", "value"),
                  Input("methods-network", "value"), State("run-picker", "value"), State("dataset-picker", "value"),
                  State("methods-layer", "value"))
    def layers(network, run_id, dataset, current):
        from models.studies.hardness import network_record

        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None or not network:
            return [], None
        names = network_record(run, network)["layers"]
        return [{"label": n, "value": n} for n in names], current if current in names else names[-2]

    @app.callback(Output("methods-graph", "figure"), Output("methods-table", "children"),
                  Input("methods-run", "n_clicks"), State("run-picker", "value"), State("dataset-picker", "value"),
                  State("methods-network", "value"), State("methods-layer", "value"),
                  **job_options("methods-run"))
    def compute(set_progress, _n, run_id, dataset, network, layer):
        from models.studies.hardness import project_run_layer

        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None or not network or not layer:
            return no_update, "no hardness run yet"
        try:
            results = project_run_layer(run, network, layer, ALL, config.results,
                                        progress=reporter(set_progress, f"six projections of {layer}"))
            sample = run.arrays("sample")
            ds = state.dataset(config, run.manifest.get("dataset"), "test")
        except Cancelled:
            return no_update, "cancelled"
        except Exception as exc:
            return figures.empty_figure(describe_error(exc)), describe_error(exc)
        ordered = [(m, results[m]["coords"], results[m]) for m in ALL]
        fig = figures.methods_figure(ordered, sample["labels"], ds.class_names, index=sample["index"],
                                     uirevision=f"methods-{run.id}-{network}-{layer}")
        header = html.Tr([html.Th(h) for h in ("method", "KL", "trustworthiness", "continuity", "kNN preserved",
                                               "kNN accuracy", "seconds")])
        body = [html.Tr([html.Td(m)] + [html.Td(f"{r[k]:.3f}") for k in (
            "kl", "trustworthiness", "continuity", "knn_preservation", "knn_accuracy", "seconds")])
            for m, _, r in ordered]
        return fig, dbc.Table([html.Thead(header), html.Tbody(body)], size="sm", striped=True)
