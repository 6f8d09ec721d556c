"""The Latent plane tab: a GNE and a VAE with the same decoder, side by side.

Each side shows its 2-D embedding (hover a point for its image), the images decoded
on a k×k grid of the plane and the nearest real sample of every grid point. On the
GNE side a person selects points (box or lasso), drags the red handle to move them,
optionally pins them, and trains on; the result is a new run showing the points
before and after. Held-out samples (the test split) are placed by new-point
embedding (GNE) and by the encoder (VAE), drawn as crosses.

All training and placing runs as background jobs through ``models.studies.gne``;
this module only reads runs and draws.
"""
from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, Patch, State, dcc, html, no_update

from models.store import Run, StoreError

from .. import figures, images, state
from ..config import AppConfig
from ..jobs import describe_error, job_options, reporter
from .data import sample_card

TAB_ID = "latent"
LABEL = "Latent plane"
TRAINS = "gne"
SIDES = ("gne", "vae")
TITLES = {"gne": "GNE (learned points)", "vae": "VAE (encoder means)"}
GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True, "edits": {"shapePosition": True}}
HELDOUT_VERSION = 1
# models.studies.gne's KIND and GRID_SIZES, repeated so the web process never imports torch (a test checks they agree)
KIND = "gne"
GRID_SIZES = (5, 8, 10, 12, 15, 20)


def _side(side: str) -> dbc.Col:
    return dbc.Col([
        dcc.Graph(id=f"latent-{side}-scatter", figure=figures.empty_figure("train GNE + VAE to see the plane"),
                  clear_on_unhover=True, style={"height": "46vh"}, config=GRAPH_CONFIG),
        dcc.Tooltip(id=f"latent-{side}-tooltip", direction="right"),
        dbc.Row([
            dbc.Col([html.Div("decoded grid", className="small text-muted"),
                     html.Img(id=f"latent-{side}-grid", className="gallery tile-img latent-grid",
                              alt=f"{side} decoded grid")], width=6),
            dbc.Col([html.Div("nearest real sample", className="small text-muted"),
                     html.Img(id=f"latent-{side}-neighbours", className="gallery tile-img latent-grid",
                              alt=f"{side} nearest neighbours")], width=6),
        ], className="g-2 mt-1"),
    ], md=6)


def layout(config: AppConfig):
    train = dbc.InputGroup([
        dbc.InputGroupText("epochs"),
        dbc.Input(id="latent-epochs", type="number", min=1, max=2000, step=1, value=100, style={"maxWidth": "80px"}),
        dbc.InputGroupText("batch"),
        dbc.Input(id="latent-batch", type="number", min=8, max=8192, step=1, value=128, style={"maxWidth": "80px"}),
        dbc.Select(id="latent-init", options=[{"label": "GNE from random points", "value": "random"},
                                              {"label": "GNE from VAE means", "value": "vae"}],
                   value="random", style={"maxWidth": "230px"}),
        dbc.Button("Train GNE + VAE", id="latent-train-button", color="primary"),
    ], size="sm")
    grid = html.Div([
        html.Span("grid size", className="small text-muted me-2"),
        html.Div(dcc.Slider(id="latent-grid-size", min=0, max=len(GRID_SIZES) - 1, step=1, value=GRID_SIZES.index(10),
                            marks={i: str(k) for i, k in enumerate(GRID_SIZES)}), style={"width": "260px"}),
    ], className="d-flex align-items-center")
    heldout = dbc.InputGroup([
        dbc.InputGroupText("held-out"),
        dbc.Input(id="latent-heldout-count", type="number", min=1, max=10000, step=1, value=200,
                  style={"maxWidth": "80px"}),
        dbc.Button("Place held-out samples", id="latent-heldout-button", color="secondary", outline=True),
    ], size="sm", style={"maxWidth": "360px"})
    move = html.Div([
        html.Span(id="latent-selection-info", className="small me-3",
                  children="select GNE points (box or lasso), then drag the red handle (or click where they should go)"),
        dbc.Checkbox(id="latent-pin", label="pin moved points", value=True, className="me-3 small"),
        dbc.InputGroup([
            dbc.InputGroupText("train on"),
            dbc.Input(id="latent-move-epochs", type="number", min=1, max=500, step=1, value=5, style={"maxWidth": "70px"}),
            dbc.InputGroupText("epochs"),
            dbc.Button("Move and train on", id="latent-move-button", color="danger", outline=True, disabled=True),
        ], size="sm", style={"maxWidth": "360px"}),
    ], className="d-flex align-items-center flex-wrap gap-2")
    return html.Div([
        dbc.Row([dbc.Col(train, md="auto"), dbc.Col(grid, md="auto"), dbc.Col(heldout, md="auto")],
                className="g-3 align-items-center mb-2"),
        html.Div(id="latent-metrics", className="small mb-1"),
        move,
        html.Div(id="latent-move-info", className="small text-muted mb-2"),
        dbc.Row([_side("gne"), _side("vae")], className="g-3"),
        dcc.Store(id="latent-selection"),   # {"run", "ids" (run positions), "center", "radius"}
        dcc.Store(id="latent-heldout"),     # {"run", "limit"}: a placement in the result cache
    ])


# -- reading ------------------------------------------------------------------------
def _run(config: AppConfig, run_id, dataset_name) -> Run | None:
    return state.pick_run(config, run_id, KIND, dataset_name)


def _heldout_key(run_id: str, limit: int) -> dict:
    return {"run": run_id, "what": "gne-heldout", "limit": int(limit), "version": HELDOUT_VERSION}


def metrics_line(run: Run) -> list:
    m = run.metrics
    parts = [html.B(f"{run.id}: "),
             f"GNE mse {m.get('gne_mse', float('nan')):.4f} · {m.get('gne_seconds_per_epoch') or float('nan'):.3f} s/epoch",
             "  |  ",
             f"VAE mse {m.get('vae_mse', float('nan')):.4f} · {m.get('vae_seconds_per_epoch') or float('nan'):.3f} s/epoch",
             f"  ({run.config.get('epochs')} epochs, batch {run.config.get('batch_size')}, {m.get('device', '?')})"]
    return parts


def moved_line(config: AppConfig, run: Run) -> str:
    if "moved.npz" not in run.manifest.get("files", []):
        return ""
    mv = run.arrays("moved")
    shift = np.linalg.norm(mv["targets"] - mv["before"], axis=1).mean()
    drift = np.linalg.norm(mv["after"] - mv["targets"], axis=1).mean()
    m = run.metrics
    parent_mse = ""
    try:
        parent = config.store.load(m.get("parent", ""))
        parent_mse = f"; GNE mse {parent.metrics['gne_mse']:.4f} before → {m['gne_mse']:.4f} after"
    except (StoreError, KeyError):
        pass
    pin = "pinned" if m.get("pinned") else "free"
    return (f"Moved {len(mv['ids'])} points ({pin}) by {shift:.3f} on average, trained on {m.get('epochs_on')} epochs; "
            f"they ended {drift:.3f} from where they were put{parent_mse}. Open circles: before; diamonds: after.")


def _grid_image(run: Run, ds, side: str, k: int) -> tuple[str | None, str | None]:
    shape = run.config.get("image_shape")
    grids = run.arrays("grids")
    if f"{side}_images_{k}" not in grids or not shape:
        return None, None
    decoded = grids[f"{side}_images_{k}"].reshape(k * k, *shape)
    index = run.arrays("embeddings")["index"]
    neighbours = ds.images[index[grids[f"{side}_neighbours_{k}"].ravel()]]
    size = 320
    return (images.png_data_uri(images.tile(decoded, k, k, pad=1), size=size),
            images.png_data_uri(images.tile(neighbours, k, k, pad=1), size=size))


# -- callbacks ------------------------------------------------------------------------
def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output("latent-gne-scatter", "figure"), Output("latent-vae-scatter", "figure"),
                  Output("latent-metrics", "children"), Output("latent-move-info", "children"),
                  Output("latent-selection", "data"),
                  Input("run-picker", "value"), Input("dataset-picker", "value"), Input("store-version", "data"),
                  Input("latent-heldout", "data"), Input("tabs", "active_tab"))
    def draw(run_id, name, _version, heldout_ref, tab):
        if tab != TAB_ID:
            return no_update, no_update, no_update, no_update, no_update
        try:
            run = _run(config, run_id, name)
            if run is None:
                msg = "no GNE run for this dataset yet: press “Train GNE + VAE”"
                return figures.empty_figure(msg), figures.empty_figure(msg), msg, "", None
            ds = state.dataset(config, run.manifest["dataset"])
            emb = run.arrays("embeddings")
            held = None
            if heldout_ref and heldout_ref.get("run") == run.id:
                cached = config.results.get(_heldout_key(run.id, heldout_ref["limit"]))
                held = cached[0] if cached else None
            moved = run.arrays("moved") if "moved.npz" in run.manifest.get("files", []) else None
            figs = []
            for side in SIDES:
                h = None if held is None else {"coords": held[side], "labels": held["labels"], "index": held["index"]}
                figs.append(figures.latent_scatter(
                    emb[side], emb["labels"], ds.class_names, index=emb["index"], heldout=h,
                    moved=({"ids": moved["ids"], "before": moved["before"], "after": moved["after"]}
                           if moved is not None and side == "gne" else None),
                    title=f"{TITLES[side]} · {len(emb[side]):,} samples", uirevision=f"latent-{side}-{run.id}"))
            figs[1].update_layout(dragmode="zoom")
            info = metrics_line(run)
            if held is not None:
                info = info + [html.Br(), f"held-out: {len(held['index'])} test samples · GNE new-point mse "
                               f"{held['gne_error'].mean():.4f} (from {held['gne_start_error'].mean():.4f} at the "
                               f"starting guess) · VAE encoder mse {held['vae_error'].mean():.4f}"]
            return figs[0], figs[1], info, moved_line(config, run), None
        except Exception as exc:
            msg = describe_error(exc)
            return figures.empty_figure(msg), figures.empty_figure(msg), msg, "", None

    @app.callback(*[Output(f"latent-{s}-{what}", "src") for s in SIDES for what in ("grid", "neighbours")],
                  Input("latent-grid-size", "value"), Input("run-picker", "value"), Input("dataset-picker", "value"),
                  Input("store-version", "data"), Input("tabs", "active_tab"))
    def grids(size_pos, run_id, name, _version, tab):
        if tab != TAB_ID:
            return [no_update] * 4
        run = _run(config, run_id, name)
        if run is None:
            return [None] * 4
        k = GRID_SIZES[int(size_pos or 0)]
        ds = state.dataset(config, run.manifest["dataset"])
        out = []
        for side in SIDES:
            out.extend(_grid_image(run, ds, side, k))
        return out

    for side in SIDES:
        @app.callback(Output(f"latent-{side}-tooltip", "show"), Output(f"latent-{side}-tooltip", "bbox"),
                      Output(f"latent-{side}-tooltip", "children"),
                      Input(f"latent-{side}-scatter", "hoverData"), State("run-picker", "value"),
                      State("dataset-picker", "value"))
        def hover(hover_data, run_id, name, side=side):
            if not hover_data:
                return False, no_update, no_update
            point = hover_data["points"][0]
            if "customdata" not in point:
                return False, no_update, no_update
            run = _run(config, run_id, name)
            dname = run.manifest["dataset"] if run else name
            split = "test" if point.get("curveNumber") == figures.LATENT_HELDOUT else "train"
            ds = state.dataset(config, dname, split)
            idx = int(point["customdata"])
            extra = [f"{split} sample · ({point['x']:.2f}, {point['y']:.2f})"]
            return True, point["bbox"], sample_card(ds, idx, key=(dname, split), extra=extra)

    @app.callback(Output("latent-gne-scatter", "figure", allow_duplicate=True),
                  Output("latent-selection", "data", allow_duplicate=True),
                  Output("latent-selection-info", "children"),
                  Input("latent-gne-scatter", "selectedData"), State("run-picker", "value"),
                  State("dataset-picker", "value"), prevent_initial_call=True)
    def select(selected, run_id, name):
        run = _run(config, run_id, name)
        points = [p for p in (selected or {}).get("points", []) if p.get("curveNumber") == figures.LATENT_TRAIN]
        if run is None or not points:  # a plain click deselects in Plotly: keep the selection (it may be a move)
            return no_update, no_update, no_update
        patch = Patch()
        ids = sorted({int(p["pointNumber"]) for p in points})
        emb = run.arrays("embeddings")["gne"]
        center = emb[ids].mean(axis=0)
        extent = np.percentile(emb, 99, axis=0) - np.percentile(emb, 1, axis=0)
        radius = float(0.04 * extent.max())
        patch["layout"]["shapes"] = [figures.latent_handle(center, radius)]
        # the box/lasso outline sits above shapes and would take the drag meant for the handle
        patch["layout"]["selections"] = []
        data = {"run": run.id, "ids": ids, "center": center.tolist(), "radius": radius, "target": center.tolist()}
        return patch, data, f"{len(ids)} points selected: drag the red handle (or click a spot) to move them"

    @app.callback(Output("latent-selection", "data", allow_duplicate=True),
                  Output("latent-selection-info", "children", allow_duplicate=True),
                  Output("latent-move-button", "disabled"),
                  Output("latent-gne-scatter", "figure", allow_duplicate=True),
                  Input("latent-gne-scatter", "relayoutData"), Input("latent-gne-scatter", "clickData"),
                  State("latent-selection", "data"), prevent_initial_call=True)
    def drag(relayout, click, selection):
        """The handle was dragged (read from ``relayoutData``) or a point clicked (the handle jumps there)."""
        if not selection:
            return no_update, no_update, True, no_update
        patch = no_update
        if dash.ctx.triggered_id == "latent-gne-scatter" and "clickData" in dash.ctx.triggered[0]["prop_id"]:
            if not click or not click.get("points"):
                return no_update, no_update, no_update, no_update
            center = (float(click["points"][0]["x"]), float(click["points"][0]["y"]))
            patch = Patch()
            patch["layout"]["shapes"] = [figures.latent_handle(center, selection["radius"])]
        else:
            center = figures.handle_center(relayout)
        if center is None:
            return no_update, no_update, no_update, no_update
        selection = {**selection, "target": list(center)}
        d = np.subtract(center, selection["center"])
        return (selection, f"{len(selection['ids'])} points to move by ({d[0]:+.2f}, {d[1]:+.2f})",
                bool(np.allclose(d, 0)), patch)

    @app.callback(Output("store-version", "data", allow_duplicate=True),
                  Output("run-picker", "value", allow_duplicate=True),
                  Output("job-result", "children", allow_duplicate=True),
                  Input("latent-train-button", "n_clicks"),
                  State("dataset-picker", "value"), State("latent-epochs", "value"), State("latent-batch", "value"),
                  State("latent-init", "value"), State("store-version", "data"),
                  **job_options("latent-train-button", "latent-move-button", "latent-heldout-button"))
    def train(set_progress, _n, name, epochs, batch, init, version):
        from models.studies.gne import GNEConfig, run_gne

        try:
            cfg = GNEConfig(dataset=name or config.default_dataset, epochs=int(epochs or 0),
                            batch_size=int(batch or 0), init=init or "random")
            run = run_gne(cfg, store=config.store, data_dir=config.data_dir,
                          progress=reporter(set_progress, f"GNE + VAE on {cfg.dataset}"))
        except Exception as exc:
            return no_update, no_update, dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")
        m = run.metrics
        return ((version or 0) + 1, run.id,
                f"GNE mse {m['gne_mse']:.4f} ({m['gne_seconds_per_epoch']:.3f} s/epoch), "
                f"VAE mse {m['vae_mse']:.4f} ({m['vae_seconds_per_epoch']:.3f} s/epoch)")

    @app.callback(Output("store-version", "data", allow_duplicate=True),
                  Output("run-picker", "value", allow_duplicate=True),
                  Output("job-result", "children", allow_duplicate=True),
                  Input("latent-move-button", "n_clicks"), State("latent-selection", "data"),
                  State("latent-pin", "value"), State("latent-move-epochs", "value"), State("store-version", "data"),
                  **job_options("latent-train-button", "latent-move-button", "latent-heldout-button"))
    def move(set_progress, _n, selection, pin, epochs, version):
        from models.studies.gne import run_move

        if not selection:
            return no_update, no_update, "select points and drag the handle first"
        try:
            run = config.store.load(selection["run"])
            d = np.subtract(selection["target"], selection["center"])
            child = run_move(run, selection["ids"], store=config.store, displacement=d.tolist(), pin=bool(pin),
                             epochs=int(epochs or 0), data_dir=config.data_dir,
                             progress=reporter(set_progress, f"moving {len(selection['ids'])} points"))
        except Exception as exc:
            return no_update, no_update, dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")
        return (version or 0) + 1, child.id, f"moved {len(selection['ids'])} points; GNE mse {child.metrics['gne_mse']:.4f}"

    @app.callback(Output("latent-heldout", "data"), Output("job-result", "children", allow_duplicate=True),
                  Input("latent-heldout-button", "n_clicks"), State("run-picker", "value"),
                  State("dataset-picker", "value"), State("latent-heldout-count", "value"),
                  **job_options("latent-train-button", "latent-move-button", "latent-heldout-button"))
    def place(set_progress, _n, run_id, name, count):
        from models.studies.gne import place_heldout

        run = _run(config, run_id, name)
        if run is None:
            return no_update, "train GNE + VAE first"
        try:
            limit = int(count or 0)
            if limit < 1:
                raise ValueError(f"held-out count must be a positive integer (got {count!r})")
            progress = reporter(set_progress, "placing held-out samples")
            arrays, _meta = config.results.get_or_compute(
                _heldout_key(run.id, limit),
                lambda: (place_heldout(run, data_dir=config.data_dir, limit=limit, progress=progress), {}))
        except Exception as exc:
            return no_update, dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")
        return ({"run": run.id, "limit": limit},
                f"placed {len(arrays['index'])} held-out samples: GNE mse {arrays['gne_error'].mean():.4f}, "
                f"VAE mse {arrays['vae_error'].mean():.4f}")
