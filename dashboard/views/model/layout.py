"""The Your model tab's layout: model file, input adaptation, layer tree, capture options."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from models.studies import capture as face

from ...config import AppConfig
from . import data


def _field(label, control, width=None):
    return html.Div(
        [dbc.Label(label, className="small mb-0"), control],
        className="me-3 mb-2",
        style={"width": width} if width else None,
    )


def layout(config: AppConfig):
    folder = data.model_dir(config)
    pick = html.Div(
        [
            _field(
                "model file",
                dcc.Dropdown(
                    id="model-file",
                    options=data.model_options(config),
                    clearable=False,
                    placeholder="no model files yet",
                ),
                "320px",
            ),
            dbc.Button(
                "Refresh", id="model-refresh", color="secondary", outline=True, size="sm", className="me-2 mb-2"
            ),
            dbc.Button("Find layers", id="model-inspect", color="secondary", size="sm", className="me-2 mb-2"),
            html.Span(f"models folder: {folder} (.onnx, .pt2, .ts, .pt + .json)", className="small text-muted mb-2"),
        ],
        className="d-flex align-items-end flex-wrap",
    )
    adapt = dbc.Card(
        dbc.CardBody(
            [
                html.Div("Input", className="panel-title mb-1"),
                html.Div(
                    [
                        _field(
                            "input shape",
                            dbc.Input(id="model-input-shape", size="sm", placeholder="from the file", debounce=True),
                            "130px",
                        ),
                        _field(
                            "channels",
                            dbc.Select(
                                id="model-channels",
                                size="sm",
                                value="model",
                                options=[
                                    {"label": "as the model", "value": "model"},
                                    {"label": "1 (grey)", "value": "1"},
                                    {"label": "3 (RGB)", "value": "3"},
                                ],
                            ),
                            "130px",
                        ),
                        _field(
                            "normalisation",
                            dbc.Select(
                                id="model-normalisation",
                                size="sm",
                                value="unit",
                                options=[
                                    {"label": label, "value": value}
                                    for value, label in data.NORMALISATION_LABELS.items()
                                ],
                            ),
                            "170px",
                        ),
                        _field(
                            "mean",
                            dbc.Input(
                                id="model-mean", size="sm", placeholder="0.5 or 0.485 0.456 0.406", debounce=True
                            ),
                            "170px",
                        ),
                        _field(
                            "std",
                            dbc.Input(id="model-std", size="sm", placeholder="0.5 or 0.229 0.224 0.225", debounce=True),
                            "170px",
                        ),
                        _field("", dbc.Checkbox(id="model-resize", value=True, label="resize to the model's input")),
                    ],
                    className="d-flex align-items-end flex-wrap",
                ),
                html.Div(id="model-plan", className="small text-muted"),
            ]
        ),
        className="mb-2",
    )
    capture = dbc.Card(
        dbc.CardBody(
            [
                html.Div("Capture", className="panel-title mb-1"),
                html.Div(
                    [
                        _field(
                            "conv maps",
                            dbc.RadioItems(
                                id="model-pooling",
                                inline=True,
                                value="mean",
                                options=[
                                    {
                                        "label": {"mean": "mean", "max": "max", "flatten": "flatten (PCA ≤ 512)"}[p],
                                        "value": p,
                                    }
                                    for p in face.POOLINGS
                                ],
                            ),
                        ),
                        _field(
                            "token sequences",
                            dbc.RadioItems(
                                id="model-pooling-sequences",
                                inline=True,
                                value="mean",
                                options=[
                                    {
                                        "label": {
                                            "mean": "mean over tokens",
                                            "cls": "first (CLS) token",
                                            "flatten": "flatten",
                                        }[p],
                                        "value": p,
                                    }
                                    for p in ("mean", "cls", "flatten")
                                ],
                            ),
                        ),
                        _field(
                            "per layer",
                            dbc.Input(
                                id="model-pooling-layers",
                                size="sm",
                                debounce=True,
                                placeholder="blocks.1=cls, head=flatten",
                            ),
                            "200px",
                        ),
                        _field(
                            "samples",
                            dbc.RadioItems(
                                id="model-sample",
                                inline=True,
                                value="per_class",
                                options=[
                                    {"label": "per class", "value": "per_class"},
                                    {"label": "all", "value": "all"},
                                ],
                            ),
                        ),
                        _field(
                            "per class",
                            dbc.Input(id="model-per-class", type="number", min=1, step=1, value=50, size="sm"),
                            "90px",
                        ),
                        _field(
                            "split",
                            dbc.Select(
                                id="model-split",
                                size="sm",
                                value="train",
                                options=[{"label": s, "value": s} for s in face.SPLITS],
                            ),
                            "100px",
                        ),
                        _field("", dbc.Checkbox(id="model-float16", value=False, label="float16")),
                        dbc.Button("Capture", id="model-capture", color="primary", size="sm", className="mb-2"),
                    ],
                    className="d-flex align-items-end flex-wrap",
                ),
            ]
        ),
        className="mb-2",
    )
    tree = dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.Span("Layers", className="panel-title me-3"),
                        html.Span(
                            "ticked: captured in network order (default: each top-level block, the penultimate "
                            "layer, the output) · each line: shape → what each pooling gives",
                            className="small text-muted",
                        ),
                    ]
                ),
                dbc.Checklist(
                    id="model-layers",
                    options=[],
                    value=[],
                    className="model-tree small",
                    style={"maxHeight": "420px", "overflowY": "auto", "fontFamily": "monospace"},
                ),
            ]
        ),
        className="mb-2",
    )
    return html.Div(
        [
            pick,
            html.Div(id="model-message", className="mb-2"),
            adapt,
            capture,
            tree,
            dcc.Store(id="model-tree"),
            dcc.Store(id="model-request", data=0),
        ]
    )
