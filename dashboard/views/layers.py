"""The Layers tab: every representation of a study's network side by side, linked.

One figure of Scattergl subplots (input, hidden 1…L, logits) under the chosen
projection, each panel aligned to the previous one (orthogonal Procrustes) so a
cluster can be followed. A box/lasso selection in any panel highlights the same
samples everywhere by patching only ``selectedpoints``; hover shows the sample's
image, label and prediction. The Train form runs the hardness study as a job.
"""
from __future__ import annotations

from functools import lru_cache

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, Patch, State, dcc, html, no_update

from models.progress import Cancelled
from models.projections import procrustes_align

from .. import figures, images, state
from ..config import AppConfig
from ..jobs import describe_error, job_options, reporter

TAB_ID = "layers"
LABEL = "Layers"
TRAINS = "hardness"
KIND = "hardness"
ACTIVATIONS = ("relu", "tanh", "softsign", "logsig")


@lru_cache(maxsize=64)
def run_arrays(run_path: str, name: str) -> dict[str, np.ndarray]:
    """A run's arrays, read once per process (runs never change once written)."""
    from pathlib import Path

    from models.store import Run

    return Run(Path(run_path).name, Path(run_path), {}).arrays(name)


def panels_for(run, network: str, method: str) -> list[tuple[str, np.ndarray]]:
    """(layer, aligned coordinates) for every layer of ``network`` under ``method``."""
    from models.studies.hardness import network_record

    layers = network_record(run, network)["layers"]
    coords = {**run_arrays(str(run.path), "proj-input"), **run_arrays(str(run.path), f"proj-{network}")}
    panels, previous = [], None
    for layer in layers:
        xy = coords[f"{method}.{layer}"]
        xy = procrustes_align(xy, previous) if previous is not None else xy
        panels.append((layer, xy))
        previous = xy
    return panels


def _field(label, control, width=None):
    return html.Div([dbc.Label(label, className="small mb-0"), control], className="me-2",
                    style={"width": width} if width else None)


def layout(config: AppConfig):
    controls = html.Div([
        _field("network", dcc.Dropdown(id="layers-network", options=[], clearable=False), "220px"),
        _field("projection", dbc.Select(id="layers-method", options=[{"label": "tsne", "value": "tsne"}],
                                        value="tsne"), "120px"),
        _field("colour by", dbc.RadioItems(id="layers-colour", inline=True, value="label",
                                           options=[{"label": v, "value": v} for v in ("label", "prediction", "correct")])),
        dbc.Button("Export CSV", id="layers-export", color="secondary", outline=True, size="sm", className="ms-auto"),
        dcc.Download(id="layers-download"),
    ], className="d-flex align-items-end flex-wrap mb-2")
    train = dbc.Card(dbc.CardBody(html.Div([
        html.Span("Train", className="panel-title me-3"),
        _field("depth", dbc.Input(id="layers-depth", type="number", min=1, max=7, step=1, value=3, size="sm"), "80px"),
        _field("activation", dbc.Select(id="layers-activation", size="sm", value="relu",
                                        options=[{"label": a, "value": a} for a in ACTIVATIONS]), "110px"),
        _field("runs", dbc.Input(id="layers-runs", type="number", min=1, max=10, step=1, value=2, size="sm"), "70px"),
        _field("epochs", dbc.Input(id="layers-epochs", type="number", min=1, max=500, step=1, value=20, size="sm"), "80px"),
        _field("per class", dbc.Input(id="layers-per-class", type="number", min=5, max=1000, step=1, value=50,
                                      size="sm"), "80px"),
        dbc.Button("Train", id="layers-train", color="primary", size="sm"),
    ], className="d-flex align-items-end flex-wrap")), className="mb-2")
    return html.Div([
        train,
        controls,
        dcc.Graph(id="layers-graph", figure=figures.empty_figure("pick or train a hardness run"),
                  clear_on_unhover=True, config={"displaylogo": False, "scrollZoom": True,
                                                 "toImageButtonOptions": {"format": "svg"}}),
        dcc.Tooltip(id="layers-tooltip", direction="right"),
        dcc.Store(id="layers-focus"),
        html.Div(id="layers-status", className="small text-muted"),
    ])


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output("layers-network", "options"), Output("layers-network", "value"),
                  Output("layers-method", "options"), Output("layers-method", "value"),
                  Input("run-picker", "value"), Input("store-version", "data"), Input("dataset-picker", "value"),
                  State("layers-network", "value"), State("layers-method", "value"))
    def networks(run_id, _version, dataset, current, method):
        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None:
            return [], None, no_update, no_update
        names = [n["name"] for n in run.metrics.get("networks", [])]
        methods = run.config.get("methods", ["tsne"])
        return ([{"label": f"{n['name']} (acc {n['test_accuracy']:.2f})", "value": n["name"]}
                 for n in run.metrics.get("networks", [])],
                current if current in names else (names[0] if names else None),
                [{"label": m, "value": m} for m in methods], method if method in methods else methods[0])

    @app.callback(Output("layers-graph", "figure"), Output("layers-status", "children"),
                  Input("run-picker", "value"), Input("layers-network", "value"), Input("layers-method", "value"),
                  Input("layers-colour", "value"), Input("layers-focus", "data"), State("dataset-picker", "value"))
    def draw(run_id, network, method, colour, focus, dataset):
        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None or not network:
            return figures.empty_figure("no hardness run yet: use Train above"), ""
        try:
            panels = panels_for(run, network, method)
            sample = run_arrays(str(run.path), "sample")
            preds = run_arrays(str(run.path), f"act-{network}")["predictions"]
            ds = state.dataset(config, run.manifest.get("dataset"), "test")
        except Exception as exc:
            return figures.empty_figure(describe_error(exc)), ""
        layer = focus.get("layer") if isinstance(focus, dict) and focus.get("network") == network else None
        fig = figures.layers_figure(panels, sample["labels"], ds.class_names, predictions=preds,
                                    index=sample["index"], colour=colour, focus=layer,
                                    uirevision=f"layers-{run.id}-{network}-{method}")
        kls = {r["layer"]: r["kl"] for r in run.metrics.get("hardness", []) if r["method"] == method
               and f"{r['activation']}-d{r['depth']}-r{r['run']}" == network}
        text = " · ".join(f"{k} KL {v:.3f}" for k, v in kls.items())
        return fig, f"{len(sample['labels'])} test samples · {method} · {text} · drag a box to link panels"

    @app.callback(Output("layers-graph", "figure", allow_duplicate=True), Input("layers-graph", "selectedData"),
                  State("layers-graph", "figure"), prevent_initial_call=True)
    def link_selection(selected, figure):
        n_traces = len((figure or {}).get("data", []))
        return selection_patch(selected, n_traces)

    @app.callback(Output("layers-tooltip", "show"), Output("layers-tooltip", "bbox"),
                  Output("layers-tooltip", "children"), Input("layers-graph", "hoverData"),
                  State("run-picker", "value"), State("layers-network", "value"), State("dataset-picker", "value"))
    def hover(hover_data, run_id, network, dataset):
        if not hover_data or not network:
            return False, no_update, no_update
        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None:
            return False, no_update, no_update
        from models.studies.hardness import network_record

        point = hover_data["points"][0]
        layers = network_record(run, network)["layers"]
        curve = int(point.get("curveNumber", 0))
        position = int(point.get("pointIndex", point.get("pointNumber", 0)))
        return True, point["bbox"], hover_card(config, run, network, position,
                                               layers[curve] if curve < len(layers) else None)

    @app.callback(Output("layers-download", "data"), Input("layers-export", "n_clicks"),
                  State("run-picker", "value"), State("layers-network", "value"), State("layers-method", "value"),
                  State("dataset-picker", "value"), prevent_initial_call=True)
    def export(_n, run_id, network, method, dataset):
        run = state.pick_run(config, run_id, KIND, dataset)
        if run is None or not network:
            return no_update
        text = projection_csv(run, network, method)
        return dict(content=text, filename=f"{run.id}-{network}-{method}.csv")

    @app.callback(Output("store-version", "data", allow_duplicate=True),
                  Output("run-picker", "value", allow_duplicate=True),
                  Output("job-result", "children", allow_duplicate=True),
                  Input("layers-train", "n_clicks"),
                  State("dataset-picker", "value"), State("layers-depth", "value"),
                  State("layers-activation", "value"), State("layers-runs", "value"), State("layers-epochs", "value"),
                  State("layers-per-class", "value"), State("store-version", "data"),
                  **job_options("layers-train"))
    def train(set_progress, _n, dataset, depth, activation, runs, epochs, per_class, version):
        from models.studies.hardness import HardnessConfig, run_study

        progress = reporter(set_progress, f"hardness study ({activation}, depth {depth})")
        try:
            cfg = HardnessConfig(dataset=dataset or config.default_dataset, depths=[int(depth or 3)],
                                 activations=[activation], runs=int(runs or 1), epochs=int(epochs or 20),
                                 per_class=int(per_class or 50), data_dir=str(config.data_dir), n_jobs=1)
            run = run_study(cfg, config.store, progress=progress, cache=config.results)
        except Cancelled:
            return no_update, no_update, "cancelled"
        except Exception as exc:
            return no_update, no_update, dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")
        acc = run.metrics.get("mean_test_accuracy", float("nan"))
        return (version or 0) + 1, run.id, f"trained {run.id}: mean test accuracy {acc:.3f}"


def selection_patch(selected: dict | None, n_traces: int) -> Patch:
    """Set ``selectedpoints`` on every panel to the positions picked in any one (nothing else is sent)."""
    patch = Patch()
    points = (selected or {}).get("points") or []
    picked = sorted({int(p.get("pointIndex", p.get("pointNumber", 0))) for p in points}) if selected else None
    for k in range(n_traces):
        patch["data"][k]["selectedpoints"] = picked
    return patch


def hover_card(config: AppConfig, run, network: str, position: int, layer: str | None = None) -> html.Div:
    """Image, label, prediction and index of the sample at ``position`` of the study's sample."""
    sample = run_arrays(str(run.path), "sample")
    preds = run_arrays(str(run.path), f"act-{network}")["predictions"]
    ds = state.dataset(config, run.manifest.get("dataset"), "test")
    return sample_card(ds.images, ds.class_names, sample["index"], sample["labels"], preds, position,
                       layer=layer, key=(ds.name, "test"))


def sample_card(images_: np.ndarray | None, class_names, index: np.ndarray, labels: np.ndarray,
                predictions: np.ndarray, position: int, *, layer: str | None = None, key: tuple = ()) -> html.Div:
    """The tooltip for one point: thumbnail (made once, cached), index, layer, label, prediction ✓/✗."""
    idx = int(index[position])
    label, pred = int(labels[position]), int(predictions[position])
    children = []
    if images_ is not None:
        children.append(html.Img(src=images.thumbnail((*key, idx), images_[idx], size=96), className="tooltip-img"))
    mark = "✓" if label == pred else "✗"
    lines = [f"#{idx}" + (f" · {layer}" if layer else ""), f"label {class_names[label]}",
             f"prediction {class_names[pred]} {mark}"]
    children += [html.Div(line, className="tooltip-line") for line in lines]
    return html.Div(children, className="tooltip-card")


def projection_csv(run, network: str, method: str) -> str:
    """Every layer's coordinates of one network: layer, x, y, label, prediction, index."""
    sample = run_arrays(str(run.path), "sample")
    preds = run_arrays(str(run.path), f"act-{network}")["predictions"]
    lines = ["network,layer,method,x,y,label,prediction,index"]
    for layer, xy in panels_for(run, network, method):
        for (x, y), lab, pr, idx in zip(xy, sample["labels"], preds, sample["index"]):
            lines.append(f"{network},{layer},{method},{x:.6g},{y:.6g},{lab},{pr},{idx}")
    return "\n".join(lines) + "\n"
