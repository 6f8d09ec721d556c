"""A cache of computed results keyed by what produced them.

Projections, hardness scores and neighbour graphs are cached under a key such as
``{"run": id, "layer": 3, "method": "tsne", "params": {...}, "sample": "100pc-s0"}``
so that a second look is instant. Entries live next to the runs
(``<store>/.cache/<run>/<hash>.npz``), so every worker that reaches the store shares
them, and deleting a run's cache folder forgets its results. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .store import _NPZ_LOCK, to_jsonable

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def cache_key(key: Mapping[str, Any]) -> str:
    """A stable hash of a JSON-able key (order of dict items does not matter)."""
    text = json.dumps(to_jsonable(key), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResultCache:
    """Arrays plus a small JSON record per key, grouped by a namespace (usually a run id)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: Mapping[str, Any]) -> Path:
        group = _SAFE.sub("_", str(key.get("run", key.get("dataset", "misc"))))[:100] or "misc"
        return self.root / group / f"{cache_key(key)}.npz"

    def get(self, key: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            with _NPZ_LOCK, np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != "__meta__"}
                meta = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            return None  # a damaged entry is a miss, recomputed and overwritten
        return arrays, meta

    def put(
        self, key: Mapping[str, Any], arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None
    ) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        record = json.dumps(to_jsonable({"key": key, **(meta or {})}), allow_nan=False)
        np.savez(tmp, __meta__=np.array(record), **{k: np.asarray(v) for k, v in arrays.items()})
        os.replace(tmp, path)

    def get_or_compute(
        self, key: Mapping[str, Any], compute: Callable[[], tuple[Mapping[str, np.ndarray], Mapping[str, Any]]]
    ) -> tuple[dict[str, np.ndarray], dict]:
        """Return the cached result for ``key`` or compute, store and return it."""
        hit = self.get(key)
        if hit is not None:
            return hit
        arrays, meta = compute()
        self.put(key, arrays, meta)
        return self.get(key) or ({k: np.asarray(v) for k, v in arrays.items()}, dict(meta))

    def forget(self, group: str) -> None:
        shutil.rmtree(self.root / _SAFE.sub("_", group), ignore_errors=True)
