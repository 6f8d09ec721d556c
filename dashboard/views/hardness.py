"""The Hardness tab: per-layer KL of a study over its runs, one panel per activation (the
paper's Fig. 2), and hardness vs test accuracy. Clicking a bar opens that layer in Layers."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from .. import figures, state
from ..config import AppConfig

TAB_ID = "hardness"
LABEL = "Hardness"
KIND = "hardness"


def layout(config: AppConfig):
    return html.Div([
        html.Div([
            dbc.Label("depth", className="small mb-0 me-2"),
            dbc.Select(id="hardness-depth", options=[], style={"width": "90px"}, size="sm"),
            dbc.Label("method", className="small mb-0 ms-3 me-2"),
            dbc.Select(id="hardness-method", options=[{"label": "tsne", "value": "tsne"}], value="tsne",
                       style={"width": "110px"}, size="sm"),
            html.Span("click a bar to open that layer in Layers", className="small text-muted ms-3"),
        ], className="d-flex align-items-center mb-2"),
        dcc.Graph(id="hardness-bars", figure=figures.empty_figure("no hardness run yet"),
                  config={"displaylogo": False}),
        dbc.Row([
            dbc.Col(dcc.Graph(id="hardness-accuracy", figure=figures.empty_figure(""), config={"displaylogo": False}),
                    md=6),
            dbc.Col(html.Div(id="hardness-table", className="small"), md=6),
        ]),
    ])


def tables_for(rows: list[dict], depth: int, method: str, activations: list[str]):
    from models.studies.hardness import layer_names

    out = []
    layers = layer_names(depth)
    for act in activations:
        mine = [r for r in rows if r["activation"] == act and r["depth"] == depth and r["method"] == method]
        if not mine:
            continue
        runs = sorted({r["run"] for r in mine})
        table = np.full((len(runs), len(layers)), np.nan)
        for r in mine:
            table[runs.index(r["run"]), layers.index(r["layer"])] = r["kl"] if r["kl"] is not None else np.nan
        out.append((act, layers, table))
    return out


def accuracy_points(run, method: str = "tsne") -> list[dict]:
    rows = run.metrics.get("hardness", [])
    points = []
    for net in run.metrics.get("networks", []):
        kls = [r["kl"] for r in rows if r["method"] == method and r["activation"] == net["activation"]
               and r["depth"] == net["depth"] and r["run"] == net["run"] and r["layer"].startswith("hidden")]
        if kls:
            points.append({"name": net["name"], "activation": net["activation"], "kl": float(np.mean(kls)),
                           "test_accuracy": net["test_accuracy"]})
    return points


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output("hardness-depth", "options"), Output("hardness-depth", "value"),
                  Output("hardness-method", "options"),
                  Input("run-picker", "value"), Input("store-version", "data"), Input("dataset-picker", "value"),
                  State("hardness-depth", "value"))
    def depths(run_id, _v, dataset, current):
        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None:
            return [], None, no_update
        ds = [int(d) for d in run.config.get("depths", [])]
        value = int(current) if current and int(current) in ds else (ds[0] if ds else None)
        methods = run.config.get("methods", ["tsne"])
        return [{"label": str(d), "value": d} for d in ds], value, [{"label": m, "value": m} for m in methods]

    @app.callback(Output("hardness-bars", "figure"), Output("hardness-accuracy", "figure"),
                  Output("hardness-table", "children"),
                  Input("run-picker", "value"), Input("hardness-depth", "value"), Input("hardness-method", "value"),
                  Input("store-version", "data"), State("dataset-picker", "value"))
    def draw(run_id, depth, method, _v, dataset):
        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None or depth is None:
            return figures.empty_figure("no hardness run yet: train one in Layers"), figures.empty_figure(""), ""
        rows = run.metrics.get("hardness", [])
        tables = tables_for(rows, int(depth), method or "tsne", run.config.get("activations", []))
        fig = figures.hardness_figure(tables, uirevision=f"hardness-{run.id}")
        acc = figures.hardness_accuracy_figure(accuracy_points(run, method or "tsne"))
        table = _summary(run)
        return fig, acc, table

    @app.callback(Output("tabs", "active_tab", allow_duplicate=True),
                  Output("layers-network", "value", allow_duplicate=True),
                  Output("layers-focus", "data", allow_duplicate=True),
                  Output("layers-method", "value", allow_duplicate=True),
                  Input("hardness-bars", "clickData"), State("hardness-depth", "value"),
                  State("hardness-method", "value"), prevent_initial_call=True)
    def open_layer(click, depth, method):
        if not click or not click.get("points"):
            return no_update, no_update, no_update, no_update
        activation, layer, run = click["points"][0]["customdata"]
        network = f"{activation}-d{int(depth)}-r{max(0, int(run))}"
        return "layers", network, {"network": network, "layer": layer}, method or "tsne"


def _summary(run):
    """A small table: each network's test accuracy (reported beside every hardness figure)."""
    nets = run.metrics.get("networks", [])
    head = html.Tr([html.Th(h) for h in ("network", "test accuracy", "epochs", "lr")])
    body = [html.Tr([html.Td(n["name"]), html.Td(f"{n['test_accuracy']:.3f}"), html.Td(n["epochs"]),
                     html.Td(f"{n['lr']:g}")]) for n in nets]
    return dbc.Table([html.Thead(head), html.Tbody(body)], size="sm", striped=True, className="mb-0")
