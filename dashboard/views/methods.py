"""The Methods tab: one layer of a study under all six projections side by side (the paper's
Fig. 1), each with KL, trustworthiness, continuity, k-NN preservation/accuracy and seconds.

Hover shows the sample's card (image, label, prediction); a box/lasso in any panel sets the shared
selection (:mod:`dashboard.selection`: Shift adds, Alt subtracts, Esc clears), which all six panels — and the
Layers tab, over the same test samples — highlight.

Each method's main parameter (t-SNE perplexity, UMAP / LLE / Isomap neighbours) can be changed
before projecting; each setting is its own cached result. The seconds in the table exclude one-off
compilation: each method is warmed up on a tiny array first (the warm-up's seconds are listed apart)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html, no_update

from models.errors import UserError
from models.studies import hardness as study

from .. import figures, ids, legend, state
from .. import selection as sel
from ..cards import point_position
from ..config import AppConfig
from ..hardness_samples import hover_card, sample_classes
from ..jobs import Done, job

TAB_ID = "methods"
LABEL = "Methods"
KIND = study.KIND
ALL = ("pca", "lle", "mds", "isomap", "tsne", "umap")
#: the parameter inputs: (method, parameter, input id, label, default (None: the run's), min, step)
PARAMS = (
    ("tsne", "perplexity", "methods-perplexity", "t-SNE perplexity", None, 2, "any"),
    ("umap", "n_neighbors", "methods-umap-neighbors", "UMAP neighbours", 15, 2, 1),
    ("lle", "n_neighbors", "methods-lle-neighbors", "LLE neighbours", 10, 2, 1),
    ("isomap", "n_neighbors", "methods-isomap-neighbors", "Isomap neighbours", 10, 2, 1),
)


def method_params(*values) -> dict[str, dict]:
    """``{method: {parameter: value}}`` from the inputs' values (in :data:`PARAMS` order; empty: default)."""
    out = {}
    for (method, name, _id, label, _default, low, _step), value in zip(PARAMS, values):
        if value in (None, ""):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{label} must be a number (got {value!r})") from None
        if number < low or (name == "n_neighbors" and number != int(number)):
            raise UserError(
                f"{label} must be {'a whole number ' if name == 'n_neighbors' else ''}≥ {low} (got {value})"
            )
        out[method] = {name: number if name == "perplexity" else int(number)}
    return out


def _param_inputs():
    fields = []
    for _method, _name, id_, label, default, low, step in PARAMS:
        fields.append(
            dbc.InputGroup(
                [
                    dbc.InputGroupText(label),
                    dbc.Input(
                        id=id_,
                        type="number",
                        value=default,
                        min=low,
                        step=step,
                        style={"width": "80px"},
                        placeholder="run's" if default is None else None,
                    ),
                ],
                size="sm",
                className="me-2",
                style={"width": "auto"},
            )
        )
    return html.Div(fields, className="d-flex align-items-center flex-wrap mb-2")


def layout(config: AppConfig):
    return html.Div(
        [
            html.Div(
                [
                    dcc.Dropdown(id="methods-network", options=[], clearable=False, style={"width": "220px"}),
                    dcc.Dropdown(
                        id="methods-layer", options=[], clearable=False, style={"width": "140px"}, className="ms-2"
                    ),
                    dbc.Button("Project with all six", id="methods-run", color="primary", size="sm", className="ms-2"),
                ],
                className="d-flex align-items-center mb-2",
            ),
            _param_inputs(),
            legend.legend(TAB_ID),
            dcc.Graph(
                id="methods-graph",
                figure=figures.empty_figure("pick a layer and press the button"),
                clear_on_unhover=True,
                config={"displaylogo": False},
            ),
            dcc.Tooltip(id="methods-tooltip", direction="right"),
            dcc.Store(id="methods-shown", data=None),  # {run, network, layer, space, traces}: what the figure shows
            html.Div(id="methods-table", className="small"),
            html.Div(id="methods-timing", className="small text-muted"),
            html.Div(id="methods-status", className="small text-muted"),
        ]
    )


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, dataset):
        return state.run_for_view(config, run_id, KIND, dataset)

    @app.callback(
        Output("methods-network", "options"),
        Output("methods-network", "value"),
        Output("methods-status", "children"),
        Output("methods-perplexity", "placeholder"),
        *state.RUN_INPUTS,
        State("methods-network", "value"),
    )
    def networks(run_id, _v, dataset, current):
        run, note = shown(run_id, dataset)
        if run is None:
            return [], None, note, "run's"
        names = [n["name"] for n in study.networks(run)]
        value = current if current in names else (names[0] if names else None)
        perplexity = run.config.get("perplexity", 30.0)
        return [{"label": n, "value": n} for n in names], value, note, f"{perplexity:g} (run's)"

    @app.callback(
        Output("methods-layer", "options"),
        Output("methods-layer", "value"),
        Input("methods-network", "value"),
        State(ids.RUN_PICKER, "value"),
        State(ids.DATASET_PICKER, "value"),
        State("methods-layer", "value"),
    )
    def layers(network, run_id, dataset, current):
        run, _ = shown(run_id, dataset)
        if run is None or not network:
            return [], None
        names = study.network_record(run, network)["layers"]
        return [{"label": n, "value": n} for n in names], current if current in names else names[-2]

    @job(
        app,
        trigger="methods-run",
        states=[
            State(ids.RUN_PICKER, "value"),
            State(ids.DATASET_PICKER, "value"),
            State("methods-network", "value"),
            State("methods-layer", "value"),
            State(legend.store_id(TAB_ID), "data"),
            *[State(p[2], "value") for p in PARAMS],
        ],
        outputs=[
            Output("methods-graph", "figure"),
            Output("methods-table", "children"),
            Output("methods-shown", "data"),
            Output("methods-timing", "children"),
        ],
        failed=lambda message: (figures.empty_figure(message), html.Div(message, className="text-danger"), None, ""),
        title=lambda _run_id, _dataset, _network, layer, *_: f"six projections of {layer}",
    )
    def compute(progress, run_id, dataset, network, layer, hidden, *param_values):
        from models.studies.hardness_engine import project_run_layer

        run, _ = shown(run_id, dataset)
        if run is None or not network or not layer:
            return Done(values=(no_update, "no hardness run yet", no_update, ""))
        params = method_params(*param_values)
        results = project_run_layer(run, network, layer, ALL, config.results, progress=progress, params=params)
        sample = state.arrays(run, "sample")
        ds = state.dataset(config, run.manifest.get("dataset"), "test")
        ordered = [(m, results[m]["coords"], results[m]) for m in ALL]
        fig = figures.methods_figure(
            ordered,
            sample["labels"],
            ds.class_names,
            index=sample["index"],
            uirevision=f"methods-{run.id}-{network}-{layer}",
        )
        where = sel.space(run.manifest.get("dataset"), "test")
        fig.update_layout(dragmode="select")  # zoom stays in the mode bar
        # drawn plain: the page paints the selection over it (assets/selection.js), WebGL never dims
        for trace in fig.data:  # the class chips above replace the colour bar; hidden classes stay faded
            trace.marker.showscale = False
            trace.marker.opacity = legend.opacity(sample["labels"], hidden)
        sel.mark(fig, where, range(len(fig.data)))  # box/lasso computed and highlighted in the page
        shown_ = {
            "run": run.id,
            "network": network,
            "layer": layer,
            "space": where,
            "traces": len(fig.data),
            "methods": list(ALL),
        }
        header = html.Tr(
            [
                html.Th(h)
                for h in (
                    "method",
                    "setting",
                    "KL",
                    "trustworthiness",
                    "continuity",
                    "kNN preserved",
                    "kNN accuracy",
                    "seconds (excl. compile)",
                )
            ]
        )
        body = [
            html.Tr(
                [html.Td(m), html.Td(_setting(run, m, params))]
                + [
                    html.Td(f"{r[k]:.3f}" + (" (cached)" if k == "seconds" and r.get("cached") else ""))
                    for k in study.SCORES
                ]
            )
            for m, _, r in ordered
        ]
        return Done(
            values=(
                fig,
                dbc.Table([html.Thead(header), html.Tbody(body)], size="sm", striped=True),
                shown_,
                _timing_note(results),
            )
        )

    legend.connect(app, TAB_ID, "methods-graph", "methods-shown", lambda shown_: sample_classes(config, shown_))

    @app.callback(
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Output("methods-graph", "figure", allow_duplicate=True),
        Input("methods-graph", "selectedData"),
        State("methods-shown", "data"),
        State(ids.SELECTION, "data"),
        State(ids.SELECTION_MODE, "data"),
        prevent_initial_call=True,
    )
    def select(selected, shown_, selection, mode):
        """A box/lasso in any of the six panels sets the one selection (Shift adds, Alt subtracts)."""
        if not shown_ or not sel.is_drag(selected):
            return no_update, no_update
        index = state.arrays(state.run(config, shown_["run"]), "sample")["index"]
        return sel.on_drag(selected, shown_["space"], index, selection, mode)

    # the six panels' highlight of the one selection: assets/selection.js (the figure is marked with sel.mark), in
    # the page, when the tab is shown; the server patches no selectedpoints lists

    @app.callback(
        Output("methods-tooltip", "show"),
        Output("methods-tooltip", "bbox"),
        Output("methods-tooltip", "children"),
        Input("methods-graph", "hoverData"),
        State("methods-shown", "data"),
    )
    def hover(hover_data, shown_):
        """The sample card: image, ``#index · method``, label, prediction."""
        if not hover_data or not shown_:
            return False, no_update, no_update
        point = hover_data["points"][0]
        curve = int(point.get("curveNumber", 0))
        names = shown_.get("methods") or []
        where = names[curve] if curve < len(names) else None
        return (
            True,
            point["bbox"],
            hover_card(config, state.run(config, shown_["run"]), shown_["network"], point_position(point), where),
        )


def _setting(run, method: str, params: dict) -> str:
    """The main parameter a method ran with, e.g. ``perplexity 30``; ``–`` for those without one."""
    for m, name, _id, _label, default, *_ in PARAMS:
        if m == method:
            value = (params.get(method) or {}).get(name)
            if value is None:
                value = run.config.get("perplexity", 30.0) if default is None else default
            return f"{name.replace('n_neighbors', 'neighbours')} {value:g}"
    return "–"


def _timing_note(results: dict) -> str:
    """Says how the seconds were taken: after a warm-up whose first-call cost (compilation) is listed apart."""
    warm = {m: r["warmup_seconds"] for m, r in results.items() if r.get("warmup_seconds") is not None}
    cached = [m for m, r in results.items() if r.get("cached")]
    parts = [
        "seconds: the projection alone, after each method was first run once on 40 points in this process "
        "(one-off compilation and imports excluded)"
    ]
    if warm:
        parts.append("first call incl. compile (not counted): " + ", ".join(f"{m} {s:.2f} s" for m, s in warm.items()))
    if cached:
        parts.append(f"cached from an earlier computation: {', '.join(cached)}")
    return " · ".join(parts)
