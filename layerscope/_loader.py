"""Our computing package (the ``models`` folder beside this one) under a name that cannot clash.

A researcher's repository very often has a ``models`` package of its own, first on ``sys.path``;
importing ours by that name would either run their code or shadow theirs. So unless our own
``models`` is already the one imported under that name (the app, the tests, our command lines:
it is reused, so classes stay identical), the folder is loaded once as the package
``layerscope._core`` (every import inside it is relative) and nothing named ``models`` is touched.
The choice is made once, on first use; everything in ``layerscope`` reaches our code through
:func:`module`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

NAME = "layerscope._core"
FOLDER = Path(__file__).resolve().parent.parent / "models"
_core: ModuleType | None = None


def _is_ours(package: ModuleType | None) -> bool:
    where = getattr(package, "__file__", None)
    return where is not None and Path(where).resolve() == FOLDER / "__init__.py"


def core() -> ModuleType:
    """Our package: the ``models`` already imported if it is ours, else the folder loaded as ``NAME``."""
    global _core
    if _core is None:
        if _is_ours(sys.modules.get("models")):
            _core = sys.modules["models"]
        elif NAME in sys.modules:
            _core = sys.modules[NAME]
        else:
            spec = importlib.util.spec_from_file_location(
                NAME, FOLDER / "__init__.py", submodule_search_locations=[str(FOLDER)]
            )
            if spec is None or spec.loader is None:  # pragma: no cover - the folder ships beside this one
                raise ImportError(f"LayerScope's computing package is missing: {FOLDER}")
            package = importlib.util.module_from_spec(spec)
            sys.modules[NAME] = package
            try:
                spec.loader.exec_module(package)
            except BaseException:
                del sys.modules[NAME]
                raise
            _core = package
    return _core


def module(name: str) -> ModuleType:
    """Our module ``name`` (e.g. ``"studies.capture"``), imported under our package's name."""
    return importlib.import_module(f"{core().__name__}.{name}")
