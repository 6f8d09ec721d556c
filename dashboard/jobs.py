"""Background jobs: one shared job panel (progress bar, message, Cancel) for every view.

A view declares a long callback with ``**job_options("my-button")``: it then runs
in the background manager, moves the shared progress bar, disables its buttons
while running and is stopped by the panel's Cancel button (the manager terminates
the worker, so cancel really stops the work; results are written atomically, so a
cancelled job leaves nothing half-written). Inside, ``reporter(set_progress, …)``
turns ``models.progress`` callbacks into progress-bar updates.
"""
from __future__ import annotations

import time
import traceback
from typing import Any, Callable

from dash import Input, Output

from models.progress import Progress, ProgressFn

PROGRESS = [Output("job-progress", "value"), Output("job-progress", "label"), Output("job-message", "children")]
CANCEL = Input("job-cancel", "n_clicks")


def job_options(*buttons: str, extra_running: list | tuple = ()) -> dict[str, Any]:
    """Keyword arguments for ``app.callback`` that make a callback a cancellable background job."""
    running = [(Output(b, "disabled"), True, False) for b in buttons]
    running.append((Output("job-cancel", "disabled"), False, True))
    running.append((Output("job-progress", "animated"), True, False))
    running.extend(extra_running)
    return dict(background=True, progress=PROGRESS, progress_default=[0, "", ""],
                running=running, cancel=[CANCEL], prevent_initial_call=True)


def reporter(set_progress: Callable[[tuple], None], title: str, every: float = 0.25) -> ProgressFn:
    """A ``models.progress`` callback that forwards to the job panel.

    Updates within a phase (the same message: epochs, steps) go out at most every ``every``
    seconds; a new phase's first update and the end always go out, so a phase that starts
    right after a fast one (training in 0.3 s, then a long projection) never shows the old 0%.
    """
    last = {"time": 0.0, "message": None}

    def forward(p: Progress) -> None:
        now = time.monotonic()
        new_phase = p.message != last["message"]
        if p.fraction < 1.0 and not new_phase and now - last["time"] < every:
            return None
        last.update(time=now, message=p.message)
        metrics = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in p.metrics.items())
        pct = int(round(100 * p.fraction))
        set_progress((pct, f"{pct}%", f"{title}: {p.message}  {metrics}".strip()))
        return None

    return forward


def describe_error(exc: BaseException) -> str:
    """A message a person can act on: our own errors as they are, others with their type."""
    from models.datasets import DatasetError
    from models.store import StoreError

    known = (DatasetError, StoreError, ValueError, FileNotFoundError, FloatingPointError)
    if isinstance(exc, known):
        return str(exc)
    traceback.print_exception(exc)
    return f"{type(exc).__name__}: {exc}"
