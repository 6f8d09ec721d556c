"""The Hardness tab: per-layer KL of a study over its runs, one panel per activation (the
paper's Fig. 2), and hardness vs test accuracy. Clicking a bar opens that layer in Layers.

For a capture run (your own model) it shows the t-SNE KL of each captured layer on a balanced
sample of 1,000, a bar per step when the run holds several, computed by the Compute job and
cached (:func:`.model.runs.hardness_table`)."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from models.studies import hardness as study

from .. import figures, state
from ..config import AppConfig
from ..jobs import Done, job
from .model import panels as capture_panels
from .model import runs as capture_runs

TAB_ID = "hardness"
LABEL = "Hardness"
KIND = study.KIND
KINDS = (KIND, "capture")  # a captured model draws here too


def layout(config: AppConfig):
    return html.Div([
        html.Div([
            html.Div([dbc.Label("depth", className="small mb-0 me-2"),
                      dbc.Select(id="hardness-depth", options=[], style={"width": "90px"}, size="sm")],
                     id="hardness-depth-field", className="d-flex align-items-center"),
            dbc.Label("method", className="small mb-0 ms-3 me-2"),
            dbc.Select(id="hardness-method", options=[{"label": "tsne", "value": "tsne"}], value="tsne",
                       style={"width": "110px"}, size="sm"),
            dbc.Button("Compute hardness", id="hardness-compute", color="primary", size="sm", className="ms-3",
                       style={"display": "none"}),
            dcc.Store(id="hardness-computed", data=0),
            html.Span("click a bar to open that layer in Layers", className="small text-muted ms-3"),
        ], className="d-flex align-items-center mb-2"),
        dcc.Graph(id="hardness-bars", figure=figures.empty_figure("no hardness run yet"),
                  config={"displaylogo": False}),
        dbc.Row([
            dbc.Col(dcc.Graph(id="hardness-accuracy", figure=figures.empty_figure(""), config={"displaylogo": False}),
                    md=6),
            dbc.Col(html.Div(id="hardness-table", className="small"), md=6),
        ]),
        html.Div(id="hardness-status", className="small text-muted"),
    ])


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, dataset):
        return capture_panels.shown(config, run_id, KIND, dataset)

    @app.callback(Output("hardness-depth", "options"), Output("hardness-depth", "value"),
                  Output("hardness-method", "options"), Output("hardness-compute", "style"),
                  Output("hardness-depth-field", "style"),
                  *state.RUN_INPUTS,
                  State("hardness-depth", "value"))
    def depths(run_id, _v, dataset, current):
        run, _ = shown(run_id, dataset)
        hidden = {"display": "none"}
        if run is None:
            return [], None, no_update, hidden, {}
        if capture_runs.is_capture(run):  # a captured model has layers, not depths
            return [], None, [{"label": "tsne", "value": "tsne"}], {}, hidden
        ds = [int(d) for d in run.config.get("depths", [])]
        value = int(current) if current and int(current) in ds else (ds[0] if ds else None)
        methods = run.config.get("methods", ["tsne"])
        return ([{"label": str(d), "value": d} for d in ds], value, [{"label": m, "value": m} for m in methods],
                hidden, {})

    @app.callback(Output("hardness-bars", "figure"), Output("hardness-accuracy", "figure"),
                  Output("hardness-table", "children"), Output("hardness-status", "children"),
                  Input("run-picker", "value"), Input("hardness-depth", "value"), Input("hardness-method", "value"),
                  Input("store-version", "data"), Input("hardness-computed", "data"), State("dataset-picker", "value"))
    def draw(run_id, depth, method, _v, _computed, dataset):
        run, note = shown(run_id, dataset)
        if capture_runs.is_capture(run):
            return (*capture_figures(config, run), note)
        if run is None or depth is None:
            return figures.empty_figure("no hardness run yet: train one in Layers"), figures.empty_figure(""), "", note
        method = method or "tsne"
        rows = run.metrics.get("hardness", [])
        tables = study.kl_tables(rows, int(depth), method, run.config.get("activations", study.ACTIVATIONS))
        fig = figures.hardness_figure(tables, uirevision=f"hardness-{run.id}")
        acc = figures.hardness_accuracy_figure(study.accuracy_points(rows, study.networks(run), method))
        return fig, acc, _summary(run), note

    @app.callback(Output("focus", "data", allow_duplicate=True),
                  Input("hardness-bars", "clickData"), State("hardness-depth", "value"),
                  State("hardness-method", "value"), State("run-picker", "value"), State("dataset-picker", "value"),
                  prevent_initial_call=True)
    def open_layer(click, depth, method, run_id, dataset):
        """A bar (or the mean line: run -1, shown as run 0) opens its network and layer in Layers."""
        run, _ = shown(run_id, dataset)
        if capture_runs.is_capture(run) and click and click.get("points"):
            _, layer, number = click["points"][0]["customdata"]
            steps = capture_runs.face.steps(run)
            step = steps[int(number)] if 0 <= int(number) < len(steps) else steps[-1]
            return {"tab": "layers", "run": run.id, "layer": layer, "step": step}
        if run is None or depth is None or not click or not click.get("points"):
            return no_update
        activation, layer, run_number = click["points"][0]["customdata"]
        network = study.network_name(activation, int(depth), max(0, int(run_number)))
        return {"tab": "layers", "run": run.id, "network": network, "layer": layer, "method": method or "tsne"}


    @job(app, trigger="hardness-compute", outputs=[Output("hardness-computed", "data")],
         states=[State("run-picker", "value"), State("dataset-picker", "value"), State("hardness-computed", "data")],
         title="hardness of the captured layers")
    def compute(progress, run_id, dataset, computed):
        run, _ = shown(run_id, dataset)
        if not capture_runs.is_capture(run):
            raise ValueError("Compute scores a capture run's layers: pick one (Your model tab captures one)")
        names, table = capture_runs.hardness_table(config.results, run, compute=True, progress=progress)
        worst = names[int(table[-1].argmax())]
        return Done(message=f"hardness of {len(names)} layers × {len(table)} steps of {run.id}; hardest: {worst}",
                    values=((computed or 0) + 1,))


def capture_figures(config: AppConfig, run):
    """(bars, accuracy figure, table) of a capture run: empty with a hint until Compute has run."""
    found = capture_runs.hardness_table(config.results, run)
    if found is None:
        return (figures.empty_figure("press Compute hardness: t-SNE KL of every captured layer "
                                     f"(balanced sample of {capture_runs.HARDNESS_SAMPLE:,})"),
                figures.empty_figure(""), _capture_summary(run))
    names, table = found
    bars = figures.hardness_figure(capture_runs.hardness_tables(run, names, table), uirevision=f"hardness-{run.id}")
    records = run.manifest["capture"]["steps"]
    points = [{"activation": "capture", "name": f"step {r['step']}", "kl": float(np.nanmean(row[:-1] if len(row) > 1 else row)),
               "test_accuracy": r["accuracy"]} for r, row in zip(records, table) if r.get("accuracy") is not None]
    return bars, figures.hardness_accuracy_figure(points), _capture_summary(run)


def _capture_summary(run):
    head = html.Tr([html.Th(h) for h in ("step", "model", "format", "accuracy")])
    body = [html.Tr([html.Td(r["step"]), html.Td(r["model"]), html.Td(r["format"]),
                     html.Td("–" if r.get("accuracy") is None else f"{r['accuracy']:.3f}")])
            for r in run.manifest["capture"]["steps"]]
    return dbc.Table([html.Thead(head), html.Tbody(body)], size="sm", striped=True, className="mb-0")


def _summary(run):
    """A small table: each network's test accuracy (reported beside every hardness figure)."""
    nets = study.networks(run)
    head = html.Tr([html.Th(h) for h in ("network", "test accuracy", "epochs", "lr")])
    body = [html.Tr([html.Td(n["name"]), html.Td(f"{n['test_accuracy']:.3f}"), html.Td(n["epochs"]),
                     html.Td(f"{n['lr']:g}")]) for n in nets]
    return dbc.Table([html.Thead(head), html.Tbody(body)], size="sm", striped=True, className="mb-0")
