"""``create_app(config) -> dash.Dash``: the shell, every view, and the background manager."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, no_update

from models import studies
from models.datasets import DatasetError
from models.store import StoreError
from models.studies.project import projections_of

from . import ids, job_panel, legend, selection, state, tab_run
from . import upload_box as upload_view
from .config import AppConfig
from .contract import check_views
from .jobs import records_of
from .layout import shell
from .numbers import metric_text
from .security import guard_hosts, guard_requests, max_request_bytes
from .views import load_views


def background_manager(config: AppConfig):
    """``CeleryManager`` when ``REDIS_URL`` is set (workers may run elsewhere), else ``DiskcacheManager``."""
    if config.redis_url:
        from celery import Celery

        celery_app = Celery("layerscope", broker=config.redis_url, backend=config.redis_url)
        return dash.CeleryManager(celery_app)
    import diskcache

    config.cache_dir.mkdir(parents=True, exist_ok=True)
    from .fork_guard import GuardedDiskcacheManager
    from .job_records import JobRecords

    records = JobRecords(config.store_dir / ".jobs.sqlite")
    return GuardedDiskcacheManager(diskcache.Cache(str(config.cache_dir / "jobs")), on_terminate=records.forget_running)


def create_app(config: AppConfig | None = None) -> dash.Dash:
    config = config or AppConfig()
    config.store.cleanup()
    from models.datasets.upload import MAX_UPLOAD_BYTES, sweep_staging

    sweep_staging(config.data_dir)  # uploads whose page closed before their check ran
    views = load_views()
    check_views(views, config)  # a tab's id outside its prefix, or two tabs training one kind: fail at start
    app = dash.Dash(
        "layerscope",
        title="LayerScope",
        assets_folder=str(_assets()),
        background_callback_manager=background_manager(config),
    )  # callbacks are checked against the whole page (Dash builds the layout once as its validation layout)
    guard_hosts(app.server, config.host, config.allow_hosts)
    guard_requests(
        app.server,
        app.callback_map,
        max_request_bytes(MAX_UPLOAD_BYTES),
        upload_view.BIG_OUTPUT,
        app.config.routes_pathname_prefix,
    )
    app.server.config["LAYERSCOPE"] = config  # what jobs.job reads to find the job records
    app.layout = lambda: shell(config, views)  # a function: options are re-read on each page load
    _register_shell(app, config)
    selection.register(app)
    tab_run.register(app, config, views)
    legend.register(app)
    manager = app._background_manager
    workers = job_panel.celery_workers(manager.handle) if isinstance(manager, dash.CeleryManager) else None
    job_panel.register(app, records_of(app), workers)
    for view in views:
        view.register_callbacks(app, config)
    return app


def _assets():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "assets"


def _register_shell(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output(ids.DATASET_INFO, "children"), Input(ids.DATASET_PICKER, "value"))
    def dataset_info(name):
        try:
            ds = state.dataset(config, name)
        except (DatasetError, MemoryError) as exc:  # the message replaces the old count: nothing stale
            text = str(exc) if isinstance(exc, DatasetError) else f"{name}: out of memory while loading"
            return dbc.Alert(text, color="warning", className="small p-2 mb-0")
        line = state.dataset_line(ds)  # the split that is there: "10,000 test samples" for MNIST's test files
        skipped = ds.meta.get("skipped", 0)
        if not skipped:
            return line
        warnings = ds.meta.get("warnings", [])
        return [
            line,
            dash.html.Div(
                f"{skipped:,} unreadable image{'s' if skipped != 1 else ''} skipped",
                title="\n".join(warnings[:20]),
                className="text-warning",
                id=ids.DATASET_SKIPPED,
            ),
        ]

    @app.callback(
        Output(ids.RUN_PICKER, "options"),
        Output(ids.RUN_PICKER, "value"),
        Input(ids.DATASET_PICKER, "value"),
        Input(ids.STORE_VERSION, "data"),
        Input(ids.RUN_PICKER, "value"),
    )
    def run_options(name, _version, current):
        runs = config.store.list(dataset=name)
        if current and current not in {r.id for r in runs}:
            try:  # a run just made, or picked in a tab's bar, from another source (arrays, a model) stays picked
                picked = state.run(config, current)
                if ctx.triggered_id in (ids.STORE_VERSION, ids.RUN_PICKER):
                    runs = [picked, *runs]
            except StoreError:
                pass
        options = [{"label": state.run_label(r), "value": r.id} for r in runs]
        run_ids = {r.id for r in runs}
        value = current if current in run_ids else (runs[0].id if runs else None)
        if ctx.triggered_id == ids.RUN_PICKER:  # only the options follow a pick: the pick itself stands
            return options, no_update if value == current or not current else value
        return options, value

    @app.callback(
        Output(ids.RUN_INFO, "children"),
        Output(ids.RUN_DELETE_BUTTON, "disabled"),
        Output(ids.RUN_DELETE, "message"),
        Input(ids.RUN_PICKER, "value"),
    )
    def run_info(run_id):
        if not run_id:
            return "", True, no_update
        try:
            run = config.store.load(run_id)
        except StoreError as exc:
            return str(exc), True, no_update
        metrics = {k: v for k, v in run.metrics.items() if isinstance(v, (int, float))}
        text = ", ".join(f"{k} {metric_text(v)}" for k, v in list(metrics.items())[:6])
        gone = state.opened(run)[1]  # a projection run whose capture was deleted says so here too
        return (
            f"{run.id}" + (f" — {text}" if text else "") + (f" · {gone}" if gone else ""),
            False,
            delete_text(config, run_id),
        )

    @app.callback(
        Output(ids.TABS, "active_tab", allow_duplicate=True), Input(ids.FOCUS, "data"), prevent_initial_call=True
    )
    def open_focus(focus):
        """A view asked to show something in another tab (``focus.tab``); that tab reads the rest."""
        return focus["tab"] if isinstance(focus, dict) and focus.get("tab") else no_update

    @app.callback(
        Output(ids.TABS, "active_tab", allow_duplicate=True),
        Input({"type": "new-run", "tab": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def new_run(clicks):
        if not any(clicks or []):
            return no_update
        return ctx.triggered_id["tab"]

    @app.callback(
        Output(ids.STORE_VERSION, "data", allow_duplicate=True),
        Output(ids.SHELL_ALERT, "children"),
        Output(ids.SHELL_ALERT, "is_open"),
        Input(ids.RUN_DELETE, "submit_n_clicks"),
        State(ids.RUN_PICKER, "value"),
        State(ids.STORE_VERSION, "data"),
        prevent_initial_call=True,
    )
    def delete_run(_n, run_id, version):
        if not run_id:
            return no_update, no_update, no_update
        try:  # a capture's projection runs go with it (the confirmation named them: delete_text)
            studies.delete_run(config.store, run_id)
        except StoreError as exc:
            return no_update, str(exc), True
        return (version or 0) + 1, no_update, no_update


def delete_text(config: AppConfig, run_id: str) -> str:
    """The Delete run confirmation: it names the projection runs a capture run takes with it."""
    made = len(projections_of(config.store, run_id))
    if not made:
        return "Delete this run and its cached results? This cannot be undone."
    runs = f"{made} projection run{'s' if made != 1 else ''}"
    return f"Delete this run, its {runs} (made from it) and their cached results? This cannot be undone."
