"""The tabs, in tab order. Each view is a module (or a package) here exposing::

    TAB_ID: str      # component ids in the view start with f"{TAB_ID}-"
    LABEL: str       # the tab's title
    def layout(config: AppConfig) -> dash component
    def register_callbacks(app: dash.Dash, config: AppConfig) -> None
    TRAINS: str      # optional: the kind of run this tab trains; the shell's "New run…" menu
                     # lists that study (by its TITLE in models.studies) and opens this tab

Shell components a view may use (their ids are names in :mod:`dashboard.ids`: ``ids.DATASET_PICKER`` …):
``dataset-picker.value`` (dataset name),
``run-picker.value`` (run id), ``store-version.data`` (bumped whenever a job writes a run),
``focus.data`` (a jump between tabs: ``{"tab": …, …}``; the shell opens the tab, the tab
reads the rest), ``tabs.active_tab``, ``selection.data`` (the one selection every view reads and
writes, see :mod:`dashboard.selection`; ``selection-mode.data`` is the modifier of the last drag) and the job
panel through ``dashboard.jobs.job``. A view writes only ids that start with its own ``TAB_ID``, the
shell's ``focus`` and ``selection``, and the job panel.
"""

from __future__ import annotations

from types import ModuleType

from . import compare, data, explore, hardness, landscape, latent, layers, maps, methods, model

VIEWS: tuple[ModuleType, ...] = (data, layers, model, hardness, compare, methods, latent, maps, landscape, explore)


def load_views() -> list[ModuleType]:
    return list(VIEWS)
