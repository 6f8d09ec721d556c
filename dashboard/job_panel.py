"""The job panel: this tab's current job (bar, message, Cancel) and the list of recent jobs.

Everything here is drawn from the job records (:mod:`.job_records`), polled once a second
while a job runs: a reload or a second tab shows running jobs with live progress and a Cancel
each; a job whose process died shows as interrupted. The bar follows the newest running job
of this tab (its session id lives in the browser's sessionStorage, so it survives a reload).
"""

from __future__ import annotations

import json
import time
import uuid

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from . import ids
from .job_records import JobRecord

ACTIVE_POLL_MS = 500
IDLE_POLL_MS = 4000
HIDDEN = {"display": "none"}
STATUS_COLOUR = {
    "running": "primary",
    "cancelling": "warning",
    "done": "success",
    "failed": "danger",
    "cancelled": "secondary",
    "interrupted": "warning",
}


def job_panel() -> dbc.Card:
    """The left panel's "Jobs" card (ids ``job-*``, which tests and views rely on)."""
    return dbc.Card(
        [
            dbc.CardHeader("Jobs", className="panel-title"),
            dbc.CardBody(
                [
                    html.Div(
                        [  # this tab's running job: shown only while one runs (no empty bar, no dead Cancel at rest)
                            dbc.Progress(
                                id="job-progress",
                                value=0,
                                label="",
                                striped=True,
                                animated=False,
                                className="mb-2",
                                style={"height": "18px"},
                            ),
                            dbc.Button(
                                "Cancel",
                                id="job-cancel",
                                color="danger",
                                outline=True,
                                size="sm",
                                disabled=True,
                                className="mb-2",
                                title="Stop this tab's running jobs (nothing half-written is kept)",
                            ),
                        ],
                        id="job-current",
                        style=HIDDEN,
                    ),
                    html.Div(id="job-message", className="job-message small text-muted mb-2"),
                    html.Div(id="job-result", className="small mb-2"),
                    html.Div(id="job-list", className="job-list small mt-2"),
                    dcc.Store(id="job-list-drawn", data=None),  # what the list shows: redrawn only when that changes
                    html.Div(id="job-workers", className="small text-warning mt-1"),
                ]
            ),
            # one id per browser tab; sessionStorage keeps it through a reload (a new tab gets a new one)
            dcc.Store(id=ids.SESSION_ID, storage_type="session", data=uuid.uuid4().hex),
            dcc.Interval(id="job-poll", interval=IDLE_POLL_MS),
        ],
        className="panel mb-2",
        id="job-panel",
    )


def _age(seconds: float, coarse: bool = False) -> str:
    """``12 s`` / ``3 min`` / ``1.5 h``; ``coarse``: under a minute reads ``<1 min`` (an ended job's row
    then stays the same from one poll to the next, so the list is not redrawn every second)."""
    seconds = max(0.0, seconds)
    if coarse and seconds < 60:
        return "<1 min"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def job_row(job: JobRecord, session: str | None, now: float) -> html.Div:
    """One job: title, status (with this tab's marked), progress or outcome, Cancel or the run."""
    mine = job.owner == session
    badge = dbc.Badge(job.status, color=STATUS_COLOUR.get(job.status, "secondary"), className="me-1")
    head = html.Div(
        [
            badge,
            html.Span(job.title, className="fw-semibold"),
            html.Span(" · this tab" if mine else "", className="text-muted"),
        ]
    )
    children = [head]
    if job.active:
        pct = int(round(100 * job.progress))
        children.append(dbc.Progress(value=pct, label=f"{pct}%", className="my-1", style={"height": "12px"}))
        children.append(
            html.Div(
                [
                    html.Span(f"{job.message or 'starting'} · {_age(now - job.created)}", className="text-muted me-2"),
                    dbc.Button(
                        "Cancel",
                        id={"type": "job-row-cancel", "job": job.id},
                        size="sm",
                        color="danger",
                        outline=True,
                        className="py-0 px-1",
                        disabled=job.status == "cancelling",
                    ),
                ]
            )
        )
    else:
        tail = [
            html.Span(
                f"{job.message} · {_age(now - (job.ended or job.created), coarse=True)} ago", className="text-muted"
            )
        ]
        if job.run_id:
            tail.append(
                dbc.Button(
                    "open run",
                    id={"type": "job-row-open", "run": job.run_id},
                    size="sm",
                    color="link",
                    className="py-0 px-1",
                )
            )
        children.append(html.Div(tail))
    return html.Div(
        children,
        className="job-row" + (" job-row-mine" if mine else ""),
        id=f"job-row-{job.id}",
        key=job.id,
        **{"data-status": job.status},
    )  # keyed: updated in place


def list_signature(jobs: list[JobRecord], session: str | None, now: float) -> list:
    """What the job list shows, as data: the list is sent again only when this changes."""
    return [
        [
            j.id,
            j.status,
            j.owner == session,
            j.title,
            j.message,
            j.run_id,
            int(round(100 * j.progress)) if j.active else None,
            _age(now - j.created) if j.active else _age(now - (j.ended or j.created), coarse=True),
        ]
        for j in jobs
    ]


def panel_state(jobs: list[JobRecord], session: str | None, now: float) -> tuple:
    """(bar value, bar label, message, Cancel disabled, list rows, poll interval, bar animated, style of the
    bar and Cancel: hidden when this tab runs nothing) for this tab."""
    mine = [j for j in jobs if j.owner == session]
    active_mine = [j for j in mine if j.active]
    rows = [job_row(j, session, now) for j in jobs]
    interval = ACTIVE_POLL_MS if any(j.active for j in jobs) else IDLE_POLL_MS
    if active_mine:
        job = active_mine[0]
        pct = int(round(100 * job.progress))
        return pct, f"{pct}%", job.message or job.title, False, rows, interval, True, {}
    message = mine[0].message if mine else ""
    return 0, "", message, True, rows, interval, False, HIDDEN


def cancel_targets(triggered: list[dict], jobs: list[JobRecord], session: str | None) -> list[str]:
    """The jobs a cancel callback's triggers ask to stop: the panel's Cancel → every active job of this tab; a
    row's Cancel with clicks → that job. Every trigger is read, not only the first: while the poll redraws the
    list, Dash merges a click with the new rows' buttons (n_clicks None) into one call, and reading the first
    trigger alone dropped the click (a reloaded tab's Cancel did nothing)."""
    targets: list[str] = []
    for trigger in triggered:
        prop, value = trigger.get("prop_id", ""), trigger.get("value")
        if prop == "job-cancel.n_clicks" and value:
            targets += [j.id for j in jobs if j.active and j.owner == session]
        elif prop.startswith("{") and value:
            targets.append(json.loads(prop.rsplit(".", 1)[0])["job"])
    return list(dict.fromkeys(targets))


def celery_workers(celery_app, every: float = 10.0):
    """A function saying, at most every ``every`` seconds, whether any Celery worker answers."""
    last = {"time": -every, "text": ""}

    def status() -> str:
        if time.monotonic() - last["time"] >= every:
            try:
                answered = celery_app.control.ping(timeout=0.5)
            except Exception as exc:  # broker down
                answered, last["text"] = None, f"the job queue at REDIS_URL does not answer ({exc})"
            if answered is not None:
                last["text"] = (
                    ""
                    if answered
                    else (
                        "no worker is running: jobs wait in the queue until one starts "
                        "(celery -A dashboard.worker worker)"
                    )
                )
            last["time"] = time.monotonic()
        return last["text"]

    return status


def register(app: dash.Dash, records, workers=None) -> None:
    """The panel's callbacks; ``records`` is the app's :class:`JobRecords`; ``workers()`` (Celery
    only) says when no worker would pick a job up."""

    @app.callback(
        Output("job-progress", "value"),
        Output("job-progress", "label"),
        Output("job-message", "children"),
        Output("job-cancel", "disabled"),
        Output("job-list", "children"),
        Output("job-poll", "interval"),
        Output("job-progress", "animated"),
        Output("job-current", "style"),
        Output("job-workers", "children"),
        Output("job-list-drawn", "data"),
        Input("job-poll", "n_intervals"),
        Input(ids.SESSION_ID, "data"),
        Input("job-result", "children"),
        State("job-list-drawn", "data"),
    )
    def poll(_n, session, _result, drawn):
        records.reap()
        jobs, now = records.recent(limit=8), time.time()
        *head, rows, interval, animated, current = panel_state(jobs, session, now)
        signature = list_signature(jobs, session, now)
        if signature == drawn:  # nothing in the list changed: its rows (and their buttons) stay as they are
            rows, signature = no_update, no_update
        return (*head, rows, interval, animated, current, workers() if workers else "", signature)

    @app.callback(
        Output("job-poll", "n_intervals"),
        Input("job-cancel", "n_clicks"),
        Input({"type": "job-row-cancel", "job": ALL}, "n_clicks"),
        State(ids.SESSION_ID, "data"),
        State("job-poll", "n_intervals"),
        prevent_initial_call=True,
    )
    def cancel(_all, _rows, session, n):
        targets = cancel_targets(ctx.triggered, records.recent(limit=50), session)
        if not targets:
            return no_update
        for job_id in targets:
            records.request_cancel(job_id)
        return (n or 0) + 1  # redraw the panel now

    @app.callback(
        Output(ids.RUN_PICKER, "value", allow_duplicate=True),
        Input({"type": "job-row-open", "run": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_run(clicks):
        if not any(clicks or []) or not isinstance(ctx.triggered_id, dict):
            return no_update
        return ctx.triggered_id["run"]
