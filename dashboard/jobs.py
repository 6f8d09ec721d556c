"""Background jobs: one shared job panel (progress bar, message, Cancel) for every view.

A view declares its long work with :func:`job`; the work function receives a
``models.progress`` callback and the values of its states, and returns a :class:`Done`.
The decorator does the rest, the same way for every tab: runs it in the background
manager, moves the shared progress bar, disables the view's buttons while running, stops
it from the panel's Cancel button (the manager terminates the worker, so cancel really
stops the work; results are written atomically, so a cancelled job leaves nothing
half-written), turns errors into a message in the panel, and, when the work saved a run,
bumps ``store-version`` and selects the new run in the session that started the job.
"""
from __future__ import annotations

import functools
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, no_update

from models.progress import Cancelled, Progress, ProgressFn

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


@dataclass(frozen=True)
class Done:
    """What a job's work returns: the run it saved (if any), the panel's message, and the values
    of the job's own ``outputs`` (in order)."""

    run: Any = None
    message: Any = None   # None: the panel's message is left as it is
    values: tuple = ()


def error_alert(exc: BaseException) -> dbc.Alert:
    return dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")


def job(app: dash.Dash, *, trigger: Input | str, states: Sequence[State] = (), outputs: Sequence[Output] = (),
        title: str | Callable[..., str], buttons: Sequence[str] = (), running: Sequence = (),
        failed: Callable[[str], tuple] | None = None, initial: bool = False) -> Callable:
    """Register ``work(progress, *state_values) -> Done`` as a cancellable background job.

    ``trigger`` is the button id (its ``n_clicks`` starts the job) or any ``Input``; ``buttons``
    (the trigger included) are disabled while it runs. ``outputs`` are the job's own outputs,
    filled from ``Done.values``; on an error they get ``failed(message)`` (default: unchanged) and
    the message goes to the job panel, on Cancel they stay unchanged and the panel says
    "cancelled". ``title`` (or ``title(*state_values)``) prefixes the progress messages.
    """
    trigger_input = Input(trigger, "n_clicks") if isinstance(trigger, str) else trigger
    own_buttons = tuple(dict.fromkeys(([trigger] if isinstance(trigger, str) else []) + list(buttons)))
    shell = [Output("store-version", "data", allow_duplicate=True),
             Output("run-picker", "value", allow_duplicate=True),
             Output("job-result", "children", allow_duplicate=True)]
    options = job_options(*own_buttons, extra_running=running)
    options["prevent_initial_call"] = "initial_duplicate" if initial else True
    n_own = len(outputs)

    def decorate(work: Callable[..., Done]) -> Callable:
        @app.callback(*shell, *outputs, trigger_input, *states, State("store-version", "data"), **options)
        @functools.wraps(work)
        def callback(set_progress, _trigger, *args):
            *values, version = args
            label = title(*values) if callable(title) else title
            try:
                done = work(reporter(set_progress, label), *values)
            except Cancelled:
                return (no_update, no_update, "cancelled") + (no_update,) * n_own
            except Exception as exc:  # shown to the person in the panel, never a silent traceback
                own = failed(describe_error(exc)) if failed else (no_update,) * n_own
                return (no_update, no_update, error_alert(exc)) + tuple(own)
            run_id = getattr(done.run, "id", None)
            head = ((version or 0) + 1, run_id) if run_id else (no_update, no_update)
            return (*head, no_update if done.message is None else done.message, *done.values)

        return callback

    return decorate
