"""The Latent plane's components: the training bar, the grid-size slider, the held-out and move
controls, and one column per side (scatter, hover card, decoded grid, nearest samples).

The choices offered are the GNE face's own constants (``INITS``, ``GRID_SIZES``, ``SIDES``),
imported, not copied: the face is light, so the web process still never imports torch.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from models.studies import gne

from ...config import AppConfig
from .figures import EMPTY_MESSAGE, GRID_FIGURE_HEIGHT, empty_figure

TAB_ID = "latent"
LABEL = "Latent plane"
GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": True, "edits": {"shapePosition": True}}
INIT_LABELS = {"random": "GNE from random points", "vae": "GNE from VAE means"}
DEFAULT_GRID = 10
DEFAULT_EPOCHS, DEFAULT_BATCH = 100, 128


def init_options() -> list[dict]:
    """One option per way the face can start GNE (a missing label shows the value)."""
    return [{"label": INIT_LABELS.get(init, init), "value": init} for init in gne.INITS]


def grid_marks() -> dict[int, str]:
    """The slider's positions → the face's grid sizes (the slider's value is a position)."""
    return {i: str(k) for i, k in enumerate(gne.GRID_SIZES)}


GRID_CONFIG = {"displaylogo": False, "scrollZoom": True}


def _side(side: str) -> dbc.Col:
    return dbc.Col(
        [
            dcc.Graph(
                id=f"latent-{side}-scatter",
                figure=empty_figure(EMPTY_MESSAGE),
                clear_on_unhover=True,
                style={"height": "46vh"},
                config=GRAPH_CONFIG,
                className="keeps-selection",
            ),  # a click places the move's handle (assets/selection.js)
            dcc.Tooltip(id=f"latent-{side}-tooltip", direction="right"),
            html.Div(id=f"latent-{side}-collapse"),  # the collapse warning of this plane, in the view itself
            html.Div(
                [  # hidden until there is a run: the empty state is said once, on the plane
                    html.Div(
                        "hover the plane: points show their sample, empty space the image decoded there",
                        className="small text-muted",
                    ),
                    dcc.Graph(
                        id=f"latent-{side}-grid",
                        figure=empty_figure(EMPTY_MESSAGE),
                        config=GRID_CONFIG,
                        clear_on_unhover=True,
                        className="latent-grid-figure",
                        style={"height": f"{GRID_FIGURE_HEIGHT}px", "maxWidth": f"{GRID_FIGURE_HEIGHT}px"},
                    ),
                    html.Div("nearest real sample of each grid cell", className="small text-muted mt-1"),
                    html.Div(
                        id=f"latent-{side}-neighbours-box",
                        className="latent-neighbours",
                        children=html.Div(EMPTY_MESSAGE, className="small text-muted"),
                    ),
                ],
                id=f"latent-{side}-grids",
                hidden=True,
            ),
        ],
        md=6,
    )


def layout(config: AppConfig):
    train = dbc.InputGroup(
        [
            dbc.InputGroupText("epochs"),
            dbc.Input(
                id="latent-epochs",
                type="number",
                min=1,
                max=2000,
                step=1,
                value=DEFAULT_EPOCHS,
                style={"maxWidth": "80px"},
            ),
            dbc.InputGroupText("batch"),
            dbc.Input(
                id="latent-batch",
                type="number",
                min=8,
                max=8192,
                step=1,
                value=DEFAULT_BATCH,
                style={"maxWidth": "80px"},
            ),
            dbc.Select(id="latent-init", options=init_options(), value=gne.INITS[0], style={"maxWidth": "230px"}),
            dbc.Button("Train GNE + VAE", id="latent-train-button", color="primary"),
        ],
        size="sm",
    )
    grid = html.Div(
        [
            html.Span("grid size", className="small text-muted me-2"),
            html.Div(
                dcc.Slider(
                    id="latent-grid-size",
                    min=0,
                    max=len(gne.GRID_SIZES) - 1,
                    step=1,
                    value=gne.GRID_SIZES.index(DEFAULT_GRID),
                    marks=grid_marks(),
                ),
                style={"width": "260px"},
            ),
        ],
        className="d-flex align-items-center",
    )
    heldout = dbc.InputGroup(
        [
            dbc.InputGroupText("held-out"),
            dbc.Input(
                id="latent-heldout-count",
                type="number",
                min=1,
                max=10000,
                step=1,
                value=200,
                style={"maxWidth": "80px"},
            ),
            dbc.Button("Place held-out samples", id="latent-heldout-button", color="secondary", outline=True),
        ],
        size="sm",
        style={"maxWidth": "360px"},
    )
    move = html.Div(
        [
            html.Span(
                id="latent-selection-info",
                className="small me-3",
                children="select GNE points (box or lasso), then drag the red handle (or click where they should go)",
            ),
            dbc.Checkbox(id="latent-pin", label="pin moved points", value=True, className="me-3 small"),
            dbc.InputGroup(
                [
                    dbc.InputGroupText("train on"),
                    dbc.Input(
                        id="latent-move-epochs",
                        type="number",
                        min=1,
                        max=500,
                        step=1,
                        value=5,
                        style={"maxWidth": "70px"},
                    ),
                    dbc.InputGroupText("epochs"),
                    dbc.Button(
                        "Move and train on", id="latent-move-button", color="danger", outline=True, disabled=True
                    ),
                ],
                size="sm",
                style={"maxWidth": "360px"},
            ),
        ],
        className="d-flex align-items-center flex-wrap gap-2 latent-move-row",
    )
    return html.Div(
        [
            dbc.Row(
                [dbc.Col(train, md="auto"), dbc.Col(grid, md="auto"), dbc.Col(heldout, md="auto")],
                className="g-3 align-items-center mb-2",
            ),
            html.Div(id="latent-metrics", className="small mb-1"),
            move,
            html.Div(id="latent-move-info", className="small text-muted mb-2 latent-move-info"),
            dbc.Row([_side(side) for side in gne.SIDES], className="g-3"),
            dcc.Store(id="latent-selection"),  # {"run", "ids" (run positions), "center", "radius", "target"}
            dcc.Store(id="latent-heldout"),  # {"run", "limit"}: a placement in the result cache (gne.heldout_key)
        ],
        id="latent-view",
    )
