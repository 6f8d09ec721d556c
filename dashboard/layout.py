"""The page shell: a header, a left panel (dataset, run, job panel) and the view tabs."""

from __future__ import annotations

from types import ModuleType

import dash_bootstrap_components as dbc
from dash import dcc, html

from . import ids, selection
from .config import AppConfig
from .job_panel import job_panel
from .state import dataset_options
from .tab_run import bar as tab_run_bar


def _panel(title: str, *children, **kwargs) -> dbc.Card:
    return dbc.Card(
        [dbc.CardHeader(title, className="panel-title"), dbc.CardBody(list(children))], className="panel mb-2", **kwargs
    )


def new_run_menu(views: list[ModuleType]) -> dbc.DropdownMenu:
    """ "New run…": one entry per study (``models.studies``) that a view trains; picks that view's tab."""
    from models.studies import studies

    tab_of = {getattr(v, "TRAINS", None): v.TAB_ID for v in views}
    items = [
        dbc.DropdownMenuItem(face.TITLE, id={"type": "new-run", "tab": tab_of[kind]})
        for kind, face in studies().items()
        if kind in tab_of
    ]
    return dbc.DropdownMenu(
        items or [dbc.DropdownMenuItem("no study installed", disabled=True)],
        label="New run…",
        id=ids.NEW_RUN_MENU,
        size="sm",
        color="primary",
        className="mt-2",
    )


def left_panel(config: AppConfig, views: list[ModuleType] = ()) -> html.Div:
    return html.Div(
        [
            _panel(
                "Dataset",
                dbc.Select(
                    id=ids.DATASET_PICKER,
                    options=dataset_options(config),
                    value=config.default_dataset,
                    persistence=True,
                    persistence_type="session",
                ),  # a reload keeps the tab's dataset
                html.Div(id=ids.DATASET_INFO, className="small text-muted mt-2"),
            ),
            _panel(
                "Run",
                dcc.Dropdown(
                    id=ids.RUN_PICKER,
                    options=[],
                    value=None,
                    placeholder="no run yet: train one in a tab",
                    clearable=True,
                    optionHeight=48,
                ),
                html.Div(id=ids.RUN_INFO, className="small text-muted mt-2"),
                html.Div(
                    [
                        new_run_menu(list(views)),
                        dcc.ConfirmDialogProvider(
                            dbc.Button(
                                "Delete run",
                                id=ids.RUN_DELETE_BUTTON,
                                color="secondary",
                                outline=True,
                                size="sm",
                                className="mt-2",
                                disabled=True,
                            ),
                            id=ids.RUN_DELETE,
                            message="Delete this run and its cached results? This cannot be undone.",
                        ),
                    ],
                    className="d-flex gap-2 align-items-start",
                ),
            ),
            job_panel(),
            dcc.Store(id=ids.STORE_VERSION, data=0),
            dcc.Store(id=ids.FOCUS, data=None),  # a jump between tabs, e.g. Hardness bar → Layers panel
            # the model picked in Your model, kept through a reload of this browser tab (restored without a new search)
            dcc.Store(id=ids.MODEL_KEPT, storage_type="session"),
        ],
        className="left-panel",
    )


def shell(config: AppConfig, views: list[ModuleType]) -> html.Div:
    """The whole page: header, left panel, tabs (one per view)."""
    tabs = dbc.Tabs(
        [dbc.Tab(view.layout(config), label=view.LABEL, tab_id=view.TAB_ID, id=f"tab-{view.TAB_ID}") for view in views],
        id=ids.TABS,
        active_tab=views[0].TAB_ID if views else None,
        className="view-tabs",
        persistence=True,
        persistence_type="session",
    )  # a reload keeps the open tab
    header = html.Div(
        [
            html.Span("LayerScope", className="brand"),
            html.Span("look inside neural networks through their embeddings", className="tagline"),
            selection.shell_components(),  # "N selected · Clear": the one selection every view shares
        ],
        className="app-header",
    )
    alert = dbc.Alert(id=ids.SHELL_ALERT, is_open=False, dismissable=True, color="danger", className="mb-2")
    return html.Div(
        [
            header,
            html.Div(
                [
                    html.Div(left_panel(config, views), className="sidebar"),
                    html.Div([alert, tab_run_bar(), tabs], className="main"),
                ],
                className="workspace",
            ),
        ],
        className="app",
    )
