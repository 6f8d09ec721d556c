"""The Compare tab's callbacks: the form (sources, steps, layers), the Compare job, drawing a compare
run, a click on a cell (jump to Layers + the movers job) and the movers list with "Select these"."""

from __future__ import annotations

import dash
import numpy as np
from dash import Input, Output, State, ctx, html, no_update

from models.errors import UserError

from ... import figures as shell_figures
from ... import ids, state
from ...cards import sample_card
from ...config import AppConfig
from ...jobs import Done, describe_error, job
from . import data, figures
from .layout import EMPTY, HINT

HIDDEN = {"display": "none"}


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def source(ref):
        return data.open_source(config, ref)

    @app.callback(
        Output("compare-run-a", "options"),
        Output("compare-run-a", "value"),
        Output("compare-run-b", "options"),
        Output("compare-run-b", "value"),
        Output("compare-metric", "options"),
        *state.RUN_INPUTS,
        Input("compare-run-a", "value"),
        State("compare-run-b", "value"),
    )
    def sources(run_id, _version, dataset, current_a, current_b):
        """Capture and hardness runs of the dataset; A stays, else the picked run if it is one, else the newest;
        B offers the runs holding A's samples."""
        options = data.source_options(data.source_runs(config, dataset))
        ids = [o["value"] for o in options]
        a = current_a if current_a in ids else (run_id if run_id in ids else (ids[0] if ids else None))
        same = set(data.comparable(config, a))  # B: only runs on the same samples as A
        b_options = [o for o in options if o["value"] in same]
        b = current_b if current_b in same else None
        metrics = [{"label": label, "value": value} for value, label in data.metric_choices()]
        return options, a, b_options, b, metrics

    @app.callback(
        Output("compare-steps", "options"),
        Output("compare-steps", "value"),
        Output("compare-steps-field", "style"),
        Output("compare-layers", "options"),
        Output("compare-layers", "value"),
        Output("compare-form-note", "children"),
        Input("compare-run-a", "value"),
        Input("compare-run-b", "value"),
    )
    def parts(run_a, run_b):
        """Every step and layer of run A, ticked; the steps only when A holds several."""
        run, network = source(run_a)
        steps, layers = data.source_steps(run), data.source_layers(run, network)
        note = ""
        if run is not None:
            other, other_net = source(run_b)
            shape = (
                f"A's {len(layers)} layers × B's {len(data.source_layers(other, other_net))} layers"
                if other is not None
                else f"A's {len(layers)} layers with each other"
            )
            over = f", and each layer over {len(steps)} steps" if len(steps) > 1 else ""
            note = f"{shape}{over}; probe and k-NN accuracy of every layer"
        return (
            [{"label": str(s), "value": s} for s in steps],
            steps,
            {} if len(steps) > 1 else HIDDEN,
            [{"label": figures.short_name(l), "value": l} for l in layers],
            layers,
            note,
        )

    @job(
        app,
        trigger="compare-start",
        status="compare-job",
        states=[
            State(ids.DATASET_PICKER, "value"),
            State("compare-run-a", "value"),
            State("compare-run-b", "value"),
            State("compare-steps", "value"),
            State("compare-layers", "value"),
            State("compare-metric", "value"),
            State("compare-steps", "options"),
            State("compare-layers", "options"),
            State("compare-k", "value"),
        ],
        title=lambda _ds, a, b, *_: f"compare {a}" + (f" × {b}" if b else ""),
    )
    def compare(progress, dataset, run_a, run_b, steps, layers, metric, step_options, layer_options, k):
        cfg = data.compare_config(
            dataset or config.default_dataset,
            run_a,
            run_b,
            steps,
            layers,
            metric,
            [o["value"] for o in step_options or []],
            [o["value"] for o in layer_options or []],
            k,
        )
        from models.studies import compare as study

        run = study.run(cfg, store=config.store, data_dir=config.data_dir, progress=progress)
        found = data.cka(run)
        size = f"{len(found['layers_a'])} × {len(found['layers_b'])} layers" if found else "no layers"
        return Done(run=run, message=f"compared {size}: {run.id}")

    @app.callback(
        Output("compare-cka", "figure"),
        Output("compare-steps-heat", "figure"),
        Output("compare-steps-box", "style"),
        Output("compare-curves", "figure"),
        Output("compare-curves", "style"),
        Output("compare-status", "children"),
        Output("compare-movers-data", "data"),
        Output("compare-movers-job", "children", allow_duplicate=True),
        Output("compare-cka-hint", "children", allow_duplicate=True),
        *state.RUN_INPUTS,
        State("compare-movers-data", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def draw(run_id, _version, dataset, movers):
        """The shown compare run; its stored movers replace a pair's movers (and that job's line) of another run."""
        run, note = state.run_for_view(config, run_id, data.KIND, dataset)
        if run is None:
            return (
                shell_figures.empty_figure(EMPTY),
                shell_figures.empty_figure(""),
                HIDDEN,
                shell_figures.empty_figure(""),
                HIDDEN,
                note,
                None,
                "",
                HINT,
            )
        try:
            heat, steps_fig, curves, text = draw_run(run)
        except Exception as exc:  # a damaged run says so where its figures would be
            message = f"cannot draw {run.id}: {describe_error(exc)}"
            return (
                shell_figures.empty_figure(message),
                shell_figures.empty_figure(""),
                HIDDEN,
                shell_figures.empty_figure(""),
                HIDDEN,
                note,
                None,
                "",
                HINT,
            )
        stored = no_update if (movers or {}).get("compare") == run.id else stored_movers(run)
        return (
            heat,
            steps_fig or shell_figures.empty_figure(""),
            {} if steps_fig else HIDDEN,
            curves,
            {} if curves is not None else HIDDEN,
            " · ".join(filter(None, (note, text))),
            stored,
            *((no_update, no_update) if stored is no_update else ("", HINT)),
        )

    def stored_movers(run):
        found = data.movers(run)
        return None if found is None else {**found, "compare": run.id}

    @app.callback(
        Output(ids.FOCUS, "data", allow_duplicate=True),
        Output("compare-pair", "data"),
        Output("compare-cka-hint", "children"),
        Output("compare-pair-go", "n_clicks"),
        Input("compare-cka", "clickData"),
        Input("compare-steps-heat", "clickData"),
        State(ids.RUN_PICKER, "value"),
        State(ids.DATASET_PICKER, "value"),
        State("compare-k", "value"),
        State("compare-pair-go", "n_clicks"),
        prevent_initial_call=True,
    )
    def open_pair(click, step_click, run_id, dataset, k, asked):
        """A cell opens its two layers in Layers (run A, its step) and lists the pair's movers here."""
        run, _ = state.run_for_view(config, run_id, data.KIND, dataset)
        clicked = click if ctx.triggered_id == "compare-cka" else step_click
        nothing = (no_update,) * 4
        if run is None or not clicked or not clicked.get("points"):
            return nothing
        point = clicked["points"][0]
        if ctx.triggered_id == "compare-cka":
            found = data.cka(run)
            cell = None if found is None else data.clicked_cell(point, found["layers_a"], found["layers_b"])
            if cell is None:
                return nothing
            ref_a, ref_b = data.cell_pair(found, *cell)
        else:
            found = data.cka_steps(run)
            cell = None if found is None else data.clicked_cell(point, found["layers"], found["steps"])
            if cell is None:
                return nothing
            ref_a, ref_b = data.step_pair(found, data.cka(run), *cell)
        focus, jump_note = data.layers_jump(config.store, ref_a, ref_b)
        k = int(k) if isinstance(k, (int, float)) and 2 <= k <= 200 else 10
        hint = f"opened {data.pair_title(ref_a, ref_b)} in Layers" + (f" · {jump_note}" if jump_note else "")
        # the movers job starts from a (hidden) button: a dcc.Store sets its own props when it mounts,
        # which would start the job on every page load
        return focus, {"a": ref_a, "b": ref_b, "k": k, "compare": run.id}, hint, (asked or 0) + 1

    @job(
        app,
        trigger="compare-pair-go",
        status="compare-movers-job",
        states=[State("compare-pair", "data")],
        outputs=[Output("compare-movers-data", "data", allow_duplicate=True)],
        title=lambda pair: f"movers {data.pair_title(pair['a'], pair['b'])}" if pair else "movers",
    )
    def pair_movers(progress, pair):
        if not pair:
            raise UserError("click a heatmap cell to pick two layers")
        found = data.movers_between(config, pair["a"], pair["b"], pair["k"])
        n = found["total"]
        return Done(
            message=f"{n:,} samples: mean share of {pair['k']} neighbours kept {found['mean_kept']:.2f}",
            values=({**found, "compare": pair.get("compare")},),
        )

    @app.callback(
        Output("compare-movers", "children"),
        Output("compare-movers-title", "children"),
        Output("compare-movers-select", "disabled"),
        Input("compare-movers-data", "data"),
    )
    def movers_list(found):
        if not found or not found.get("index"):
            return (
                html.Div(
                    "Click a heatmap cell: the samples whose nearest neighbours changed most between "
                    "those two layers show here.",
                    className="small text-muted",
                ),
                "",
                True,
            )
        return movers_cards(config, found), movers_title(found), False

    @app.callback(
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Input("compare-movers-select", "n_clicks"),
        State("compare-movers-data", "data"),
        prevent_initial_call=True,
    )
    def select_movers(_n, found):
        """The movers shown become the one selection (in the space of run A's samples)."""
        if not found or not found.get("index"):
            return no_update
        space = data.selection_space(config, found["from"]["run"])
        return no_update if space is None else {"space": space, "ids": sorted({int(i) for i in found["index"]})}


def draw_run(run) -> tuple:
    """(layer × layer heatmap, layer × step heatmap or None, curves or None, status text) of a compare run."""
    found = data.cka(run)
    if found is None:
        raise ValueError("the run holds no CKA matrix")
    rows, cols = data.axis_titles(found)
    metric = data.metric_label(found)
    heat = figures.cka_heatmap(
        found["layers_a"],
        found["layers_b"],
        found["matrix"],
        row_title=rows,
        col_title=cols,
        metric=metric,
        uirevision=f"compare-{run.id}",
    )
    over = data.cka_steps(run)
    steps_fig = (
        None
        if over is None
        else figures.step_heatmap(
            over["layers"], over["steps"], over["matrix"], metric=metric, uirevision=f"compare-steps-{run.id}"
        )
    )
    panels = data.curve_panels(run)
    curves = figures.depth_curves(panels, uirevision=f"compare-curves-{run.id}") if any(p[1] for p in panels) else None
    pair = f"{found['run_a']} × {found['run_b']}" if found.get("run_b") else f"{found['run_a']}"
    text = f"{run.id}: {metric} of {pair} · {len(found['layers_a'])} × {len(found['layers_b'])} layers" + (
        f" · {len(over['steps'])} steps" if over else ""
    )
    return heat, steps_fig, curves, text


def movers_title(found: dict) -> str:
    pair = data.pair_title(found["from"], found["to"]) if found.get("from") and found.get("to") else ""
    mean = found.get("mean_kept")
    tail = "" if mean is None or not np.isfinite(mean) else f" · on average {mean:.0%} kept"
    return (
        f"{pair} · the {len(found['index'])} of {found.get('total', len(found['index'])):,} samples that kept "
        f"the fewest of their {found.get('k', '?')} nearest neighbours{tail}"
    )


def movers_cards(config: AppConfig, found: dict) -> html.Div:
    """One card per mover, most moved first: the image, its index and label, the share of neighbours kept."""
    index, kept, labels = found["index"], found["kept"], found.get("labels")
    shown = data.mover_images(config, found["from"]["run"], index)
    images, names, where = shown if shown is not None else ([None] * len(index), [], "")
    cards = []
    for rank, (idx, share, image) in enumerate(zip(index, kept, images)):
        label = None if labels is None else labels[rank]
        name = names[label] if label is not None and 0 <= label < len(names) else (None if label is None else label)
        lines = [f"#{idx}", f"label {name}" if name is not None else "", f"kept {share:.0%}"]
        cards.append(
            html.Div(
                sample_card(image, lines, key=(where, idx) if image is not None else None, size=64),
                className="compare-mover",
                title=f"rank {rank + 1}: sample #{idx} kept {share:.0%} of its neighbours",
            )
        )
    return html.Div(cards, className="compare-mover-grid")
