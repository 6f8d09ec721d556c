"""The Hardness tab: per-layer KL of a study over its runs, one panel per activation (the
paper's Fig. 2), and hardness vs test accuracy. Clicking a bar opens that layer in Layers.

For a capture run (your own model) it shows the t-SNE KL of each captured layer on a balanced
sample of 1,000, a bar per step when the run holds several, computed by the Compute job and
cached (:func:`models.studies.capture.hardness_table`).

The Train form runs the study's grid (the seed paper's): several activations × depths × runs in
ONE run, with an estimate of the work shown before it starts (:func:`estimate`); the bars then show
one panel per activation and the depth picker offers the trained depths."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import NamedTuple

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from models.errors import UserError
from models.studies import capture as capture_face
from models.studies import hardness as study

from .. import calibration, figures, ids, state
from ..config import AppConfig
from ..jobs import Done, job

TAB_ID = "hardness"
LABEL = "Hardness"
KIND = study.KIND
KINDS = (KIND, "capture")  # a captured model draws here too
TRAINS = study.KIND  # "New run… → Layer hardness" opens this tab's grid form (Layers keeps its one-net form)

#: measured on this workbench's 2-core CPU (torch, one thread, width 100, mini-batch 32): one SGD step
#: costs about STEP_SECONDS + DEPTH_STEP_SECONDS per hidden layer; projecting one layer (exact t-SNE,
#: 1,000 steps, plus the quality scores) about LAYER_SECONDS + PAIR_SECONDS per pair of samples.
STEP_SECONDS, DEPTH_STEP_SECONDS = 3.5e-4, 8e-5
LAYER_SECONDS, PAIR_SECONDS = 0.5, 2e-6
BATCH = 32
CALIBRATION = "hardness-grid"  # the name this machine's measured speed is kept under (dashboard.calibration)


def estimate(
    activations, depths, runs, epochs, per_class, n_train: int | None, n_classes: int = 10
) -> tuple[int, float]:
    """(networks, seconds): a rough cost of a grid, from the measured per-step and per-layer costs above.

    ``n_train`` is the train split's size (None: unknown, then 1,500 samples, digits' size, is assumed).
    """
    acts, ds, runs, epochs = list(activations or []), [int(d) for d in depths or []], int(runs), int(epochs)
    networks = len(acts) * len(ds) * runs
    n = n_train or 1500
    steps = epochs * max(1, int(np.ceil(0.9 * n / BATCH)))  # 10 % held out for the validation loss
    train = sum(len(acts) * runs * steps * (STEP_SECONDS + DEPTH_STEP_SECONDS * d) for d in ds)
    sample = int(per_class) * n_classes
    layers = sum(len(acts) * runs * (d + 1) for d in ds) + 1  # hidden + logits per network, the input once
    return networks, train + layers * (LAYER_SECONDS + PAIR_SECONDS * sample**2)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _check(name, value, low, high):
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a whole number from {low} to {high}") from None
    if not low <= v <= high:
        raise UserError(f"{name} must be from {low} to {high} (got {v})")
    return v


def grid_values(activations, depths, runs, epochs, per_class) -> tuple[tuple, tuple, int, int, int]:
    """The form's values, checked, in the study's order (ValueError names the field to fix)."""
    acts = tuple(a for a in study.ACTIVATIONS if a in (activations or []))
    if not acts:
        raise UserError("tick at least one activation")
    ds = tuple(sorted({int(d) for d in depths or []}))
    if not ds:
        raise UserError(f"tick at least one depth (1 to {study.MAX_DEPTH})")
    return (
        acts,
        ds,
        _check("runs", runs, 1, 10),
        _check("epochs", epochs, 1, 500),
        _check("per class", per_class, 5, 1000),
    )


def _field(label, control, width=None):
    return html.Div(
        [dbc.Label(label, className="small mb-0"), control], className="me-3", style={"width": width} if width else None
    )


def train_form():
    number = lambda id_, value, low, high: dbc.Input(
        id=id_, type="number", min=low, max=high, step=1, value=value, size="sm"
    )
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.Span("Train a grid", className="panel-title me-3"),
                        _field(
                            "activations",
                            dbc.Checklist(
                                id="hardness-train-activations",
                                inline=True,
                                value=["relu", "tanh"],
                                options=[{"label": a, "value": a} for a in study.ACTIVATIONS],
                                className="small",
                            ),
                        ),
                        _field(
                            "depths (hidden layers)",
                            dbc.Checklist(
                                id="hardness-train-depths",
                                inline=True,
                                value=[3],
                                className="small",
                                options=[{"label": str(d), "value": d} for d in range(1, study.MAX_DEPTH + 1)],
                            ),
                        ),
                        _field("runs", number("hardness-train-runs", 2, 1, 10), "70px"),
                        _field("epochs", number("hardness-train-epochs", 20, 1, 500), "80px"),
                        _field("per class", number("hardness-train-per-class", 50, 5, 1000), "80px"),
                        dbc.Button("Train grid", id="hardness-train", color="primary", size="sm"),
                    ],
                    className="d-flex align-items-end flex-wrap",
                ),
                html.Div(id="hardness-estimate", className="small text-muted mt-1"),
                html.Div(id="hardness-train-running", className="small text-primary"),
                html.Div(id="hardness-train-result", className="small"),
            ]
        ),
        className="mb-2",
        id="hardness-train-card",
    )


def layout(config: AppConfig):
    return html.Div(
        [
            train_form(),
            html.Div(
                [
                    html.Div(
                        [
                            dbc.Label("depth", className="small mb-0 me-2"),
                            dbc.Select(id="hardness-depth", options=[], style={"width": "90px"}, size="sm"),
                        ],
                        id="hardness-depth-field",
                        className="d-flex align-items-center",
                    ),
                    dbc.Label("method", className="small mb-0 ms-3 me-2"),
                    dbc.Select(
                        id="hardness-method",
                        options=[{"label": "tsne", "value": "tsne"}],
                        value="tsne",
                        style={"width": "110px"},
                        size="sm",
                    ),
                    dbc.Button(
                        "Compute hardness",
                        id="hardness-compute",
                        color="primary",
                        size="sm",
                        className="ms-3",
                        style={"display": "none"},
                    ),
                    dcc.Store(id="hardness-computed", data=0),
                    html.Span("click a bar to open that layer in Layers", className="small text-muted ms-3"),
                ],
                className="d-flex align-items-center mb-2",
            ),
            dcc.Graph(
                id="hardness-bars", figure=figures.empty_figure("no hardness run yet"), config={"displaylogo": False}
            ),
            dbc.Row(
                [
                    dbc.Col(
                        dcc.Graph(
                            id="hardness-accuracy", figure=figures.empty_figure(""), config={"displaylogo": False}
                        ),
                        md=6,
                    ),
                    dbc.Col(html.Div(id="hardness-table", className="small"), md=6),
                ]
            ),
            html.Div(id="hardness-status", className="small text-muted"),
        ]
    )


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, dataset):
        return state.run_for_view(config, run_id, KINDS, dataset)

    @app.callback(
        Output("hardness-depth", "options"),
        Output("hardness-depth", "value"),
        Output("hardness-method", "options"),
        Output("hardness-compute", "style"),
        Output("hardness-depth-field", "style"),
        *state.RUN_INPUTS,
        State("hardness-depth", "value"),
    )
    def depths(run_id, _v, dataset, current):
        run, _ = shown(run_id, dataset)
        hidden = {"display": "none"}
        if run is None:
            return [], None, no_update, hidden, {}
        if capture_face.is_capture(run):  # a captured model has layers, not depths
            return [], None, [{"label": "tsne", "value": "tsne"}], {}, hidden
        ds = [int(d) for d in run.config.get("depths", [])]
        value = int(current) if current and int(current) in ds else (ds[0] if ds else None)
        methods = run.config.get("methods", ["tsne"])
        return (
            [{"label": str(d), "value": d} for d in ds],
            value,
            [{"label": m, "value": m} for m in methods],
            hidden,
            {},
        )

    @app.callback(
        Output("hardness-bars", "figure"),
        Output("hardness-accuracy", "figure"),
        Output("hardness-table", "children"),
        Output("hardness-status", "children"),
        Input(ids.RUN_PICKER, "value"),
        Input("hardness-depth", "value"),
        Input("hardness-method", "value"),
        Input(ids.STORE_VERSION, "data"),
        Input("hardness-computed", "data"),
        State(ids.DATASET_PICKER, "value"),
    )
    def draw(run_id, depth, method, _v, _computed, dataset):
        run, note = shown(run_id, dataset)
        if capture_face.is_capture(run):
            return (*capture_figures(config, run), note)
        if run is None or depth is None:
            return (
                figures.empty_figure("no hardness run yet: tick activations and depths above and press Train grid"),
                figures.empty_figure(""),
                "",
                note,
            )
        method = method or "tsne"
        rows = run.metrics.get("hardness", [])
        tables = study.kl_tables(rows, int(depth), method, run.config.get("activations", study.ACTIVATIONS))
        fig = figures.hardness_figure(tables, uirevision=f"hardness-{run.id}")
        acc = figures.hardness_accuracy_figure(
            study.accuracy_points(rows, study.networks(run), method), split=accuracy_split(run)
        )
        return fig, acc, _summary(run), note

    @app.callback(
        Output(ids.FOCUS, "data", allow_duplicate=True),
        Input("hardness-bars", "clickData"),
        State("hardness-depth", "value"),
        State("hardness-method", "value"),
        State(ids.RUN_PICKER, "value"),
        State(ids.DATASET_PICKER, "value"),
        prevent_initial_call=True,
    )
    def open_layer(click, depth, method, run_id, dataset):
        """A bar (or the mean line: run -1, shown as run 0) opens its network and layer in Layers."""
        run, _ = shown(run_id, dataset)
        if capture_face.is_capture(run) and click and click.get("points"):
            _, layer, number = click["points"][0]["customdata"]
            steps = capture_face.steps(run)
            step = steps[int(number)] if 0 <= int(number) < len(steps) else steps[-1]
            return {"tab": "layers", "run": run.id, "layer": layer, "step": step}
        if run is None or depth is None or not click or not click.get("points"):
            return no_update
        activation, layer, run_number = click["points"][0]["customdata"]
        network = study.network_name(activation, int(depth), max(0, int(run_number)))
        return {"tab": "layers", "run": run.id, "network": network, "layer": layer, "method": method or "tsne"}

    @app.callback(
        Output("hardness-estimate", "children"),
        Output("hardness-train", "disabled"),
        Input("hardness-train-activations", "value"),
        Input("hardness-train-depths", "value"),
        Input("hardness-train-runs", "value"),
        Input("hardness-train-epochs", "value"),
        Input("hardness-train-per-class", "value"),
        Input(ids.DATASET_PICKER, "value"),
    )
    def work_estimate(activations, depths, runs, epochs, per_class, dataset):
        """The work of the grid before it starts: networks × epochs ≈ time (an estimate)."""
        try:
            acts, ds, runs, epochs, per_class = grid_values(activations, depths, runs, epochs, per_class)
        except UserError as exc:
            return html.Span(f"fix the form: {exc}", className="text-danger"), True
        plan = grid_plan(config, dataset)
        networks, seconds = estimate(acts, ds, runs, epochs, per_class, plan.n_train, plan.n_classes)
        return promise(
            networks,
            acts,
            ds,
            runs,
            epochs,
            per_class,
            plan,
            seconds,
            calibration.factor(config.store_dir, CALIBRATION),
        ), False

    @job(
        app,
        trigger="hardness-train",
        states=[
            State(ids.DATASET_PICKER, "value"),
            State("hardness-train-activations", "value"),
            State("hardness-train-depths", "value"),
            State("hardness-train-runs", "value"),
            State("hardness-train-epochs", "value"),
            State("hardness-train-per-class", "value"),
        ],
        outputs=[Output("hardness-train-result", "children")],
        running=[
            (
                Output("hardness-train-running", "children"),
                "training the grid… (progress and Cancel in the job panel at the left)",
                "",
            )
        ],
        failed=lambda message: (html.Span(f"training failed: {message}", className="text-danger"),),
        title=lambda _ds, acts, depths, runs, *_: (
            f"hardness grid ({'/'.join(acts or [])}, depth {'/'.join(map(str, sorted(depths or [])))}, {runs} runs)"
        ),
    )
    def train(progress, dataset, activations, depths, runs, epochs, per_class):
        acts, ds, runs, epochs, per_class = grid_values(activations, depths, runs, epochs, per_class)
        cfg = study.Config(
            dataset=dataset or config.default_dataset,
            activations=acts,
            depths=ds,
            runs=runs,
            epochs=epochs,
            per_class=per_class,
            n_jobs=1,
        )
        plan = grid_plan(config, cfg.dataset)
        started = time.monotonic()
        run = study.run(cfg, store=config.store, data_dir=config.data_dir, progress=progress)
        # this machine's speed: the next estimate is scaled by measured / estimated
        calibration.record(
            config.store_dir,
            CALIBRATION,
            time.monotonic() - started,
            estimate(acts, ds, runs, epochs, per_class, plan.n_train, plan.n_classes)[1],
        )
        acc = run.metrics.get("mean_test_accuracy", float("nan"))
        message = f"trained {run.id}: {len(cfg.grid())} networks, mean test accuracy {acc:.3f}"
        return Done(run=run, message=message, values=(html.Span(message, className="text-success"),))

    @job(
        app,
        trigger="hardness-compute",
        outputs=[Output("hardness-computed", "data")],
        states=[State(ids.RUN_PICKER, "value"), State(ids.DATASET_PICKER, "value"), State("hardness-computed", "data")],
        title="hardness of the captured layers",
    )
    def compute(progress, run_id, dataset, computed):
        run, _ = shown(run_id, dataset)
        if not capture_face.is_capture(run):
            raise UserError("Compute scores a capture run's layers: pick one (Your model tab captures one)")
        names, table = capture_face.hardness_table(config.results, run, compute=True, progress=progress)
        worst = names[int(table[-1].argmax())]
        return Done(
            message=f"hardness of {len(names)} layers × {len(table)} steps of {run.id}; hardest: {worst}",
            values=((computed or 0) + 1,),
        )


class Plan(NamedTuple):
    """What a grid on a dataset trains on and embeds: sizes, and the split its sample comes from."""

    n_train: int | None  # None: the dataset cannot be loaded now
    n_classes: int
    test_counts: tuple[int, ...]  # samples per class of the set the t-SNE sample is drawn from
    train_split: str
    test_split: str


@lru_cache(maxsize=8)
def _plan(name: str, data_dir: str) -> Plan:
    from models import datasets

    train, test, _note = datasets.train_test(name, data_dir=data_dir)  # the study's own split of the data
    counts = tuple(int(c) for c in np.bincount(np.asarray(test.labels, dtype=np.int64)) if c)
    return Plan(train.n, train.n_classes, counts, train.split, test.split)


def grid_plan(config: AppConfig, dataset: str | None) -> Plan:
    """The grid's :class:`Plan` on ``dataset`` (the study's train/test split: both splits, or a
    held-out share of the only one present); unknown sizes when it cannot be loaded now."""
    try:
        return _plan(dataset or config.default_dataset, str(config.data_dir))
    except Exception:
        return Plan(None, 10, (), "train", "test")


def sample_size(plan: Plan, per_class: int) -> int | None:
    """How many samples the t-SNE of every layer sees: ``per_class`` of each class, all of a smaller one."""
    return sum(min(int(per_class), c) for c in plan.test_counts) if plan.test_counts else None


def sample_words(plan: Plan) -> str:
    """``test samples``, or ``samples held out of the train split`` when that is the only split present."""
    if plan.train_split != plan.test_split:
        return f"{plan.test_split} samples"
    return f"samples held out of the {plan.train_split} split (its only split)"


def promise(
    networks: int,
    acts,
    depths,
    runs: int,
    epochs: int,
    per_class: int,
    plan: Plan,
    seconds: float,
    factor: float | None,
) -> str:
    """The form's promise: what will be trained and embedded, on which split, and about how long it takes here."""
    size = f"{plan.n_train:,} training samples" if plan.n_train else "its training samples"
    n = sample_size(plan, per_class)
    sample = f"{n:,} {sample_words(plan)}" if n is not None else f"up to {per_class} {sample_words(plan)} per class"
    if factor is None:
        time_ = (
            f"≈ {_duration(seconds)} (a rough estimate, not yet measured on this machine: the first grid "
            "calibrates it; the Jobs panel shows the time left once training starts)"
        )
    else:
        time_ = f"≈ {_duration(seconds * factor)} on this machine (an estimate calibrated by the grids it has trained)"
    return (
        f"{networks} network{'s' * (networks > 1)} ({len(acts)} activation{'s' * (len(acts) > 1)} × "
        f"{len(depths)} depth{'s' * (len(depths) > 1)} × {runs} run{'s' * (runs > 1)}) × {epochs} epochs on "
        f"{size}, then t-SNE of every layer on {sample} {time_}"
    )


def capture_figures(config: AppConfig, run):
    """(bars, accuracy figure, table) of a capture run: empty with a hint until Compute has run."""
    found = capture_face.hardness_table(config.results, run)
    if found is None:
        return (
            figures.empty_figure(
                "press Compute hardness: t-SNE KL of every captured layer "
                f"(balanced sample of {capture_face.HARDNESS_SAMPLE:,})"
            ),
            figures.empty_figure(""),
            _capture_summary(run),
        )
    names, table = found
    bars = figures.hardness_figure(capture_face.hardness_tables(run, names, table), uirevision=f"hardness-{run.id}")
    records = run.manifest["capture"]["steps"]
    points = [
        {
            "activation": "capture",
            "name": f"step {r['step']}",
            "kl": float(np.nanmean(row[:-1] if len(row) > 1 else row)),
            "test_accuracy": r["accuracy"],
        }
        for r, row in zip(records, table)
        if r.get("accuracy") is not None
    ]
    return bars, figures.hardness_accuracy_figure(points, split=capture_face.split(run)), _capture_summary(run)


def accuracy_split(run) -> str:
    """The set a hardness run's accuracy was measured on: ``test``, or ``held-out`` when the study drew it
    from the only split present (its manifest's ``split`` note says so)."""
    if str(run.manifest.get("split", "")).startswith("only the"):
        return "held-out"
    return run.manifest.get("sample_split") or "test"


def _capture_summary(run):
    head = html.Tr([html.Th(h) for h in ("step", "model", "format", "accuracy")])
    body = [
        html.Tr(
            [
                html.Td(r["step"]),
                html.Td(r["model"]),
                html.Td(r["format"]),
                html.Td("–" if r.get("accuracy") is None else f"{r['accuracy']:.3f}"),
            ]
        )
        for r in run.manifest["capture"]["steps"]
    ]
    return dbc.Table([html.Thead(head), html.Tbody(body)], size="sm", striped=True, className="mb-0")


def _summary(run):
    """A small table: each network's test accuracy (reported beside every hardness figure)."""
    nets = study.networks(run)
    head = html.Tr([html.Th(h) for h in ("network", "test accuracy", "epochs", "lr")])
    body = [
        html.Tr(
            [html.Td(n["name"]), html.Td(f"{n['test_accuracy']:.3f}"), html.Td(n["epochs"]), html.Td(f"{n['lr']:g}")]
        )
        for n in nets
    ]
    return dbc.Table([html.Thead(head), html.Tbody(body)], size="sm", striped=True, className="mb-0")
