"""The Landscape tab: a sparse autoencoder's generative landscape — decoded cluster centres of
3-unit latent slices (slices × clusters, one image), the continuity strips decoded on spheres
around a chosen centre, and the consistency table across independently trained models."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from .. import figures, images, state
from ..config import AppConfig
from ..jobs import describe_error, job_options, reporter

TAB_ID = "landscape"
LABEL = "Landscape"
TRAINS = "landscape"
COLUMNS = ("model", "seed", "size", "recognition", "completeness", "highest", "lowest", "median_active_units")


def layout(config: AppConfig):
    return dbc.Row([
        dbc.Col([
            dcc.Graph(id="landscape-map", figure=figures.empty_figure("train sparse autoencoders →"),
                      clear_on_unhover=True, style={"height": "48vh"}, config={"displaylogo": False}),
            dcc.Tooltip(id="landscape-tooltip", direction="right"),
            html.Div("Continuity: decoded samples on spheres of growing radius around the chosen centre "
                     "(click a centre; rows = radius, columns = directions)", className="small text-muted mt-1"),
            html.Img(id="landscape-strips", className="gallery", style={"maxWidth": "480px"}),
        ], md=8),
        dbc.Col([
            dbc.InputGroup([dbc.InputGroupText("model"),
                            dbc.Select(id="landscape-model", value="1", options=[{"label": "1", "value": "1"}])],
                           size="sm", className="mb-2"),
            html.Div(id="landscape-status", className="small text-muted mb-2"),
            html.Div("Consistency across models", className="panel-title mb-1"),
            html.Div(id="landscape-table"),
            html.Hr(),
            html.Div("Train sparse autoencoders", className="panel-title mb-1"),
            dbc.InputGroup([dbc.InputGroupText("models"),
                            dbc.Input(id="landscape-models", type="number", value=3, min=1, max=10, step=1)],
                           size="sm", className="mb-1"),
            dbc.InputGroup([dbc.InputGroupText("epochs"),
                            dbc.Input(id="landscape-epochs", type="number", value=40, min=1, max=500, step=1)],
                           size="sm", className="mb-2"),
            dbc.Button("Train landscape", id="landscape-train", color="primary", size="sm"),
        ], md=4),
    ], className="g-3")


def consistency_table(rows: list[dict]) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(c.replace("_", " ")) for c in COLUMNS]))
    body = html.Tbody([html.Tr([html.Td(str(r.get(c, ""))) for c in COLUMNS]) for r in rows])
    return dbc.Table([head, body], bordered=True, size="sm", striped=True, className="small", responsive=True,
                     id="landscape-consistency")


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def pick(run_id, name):
        return state.pick_run(config, run_id, "landscape", name)

    @app.callback(Output("landscape-map", "figure"), Output("landscape-status", "children"),
                  Output("landscape-table", "children"), Output("landscape-model", "options"),
                  Input("run-picker", "value"), Input("store-version", "data"), Input("dataset-picker", "value"),
                  Input("landscape-model", "value"))
    def show(run_id, _version, name, model):
        run = pick(run_id, name)
        if run is None:
            return figures.empty_figure("no landscape for this dataset yet: train one →"), "", "", no_update
        rows = run.metrics.get("landscape", [])
        options = [{"label": str(r["model"]), "value": str(r["model"])} for r in rows]
        g = run.arrays(f"model{int(model or 1)}")
        S, C = g["sizes"].shape
        if S == 0 or C == 0 or g["images"].size == 0:
            # the table describes every model; one model without clusters must not hide it
            return figures.empty_figure("no slice had enough significant samples"), "", consistency_table(rows), options
        imgs = g["images"].reshape(S * C, *g["images"].shape[2:])
        mosaic = images.cell_mosaic(imgs, S, C)
        uri = images.png_data_uri(mosaic, size=min(1200, max(mosaic.shape[:2]) * 6))
        sizes = np.where(g["sizes"] > 0, g["sizes"], np.nan)
        fig = figures.image_grid_figure(uri, S, C, values=sizes, overlay="none",
                                        title="decoded cluster centres: slices (rows) × clusters by size (columns)",
                                        uirevision=f"{run.id}-{model}")
        status = (f"{run.id} · median active units {run.metrics.get('median_active_units')} · "
                  f"slices {', '.join('(' + ','.join(map(str, s)) + ')' for s in g['slices'].tolist())}")
        return fig, status, consistency_table(rows), options

    @app.callback(Output("landscape-tooltip", "show"), Output("landscape-tooltip", "bbox"),
                  Output("landscape-tooltip", "children"),
                  Input("landscape-map", "hoverData"), State("run-picker", "value"), State("dataset-picker", "value"),
                  State("landscape-model", "value"))
    def hover(hover_data, run_id, name, model):
        run = pick(run_id, name)
        if not hover_data or run is None:
            return False, no_update, no_update
        g = run.arrays(f"model{int(model or 1)}")
        S, C = g["sizes"].shape
        point = hover_data["points"][0]
        cell = figures.cell_of(point, C)
        s, c = divmod(cell, C)
        if g["sizes"][s, c] == 0:
            return False, no_update, no_update
        lines = [f"slice {tuple(g['slices'][s].tolist())} · cluster {c + 1}", f"{int(g['sizes'][s, c])} samples",
                 f"recognised as {int(g['classes'][s, c])} ({float(g['confidence'][s, c]):.0%})"]
        card = html.Div([html.Img(src=images.png_data_uri(g["images"][s, c], size=96), className="tooltip-img")]
                        + [html.Div(t, className="tooltip-line") for t in lines], className="tooltip-card")
        return True, point["bbox"], card

    @app.callback(Output("landscape-strips", "src"),
                  Input("landscape-map", "clickData"), Input("landscape-map", "figure"),
                  State("run-picker", "value"), State("dataset-picker", "value"), State("landscape-model", "value"))
    def strips(click, _fig, run_id, name, model):
        run = pick(run_id, name)
        if run is None:
            return None
        g = run.arrays(f"model{int(model or 1)}")
        S, C = g["sizes"].shape
        if S == 0:
            return None
        cell = figures.cell_of(click["points"][0], C) if click else 0
        s, c = divmod(cell, C)
        sph = g["spheres"][s, c]                                     # radii × directions × H × W
        R, D = sph.shape[:2]
        centre = np.repeat(g["images"][s, c][None], R, axis=0)[:, None]
        grid = np.concatenate([centre, sph], axis=1).reshape(R * (D + 1), *sph.shape[2:])
        return images.png_data_uri(images.tile(grid, R, D + 1, pad=1), size=40 * (D + 1))

    @app.callback(Output("store-version", "data", allow_duplicate=True),
                  Output("run-picker", "value", allow_duplicate=True),
                  Output("job-result", "children", allow_duplicate=True),
                  Input("landscape-train", "n_clicks"), State("dataset-picker", "value"),
                  State("landscape-models", "value"), State("landscape-epochs", "value"),
                  State("store-version", "data"), **job_options("landscape-train"))
    def train(set_progress, _n, name, models, epochs, version):
        from models.studies.landscape import LandscapeConfig, run_landscape

        try:
            cfg = LandscapeConfig(dataset=name or config.default_dataset, models=int(models), epochs=int(epochs))
            run = run_landscape(cfg, config.store, data_dir=config.data_dir,
                                progress=reporter(set_progress, "landscape"))
        except Exception as exc:
            return no_update, no_update, dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")
        return ((version or 0) + 1, run.id,
                f"landscape trained: median {run.metrics['median_active_units']:g} active units")
