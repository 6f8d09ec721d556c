"""The Landscape tab: a sparse autoencoder's generative landscape — decoded cluster centres of
3-unit latent slices (slices × clusters, one image), the continuity strips decoded on spheres
around a chosen centre, and the consistency table across independently trained models."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from models.studies import landscape

from .. import cards, figures, ids, images, state
from ..config import AppConfig
from ..jobs import Done, job, job_status

TAB_ID = "landscape"
LABEL = "Landscape"
TRAINS = landscape.KIND


def layout(config: AppConfig):
    return dbc.Row(
        [
            dbc.Col(
                [
                    dcc.Graph(
                        id="landscape-map",
                        figure=figures.empty_figure("train sparse autoencoders →"),
                        clear_on_unhover=True,
                        style={"height": "48vh"},
                        config={"displaylogo": False},
                    ),
                    dcc.Tooltip(id="landscape-tooltip", direction="right"),
                    html.Div(
                        "Continuity: decoded samples on spheres of growing radius around the chosen centre "
                        "(click a centre; rows = radius, columns = directions)",
                        className="small text-muted mt-1",
                    ),
                    html.Img(id="landscape-strips", className="gallery", style={"maxWidth": "480px"}),
                    html.Div("Consistency across models", className="panel-title mt-3 mb-1"),
                    html.Div(id="landscape-table"),
                ],
                md=8,
            ),
            dbc.Col(
                [
                    dbc.InputGroup(
                        [
                            dbc.InputGroupText("model"),
                            dbc.Select(id="landscape-model", value="1", options=[{"label": "1", "value": "1"}]),
                        ],
                        size="sm",
                        className="mb-2",
                    ),
                    html.Div(id="landscape-status", className="small text-muted mb-2"),
                    html.Hr(),
                    html.Div("Train sparse autoencoders", className="panel-title mb-1"),
                    dbc.InputGroup(
                        [
                            dbc.InputGroupText("models"),
                            dbc.Input(
                                id="landscape-models", type="number", value=3, min=1, max=landscape.MAX_MODELS, step=1
                            ),
                        ],
                        size="sm",
                        className="mb-1",
                    ),
                    dbc.InputGroup(
                        [
                            dbc.InputGroupText("epochs"),
                            dbc.Input(id="landscape-epochs", type="number", value=40, min=1, max=500, step=1),
                        ],
                        size="sm",
                        className="mb-2",
                    ),
                    dbc.Button("Train landscape", id="landscape-train", color="primary", size="sm"),
                    job_status("landscape-job"),
                ],
                md=4,
            ),
        ],
        className="g-3",
    )


# what "completeness" means, word for word as models/studies/landscape_clusters.consistency_row computes it
COMPLETENESS = (
    "complete: every class has at least one recognised cluster in some slice — a cluster holding "
    "≥ margin of the samples whose decoded centre the kNN judge assigns to that class with at "
    "least the confidence threshold"
)
TITLES = {
    "completeness": COMPLETENESS,
    "size": "clusters holding ≥ margin of the samples (all slices)",
    "recognition": "share of those clusters whose decoded centre is recognised as a class",
    "highest": "class with the most samples in recognised clusters",
    "lowest": "class with the fewest samples in recognised clusters (among those found)",
    "kept": "whether the model passed the training-loss filter",
    "median_active_units": "median number of active latent units per sample",
}


#: grey of the mosaic's frame and of its empty cells (images.cell_mosaic's gap)
EMPTY_FILL = 70
#: short headers so the table fits its column (the full meaning is each header's tooltip)
HEADERS = {"median_active_units": "active units"}


def _cell(column: str, value, row: dict):
    if column == "kept" and isinstance(value, bool):
        return html.Td("✓" if value else "✗", className="text-center", title=TITLES.get(column))
    if column == "completeness" and isinstance(value, bool):
        missing = row.get("missing") or []
        title = COMPLETENESS + ("" if value else f" · missing: {', '.join(map(str, missing))}" if missing else "")
        return html.Td(
            "✓" if value else "✗", title=title, className="text-center " + ("text-success" if value else "text-danger")
        )
    if isinstance(value, float):
        return html.Td(f"{value:.3g}")
    return html.Td(str(value if value is not None else ""))


def consistency_table(rows: list[dict]) -> html.Div:
    """The consistency table across models, one column per ``landscape.TABLE_COLUMNS`` entry, scrolling
    horizontally inside its card when the column is narrow; completeness as ✓/✗ with its definition."""
    columns = landscape.TABLE_COLUMNS
    head = html.Thead(html.Tr([html.Th(HEADERS.get(c, c.replace("_", " ")), title=TITLES.get(c)) for c in columns]))
    body = html.Tbody([html.Tr([_cell(c, r.get(c, ""), r) for c in columns]) for r in rows])
    table = dbc.Table(
        [head, body], bordered=True, size="sm", striped=True, className="small mb-1", id="landscape-consistency"
    )
    note = html.Div(f"✓/✗ {COMPLETENESS}.", className="small text-muted landscape-note")
    return html.Div([html.Div(table, className="landscape-table-scroll"), note])


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, name):
        return state.run_for_view(config, run_id, landscape.KIND, name)

    def model_of(run, model) -> landscape.Landscape:
        return landscape.landscape(run, int(model or 1), arrays=state.arrays)

    @app.callback(
        Output("landscape-map", "figure"),
        Output("landscape-status", "children"),
        Output("landscape-table", "children"),
        Output("landscape-model", "options"),
        *state.RUN_INPUTS,
        Input("landscape-model", "value"),
    )
    def show(run_id, _version, name, model):
        run, note = shown(run_id, name)
        if run is None:
            return figures.empty_figure("no landscape for this dataset yet: train one →"), note, "", no_update
        rows = landscape.table(run)
        options = [{"label": str(m), "value": str(m)} for m in landscape.model_numbers(run)]
        g = model_of(run, model)
        if g.empty:
            # the table describes every model; one model without clusters must not hide it
            return (
                figures.empty_figure("no slice had enough significant samples"),
                note,
                consistency_table(rows),
                options,
            )
        S, C = g.shape
        imgs = g.images.reshape(S * C, *g.images.shape[2:]).copy()
        empty = (g.sizes <= 0).reshape(-1)  # a slice with fewer clusters: its cells take the frame's colour,
        imgs[empty] = EMPTY_FILL if imgs.dtype == np.uint8 else EMPTY_FILL / 255.0  # not a black "image"
        mosaic = images.cell_mosaic(imgs, S, C, fill=EMPTY_FILL)
        uri = images.png_data_uri(mosaic, size=min(1200, max(mosaic.shape[:2]) * 6))
        sizes = np.where(g.sizes > 0, g.sizes, np.nan)
        fig = figures.image_grid_figure(
            uri,
            S,
            C,
            values=sizes,
            overlay="none",
            title="decoded cluster centres: slices (rows) × clusters by size (columns)",
            uirevision=f"{run.id}-{model}",
        )
        fig.update_traces(hoverongaps=True)  # an empty cell answers a hover too, so its tooltip can hide
        slices = ", ".join(g.slice_label(s) for s in range(S))
        status = " · ".join(
            part
            for part in (
                note,
                run.id,
                f"median active units {run.metrics.get('median_active_units')}",
                f"slices {slices}",
            )
            if part
        )
        return fig, status, consistency_table(rows), options

    @app.callback(
        Output("landscape-tooltip", "show"),
        Output("landscape-tooltip", "bbox"),
        Output("landscape-tooltip", "children"),
        Input("landscape-map", "hoverData"),
        State(ids.RUN_PICKER, "value"),
        State(ids.DATASET_PICKER, "value"),
        State("landscape-model", "value"),
    )
    def hover(hover_data, run_id, name, model):
        run, _note = shown(run_id, name)
        if not hover_data or run is None:
            return False, no_update, None
        g = model_of(run, model)
        point = hover_data["points"][0]
        s, c = divmod(figures.cell_of(point, g.shape[1]), g.shape[1])
        if not (0 <= s < g.shape[0]) or g.sizes[s, c] == 0:
            return False, no_update, None  # an empty cell: no card, not the previous cell's
        lines = [
            f"slice {tuple(g.slices[s].tolist())} · cluster {c + 1}",
            f"{int(g.sizes[s, c])} samples",
            f"recognised as {int(g.classes[s, c])} ({float(g.confidence[s, c]):.0%})",
        ]
        return True, point["bbox"], cards.sample_card(g.images[s, c], lines)

    @app.callback(
        Output("landscape-strips", "src"),
        Input("landscape-map", "clickData"),
        Input("landscape-map", "figure"),
        State(ids.RUN_PICKER, "value"),
        State(ids.DATASET_PICKER, "value"),
        State("landscape-model", "value"),
    )
    def strips(click, _fig, run_id, name, model):
        run, _note = shown(run_id, name)
        if run is None:
            return None
        g = model_of(run, model)
        S, C = g.shape
        if S == 0:
            return None
        cell = figures.cell_of(click["points"][0], C) if click else 0
        grid = g.continuity(*divmod(cell, C))  # radii × (directions + 1) images
        R, D1 = grid.shape[:2]
        return images.png_data_uri(images.tile(grid.reshape(R * D1, *grid.shape[2:]), R, D1, pad=1), size=40 * D1)

    @job(
        app,
        trigger="landscape-train",
        status="landscape-job",
        title="landscape",
        states=[
            State(ids.DATASET_PICKER, "value"),
            State("landscape-models", "value"),
            State("landscape-epochs", "value"),
        ],
    )
    def train(progress, name, models, epochs):
        cfg = landscape.Config(dataset=name or config.default_dataset, models=int(models), epochs=int(epochs))
        run = landscape.run(cfg, store=config.store, data_dir=config.data_dir, progress=progress)
        return Done(run=run, message=f"landscape trained: median {run.metrics['median_active_units']:g} active units")
