"""The Data tab: the chosen dataset at a glance — its PCA scatter (hover a point for its
image), a gallery of examples per class, and downloads of the standard datasets."""
from __future__ import annotations

import os

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from models import datasets
from models.progress import Progress
from models.projections import project

from .. import figures, images, state
from ..config import AppConfig
from ..jobs import describe_error, job_options, reporter

TAB_ID = "data"
LABEL = "Data"
DOWNLOADABLE = ("mnist", "fashion-mnist", "kmnist")


def layout(config: AppConfig):
    return dbc.Row([
        dbc.Col([
            dcc.Graph(id="data-scatter", figure=figures.empty_figure("loading…"), clear_on_unhover=True,
                      style={"height": "68vh"}, config={"displaylogo": False, "scrollZoom": True}),
            dcc.Tooltip(id="data-tooltip", direction="right"),
        ], md=8),
        dbc.Col([
            html.Div("Examples per class", className="panel-title mb-1"),
            html.Img(id="data-gallery", className="gallery", alt="examples of each class"),
            html.Div(id="data-status", className="small text-muted mt-2"),
            html.Hr(),
            html.Div("Get a standard dataset", className="panel-title mb-1"),
            dbc.InputGroup([
                dbc.Select(id="data-download-name", options=[{"label": n, "value": n} for n in DOWNLOADABLE],
                           value=DOWNLOADABLE[0]),
                dbc.Button("Download", id="data-download-button", color="primary", outline=True),
            ], size="sm"),
            html.Div(f"Files are checked by SHA-256 and saved under {config.data_dir}.",
                     className="small text-muted mt-1"),
        ], md=4),
    ], className="g-3")


def pca_result(config: AppConfig, name: str) -> tuple[np.ndarray, dict]:
    """The dataset's PCA coordinates, computed once and cached under (dataset, split, method)."""
    key = {"dataset": name, "split": "train", "method": "pca", "version": 1}

    def compute():
        ds = state.dataset(config, name)
        proj = project(ds.features, "pca")
        return {"coords": proj.coords}, {"seconds": proj.seconds, **proj.extra}

    arrays, meta = config.results.get_or_compute(key, compute)
    return arrays["coords"], meta


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    opts = job_options("data-download-button")
    opts["prevent_initial_call"] = False

    @app.callback(Output("data-scatter", "figure"), Output("data-gallery", "src"), Output("data-status", "children"),
                  Input("dataset-picker", "value"), **opts)
    def show_dataset(set_progress, name):
        progress = reporter(set_progress, f"PCA of {name}")
        try:
            progress(Progress(0.1, 1.0, "loading"))
            ds = state.dataset(config, name)
            progress(Progress(0.4, 1.0, "projecting"))
            coords, meta = pca_result(config, name)
        except Exception as exc:  # shown to the person, never a silent traceback
            msg = describe_error(exc)
            return figures.empty_figure(msg), None, msg
        ratio = meta.get("explained_variance_ratio", [0, 0])
        fig = figures.label_scatter(coords, ds.labels, ds.class_names, title=f"{name}: PCA of {ds.n:,} samples",
                                    axis_titles=(f"PC1 ({100 * ratio[0]:.0f}%)", f"PC2 ({100 * ratio[1]:.0f}%)"),
                                    uirevision=f"data-{name}")
        gallery = class_gallery(ds) if ds.images is not None else None
        status = f"PCA in {meta.get('seconds', 0):.2f} s · hover a point to see its image"
        return fig, gallery, status

    @app.callback(Output("data-tooltip", "show"), Output("data-tooltip", "bbox"), Output("data-tooltip", "children"),
                  Input("data-scatter", "hoverData"), State("dataset-picker", "value"))
    def hover(hover_data, name):
        if not hover_data:
            return False, no_update, no_update
        point = hover_data["points"][0]
        idx = int(point.get("customdata", point.get("pointNumber", 0)))
        ds = state.dataset(config, name)
        return True, point["bbox"], sample_card(ds, idx, key=(name, "train"))

    @app.callback(Output("dataset-picker", "options"), Output("job-result", "children", allow_duplicate=True),
                  Input("data-download-button", "n_clicks"), State("data-download-name", "value"),
                  **job_options("data-download-button"))
    def download(set_progress, _n, name):
        mirror = os.environ.get("LAYERSCOPE_MIRROR")  # e.g. a local copy of the canonical files: <mirror>/<name>/<file>
        try:
            paths = datasets.download(name, config.data_dir, progress=reporter(set_progress, f"download {name}"),
                                      base_url=f"{mirror.rstrip('/')}/{name}/" if mirror else None)
        except Exception as exc:
            return no_update, dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")
        return state.dataset_options(config), f"downloaded {len(paths)} files of {name}"


def sample_card(ds: datasets.Dataset, idx: int, key: tuple, extra: list[str] | None = None) -> html.Div:
    """What a tooltip shows for one sample: its image (if any), class and index."""
    lines = [f"#{int(ds.index[idx]) if ds.index is not None else idx} · class {ds.class_names[int(ds.labels[idx])]}"]
    lines += extra or []
    children = []
    if ds.images is not None:
        children.append(html.Img(src=images.thumbnail((*key, idx), ds.images[idx], size=96), className="tooltip-img"))
    children += [html.Div(line, className="tooltip-line") for line in lines]
    return html.Div(children, className="tooltip-card")


def class_gallery(ds: datasets.Dataset, per_class: int = 8) -> str:
    """One image: a row of examples for each class (first ``per_class`` of each)."""
    rows = []
    for c in range(ds.n_classes):
        members = np.flatnonzero(ds.labels == c)[:per_class]
        row = [ds.images[i] for i in members] + [np.zeros_like(ds.images[0])] * (per_class - len(members))
        rows.extend(row)
    grid = images.tile(np.stack(rows), ds.n_classes, per_class, pad=1)
    return images.png_data_uri(grid, size=max(240, 24 * per_class))
