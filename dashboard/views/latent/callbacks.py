"""The Latent plane's callbacks: draw both planes and their grids, hover cards, select GNE points
and place the handle, and three jobs (train, move and train on, place held-out samples).

The jobs import the torch side (``models.studies.gne_points``, the engine behind
``gne.run``) only inside their work, which runs in the background worker.
"""

from __future__ import annotations

import dash
import numpy as np
from dash import Input, Output, Patch, State, html, no_update

from models.errors import UserError
from models.studies import gne

from ... import ids, state
from ... import selection as sel
from ...config import AppConfig
from ...jobs import Done, describe_error, job
from . import data, figures
from .layout import TAB_ID

BUTTONS = ("latent-train-button", "latent-move-button", "latent-heldout-button")  # disabled while any job runs
SHOWN = [Input(ids.RUN_PICKER, "value"), Input(ids.DATASET_PICKER, "value"), Input(ids.STORE_VERSION, "data")]


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    _draw(app, config)
    _select(app, config)
    _jobs(app, config)


def _draw(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(
        Output("latent-gne-scatter", "figure"),
        Output("latent-vae-scatter", "figure"),
        Output("latent-metrics", "children"),
        Output("latent-move-info", "children"),
        Output("latent-selection", "data"),
        Output("latent-selection-info", "children", allow_duplicate=True),
        *[Output(f"latent-{side}-collapse", "children") for side in gne.SIDES],
        *SHOWN,
        Input("latent-heldout", "data"),
        Input(ids.TABS, "active_tab"),
        State(ids.SELECTION, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def draw(run_id, name, _version, heldout_ref, tab, selection):
        if tab != TAB_ID:
            return (no_update,) * 8
        try:
            run, note = data.run_for_view(config, run_id, name)
            if run is None:
                msg = empty_message(note)
                return figures.empty_figure(msg), figures.empty_figure(msg), msg, "", None, "", None, None
            class_names = state.dataset(config, run.manifest["dataset"]).class_names
            held, moved = data.heldout(config, run, heldout_ref), data.moved(run)
            gne_fig, vae_fig = (
                figures.plane_figure(side, data.plane(run, side), class_names, run_id=run.id, heldout=held, moved=moved)
                for side in gne.SIDES
            )
            m = gne.metrics(run)
            head, *rest = figures.metrics_text(run.id, m)
            info = [html.B(head), *rest]
            warning = gne.collapse_warning(run)
            if warning:  # a collapsed plane makes the comparison meaningless: say so before the numbers
                info = [html.Span(warning, className="text-danger fw-bold"), html.Br(), *info]
            if held is not None:
                info += [html.Br(), figures.heldout_text(held)]
            if note:
                info = [html.Span(note, className="text-warning"), html.Br(), *info]
            picked, handle, held_sel, text = linked(run, selection)
            for fig in (gne_fig, vae_fig):
                fig.data[figures.LATENT_TRAIN].selectedpoints = picked
            gne_fig.update_layout(shapes=handle)
            return (
                gne_fig,
                vae_fig,
                info,
                figures.moved_text(moved, m, data.parent_mse(config, m)),
                held_sel,
                text,
                *[collapse_alert(run, side) for side in gne.SIDES],
            )
        except Exception as exc:
            msg = describe_error(exc)
            return figures.empty_figure(msg), figures.empty_figure(msg), msg, "", None, "", None, None

    @app.callback(
        *[
            Output(f"latent-{s}-{what}", prop)
            for s in gne.SIDES
            for what, prop in (("grid", "figure"), ("neighbours-box", "children"), ("grids", "hidden"))
        ],
        Input("latent-grid-size", "value"),
        *SHOWN,
        Input(ids.TABS, "active_tab"),
    )
    def grids(size_pos, run_id, name, _version, tab):
        if tab != TAB_ID:
            return [no_update] * 6
        try:
            run, note = data.run_for_view(config, run_id, name)
            if run is None:
                msg = empty_message(note)
                return [figures.empty_figure(msg), html.Div(msg, className="small text-muted"), True] * 2
            k = gne.GRID_SIZES[int(size_pos or 0)]
            out = []
            for side in gne.SIDES:
                fig = data.grid_figure(config, run, side, k)
                _decoded, neighbours = data.grid_images(config, run, side, k)
                missing = f"{run.id} stored no {k}×{k} grid of {side.upper()} images (vector data, or another size)"
                out += [
                    fig if fig is not None else figures.empty_figure(missing),
                    html.Img(
                        id=f"latent-{side}-neighbours",
                        src=neighbours,
                        alt=f"{side} nearest neighbours",
                        className="gallery tile-img latent-grid",
                    )
                    if neighbours
                    else html.Div(missing, className="small text-muted"),
                    False,
                ]
            return out
        except Exception as exc:
            msg = describe_error(exc)
            return [figures.empty_figure(msg), html.Div(msg, className="small text-danger"), False] * 2

    for side in gne.SIDES:

        @app.callback(
            Output(f"latent-{side}-tooltip", "show"),
            Output(f"latent-{side}-tooltip", "bbox"),
            Output(f"latent-{side}-tooltip", "children"),
            Input(f"latent-{side}-scatter", "hoverData"),
            State(ids.RUN_PICKER, "value"),
            State(ids.DATASET_PICKER, "value"),
            State("latent-heldout", "data"),
        )
        def hover(hover_data, run_id, name, heldout_ref, side=side):
            """A point shows its sample's card; empty space (the transparent decode layer) the image the
            side's generator decodes there."""
            point = hover_data["points"][0] if hover_data else {}
            run, _note = data.run_for_view(config, run_id, name)
            if point.get("curveNumber") == figures.LATENT_DECODE and run is not None and "bbox" in point:
                try:
                    card = data.decode_card(run, side, float(point["x"]), float(point["y"]))
                except Exception as exc:
                    card = html.Div(describe_error(exc), className="tooltip-card text-danger")
                return True, point["bbox"], card
            if "customdata" not in point:
                return False, no_update, no_update
            held = data.heldout(config, run, heldout_ref) if run is not None else None
            card = data.hover_card(
                config,
                run,
                name,
                point,
                heldout_trace=figures.LATENT_HELDOUT,
                heldout_split=held.split if held is not None else "test",
            )
            return True, point["bbox"], card

        @app.callback(
            Output(f"latent-{side}-scatter", "figure", allow_duplicate=True),
            Input(f"latent-{side}-grid", "clickData"),
            State("latent-grid-size", "value"),
            prevent_initial_call=True,
        )
        def mark_cell(click, size_pos):
            """A clicked cell of the decoded grid is marked where it sits on the plane."""
            point = (click or {}).get("points", [{}])[0]
            if "x" not in point or "y" not in point:
                return no_update
            patch = Patch()
            k = gne.GRID_SIZES[int(size_pos or 0)]
            patch["data"][figures.LATENT_CELL] = figures.cell_marker((point["x"], point["y"]), k).to_plotly_json()
            return patch


def empty_message(note: str) -> str:
    """The empty state: why nothing is shown and what to do next."""
    return f"{note}: set epochs and press “Train GNE + VAE”" if note else figures.EMPTY_MESSAGE


def collapse_alert(run, side: str):
    """A collapsed plane says so beside itself (all its decodes look alike), not only in the status line."""
    if not gne.collapsed(run, side):
        return None
    m = run.metrics
    other = gne.SIDES[1 - gne.SIDES.index(side)]
    return html.Div(
        [
            html.B(f"⚠ {side.upper()} plane collapsed: "),
            f"its 2-D 10-NN accuracy is {m[f'{side}_knn']:.2f} against {m[f'{other}_knn']:.2f} on the "
            f"{other.upper()} plane, so its decoded images look alike. Train longer or with a smaller "
            "--kl-weight (1e-3) for a fair comparison.",
        ],
        className="alert alert-danger py-1 px-2 my-1 small",
        role="alert",
    )


def selection_space(run) -> str:
    """Both planes show the run's training samples: the shared selection holds their train-split indices."""
    return sel.space(run.manifest.get("dataset"), "train")


def linked(run, selection: dict | None) -> tuple[list[int] | None, list[dict], dict | None, str]:
    """What the shared selection means here: (positions on both planes, the GNE handle shapes, the
    move's ``latent-selection``, the info line). The handle sits at the selected GNE points' mean."""
    where = selection_space(run)
    plane = data.plane(run, "gne")
    picked = sel.positions(selection, where, plane.index)
    if not picked:
        return None, [], None, ""
    center = plane.coords[picked].mean(axis=0)
    radius = figures.handle_size(plane.coords)
    move = {"run": run.id, "ids": picked, "center": center.tolist(), "radius": radius, "target": center.tolist()}
    text = f"{len(picked)} points selected: drag the red handle (or click a spot) to move them"
    return picked, [figures.latent_handle(center, radius)], move, text


def _select(app: dash.Dash, config: AppConfig) -> None:
    for side in gne.SIDES:

        @app.callback(
            Output(ids.SELECTION, "data", allow_duplicate=True),
            Output(f"latent-{side}-scatter", "figure", allow_duplicate=True),
            Input(f"latent-{side}-scatter", "selectedData"),
            State(ids.RUN_PICKER, "value"),
            State(ids.DATASET_PICKER, "value"),
            State(ids.SELECTION, "data"),
            State(ids.SELECTION_MODE, "data"),
            prevent_initial_call=True,
        )
        def select(selected, run_id, name, selection, mode, side=side):
            """A box/lasso on either plane sets the one selection (Shift adds, Alt subtracts); Plotly's
            outline goes (it sits above shapes and would take the drag meant for the handle)."""
            run, _note = data.run_for_view(config, run_id, name)
            # a plain click deselects in Plotly: keep the selection (it may place the move's handle)
            if run is None or not sel.is_drag(selected):
                return no_update, no_update
            points = [p for p in selected.get("points", []) if p.get("curveNumber") == figures.LATENT_TRAIN]
            index = data.plane(run, side).index
            ids = {int(index[int(p["pointNumber"])]) for p in points}
            return sel.combine(selection, selection_space(run), ids, mode), sel.drop_outline()

    @app.callback(
        Output("latent-gne-scatter", "figure", allow_duplicate=True),
        Output("latent-vae-scatter", "figure", allow_duplicate=True),
        Output("latent-selection", "data", allow_duplicate=True),
        Output("latent-selection-info", "children"),
        Input(ids.SELECTION, "data"),
        State(ids.RUN_PICKER, "value"),
        State(ids.DATASET_PICKER, "value"),
        State(ids.TABS, "active_tab"),
        prevent_initial_call=True,
    )
    def show(selection, run_id, name, tab):
        """Both planes highlight the shared selection; the GNE plane's handle moves its points. A hidden tab
        is not restyled: opening it redraws both planes with the selection (``draw``)."""
        if tab != TAB_ID:
            return no_update, no_update, no_update, no_update
        run, _note = data.run_for_view(config, run_id, name)
        if run is None:
            return no_update, no_update, None, ""
        picked, handle, move, text = linked(run, selection)
        gne_patch = sel.highlight(Patch(), [figures.LATENT_TRAIN], picked)
        gne_patch["layout"]["shapes"] = handle
        return gne_patch, sel.highlight(Patch(), [figures.LATENT_TRAIN], picked), move, text

    @app.callback(
        Output("latent-selection", "data", allow_duplicate=True),
        Output("latent-selection-info", "children", allow_duplicate=True),
        Output("latent-move-button", "disabled"),
        Output("latent-gne-scatter", "figure", allow_duplicate=True),
        Input("latent-gne-scatter", "relayoutData"),
        Input("latent-gne-scatter", "clickData"),
        State("latent-selection", "data"),
        prevent_initial_call=True,
    )
    def drag(relayout, click, selection):
        """The handle was dragged (read from ``relayoutData``) or a point clicked (the handle jumps there)."""
        if not selection:
            return no_update, no_update, True, no_update
        patch = no_update
        if dash.ctx.triggered_id == "latent-gne-scatter" and "clickData" in dash.ctx.triggered[0]["prop_id"]:
            if not click or not click.get("points"):
                return no_update, no_update, no_update, no_update
            center = (float(click["points"][0]["x"]), float(click["points"][0]["y"]))
            patch = Patch()
            patch["layout"]["shapes"] = [figures.latent_handle(center, selection["radius"])]
        else:
            center = figures.handle_center(relayout)
        if center is None:
            return no_update, no_update, no_update, no_update
        selection = {**selection, "target": list(center)}
        d = np.subtract(center, selection["center"])
        return (
            selection,
            f"{len(selection['ids'])} points to move by ({d[0]:+.2f}, {d[1]:+.2f})",
            bool(np.allclose(d, 0)),
            patch,
        )


def _jobs(app: dash.Dash, config: AppConfig) -> None:
    @job(
        app,
        trigger="latent-train-button",
        buttons=BUTTONS,
        states=[
            State(ids.DATASET_PICKER, "value"),
            State("latent-epochs", "value"),
            State("latent-batch", "value"),
            State("latent-init", "value"),
        ],
        title=lambda name, *_: f"GNE + VAE on {name or config.default_dataset}",
    )
    def train(progress, name, epochs, batch, init):
        study = gne.Config(
            dataset=name or config.default_dataset,
            epochs=int(epochs or 0),
            batch_size=int(batch or 0),
            init=init or gne.INITS[0],
        )
        run = gne.run(study, store=config.store, data_dir=config.data_dir, progress=progress)
        m = gne.metrics(run)
        return Done(
            run=run,
            message=f"GNE mse {m.gne_mse:.4f} ({m.gne_seconds_per_epoch:.3f} s/epoch), "
            f"VAE mse {m.vae_mse:.4f} ({m.vae_seconds_per_epoch:.3f} s/epoch)",
        )

    @job(
        app,
        trigger="latent-move-button",
        buttons=BUTTONS,
        states=[State("latent-selection", "data"), State("latent-pin", "value"), State("latent-move-epochs", "value")],
        title=lambda selection, *_: f"moving {len((selection or {}).get('ids', []))} points",
    )
    def move(progress, selection, pin, epochs):
        from models.studies.gne_points import run_move

        if not selection:
            return Done(message="select points and drag the handle first")
        run = state.run(config, selection["run"])
        d = np.subtract(selection["target"], selection["center"])
        child = run_move(
            run,
            selection["ids"],
            store=config.store,
            displacement=d.tolist(),
            pin=bool(pin),
            epochs=int(epochs or 0),
            data_dir=config.data_dir,
            progress=progress,
        )
        return Done(
            run=child, message=f"moved {len(selection['ids'])} points; GNE mse {gne.metrics(child).gne_mse:.4f}"
        )

    @job(
        app,
        trigger="latent-heldout-button",
        buttons=BUTTONS,
        outputs=[Output("latent-heldout", "data")],
        states=[
            State(ids.RUN_PICKER, "value"),
            State(ids.DATASET_PICKER, "value"),
            State("latent-heldout-count", "value"),
        ],
        title="placing held-out samples",
    )
    def place(progress, run_id, name, count):
        from models.studies.gne_points import heldout

        run, _note = data.run_for_view(config, run_id, name)
        if run is None:
            return Done(message="train GNE + VAE first", values=(no_update,))
        limit = int(count or 0)
        if limit < 1:
            raise UserError(f"held-out count must be a positive integer (got {count!r})")
        held = heldout(run, cache=config.results, limit=limit, data_dir=config.data_dir, progress=progress)
        return Done(
            message=f"placed {len(held.index)} held-out samples: GNE mse {held.gne_error.mean():.4f}, "
            f"VAE mse {held.vae_error.mean():.4f}",
            values=({"run": run.id, "limit": limit},),
        )
