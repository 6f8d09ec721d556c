"""The Maps tab: a deep neural map's lattice as one image of decoded prototypes, with overlays
(majority class, purity, hits, U-matrix); hover a node for its prototype and its samples;
train a DNM of any lattice size as a background job."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from .. import figures, images, state
from ..config import AppConfig
from ..jobs import describe_error, job_options, reporter

TAB_ID = "maps"
LABEL = "Maps"
TRAINS = "dnm"


def _number(id_, value, label, min_=1, max_=200):
    return dbc.InputGroup([dbc.InputGroupText(label), dbc.Input(id=id_, type="number", value=value, min=min_,
                                                                 max=max_, step=1)], size="sm", className="mb-1")


def layout(config: AppConfig):
    return dbc.Row([
        dbc.Col([
            dcc.Graph(id="maps-lattice", figure=figures.empty_figure("train a deep neural map →"),
                      clear_on_unhover=True, style={"height": "68vh"}, config={"displaylogo": False}),
            dcc.Tooltip(id="maps-tooltip", direction="right"),
        ], md=8),
        dbc.Col([
            html.Div("Overlay", className="panel-title mb-1"),
            dbc.RadioItems(id="maps-overlay", value="none", inline=True, className="small mb-2",
                           options=[{"label": v, "value": k} for k, v in figures.LATTICE_OVERLAYS.items()]),
            html.Div(id="maps-status", className="small text-muted mb-2"),
            html.Hr(),
            html.Div("Train a deep neural map", className="panel-title mb-1"),
            _number("maps-rows", 20, "rows"), _number("maps-cols", 30, "columns"),
            _number("maps-pretrain", 30, "AE pre-training epochs", 0, 500),
            _number("maps-epochs", 20, "joint epochs", 0, 500),
            _number("maps-som-iterations", 10000, "SOM iterations", 1, 1_000_000),
            dbc.Select(id="maps-topology", value="rect", size="sm", className="mb-2",
                       options=[{"label": "rectangular lattice", "value": "rect"},
                                {"label": "hexagonal lattice", "value": "hex"}]),
            dbc.Button("Train DNM", id="maps-train", color="primary", size="sm"),
        ], md=4),
    ], className="g-3")


def _run(config, run_id, name):
    return state.pick_run(config, run_id, "dnm", name)


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output("maps-lattice", "figure"), Output("maps-status", "children"),
                  Input("run-picker", "value"), Input("store-version", "data"), Input("dataset-picker", "value"),
                  Input("maps-overlay", "value"))
    def show(run_id, _version, name, overlay):
        run = _run(config, run_id, name)
        if run is None:
            return figures.empty_figure("no deep neural map for this dataset yet: train one →"), ""
        lat = run.arrays("lattice")
        rows, cols = lat["hits"].shape
        protos = lat["prototype_images"]
        mosaic = images.cell_mosaic(protos, rows, cols)
        uri = images.png_data_uri(mosaic, size=min(1600, max(mosaic.shape[:2]) * 4))
        values = None if overlay == "none" else (lat[overlay] if overlay in lat else None)
        if overlay == "hits" and values is not None:
            values = np.where(values > 0, values, np.nan)
        ds_names = [str(c) for c in range(int(lat["class_counts"].shape[1]))]
        try:
            ds_names = list(state.dataset(config, run.manifest.get("dataset")).class_names)
        except Exception:
            pass
        fig = figures.image_grid_figure(uri, rows, cols, values=values, overlay=overlay, class_names=ds_names,
                                        title=f"{rows}×{cols} lattice of decoded prototypes", uirevision=run.id)
        m = run.metrics
        status = (f"{run.id} · purity {m.get('purity', float('nan')):.3f} · quantization error "
                  f"{m.get('quantization_error', float('nan')):.3f} · topographic error "
                  f"{m.get('topographic_error', float('nan')):.3f} · hover a node")
        return fig, status

    @app.callback(Output("maps-tooltip", "show"), Output("maps-tooltip", "bbox"), Output("maps-tooltip", "children"),
                  Input("maps-lattice", "hoverData"), State("run-picker", "value"), State("dataset-picker", "value"))
    def hover(hover_data, run_id, name):
        if not hover_data:
            return False, no_update, no_update
        run = _run(config, run_id, name)
        if run is None:
            return False, no_update, no_update
        lat = run.arrays("lattice")
        rows, cols = lat["hits"].shape
        point = hover_data["points"][0]
        node = figures.cell_of(point, cols)
        return True, point["bbox"], node_card(config, run, lat, node)

    @app.callback(Output("store-version", "data", allow_duplicate=True),
                  Output("run-picker", "value", allow_duplicate=True),
                  Output("job-result", "children", allow_duplicate=True),
                  Input("maps-train", "n_clicks"),
                  State("dataset-picker", "value"), State("maps-rows", "value"), State("maps-cols", "value"),
                  State("maps-pretrain", "value"), State("maps-epochs", "value"),
                  State("maps-som-iterations", "value"), State("maps-topology", "value"),
                  State("store-version", "data"), **job_options("maps-train"))
    def train(set_progress, _n, name, rows, cols, pretrain, epochs, som_iterations, topology, version):
        from models.studies.dnm import DNMConfig, run_dnm

        try:
            cfg = DNMConfig(dataset=name or config.default_dataset, lattice=f"{int(rows)}x{int(cols)}",
                            topology=topology or "rect", pretrain_epochs=int(pretrain), epochs=int(epochs),
                            som_iterations=int(som_iterations))
            run = run_dnm(cfg, config.store, data_dir=config.data_dir,
                          progress=reporter(set_progress, f"DNM {cfg.lattice}"))
        except Exception as exc:
            return no_update, no_update, dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")
        return (version or 0) + 1, run.id, f"DNM trained: purity {run.metrics['purity']:.3f}"


def node_card(config: AppConfig, run, lat: dict, node: int, strip: int = 10) -> html.Div:
    """Tooltip for one lattice node: its decoded prototype, a strip of the samples it holds, its numbers."""
    rows, cols = lat["hits"].shape
    r, c = divmod(int(node), cols)
    proto = lat["prototype_images"][node]
    members = np.flatnonzero(lat["bmu"] == node)
    children = [html.Img(src=images.png_data_uri(proto, size=96), className="tooltip-img maps-prototype")]
    majority = int(lat["majority"].ravel()[node])
    lines = [f"node ({r}, {c}) · {len(members)} samples"]
    if majority >= 0:
        lines.append(f"majority {majority} · purity {float(lat['purity'].ravel()[node]):.2f}")
    if len(members):
        try:
            ds = state.dataset(config, run.manifest.get("dataset"))
            pos = members[:strip]
            tiles = ds.images[pos] if ds.images is not None and len(ds.images) == len(lat["bmu"]) else None
            if tiles is not None:
                strip_img = images.tile(tiles, 1, len(pos), pad=1)
                children.append(html.Img(src=images.png_data_uri(strip_img, size=min(40 * len(pos), 400)),
                                         className="tile-img maps-strip", style={"height": "40px"}))
        except Exception:
            pass
    children += [html.Div(line, className="tooltip-line") for line in lines]
    return html.Div(children, className="tooltip-card")
