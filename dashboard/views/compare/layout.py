"""The Compare tab's page: the form that starts a comparison, the heatmaps, the curves over depth and
the movers list. Every component id starts with ``compare-``."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from ... import figures
from ...config import AppConfig
from ...jobs import job_status
from . import data

TAB_ID = "compare"
LABEL = "Compare"
EMPTY = (
    "no comparison yet: pick run A above (a capture run from Your model, or a hardness run),<br>"
    "and a run B to compare two models, then press Compare"
)
HINT = "click a cell: both layers open in Layers, and their movers are listed below"
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}}


def _field(label, control, width=None, id_=None):
    extra = {"id": id_} if id_ else {}
    return html.Div(
        [dbc.Label(label, className="small mb-0"), control],
        className="me-3 mb-1",
        style={"width": width} if width else None,
        **extra,
    )


def form() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.Span("Compare", className="panel-title me-3"),
                        _field(
                            "run A",
                            dcc.Dropdown(
                                id="compare-run-a",
                                options=[],
                                placeholder="a capture or hardness run",
                                clearable=False,
                                optionHeight=48,
                            ),
                            "330px",
                        ),
                        _field(
                            "run B (optional: A × B)",
                            dcc.Dropdown(
                                id="compare-run-b",
                                options=[],
                                clearable=True,
                                placeholder="none: A's layers with each other",
                                optionHeight=48,
                            ),
                            "330px",
                        ),
                        _field(
                            "measure",
                            dbc.Select(
                                id="compare-metric",
                                size="sm",
                                value=data.METRICS[0][0],
                                options=[{"label": l, "value": v} for v, l in data.METRICS],
                            ),
                            "130px",
                        ),
                        _field(
                            "k (movers)",
                            dbc.Input(id="compare-k", type="number", min=2, max=200, step=1, value=10, size="sm"),
                            "90px",
                        ),
                        dbc.Button("Compare", id="compare-start", color="primary", size="sm", className="mb-1"),
                    ],
                    className="d-flex align-items-end flex-wrap",
                ),
                html.Div(
                    [
                        _field(
                            "steps",
                            dbc.Checklist(id="compare-steps", inline=True, options=[], value=[], className="small"),
                            id_="compare-steps-field",
                        ),
                        _field(
                            "layers",
                            dbc.Checklist(id="compare-layers", inline=True, options=[], value=[], className="small"),
                            id_="compare-layers-field",
                        ),
                    ],
                    className="d-flex align-items-start flex-wrap",
                ),
                html.Div(id="compare-form-note", className="small text-muted"),
                job_status("compare-job"),
            ]
        ),
        className="mb-2",
        id="compare-form",
    )


def movers_panel() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.Span("Movers", className="panel-title me-3"),
                        html.Span(id="compare-movers-title", className="small text-muted me-auto"),
                        dbc.Button(
                            "Select these",
                            id="compare-movers-select",
                            color="secondary",
                            outline=True,
                            size="sm",
                            disabled=True,
                            title="Make the movers shown the shared selection: they light up in Layers, "
                            "Data and every view of the same samples",
                        ),
                    ],
                    className="d-flex align-items-center mb-1",
                ),
                job_status("compare-movers-job"),
                html.Div(
                    id="compare-movers",
                    className="compare-movers",
                    children=html.Div(
                        "Click a heatmap cell: the samples whose nearest neighbours changed most "
                        "between those two layers show here.",
                        className="small text-muted",
                    ),
                ),
                dcc.Store(id="compare-movers-data", data=None),
            ]
        ),
        className="mb-2",
        id="compare-movers-card",
    )


def layout(config: AppConfig):
    return html.Div(
        [
            form(),
            html.Div(id="compare-status", className="small text-muted mb-1"),
            dcc.Store(id="compare-pair", data=None),  # the clicked cell: {"a": ref, "b": ref, "k": k}
            html.Button(id="compare-pair-go", n_clicks=0, style={"display": "none"}),  # starts the movers job
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dcc.Graph(id="compare-cka", figure=figures.empty_figure(EMPTY), config=GRAPH_CONFIG),
                            html.Div(HINT, className="small text-muted", id="compare-cka-hint"),
                        ],
                        lg=7,
                    ),
                    dbc.Col(
                        html.Div(
                            dcc.Graph(id="compare-steps-heat", figure=figures.empty_figure(""), config=GRAPH_CONFIG),
                            id="compare-steps-box",
                            style={"display": "none"},
                        ),
                        lg=5,
                    ),
                ],
                className="g-2",
            ),
            dcc.Graph(
                id="compare-curves", figure=figures.empty_figure(""), config=GRAPH_CONFIG, style={"display": "none"}
            ),
            movers_panel(),
        ]
    )
