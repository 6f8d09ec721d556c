"""The studies: one face module per study (see :mod:`models.studies.base` for the protocol).

``STUDIES`` names their modules in the order the UI lists them (a module is named for its kind, except
``project``, whose runs are of kind ``projection``); :func:`studies` imports their faces
(light: no torch) keyed by run kind, and :func:`study` finds one by kind. The command lines,
the dashboard's "New run…" menu and the tests all find studies here, so adding a study is
adding its module and its name below.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from types import ModuleType

STUDIES: tuple[str, ...] = ("hardness", "gne", "dnm", "landscape", "explore", "capture", "compare", "project")


@lru_cache(maxsize=1)
def studies() -> dict[str, ModuleType]:
    """Every study face, keyed by the kind of run it writes."""
    faces = [importlib.import_module(f"{__name__}.{name}") for name in STUDIES]
    return {face.KIND: face for face in faces}


def study(kind: str) -> ModuleType:
    """The face of the study that writes runs of ``kind``."""
    found = studies()
    if kind not in found:
        raise ValueError(f"kind must be one of {', '.join(found)} (got {kind!r})")
    return found[kind]


def delete_run(store, run_id: str) -> list[str]:
    """Delete run ``run_id`` with its cached results, and the runs made from it that mean nothing without it (a
    capture's projection runs) with theirs; the ids deleted, ``run_id`` first. A run that is not there raises
    ``StoreError`` and nothing is deleted. The UI's Delete run calls this, so no projection is left orphaned."""
    from ..cache import ResultCache
    from ..store import CACHE
    from .project import projections_of

    store.load(run_id)  # StoreError before anything is deleted
    gone = [run_id, *(r.id for r in projections_of(store, run_id))]
    results = ResultCache(store.root / CACHE)
    for rid in reversed(gone):  # the projections first: a crash midway leaves no orphan
        store.delete(rid)
        results.forget(rid)
    return gone
