"""The shell contract, checked once at start: every tab names its components with its own prefix, and
at most one tab trains each kind of run.

A tab (a module or package in ``dashboard/views``, listed in ``VIEWS``) names its components
``f"{TAB_ID}-…"`` (a pattern-matching id carries ``"view": TAB_ID`` or a ``type`` with that prefix), so
two tabs never collide and a shell id is never taken; ``TRAINS = "<kind>"`` puts a study in the shell's
"New run…" menu, which opens that tab — two tabs claiming one kind would leave the menu keeping one in
silence. :func:`check_views` raises :class:`ContractError` naming every tab that breaks the contract.
Dash itself refuses a duplicate id in the page, and (``suppress_callback_exceptions`` is off) checks every
callback against the full layout; :func:`unknown_callback_ids` is that check where no browser runs.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Iterator

import dash
from dash._utils import split_callback_id

__all__ = ["ContractError", "check_views", "component_ids", "unknown_callback_ids"]


class ContractError(RuntimeError):
    """A tab breaks the shell contract (a bug in the tab, found at start)."""


def component_ids(component: Any) -> Iterator[str | dict]:
    """The ids of ``component`` and every component inside it."""
    if component is None or isinstance(component, (str, int, float)):
        return
    for c in [component, *component._traverse()]:  # Dash's own walk, as its duplicate-id check uses
        cid = getattr(c, "id", None)
        if cid is not None:
            yield cid


def _owned(cid: str | dict, tab: str) -> bool:
    if isinstance(cid, dict):
        return cid.get("view") == tab or str(cid.get("type", "")).startswith(f"{tab}-")
    return str(cid).startswith(f"{tab}-")


def check_views(views: list[ModuleType], config: Any) -> None:
    """Raise :class:`ContractError` when a tab names a component outside its prefix, two tabs share a
    ``TAB_ID``, or two tabs say they train the same kind of run."""
    problems: list[str] = []
    tab_of: dict[str, str] = {}
    trains: dict[str, list[str]] = {}
    for view in views:
        name, tab = view.__name__.rsplit(".", 1)[-1], view.TAB_ID
        if tab in tab_of:
            problems.append(f"views {tab_of[tab]} and {name} both have TAB_ID {tab!r}")
        tab_of[tab] = name
        kind = getattr(view, "TRAINS", None)
        if kind:
            trains.setdefault(kind, []).append(tab)
        foreign = sorted({str(cid) for cid in component_ids(view.layout(config)) if not _owned(cid, tab)})
        if foreign:
            problems.append(f"view {name}: ids {', '.join(foreign[:5])} must start with {tab + '-'!r}")
    for kind, tabs in trains.items():
        if len(tabs) > 1:
            problems.append(
                f'tabs {", ".join(tabs)} all say TRAINS = {kind!r}: "New run…" opens one tab per '
                "kind, so keep TRAINS on one of them"
            )
    if problems:
        raise ContractError("the tabs break the shell contract:\n  " + "\n  ".join(problems))


def _ids_of(spec: Any) -> Iterator[str]:
    for dep in spec if isinstance(spec, list) else [spec]:
        cid = dep["id"]
        if not cid.startswith("{"):  # pattern-matching ids match any number of components, none included
            yield cid.split("@")[0]


def unknown_callback_ids(app: dash.Dash) -> set[str]:
    """The plain ids some callback reads or writes that no component of ``app.validation_layout`` has."""
    known = {str(cid) for cid in component_ids(app.validation_layout)}
    used: set[str] = set()
    for key, callback in app.callback_map.items():
        used.update(_ids_of(split_callback_id(key)))
        used.update(_ids_of(callback.get("inputs", [])))
        used.update(_ids_of(callback.get("state", [])))
    return used - known
