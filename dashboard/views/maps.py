"""The Maps tab: a deep neural map's lattice as one image of decoded prototypes, with overlays
(majority class, purity, hits, U-matrix); hover a node for its prototype and its samples;
train a DNM of any lattice size as a background job."""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from models.studies import dnm

from .. import cards, figures, images, state
from ..config import AppConfig
from ..jobs import Done, job

TAB_ID = "maps"
LABEL = "Maps"
TRAINS = dnm.KIND


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


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, name):
        return state.run_for_view(config, run_id, dnm.KIND, name)

    @app.callback(Output("maps-lattice", "figure"), Output("maps-status", "children"),
                  *state.RUN_INPUTS,
                  Input("maps-overlay", "value"))
    def show(run_id, _version, name, overlay):
        run, note = shown(run_id, name)
        if run is None:
            return figures.empty_figure("no deep neural map for this dataset yet: train one →"), note
        lat = dnm.lattice(run, arrays=state.arrays)
        rows, cols = lat.shape
        mosaic = images.cell_mosaic(lat.prototype_images, rows, cols)
        uri = images.png_data_uri(mosaic, size=min(1600, max(mosaic.shape[:2]) * 4))
        fig = figures.image_grid_figure(uri, rows, cols, values=lat.overlay(overlay), overlay=overlay,
                                        class_names=_class_names(config, run, lat),
                                        title=f"{rows}×{cols} lattice of decoded prototypes", uirevision=run.id)
        status = " · ".join(part for part in (note, run.id, dnm.quality(run), "hover a node") if part)
        return fig, status

    @app.callback(Output("maps-tooltip", "show"), Output("maps-tooltip", "bbox"), Output("maps-tooltip", "children"),
                  Input("maps-lattice", "hoverData"), State("run-picker", "value"), State("dataset-picker", "value"))
    def hover(hover_data, run_id, name):
        if not hover_data:
            return False, no_update, no_update
        run, _note = shown(run_id, name)
        if run is None:
            return False, no_update, no_update
        lat = dnm.lattice(run, arrays=state.arrays)
        point = hover_data["points"][0]
        node = lat.node(figures.cell_of(point, lat.shape[1]))
        return True, point["bbox"], node_card(config, run, node, len(lat.bmu))

    @job(app, trigger="maps-train", title=lambda _name, rows, cols, *_: f"DNM {rows}x{cols}",
         states=[State("dataset-picker", "value"), State("maps-rows", "value"), State("maps-cols", "value"),
                 State("maps-pretrain", "value"), State("maps-epochs", "value"),
                 State("maps-som-iterations", "value"), State("maps-topology", "value")])
    def train(progress, name, rows, cols, pretrain, epochs, som_iterations, topology):
        cfg = dnm.Config(dataset=name or config.default_dataset, lattice=f"{int(rows)}x{int(cols)}",
                         topology=topology or "rect", pretrain_epochs=int(pretrain), epochs=int(epochs),
                         som_iterations=int(som_iterations))
        run = dnm.run(cfg, store=config.store, data_dir=config.data_dir, progress=progress)
        return Done(run=run, message=f"DNM trained: purity {run.metrics['purity']:.3f}")


def _class_names(config: AppConfig, run, lat: dnm.Lattice) -> list[str]:
    """The run's dataset's class names; class indices when the dataset cannot be loaded now."""
    try:
        return list(state.dataset(config, run.manifest.get("dataset")).class_names)
    except Exception:
        return [str(c) for c in range(lat.n_classes)]


def node_card(config: AppConfig, run, node: dnm.Node, n_samples: int, strip: int = 10):
    """Tooltip for one lattice node: its decoded prototype, its numbers, a strip of the samples it holds."""
    lines = [f"node ({node.row}, {node.col}) · {len(node.members)} samples"]
    if node.majority >= 0:
        lines.append(f"majority {node.majority} · purity {node.purity:.2f}")
    return cards.sample_card(node.prototype, lines, extra=_member_strip(config, run, node, n_samples, strip),
                             image_class="maps-prototype")


def _member_strip(config: AppConfig, run, node: dnm.Node, n_samples: int, strip: int) -> list:
    """A strip of the first ``strip`` member images, when the run's dataset is at hand in full."""
    if not len(node.members):
        return []
    try:
        ds = state.dataset(config, run.manifest.get("dataset"))
    except Exception:
        return []
    if ds.images is None or len(ds.images) != n_samples:
        return []
    pos = node.members[:strip]
    strip_img = images.tile(ds.images[pos], 1, len(pos), pad=1)
    return [html.Img(src=images.png_data_uri(strip_img, size=min(40 * len(pos), 400)),
                     className="tile-img maps-strip", style={"height": "40px"})]
