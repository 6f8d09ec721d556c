"""The tabs. Each view is a module here exposing::

    TAB_ID: str      # component ids in the view start with f"{TAB_ID}-"
    LABEL: str       # the tab's title
    def layout(config: AppConfig) -> dash component
    def register_callbacks(app: dash.Dash, config: AppConfig) -> None
    NEW_RUN: str     # optional: the "New run…" menu entry that opens this tab to train

Shell components a view may use: ``dataset-picker.value`` (dataset name),
``run-picker.value`` (run id), ``store-version.data`` (bumped whenever a job writes
a run; a job that saves a run outputs ``Output("store-version", "data",
allow_duplicate=True)``), ``tabs.active_tab``, and the job panel through
``dashboard.jobs.job_options``. ``ORDER`` lists the views in tab order; a module
that is not there yet is skipped, so each view is added by adding its module.
"""
from __future__ import annotations

import importlib
from types import ModuleType

ORDER = ["data", "layers", "hardness", "methods", "latent", "maps", "landscape", "explore"]


def load_views() -> list[ModuleType]:
    views = []
    for name in ORDER:
        try:
            views.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return views
