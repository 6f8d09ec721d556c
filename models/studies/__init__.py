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
