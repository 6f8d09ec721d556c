"""The Layers tab: every representation of a study's network side by side, linked.

One figure of Scattergl subplots (input, hidden 1…L, logits) under the chosen
projection, each panel aligned to the previous one (orthogonal Procrustes) so a
cluster can be followed. A box/lasso selection in any panel highlights the same
samples everywhere, computed and drawn in the page (``assets/selection.js``, the figure marked by
:func:`dashboard.selection.mark`); hover shows the sample's
image, label and prediction. The Train form runs the hardness study as a job. A jump
from another tab (the shell's ``focus`` store with ``tab == "layers"``) picks the network
and projection and marks the layer it names.

A capture run (your own model, :mod:`.model`) shows every captured layer the same way; its
maps are computed by the Project job (a projection run: t-SNE or UMAP start each layer from the
previous layer's map, PCA projects each on its own), and a step slider appears when the run holds
several checkpoints. Picking a projection run in the Run picker opens its capture here, drawn with it.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Input, Output, Patch, State, ctx, dcc, html, no_update

from models.errors import UserError
from models.projections import procrustes_align
from models.store import StoreError
from models.studies import capture as capture_face
from models.studies import hardness as study
from models.studies import project as project_face

from .. import capture_panels, figures, ids, legend, state
from .. import selection as sel
from ..cards import point_position
from ..config import AppConfig
from ..hardness_samples import hover_card, sample_classes
from ..jobs import Done, describe_error, job, job_status

TAB_ID = "layers"
PROJECTING = "working… laying out the captured layers (progress and Cancel in the Jobs panel)"
LABEL = "Layers"
KIND = study.KIND
KINDS = (KIND, "capture")  # a captured model draws here too


def panels_for(run, network: str, method: str) -> list[tuple[str, np.ndarray]]:
    """(layer, aligned coordinates) for every layer of ``network`` under ``method``."""
    layers = study.network_record(run, network)["layers"]
    coords = {**state.arrays(run, "proj-input"), **state.arrays(run, f"proj-{network}")}
    panels, previous = [], None
    for layer in layers:
        xy = coords[f"{method}.{layer}"]
        xy = procrustes_align(xy, previous) if previous is not None else xy
        panels.append((layer, xy))
        previous = xy
    return panels


def focus_for(focus, run) -> dict:
    """The shell's ``focus`` when it is a jump to this tab for ``run``, else ``{}``."""
    if isinstance(focus, dict) and focus.get("tab") == TAB_ID and run is not None and focus.get("run") == run.id:
        return focus
    return {}


def marked(jump: dict):
    """The panels a jump marks: ``layers`` (Compare's clicked pair) or its one ``layer`` (Hardness)."""
    return jump.get("layers") or jump.get("layer")


def _field(label, control, width=None):
    return html.Div(
        [dbc.Label(label, className="small mb-0"), control], className="me-2", style={"width": width} if width else None
    )


def layout(config: AppConfig):
    controls = html.Div(
        [
            html.Div(
                _field("network", dcc.Dropdown(id="layers-network", options=[], clearable=False), "220px"),
                id="layers-network-box",
            ),
            _field(
                "projection",
                dbc.Select(id="layers-method", options=[{"label": "tsne", "value": "tsne"}], value="tsne"),
                "120px",
            ),
            _field(
                "colour by",
                dbc.RadioItems(
                    id="layers-colour",
                    inline=True,
                    value="label",
                    options=[{"label": v, "value": v} for v in ("label", "prediction", "correct")],
                ),
            ),
            html.Div(
                [
                    _field("step", dcc.Slider(id="layers-step", min=0, max=1, step=None, value=0, marks={}), "340px"),
                ],
                id="layers-step-box",
                style={"display": "none"},
            ),
            dbc.Button(
                "Project", id="layers-project", color="primary", size="sm", className="me-2", style={"display": "none"}
            ),
            job_status("layers-project-job"),  # "working…" while the layers are laid out, then how it went
            dcc.Store(id="layers-projected", data=0),
            dcc.Store(id="layers-shown", data=None),  # {run, network, space, traces}: what the figure shows
            dbc.Button(
                "Export CSV",
                id="layers-export",
                color="secondary",
                outline=True,
                size="sm",
                className="ms-auto",
                title="Every point of every layer; with a selection, a `selected` column marks it (1 = selected, "
                "0 = not)",
            ),
            dcc.Download(id="layers-download"),
        ],
        className="d-flex align-items-end flex-wrap mb-2",
    )
    train = dbc.Card(
        dbc.CardBody(
            html.Div(
                [
                    html.Span("Train", className="panel-title me-3"),
                    _field(
                        "depth",
                        dbc.Input(
                            id="layers-depth", type="number", min=1, max=study.MAX_DEPTH, step=1, value=3, size="sm"
                        ),
                        "80px",
                    ),
                    _field(
                        "activation",
                        dbc.Select(
                            id="layers-activation",
                            size="sm",
                            value="relu",
                            options=[{"label": a, "value": a} for a in study.ACTIVATIONS],
                        ),
                        "110px",
                    ),
                    _field(
                        "runs",
                        dbc.Input(id="layers-runs", type="number", min=1, max=10, step=1, value=2, size="sm"),
                        "70px",
                    ),
                    _field(
                        "epochs",
                        dbc.Input(id="layers-epochs", type="number", min=1, max=500, step=1, value=20, size="sm"),
                        "80px",
                    ),
                    _field(
                        "per class",
                        dbc.Input(id="layers-per-class", type="number", min=5, max=1000, step=1, value=50, size="sm"),
                        "80px",
                    ),
                    dbc.Button("Train", id="layers-train", color="primary", size="sm"),
                    job_status("layers-job"),
                ],
                className="d-flex align-items-end flex-wrap",
            )
        ),
        className="mb-2",
        id="layers-train-card",
    )
    return html.Div(
        [
            train,
            controls,
            legend.legend(TAB_ID),
            html.Div(
                PROJECTING, id="layers-projecting", className="layers-projecting text-muted", style={"display": "none"}
            ),  # in the graph's place while Project runs
            dcc.Graph(
                id="layers-graph",
                figure=figures.empty_figure("pick or train a hardness run"),
                clear_on_unhover=True,
                # WebGL at the page's own resolution: Plotly's default (2×) draws 4× the pixels, and a software
                # renderer redraws 6 × 70,000 points in ~2 s instead of ~1 s (bench.ui_browser)
                config={
                    "displaylogo": False,
                    "scrollZoom": True,
                    "toImageButtonOptions": {"format": "svg"},
                    "plotGlPixelRatio": 1,
                },
            ),
            dcc.Tooltip(id="layers-tooltip", direction="right"),
            html.Div(id="layers-status", className="small text-muted"),
        ]
    )


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, dataset):
        return state.run_for_view(config, run_id, KINDS, dataset)

    @app.callback(
        Output("layers-step", "min"),
        Output("layers-step", "max"),
        Output("layers-step", "marks"),
        Output("layers-step", "value"),
        Output("layers-step-box", "style"),
        Output("layers-project", "style"),
        Output("layers-network-box", "style"),
        Output("layers-train-card", "style"),
        *state.RUN_INPUTS,
        Input(ids.FOCUS, "data"),
    )
    def capture_controls(run_id, _version, dataset, focus):
        run, _ = shown(run_id, dataset)
        if not capture_face.is_capture(run):
            return 0, 1, {}, 0, {"display": "none"}, {"display": "none"}, {}, {}
        low, high, marks, value, style = capture_panels.step_controls(run)
        projection = picked_projection(config, run_id, run) if ctx.triggered_id in (None, ids.RUN_PICKER) else None
        value = int(project_face.info(projection)["step"]) if projection is not None else value  # the step it projects
        jump = focus_for(focus, run)
        value = int(jump["step"]) if jump.get("step") is not None and int(jump["step"]) in marks else value
        return low, high, marks, value, style, {}, {"display": "none"}, {"display": "none"}

    @app.callback(
        Output(ids.RUN_PICKER, "value", allow_duplicate=True),
        Input(ids.FOCUS, "data"),
        State(ids.RUN_PICKER, "value"),
        prevent_initial_call=True,
    )
    def jump_run(focus, run_id):
        """A jump here naming another run of this tab's kinds (Compare's run A) picks that run."""
        jump = focus if isinstance(focus, dict) and focus.get("tab") == TAB_ID else {}
        if not jump.get("run") or jump["run"] == run_id:
            return no_update
        try:
            return focus["run"] if state.run(config, focus["run"]).kind in KINDS else no_update
        except Exception:
            return no_update

    @app.callback(
        Output("layers-network", "options"),
        Output("layers-network", "value"),
        Output("layers-method", "options"),
        Output("layers-method", "value"),
        *state.RUN_INPUTS,
        Input(ids.FOCUS, "data"),
        State("layers-network", "value"),
        State("layers-method", "value"),
    )
    def networks(run_id, _version, dataset, focus, current, method):
        run, _ = shown(run_id, dataset)
        if run is None:
            return [], None, no_update, no_update
        if capture_face.is_capture(run):
            methods = list(project_face.PROJECT_METHODS)
            projection = picked_projection(config, run_id, run) if ctx.triggered_id in (None, ids.RUN_PICKER) else None
            method = project_face.info(projection)["method"] if projection is not None else method  # as it projects
            return [], None, [{"label": m, "value": m} for m in methods], method if method in methods else methods[0]
        nets = study.networks(run)
        names = [n["name"] for n in nets]
        methods = list(run.config.get("methods", ["tsne"]))
        jump = focus_for(focus, run) if ctx.triggered_id == ids.FOCUS else {}
        current = jump.get("network", current)
        method = jump.get("method", method)
        return (
            [{"label": f"{n['name']} (acc {n['test_accuracy']:.2f})", "value": n["name"]} for n in nets],
            current if current in names else (names[0] if names else None),
            [{"label": m, "value": m} for m in methods],
            method if method in methods else methods[0],
        )

    @app.callback(
        Output("layers-graph", "figure"),
        Output("layers-status", "children"),
        Output("layers-shown", "data"),
        Input(ids.RUN_PICKER, "value"),
        Input("layers-network", "value"),
        Input("layers-method", "value"),
        Input("layers-colour", "value"),
        Input(ids.FOCUS, "data"),
        Input("layers-step", "value"),
        Input("layers-projected", "data"),
        State(ids.DATASET_PICKER, "value"),
        State(legend.store_id(TAB_ID), "data"),
    )
    def draw(run_id, network, method, colour, focus, step, _projected, dataset, hidden):
        run, note = shown(run_id, dataset)
        if capture_face.is_capture(run):
            try:
                method = method or "tsne"
                projection = picked_projection(config, run_id, run)  # picked in the Run picker: drawn
                jump = marked(focus_for(focus, run))
                fig, text = capture_panels.figure(config, run, step, method, colour, jump, projection)
                index = capture_panels.sample_index(config, run, step, method, projection)
            except Exception as exc:
                return figures.empty_figure(describe_error(exc)), note, None
            if index is None:
                return fig, " · ".join(filter(None, (note, text))), None
            where = capture_panels.selection_space(run)
            labels, _ = capture_classes(config, {"run": run.id, "step": step})
            # drawn plain: the page paints the selection over it (assets/selection.js), WebGL never dims
            for trace in fig.data:  # the class chips above replace the colour bar; hidden classes stay faded
                trace.marker.showscale = False
                trace.marker.opacity = legend.opacity(labels, hidden)
            sel.mark(fig, where, range(len(fig.data)))  # box/lasso computed and highlighted in the page
            return (
                fig,
                " · ".join(filter(None, (note, text))),
                {
                    "run": run.id,
                    "step": step,
                    "method": method,
                    "space": where,
                    "traces": len(fig.data),
                    "projection": projection.id if projection is not None else None,
                },
            )
        if run is None or not network:
            return figures.empty_figure("no hardness run yet: use Train above"), note, None
        try:
            panels = panels_for(run, network, method)
            sample = state.arrays(run, "sample")
            preds = state.arrays(run, f"act-{network}")["predictions"]
            ds = state.dataset(config, run.manifest.get("dataset"), "test")
        except Exception as exc:
            return figures.empty_figure(describe_error(exc)), note, None
        jump = focus_for(focus, run)
        layer = marked(jump) if jump.get("network") == network else None
        where = sel.space(run.manifest.get("dataset"), "test")
        fig = figures.layers_figure(
            panels,
            sample["labels"],
            ds.class_names,
            predictions=preds,
            index=sample["index"],
            colour=colour,
            focus=layer,
            uirevision=f"layers-{run.id}-{network}-{method}",
        )
        for trace in fig.data:  # the classes hidden in the legend stay faded
            trace.marker.opacity = legend.opacity(sample["labels"], hidden)
        sel.mark(fig, where, range(len(panels)))  # box/lasso computed and highlighted in the page
        kls = " · ".join(f"{k} KL {v:.3f}" for k, v in study.layer_kls(run, network, method).items())
        text = (
            f"{len(sample['labels'])} test samples · {method} · {kls} · box/lasso selects in every panel "
            "(Shift adds, Alt subtracts, Esc clears)"
        )
        return (
            fig,
            " · ".join(filter(None, (note, text))),
            {"run": run.id, "network": network, "space": where, "traces": len(panels)},
        )

    def classes(shown_):
        """The clickable class legend, for a captured model's panels as for a hardness run's sample."""
        return capture_classes(config, shown_) if "step" in shown_ else sample_classes(config, shown_)

    legend.connect(app, TAB_ID, "layers-graph", "layers-shown", classes)

    @app.callback(
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Output("layers-graph", "figure", allow_duplicate=True),
        Input("layers-graph", "selectedData"),
        State("layers-shown", "data"),
        State(ids.SELECTION, "data"),
        State(ids.SELECTION_MODE, "data"),
        prevent_initial_call=True,
    )
    def select(selected, shown_, selection, mode):
        """A box/lasso (or a click on a point) in any panel sets the one selection (Shift adds, Alt subtracts).

        A deselect (None) is not handled here: the person's own (a click off the points, a double-click)
        clears through assets/selection.js, Plotly's after :func:`sel.drop_outline` must not."""
        if not shown_ or not sel.is_drag(selected):
            return no_update, no_update
        index = shown_index(config, shown_)
        ids = {int(index[point_position(p)]) for p in selected.get("points") or []}
        return sel.combine(selection, shown_["space"], ids, mode), sel.drop_outline()

    # every panel's highlight of the one selection: assets/selection.js (the figure is marked with sel.mark), in the
    # page, visible graphs only; the server patches no selectedpoints lists

    @app.callback(
        Output("layers-tooltip", "show"),
        Output("layers-tooltip", "bbox"),
        Output("layers-tooltip", "children"),
        Input("layers-graph", "hoverData"),
        State(ids.RUN_PICKER, "value"),
        State("layers-network", "value"),
        State(ids.DATASET_PICKER, "value"),
        State("layers-step", "value"),
        State("layers-method", "value"),
    )
    def hover(hover_data, run_id, network, dataset, step, method):
        run, _ = shown(run_id, dataset) if hover_data else (None, "")
        if hover_data and capture_face.is_capture(run):
            point = hover_data["points"][0]
            projection = picked_projection(config, run_id, run)
            names = capture_panels.panel_names(config, run, step, method or "tsne", projection)
            curve = int(point.get("curveNumber", 0))
            return (
                True,
                point["bbox"],
                capture_panels.card(
                    config, run, step, point_position(point), names[curve] if curve < len(names) else None
                ),
            )
        if not hover_data or not network or run is None:
            return False, no_update, no_update
        point = hover_data["points"][0]
        layers = study.network_record(run, network)["layers"]
        curve = int(point.get("curveNumber", 0))
        return (
            True,
            point["bbox"],
            hover_card(config, run, network, point_position(point), layers[curve] if curve < len(layers) else None),
        )

    @app.callback(
        Output("layers-download", "data"),
        Input("layers-export", "n_clicks"),
        State(ids.RUN_PICKER, "value"),
        State("layers-network", "value"),
        State("layers-method", "value"),
        State(ids.DATASET_PICKER, "value"),
        State(ids.SELECTION, "data"),
        prevent_initial_call=True,
    )
    def export(_n, run_id, network, method, dataset, selection):
        run, _ = shown(run_id, dataset)
        if run is None or not network or capture_face.is_capture(run):
            return no_update
        picked = sel.ids_in(selection, sel.space(run.manifest.get("dataset"), "test"))
        suffix = f"-{len(picked)}-selected" if picked else ""
        return dict(
            content=projection_csv(run, network, method, picked), filename=f"{run.id}-{network}-{method}{suffix}.csv"
        )

    @job(
        app,
        trigger="layers-train",
        status="layers-job",
        states=[
            State(ids.DATASET_PICKER, "value"),
            State("layers-depth", "value"),
            State("layers-activation", "value"),
            State("layers-runs", "value"),
            State("layers-epochs", "value"),
            State("layers-per-class", "value"),
        ],
        title=lambda _dataset, depth, activation, *_: f"hardness study ({activation}, depth {depth})",
    )
    def train(progress, dataset, depth, activation, runs, epochs, per_class):
        cfg = study.Config(
            dataset=dataset or config.default_dataset,
            depths=(int(depth or 3),),
            activations=(activation,),
            runs=int(runs or 1),
            epochs=int(epochs or 20),
            per_class=int(per_class or 50),
            n_jobs=1,
        )
        run = study.run(cfg, store=config.store, data_dir=config.data_dir, progress=progress)
        acc = run.metrics.get("mean_test_accuracy", float("nan"))
        return Done(run=run, message=f"trained {run.id}: mean test accuracy {acc:.3f}")

    @job(
        app,
        trigger="layers-project",
        outputs=[Output("layers-projected", "data")],
        status="layers-project-job",
        running=[
            (Output("layers-graph", "style"), {"display": "none"}, {}),
            (Output("layers-projecting", "style"), {}, {"display": "none"}),
        ],
        states=[
            State(ids.RUN_PICKER, "value"),
            State(ids.DATASET_PICKER, "value"),
            State("layers-step", "value"),
            State("layers-method", "value"),
            State("layers-projected", "data"),
        ],
        title=lambda _run, _ds, step, method, _n: f"project captured layers ({method or 'tsne'}, step {step})",
    )
    def project(progress, run_id, dataset, step, method, projected):
        run, _ = shown(run_id, dataset)
        if not capture_face.is_capture(run):
            raise UserError("Project lays out a capture run's layers: pick one (Your model tab captures one)")
        step, method = capture_face.step_of(run, step), method if method in project_face.PROJECT_METHODS else "tsne"
        maps = project_face.project_run(config.store, run, step, method, progress=progress)
        return Done(
            message=f"projected {len(maps)} layers of {run.id} (step {step}, {method})",
            values=((projected or 0) + 1,),
            listed=project_face.projection_run(run, step, method),  # "open run" draws it in a reloaded tab
        )


def picked_projection(config: AppConfig, run_id: str | None, capture):
    """The projection run the Run picker holds when it projects ``capture`` (the run this tab draws), else None:
    picking one opens its capture run here, drawn with it (its step, its method, its layers)."""
    try:
        picked = state.run(config, run_id) if run_id else None
    except StoreError:
        return None
    if picked is None or picked.kind != project_face.KIND or capture is None:
        return None
    return picked if project_face.info(picked).get("run") == capture.id else None


def selection_patch(selected: dict | None, n_traces: int) -> Patch:
    """Set ``selectedpoints`` on every panel to the positions picked in any one (nothing else is sent)."""
    patch = Patch()
    points = (selected or {}).get("points") or []
    picked = sorted({point_position(p) for p in points}) if selected else None
    for k in range(n_traces):
        patch["data"][k]["selectedpoints"] = picked
    return patch


def capture_classes(config: AppConfig, shown_: dict) -> tuple[np.ndarray, list]:
    """Labels of the points a capture run's panels draw (its projected sample, in order) and its class names."""
    run = state.run(config, shown_["run"])
    step = capture_face.step_of(run, shown_.get("step"))
    labels = np.asarray(capture_face.sample(run, step)["labels"])
    positions, _ = project_face.projection_sample(len(labels))
    return labels[positions], capture_face.class_names(run)


def shown_index(config: AppConfig, shown_: dict) -> np.ndarray:
    """The dataset index of each point of the panels described by ``layers-shown`` (same order in every panel)."""
    run = state.run(config, shown_["run"])
    if "step" in shown_:
        picked = state.run(config, shown_["projection"]) if shown_.get("projection") else None
        return capture_panels.sample_index(config, run, shown_["step"], shown_["method"], picked)
    return state.arrays(run, "sample")["index"]


def projection_csv(run, network: str, method: str, selected=()) -> str:
    """Every layer's coordinates of one network: layer, x, y, label, prediction, index; with a
    selection (``selected``: dataset indices) every row again plus a ``selected`` column (1 or 0)."""
    sample = state.arrays(run, "sample")
    preds = state.arrays(run, f"act-{network}")["predictions"]
    keep = np.isin(sample["index"], np.asarray(list(selected), dtype=np.int64)) if len(selected) else None
    lines = ["network,layer,method,x,y,label,prediction,index" + (",selected" if keep is not None else "")]
    for layer, xy in panels_for(run, network, method):
        for k, ((x, y), lab, pr, idx) in enumerate(zip(xy, sample["labels"], preds, sample["index"])):
            mark = "" if keep is None else f",{int(keep[k])}"
            lines.append(f"{network},{layer},{method},{x:.6g},{y:.6g},{lab},{pr},{idx}{mark}")
    return "\n".join(lines) + "\n"
