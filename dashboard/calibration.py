"""How fast this machine trains the hardness grid, measured by the grids it has run.

The Hardness form shows an estimate of a grid's work before it starts. Costs measured on one machine
are wrong on another (2.7× too low on a person's laptop), so the estimate is scaled by what this
machine did: each finished grid records ``measured seconds / estimated seconds`` in
``<store>/.calibration.json``, and later estimates use the latest ratios (a median, so one busy
run does not swing it). Before the first grid the estimate says it is not calibrated yet; the job
panel then shows the time left from the first epoch on (:func:`dashboard.jobs.reporter`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

KEEP = 5  # the latest ratios kept


def _path(store_dir: str | os.PathLike) -> Path:
    return Path(store_dir) / ".calibration.json"


def ratios(store_dir: str | os.PathLike, what: str) -> list[float]:
    """The latest measured/estimated ratios of ``what`` (e.g. ``"hardness-grid"``); [] when none or unreadable."""
    try:
        found = json.loads(_path(store_dir).read_text()).get(what, [])
    except (OSError, ValueError, AttributeError):
        return []
    return [float(r) for r in found if isinstance(r, (int, float)) and 0 < r < 1e4][-KEEP:]


def factor(store_dir: str | os.PathLike, what: str) -> float | None:
    """The median ratio: multiply an estimate by it (None: this machine has not been measured yet)."""
    found = sorted(ratios(store_dir, what))
    if not found:
        return None
    mid = len(found) // 2
    return found[mid] if len(found) % 2 else (found[mid - 1] + found[mid]) / 2


def record(store_dir: str | os.PathLike, what: str, measured: float, estimated: float) -> None:
    """Add one run's ratio (ignored when either time is not positive); written atomically."""
    if not (measured > 0 and estimated > 0):
        return
    path = _path(store_dir)
    try:
        data = json.loads(path.read_text())
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data[what] = (ratios(store_dir, what) + [measured / estimated])[-KEEP:]
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
