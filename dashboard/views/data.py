"""The Data tab: the chosen dataset at a glance — its PCA scatter (hover a point for its
image; box/lasso sets the shared selection, :mod:`dashboard.selection`), a gallery of examples per class,
downloads of the standard datasets and an upload box for a person's own arrays or model (:mod:`dashboard.upload_box`).

The scatter's samples are positions in the split it shows, so its selection space is
``"<dataset>:<split>"`` — the same space Layers and Methods use for a study's test samples: on a
dataset whose only split is the test split (e.g. ``mnist (test only)``) a selection made here shows there."""

from __future__ import annotations

import os
from typing import Sequence

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, ctx, dcc, html, no_update

from models import datasets
from models.progress import Progress
from models.projections import project

from .. import cards, figures, ids, images, legend, state
from .. import selection as sel
from .. import upload_box as upload
from ..config import AppConfig
from ..jobs import Done, job, job_status

TAB_ID = "data"
LABEL = "Data"


def layout(config: AppConfig):
    downloadable = datasets.downloadable()
    return dbc.Row(
        [
            dbc.Col(
                [
                    html.Div(
                        [
                            dbc.Select(
                                id="data-split",
                                options=[{"label": "train split", "value": "train"}],
                                value="train",
                                size="sm",
                                className="data-split me-3",
                            ),
                            legend.legend(TAB_ID),
                        ],
                        className="d-flex align-items-center",
                    ),
                    dcc.Graph(
                        id="data-scatter",
                        figure=figures.empty_figure("loading…"),
                        clear_on_unhover=True,
                        style={"height": "68vh"},
                        config={"displaylogo": False, "scrollZoom": True, "plotGlPixelRatio": 1},  # as Layers
                    ),
                    dcc.Tooltip(id="data-tooltip", direction="right"),
                    dcc.Store(id="data-shown", data=None),  # {space, n}: what the scatter shows
                ],
                md=8,
            ),
            dbc.Col(
                [
                    html.Div("Examples per class", className="panel-title mb-1"),
                    html.Img(id="data-gallery", className="gallery", alt="examples of each class"),
                    html.Div(id="data-status", className="small text-muted mt-2"),
                    html.Hr(),
                    html.Div("Get a standard dataset", className="panel-title mb-1"),
                    dbc.InputGroup(
                        [
                            dbc.Select(
                                id="data-download-name",
                                options=[{"label": n, "value": n} for n in downloadable],
                                value=downloadable[0],
                            ),
                            dbc.Button("Download", id="data-download-button", color="primary", outline=True),
                        ],
                        size="sm",
                    ),
                    job_status(
                        "data-download-job"
                    ),  # working… / done / failed (offline: which file to put where), here
                    html.Div(
                        f"Files are checked by SHA-256 and saved under {config.data_dir}.",
                        className="small text-muted mt-1",
                    ),
                    html.Hr(),
                    upload.box(config),
                ],
                md=4,
            ),
        ],
        className="g-3",
    )


def split_to_follow(selection: dict | None, name: str | None, splits: list[str], current: str | None) -> str | None:
    """The split of ``name`` a new selection lives in, when the tab shows another one (a selection made
    in Layers is on the test split: Data follows it so the same samples light up), else None."""
    space = (selection or {}).get("space") or ""
    dataset_, _, split = space.rpartition(":")  # "arrays:usps.npz:train" names the file, then the split
    if not sel.count(selection) or dataset_ != name or split not in splits or split == current:
        return None
    return split


def pca_result(config: AppConfig, name: str, split: str = "train") -> tuple[np.ndarray, dict]:
    """The dataset's PCA coordinates, computed once and cached under (dataset, split, method)."""
    ds = state.dataset(config, name, split)
    key = {"dataset": name, "split": ds.split or split, "method": "pca", "version": 1}

    def compute():
        proj = project(ds.features, "pca")
        return {"coords": proj.coords}, {"seconds": proj.seconds, **proj.extra}

    arrays, meta = config.results.get_or_compute(key, compute)
    return arrays["coords"], meta


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(
        Output("data-split", "options"),
        Output("data-split", "value"),
        Input(ids.DATASET_PICKER, "value"),
        Input(ids.SELECTION, "data"),
        State("data-split", "value"),
    )
    def split_choice(name, selection, current):
        """The splits of the picked dataset; the one a new selection lives in is shown (see split_to_follow)."""
        splits = state.splits_of(config, name)
        options = [{"label": f"{s} split", "value": s} for s in splits]
        if ctx.triggered_id == ids.SELECTION:
            follow = split_to_follow(selection, name or config.default_dataset, splits, current)
            return (options, follow) if follow else (no_update, no_update)
        return options, current if current in splits else splits[0]

    @job(
        app,
        trigger=Input(ids.DATASET_PICKER, "value"),
        inputs=[Input("data-split", "value")],
        initial=True,
        title=lambda split, name, *_: f"PCA of {name}" + (f" ({split})" if split and split != "train" else ""),
        outputs=[
            Output("data-scatter", "figure"),
            Output("data-gallery", "src"),
            Output("data-status", "children"),
            Output("data-shown", "data"),
        ],
        states=[
            State(ids.DATASET_PICKER, "value"),
            State(legend.store_id(TAB_ID), "data"),
        ],
        buttons=["data-download-button"],
        failed=lambda message: (figures.empty_figure(message), None, message, None),
    )
    def show_dataset(progress, split, name, hidden=None):
        """``split`` (the input) comes before the states: the picked ``name``, hidden classes (the selection is
        painted over the figure in the page, assets/selection.js)."""
        progress(Progress(0.1, 1.0, "loading"))
        ds = state.dataset(config, name, split or "train")
        progress(Progress(0.4, 1.0, "projecting"))
        coords, meta = pca_result(config, name, split or "train")
        ratio = meta.get("explained_variance_ratio", [0, 0])
        fig = figures.label_scatter(
            coords,
            ds.labels,
            ds.class_names,
            title=f"{name} ({ds.split or 'train'}): PCA of {ds.n:,} samples",
            axis_titles=(f"PC1 ({100 * ratio[0]:.0f}%)", f"PC2 ({100 * ratio[1]:.0f}%)"),
            uirevision=f"data-{name}-{ds.split}",
        )
        where = sel.space(name, ds.split or "train")
        size = 5 if ds.n < 5000 else 3
        fig.update_traces(  # drawn plain: the page paints the selection over it (assets/selection.js)
            selected=figures.selected_style(size),
            unselected=figures.unselected_style(),
            marker_opacity=legend.opacity(ds.labels, hidden),
        )
        fig.update_layout(dragmode="select")  # box/lasso select; zoom and pan stay in the mode bar
        sel.mark(fig, where, [0], key="position")  # box/lasso computed and highlighted in the page
        gallery = class_gallery(ds) if ds.images is not None else None
        status = (
            f"PCA of the {ds.split or 'train'} split in {meta.get('seconds', 0):.2f} s · hover a point to see "
            "its image · box/lasso selects (Shift adds, Alt subtracts, Esc clears)"
        )
        skipped = ds.meta.get("skipped", 0)
        if skipped:  # the files themselves are listed in the dataset line's tooltip
            status += f" · {skipped:,} unreadable image{'s' if skipped != 1 else ''} skipped"
        return Done(
            values=(
                fig,
                gallery,
                status,
                {"space": where, "n": int(ds.n), "dataset": name, "split": ds.split or "train", "traces": 1},
            )
        )

    @app.callback(
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Output("data-scatter", "figure", allow_duplicate=True),
        Input("data-scatter", "selectedData"),
        State("data-shown", "data"),
        State(ids.SELECTION, "data"),
        State(ids.SELECTION_MODE, "data"),
        prevent_initial_call=True,
    )
    def select(selected, shown, selection, mode):
        """A box/lasso sets the one selection (Shift adds, Alt subtracts); ids are positions in the split."""
        if not shown:
            return no_update, no_update
        return sel.on_drag(selected, shown["space"], np.arange(shown["n"]), selection, mode)

    # the selection's highlight: assets/selection.js (the figure is marked with sel.mark), not a server patch

    upload.register(app, config)

    def classes(shown):
        ds = state.dataset(config, shown.get("dataset"), shown.get("split") or "train")
        return ds.labels, ds.class_names

    legend.connect(app, TAB_ID, "data-scatter", "data-shown", classes)

    @app.callback(
        Output("data-tooltip", "show"),
        Output("data-tooltip", "bbox"),
        Output("data-tooltip", "children"),
        Input("data-scatter", "hoverData"),
        State("data-shown", "data"),
    )
    def hover(hover_data, shown):
        if not hover_data or not shown:
            return False, no_update, no_update
        point = hover_data["points"][0]
        idx = int(point.get("customdata", point.get("pointNumber", 0)))
        ds = state.dataset(config, shown["dataset"], shown.get("split") or "train")
        return True, point["bbox"], dataset_card(ds, idx, key=(shown["dataset"], ds.split or "train"))

    @job(
        app,
        trigger="data-download-button",
        states=[State("data-download-name", "value")],
        status="data-download-job",
        outputs=[Output(ids.DATASET_PICKER, "options")],
        title=lambda name: f"download {name}",
    )
    def download(progress, name):
        mirror = os.environ.get("LAYERSCOPE_MIRROR")  # e.g. a local copy of the canonical files: <mirror>/<name>/<file>
        paths = datasets.download(
            name, config.data_dir, progress=progress, base_url=f"{mirror.rstrip('/')}/{name}/" if mirror else None
        )
        return Done(message=f"downloaded {len(paths)} files of {name}", values=(state.dataset_options(config),))


def dataset_card(ds: datasets.Dataset, idx: int, key: tuple, extra: Sequence[str] = ()) -> html.Div:
    """The shared tooltip card for sample ``idx`` of ``ds``: its image (if any), index and class."""
    index = int(ds.index[idx]) if ds.index is not None else idx
    lines = [f"#{index} · class {ds.class_names[int(ds.labels[idx])]}", *extra]
    image = ds.images[idx] if ds.images is not None else None
    return cards.sample_card(image, lines, key=(*key, idx))


def class_gallery(ds: datasets.Dataset, per_class: int = 8) -> str:
    """One image: a row of examples for each class (first ``per_class`` of each)."""
    rows = []
    for c in range(ds.n_classes):
        members = np.flatnonzero(ds.labels == c)[:per_class]
        row = [ds.images[i] for i in members] + [np.zeros_like(ds.images[0])] * (per_class - len(members))
        rows.extend(row)
    grid = images.tile(np.stack(rows), ds.n_classes, per_class, pad=1)
    return images.png_data_uri(grid, size=max(240, 24 * per_class))
