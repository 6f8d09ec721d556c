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
from dash import Input, Output, State, html, no_update

from models.errors import UserError
from models.progress import Cancelled, Progress, ProgressFn

from . import ids
from .fork_guard import job_threads

SESSION = State(ids.SESSION_ID, "data")  # one id per browser tab (sessionStorage): survives a reload


def job_options(*buttons: str, extra_running: list | tuple = ()) -> dict[str, Any]:
    """Keyword arguments for ``app.callback`` that make a callback a background job.

    The job panel (bar, message, Cancel) is drawn from the job records (see :mod:`.job_panel`),
    not from Dash's progress outputs, so it shows every job of the tab, after a reload too.
    """
    from .job_panel import ACTIVE_POLL_MS

    running = [(Output(b, "disabled"), True, False) for b in buttons]
    running.append((Output("job-poll", "interval"), ACTIVE_POLL_MS, ACTIVE_POLL_MS))  # the panel follows at once
    running.extend(extra_running)
    return dict(background=True, running=running, prevent_initial_call=True)


def reporter(send: Callable[[tuple], Any], title: str, every: float = 0.25) -> ProgressFn:
    """A ``models.progress`` callback that forwards ``(percent, label, message)`` to ``send``.

    Updates within a phase (the same message: epochs, steps) go out at most every ``every``
    seconds; a new phase's first update and the end always go out, so a phase that starts
    right after a fast one (training in 0.3 s, then a long projection) never shows the old 0%.
    Whatever ``send`` returns is passed back: True asks the job to stop.
    """
    last = {"time": 0.0, "message": None, "start": None}

    def forward(p: Progress) -> Any:
        now = time.monotonic()
        if last["start"] is None:
            last["start"] = now
        new_phase = p.message != last["message"]
        if p.fraction < 1.0 and not new_phase and now - last["time"] < every:
            return None
        last.update(time=now, message=p.message)
        metrics = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in p.metrics.items())
        pct = int(round(100 * p.fraction))
        left = time_left(now - last["start"], p.fraction)
        return send((pct, f"{pct}%", f"{title}: {p.message}  {metrics}".strip() + (f" · {left}" if left else "")))

    return forward


def time_left(elapsed: float, fraction: float, *, after: float = 3.0, least: float = 0.05) -> str:
    """``~2 min left``, measured on this job so far (its first epochs calibrate it, on whatever machine
    runs it); "" until it has run ``after`` seconds and done ``least`` of its work, and at the end."""
    if elapsed < after or not least <= fraction < 1.0:
        return ""
    seconds = elapsed * (1.0 - fraction) / fraction
    text = (
        f"{max(1, round(seconds))} s"
        if seconds < 90
        else (f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h")
    )
    return f"~{text} left"


def describe_error(exc: BaseException) -> str:
    """A message a person can act on: a :class:`~models.errors.UserError` as it is; anything else is a bug,
    named with its type, and its traceback goes to the log (stderr)."""
    if isinstance(exc, UserError):
        return str(exc)
    traceback.print_exception(exc)
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Done:
    """What a job's work returns: the run it saved (if any), the panel's message, and the values
    of the job's own ``outputs`` (in order)."""

    run: Any = None
    message: Any = None  # None: the panel's message is left as it is
    values: tuple = ()
    listed: Any = None  # a run the Jobs list offers to open without the job picking it (a reloaded tab's way back)


def error_alert(exc: BaseException) -> dbc.Alert:
    return dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0")


def records_of(app: dash.Dash):
    """The job records of the store the app serves (``create_app`` puts its config on the server)."""
    from .job_records import JobRecords

    return JobRecords(app.server.config["LAYERSCOPE"].store_dir / ".jobs.sqlite")


def job(
    app: dash.Dash,
    *,
    trigger: Input | str,
    inputs: Sequence[Input] = (),
    states: Sequence[State] = (),
    outputs: Sequence[Output] = (),
    title: str | Callable[..., str],
    buttons: Sequence[str] = (),
    running: Sequence = (),
    failed: Callable[[str], tuple] | None = None,
    initial: bool = False,
    status: str | None = None,
    panel_errors: bool = True,
) -> Callable:
    """Register ``work(progress, *state_values) -> Done`` as a cancellable background job.

    ``trigger`` is the button id (its ``n_clicks`` starts the job) or any ``Input``; ``inputs`` are
    further inputs that start it too (their values come first, then the ``states``'); ``buttons``
    (the trigger included) are disabled while it runs. ``outputs`` are the job's own outputs,
    filled from ``Done.values``; on an error they get ``failed(message)`` (default: unchanged) and
    the message goes to the job panel, on Cancel they stay unchanged and the panel says
    "cancelled". ``title`` (or ``title(*state_values)``) names the job in the job list.
    ``status`` names a :func:`job_status` in the view: it says "working…" while the job runs and
    then what came of it (done, failed with the message, cancelled), in the view itself.
    ``panel_errors=False`` keeps a failure out of the panel's result line (the job list still says
    it failed): for work whose view shows its own failure (``failed``), so no red box fills the
    sidebar while the person is on another tab.

    Every job is a record (:mod:`.job_records`) owned by the browser tab that started it: the
    tab's session id is one of the callback's arguments, so two tabs with the same settings get
    two jobs (Dash keys a background job by its arguments). Cancel is a request in the record
    that the job's progress callback (or its heartbeat, between reports) honours.
    """
    from .job_records import Heartbeat

    trigger_input = Input(trigger, "n_clicks") if isinstance(trigger, str) else trigger
    own_buttons = tuple(dict.fromkeys(([trigger] if isinstance(trigger, str) else []) + list(buttons)))
    shell = [
        Output(ids.STORE_VERSION, "data", allow_duplicate=True),
        Output(ids.RUN_PICKER, "value", allow_duplicate=True),
        Output("job-result", "children", allow_duplicate=True),
    ]
    if status:
        running = [
            *running,
            (Output(f"{status}-working", "style"), {}, {"display": "none"}),
            (Output(status, "style"), {"display": "none"}, {}),
        ]
    options = job_options(*own_buttons, extra_running=running)
    options["prevent_initial_call"] = "initial_duplicate" if initial else True
    n_own = len(outputs)
    records_path = app.server.config["LAYERSCOPE"].store_dir / ".jobs.sqlite"

    def say(label: str, text: str, how: str) -> tuple:
        """The view's own line for the job's end (nothing without ``status``)."""
        return (
            (html.Span(text if text.startswith(label) else f"{label}: {text}", className=f"job-status-{how}"),)
            if status
            else ()
        )

    def decorate(work: Callable[..., Done]) -> Callable:
        kind = getattr(work, "__module__", "job").rsplit(".", 1)[-1] + "." + work.__name__

        said = [Output(status, "children")] if status else []

        @app.callback(
            *shell,
            *said,
            *outputs,
            trigger_input,
            *inputs,
            *states,
            State(ids.STORE_VERSION, "data"),
            SESSION,
            **options,
        )
        @functools.wraps(work)
        def callback(_trigger, *args):
            from .job_records import JobRecords

            *values, version, session = args
            job_threads()  # torch's threads, held back in the web process, are the job's again
            label = title(*values) if callable(title) else title
            records = JobRecords(records_path)
            job_id = records.start(kind, label, session or "", {"values": values})
            with Heartbeat(records, job_id) as beat:

                def send(update: tuple) -> bool:
                    return records.report(job_id, update[0] / 100, update[2]) or beat.cancelled.is_set()

                try:
                    done = work(reporter(send, label), *values)
                except Cancelled:
                    records.finish(job_id, "cancelled", f"{label}: cancelled")
                    return (no_update, no_update, "cancelled", *say(label, "cancelled", "cancelled")) + (
                        no_update,
                    ) * n_own
                except Exception as exc:  # shown to the person in the panel, never a silent traceback
                    message = describe_error(exc)
                    records.finish(job_id, "failed", f"{label}: {message}")
                    own = failed(message) if failed else (no_update,) * n_own
                    result = error_alert(exc) if panel_errors else ""
                    return (no_update, no_update, result, *say(label, f"failed: {message}", "failed")) + tuple(own)
            run_id = getattr(done.run, "id", None)
            listed = run_id or getattr(done.listed, "id", None)
            text = done.message if isinstance(done.message, str) else ""
            if initial and listed is None:
                records.discard(job_id)  # a page-load job that went well: shown while it ran, not kept
            else:
                records.finish(job_id, "done", f"{label}: {text or 'done'}", listed)
            head = ((version or 0) + 1, run_id) if run_id else (no_update, no_update)
            said_ = say(label, text or "done", "done")
            return (*head, no_update if done.message is None else done.message, *said_, *done.values)

        return callback

    return decorate


def job_status(id_: str, idle: str = "") -> html.Div:
    """Where a view says how its job went: "working…" while it runs (the bar is in the Jobs panel),
    then done, failed (with the message) or cancelled. Pass ``status=id_`` to :func:`job`."""
    return html.Div(
        [
            html.Span(
                [
                    html.Span(className="spinner-border spinner-border-sm me-2", role="status"),
                    "working… (progress and Cancel in the Jobs panel)",
                ],
                id=f"{id_}-working",
                className="job-status-working",
                style={"display": "none"},
            ),
            html.Span(idle, id=id_),
        ],
        className="job-status small",
    )
