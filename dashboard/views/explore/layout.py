"""The Explore tab's page: source and map controls, filters, the map, and the side lists.

Every component id starts with ``explore-`` (the browser tests and the shell rely on it).
"""

from __future__ import annotations

from typing import Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

from models.studies.explore import METHODS

from ... import figures
from ...config import AppConfig
from ...jobs import job_status
from .data import DATASET, source_options

TAB_ID = "explore"
LABEL = "Explore"
METHOD_LABELS = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
EMPTY_MAP = "choose vectors and press Compute"
EMPTY_SIMILAR = "Click a point, a list row, or lasso a group."
ANY = {"label": "any", "value": "all"}


def layout(config: AppConfig):
    controls = dbc.Row(
        [
            dbc.Col(
                dbc.InputGroup(
                    [
                        dbc.InputGroupText("Vectors"),
                        dbc.Select(id="explore-source", options=source_options(config), value=DATASET),
                    ],
                    size="sm",
                ),
                md=5,
            ),
            dbc.Col(
                dbc.InputGroup(
                    [
                        dbc.InputGroupText("Map"),
                        dbc.Select(
                            id="explore-method",
                            value="umap",
                            options=[{"label": METHOD_LABELS.get(m, m), "value": m} for m in METHODS],
                        ),
                    ],
                    size="sm",
                ),
                md=3,
            ),
            dbc.Col(
                dbc.InputGroup(
                    [
                        dbc.InputGroupText("k"),
                        dbc.Input(id="explore-k", type="number", min=2, max=100, step=1, value=15),
                    ],
                    size="sm",
                ),
                md=2,
            ),
            dbc.Col(dbc.Button("Compute", id="explore-compute", color="primary", size="sm", className="w-100"), md=2),
        ],
        className="g-2 mb-2",
    )
    filters = dbc.Row(
        [
            dbc.Col(
                dbc.InputGroup(
                    [
                        dbc.InputGroupText("Colour"),
                        dbc.Select(id="explore-color", value="label", options=color_options()),
                    ],
                    size="sm",
                ),
                md=4,
            ),
            dbc.Col(
                dbc.InputGroup(
                    [dbc.InputGroupText("Label"), dbc.Select(id="explore-label", value="all", options=[ANY])], size="sm"
                ),
                md=3,
            ),
            dbc.Col(
                dbc.InputGroup(
                    [dbc.InputGroupText("Predicted"), dbc.Select(id="explore-pred", value="all", options=[ANY])],
                    size="sm",
                ),
                md=3,
            ),
            dbc.Col(
                [
                    dbc.Button(
                        "Export CSV",
                        id="explore-export",
                        color="secondary",
                        outline=True,
                        size="sm",
                        className="w-100",
                        title="Download the selection (or every shown point) as CSV",
                    ),
                    dcc.Download(id="explore-download"),
                ],
                md=2,
            ),
        ],
        className="g-2 mb-1",
    )
    side = dbc.Tabs(
        [
            dbc.Tab(
                html.Div(
                    id="explore-similar",
                    className="explore-list",
                    children=html.Div(EMPTY_SIMILAR, className="text-muted small"),
                ),
                label="Similar",
                tab_id="similar",
            ),
            dbc.Tab(
                [pager("mistakes"), html.Div(id="explore-mistakes", className="explore-list")],
                label="Mistakes",
                tab_id="mistakes",
            ),
            dbc.Tab(
                [pager("outliers"), html.Div(id="explore-outliers", className="explore-list")],
                label="Outliers",
                tab_id="outliers",
            ),
            dbc.Tab(html.Div(id="explore-clusters", className="explore-list"), label="Clusters", tab_id="clusters"),
        ],
        id="explore-side",
        active_tab="mistakes",
    )
    return html.Div(
        [
            controls,
            job_status("explore-job", "pick the vectors to explore and press Compute"),
            filters,
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dcc.Graph(
                                id="explore-scatter",
                                figure=figures.empty_figure(EMPTY_MAP),
                                clear_on_unhover=True,
                                style={"height": "64vh"},
                                config={"displaylogo": False, "scrollZoom": True, "plotGlPixelRatio": 1},
                            ),
                            dcc.Tooltip(id="explore-tooltip", direction="right"),
                            html.Div(id="explore-status", className="small text-muted"),
                        ],
                        md=7,
                    ),
                    dbc.Col(side, md=5),
                ],
                className="g-3",
            ),
            dcc.Store(id="explore-run"),
            dcc.Store(id="explore-selection", data=[]),
            dcc.Store(id="explore-mistakes-page", data=0),
            dcc.Store(id="explore-outliers-page", data=0),
        ]
    )


def pager(what: str) -> html.Div:
    """Prev / "1–12 of 1,797" / Next over a ranked list (buttons: reachable with Tab, pressed with Enter)."""
    return html.Div(
        [
            dbc.Button(
                "‹ Prev",
                id=f"explore-{what}-prev",
                size="sm",
                color="secondary",
                outline=True,
                disabled=True,
                title=f"previous page of {what}",
            ),
            html.Span(
                "",
                id=f"explore-{what}-range",
                className="small text-muted explore-pager-range",
                **{"aria-live": "polite"},
            ),
            dbc.Button(
                "Next ›",
                id=f"explore-{what}-next",
                size="sm",
                color="secondary",
                outline=True,
                disabled=True,
                title=f"next page of {what}",
            ),
        ],
        className="explore-pager",
    )


def color_options(meta_columns: Sequence[str] = ()) -> list[dict]:
    """What the map can be coloured by: the run's columns, then the dataset's own metadata."""
    return [
        {"label": "label", "value": "label"},
        {"label": "prediction", "value": "prediction"},
        {"label": "agreement (correct / wrong)", "value": "agreement"},
        {"label": "mistake score", "value": "mistake_score"},
        {"label": "outlier score", "value": "outlier_score"},
        *({"label": f"meta: {c}", "value": f"meta:{c}"} for c in meta_columns),
    ]


def label_options(names: Sequence[str]) -> list[dict]:
    return [ANY] + [{"label": n, "value": str(k)} for k, n in enumerate(names)]


def pred_options(names: Sequence[str]) -> list[dict]:
    """The "predicted" filter: any, right, wrong, = a class, ≠ a class (see ``data.filter_mask``)."""
    opts = [ANY, {"label": "= label (correct)", "value": "right"}, {"label": "≠ label (wrong)", "value": "wrong"}]
    opts += [{"label": f"= {n}", "value": f"={k}"} for k, n in enumerate(names)]
    opts += [{"label": f"≠ {n}", "value": f"!={k}"} for k, n in enumerate(names)]
    return opts
