"""numba's on-disk cache for pynndescent's and umap-learn's compiled functions.

Why: both libraries compile most of their numba functions without ``cache=True``, so every process that
uses them — each job the app starts, each command — compiles them again: a 12,000 × 64 k-NN graph took 32 s in
a fresh process (3.6 s once compiled), a small UMAP 21 s. With numba's own cache turned on for those
functions (keyed by source file, signature and CPU; numba's ``enable_caching``) later processes read the
machine code from disk: 14 s and 12 s. The few that read dynamic globals (pynndescent's ``nn_descent``) cannot be
cached and are still compiled; numba's warning about them is silenced here.
"""

from __future__ import annotations

import sys
import warnings

PACKAGES = ("pynndescent", "umap")
_seen: set[str] = set()

warnings.filterwarnings("ignore", message="Cannot cache compiled function")  # numba's, for those it cannot cache


def enable(packages: tuple[str, ...] = PACKAGES) -> int:
    """Turn numba's cache on for the compiled functions of every loaded module of ``packages`` (call after
    importing them, before their first use); returns how many. Modules already seen are skipped, so calling this
    before each use costs microseconds. An optimisation only: a numba without these internals is left alone."""
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - another numba: compile as before
        return 0
    turned = 0
    for name, module in list(sys.modules.items()):
        if module is None or name in _seen or not name.startswith(tuple(f"{p}." for p in packages) + packages):
            continue
        _seen.add(name)
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(getattr(value, "_cache", None), NullCache):
                try:
                    value.enable_caching()
                    turned += 1
                except Exception:  # pragma: no cover - a function numba will not cache: compiled as before
                    pass
    return turned
