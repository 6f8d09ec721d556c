"""The Maps tab: a deep neural map's lattice as one image of decoded prototypes, with overlays
(majority class, purity, hits, U-matrix); hover a node for its prototype and its samples;
train a DNM of any lattice size as a background job.

Selection (:mod:`dashboard.selection`): a box/lasso over nodes selects every sample those nodes hold (their
members, :func:`models.studies.dnm.node_members`; Shift adds, Alt subtracts); when the shared
selection indexes the map's samples, the nodes holding selected samples are outlined and their
tooltip counts the selected members. The map's space is ``"<dataset>:<split>"`` (member positions
mapped back to the split through the run's ``limit``/``seed`` sample), so a selection made in Data on
the same split shows here too."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, Patch, State, dcc, html, no_update

from models.studies import dnm

from .. import cards, figures, ids, images, state
from .. import selection as sel
from ..config import AppConfig
from ..jobs import Done, job, job_status

TAB_ID = "maps"
LABEL = "Maps"
TRAINS = dnm.KIND


def _number(id_, value, label, min_=1, max_=200):
    return dbc.InputGroup(
        [dbc.InputGroupText(label), dbc.Input(id=id_, type="number", value=value, min=min_, max=max_, step=1)],
        size="sm",
        className="mb-1",
    )


def layout(config: AppConfig):
    return dbc.Row(
        [
            dbc.Col(
                [
                    dcc.Graph(
                        id="maps-lattice",
                        figure=figures.empty_figure("train a deep neural map →"),
                        clear_on_unhover=True,
                        style={"height": "68vh"},
                        config={"displaylogo": False},
                    ),
                    dcc.Tooltip(id="maps-tooltip", direction="right"),
                    dcc.Store(id="maps-shown", data=None),  # {run, space}: what the lattice shows
                ],
                md=8,
            ),
            dbc.Col(
                [
                    html.Div("Overlay", className="panel-title mb-1"),
                    dbc.RadioItems(
                        id="maps-overlay",
                        value="none",
                        inline=True,
                        className="small mb-2",
                        options=[{"label": v, "value": k} for k, v in figures.LATTICE_OVERLAYS.items()],
                    ),
                    html.Div(id="maps-status", className="small text-muted mb-2"),
                    html.Hr(),
                    html.Div("Train a deep neural map", className="panel-title mb-1"),
                    _number("maps-rows", 20, "rows"),
                    _number("maps-cols", 30, "columns"),
                    _number("maps-pretrain", 30, "AE pre-training epochs", 0, 500),
                    _number("maps-epochs", 20, "joint epochs", 0, 500),
                    _number("maps-som-iterations", 10000, "SOM iterations", 1, 1_000_000),
                    dbc.Select(
                        id="maps-topology",
                        value="rect",
                        size="sm",
                        className="mb-2",
                        options=[
                            {"label": "rectangular lattice", "value": "rect"},
                            {"label": "hexagonal lattice", "value": "hex"},
                        ],
                    ),
                    dbc.Button("Train DNM", id="maps-train", color="primary", size="sm"),
                    job_status("maps-job"),
                ],
                md=4,
            ),
        ],
        className="g-3",
    )


def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    def shown(run_id, name):
        return state.run_for_view(config, run_id, dnm.KIND, name)

    @app.callback(
        Output("maps-lattice", "figure"),
        Output("maps-status", "children"),
        Output("maps-shown", "data"),
        *state.RUN_INPUTS,
        Input("maps-overlay", "value"),
        State(ids.SELECTION, "data"),
    )
    def show(run_id, _version, name, overlay, selection):
        run, note = shown(run_id, name)
        if run is None:
            return figures.empty_figure("no deep neural map for this dataset yet: train one →"), note, None
        lat = dnm.lattice(run, arrays=state.arrays)
        rows, cols = lat.shape
        mosaic = images.cell_mosaic(lat.prototype_images, rows, cols)
        uri = images.png_data_uri(mosaic, size=min(1600, max(mosaic.shape[:2]) * 4))
        fig = figures.image_grid_figure(
            uri,
            rows,
            cols,
            values=lat.overlay(overlay),
            overlay=overlay,
            class_names=_class_names(config, run, lat),
            title=f"{rows}×{cols} lattice of decoded prototypes",
            uirevision=run.id,
        )
        where, index = sample_ids(config, run, lat)
        add_node_points(fig, rows, cols)
        fig.update_layout(shapes=node_outlines(selected_per_node(selection, where, index, lat), cols))
        status = " · ".join(
            part
            for part in (
                note,
                run.id,
                dnm.quality(run),
                "hover a node · box/lasso over nodes selects their samples (Shift adds, Alt subtracts, Esc clears)",
            )
            if part
        )
        return fig, status, {"run": run.id, "space": where}

    @app.callback(
        Output(ids.SELECTION, "data", allow_duplicate=True),
        Output("maps-lattice", "figure", allow_duplicate=True),
        Input("maps-lattice", "selectedData"),
        State("maps-shown", "data"),
        State(ids.SELECTION, "data"),
        State(ids.SELECTION_MODE, "data"),
        prevent_initial_call=True,
    )
    def select(selected, shown_, selection, mode):
        """Nodes → members: the samples of every node the box/lasso covers."""
        if not shown_ or not sel.is_drag(selected):
            return no_update, no_update
        run = state.run(config, shown_["run"])
        lat = dnm.lattice(run, arrays=state.arrays)
        where, index = sample_ids(config, run, lat)
        nodes = sorted({figures.cell_of(p, lat.shape[1]) for p in selected.get("points") or []})
        return sel.combine(selection, where, members_of(lat, nodes, index), mode), sel.drop_outline()

    @app.callback(
        Output("maps-lattice", "figure", allow_duplicate=True),
        Input(ids.SELECTION, "data"),
        State("maps-shown", "data"),
        prevent_initial_call=True,
    )
    def link(selection, shown_):
        if not shown_:
            return no_update
        run = state.run(config, shown_["run"])
        lat = dnm.lattice(run, arrays=state.arrays)
        where, index = sample_ids(config, run, lat)
        patch = Patch()
        patch["layout"]["shapes"] = node_outlines(selected_per_node(selection, where, index, lat), lat.shape[1])
        return patch

    @app.callback(
        Output("maps-tooltip", "show"),
        Output("maps-tooltip", "bbox"),
        Output("maps-tooltip", "children"),
        Input("maps-lattice", "hoverData"),
        State(ids.RUN_PICKER, "value"),
        State(ids.DATASET_PICKER, "value"),
        State(ids.SELECTION, "data"),
    )
    def hover(hover_data, run_id, name, selection):
        if not hover_data:
            return False, no_update, no_update
        run, _note = shown(run_id, name)
        if run is None:
            return False, no_update, no_update
        lat = dnm.lattice(run, arrays=state.arrays)
        point = hover_data["points"][0]
        node = lat.node(figures.cell_of(point, lat.shape[1]))
        where, index = sample_ids(config, run, lat)
        picked = sel.ids_in(selection, where)
        n_selected = int(np.isin(index[node.members], picked).sum()) if picked else None
        return True, point["bbox"], node_card(config, run, node, len(lat.bmu), n_selected=n_selected)

    @job(
        app,
        trigger="maps-train",
        status="maps-job",
        title=lambda _name, rows, cols, *_: f"DNM {rows}x{cols}",
        states=[
            State(ids.DATASET_PICKER, "value"),
            State("maps-rows", "value"),
            State("maps-cols", "value"),
            State("maps-pretrain", "value"),
            State("maps-epochs", "value"),
            State("maps-som-iterations", "value"),
            State("maps-topology", "value"),
        ],
    )
    def train(progress, name, rows, cols, pretrain, epochs, som_iterations, topology):
        cfg = dnm.Config(
            dataset=name or config.default_dataset,
            lattice=f"{int(rows)}x{int(cols)}",
            topology=topology or "rect",
            pretrain_epochs=int(pretrain),
            epochs=int(epochs),
            som_iterations=int(som_iterations),
        )
        run = dnm.run(cfg, store=config.store, data_dir=config.data_dir, progress=progress)
        return Done(run=run, message=f"DNM trained: purity {run.metrics['purity']:.3f}")


def _class_names(config: AppConfig, run, lat: dnm.Lattice) -> list[str]:
    """The run's dataset's class names; class indices when the dataset cannot be loaded now."""
    try:
        return list(state.dataset(config, run.manifest.get("dataset")).class_names)
    except Exception:
        return [str(c) for c in range(lat.n_classes)]


def sample_ids(config: AppConfig, run, lat: dnm.Lattice) -> tuple[str, np.ndarray]:
    """The map's selection space and the sample id (position in that split) of each of its samples.

    A DNM trains on its dataset's train split, subsampled by ``limit`` with ``seed`` exactly as
    :func:`models.datasets.dataset.sample` does; when that cannot be matched (the dataset is not at
    hand, or sizes differ) the map's own sample order is its space, ``"dnm:<run>"``."""
    n = len(lat.bmu)
    name = run.manifest.get("dataset")
    try:
        ds = state.dataset(config, name)
    except Exception:
        return f"dnm:{run.id}", np.arange(n)
    limit = (run.config or {}).get("limit")
    index = np.arange(ds.n)
    if limit is not None and int(limit) < ds.n:
        seed = int((run.config or {}).get("seed", 0) or 0)
        index = np.sort(np.random.default_rng(seed).choice(ds.n, size=int(limit), replace=False))
    if len(index) != n:
        return f"dnm:{run.id}", np.arange(n)
    return sel.space(name, ds.split or "train"), index


def members_of(lat: dnm.Lattice, nodes, index: np.ndarray) -> list[int]:
    """Sample ids of every member of ``nodes``."""
    pos = np.flatnonzero(np.isin(lat.bmu, np.asarray(list(nodes), dtype=np.int64)))
    return np.asarray(index)[pos].astype(int).tolist()


def selected_per_node(selection: dict | None, space_: str, index: np.ndarray, lat: dnm.Lattice) -> np.ndarray:
    """How many selected samples each node holds (zeros when the selection is of another space)."""
    rows, cols = lat.shape
    counts = np.zeros(rows * cols, dtype=int)
    picked = sel.positions(selection, space_, index)
    if picked:
        np.add.at(counts, np.asarray(lat.bmu)[picked].astype(int), 1)
    return counts


def node_outlines(counts: np.ndarray, cols: int, color: str = "#f39c12") -> list[dict]:
    """One outline rectangle per node holding selected samples (cell ``(r, c)`` spans ``c±0.5, r±0.5``)."""
    return [
        dict(
            type="rect",
            xref="x",
            yref="y",
            x0=c - 0.46,
            x1=c + 0.46,
            y0=r - 0.46,
            y1=r + 0.46,
            line=dict(color=color, width=2.5),
            fillcolor="rgba(0,0,0,0)",
            layer="above",
        )
        for r, c in (divmod(int(k), cols) for k in np.flatnonzero(counts))
    ]


def add_node_points(fig: go.Figure, rows: int, cols: int) -> None:
    """One invisible point per node (``customdata`` = node index) for box/lasso: heatmaps are not selectable."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    fig.add_trace(
        go.Scatter(
            x=c.tolist(),
            y=r.tolist(),
            mode="markers",
            customdata=np.arange(rows * cols).tolist(),
            hoverinfo="none",
            showlegend=False,
            name="nodes",
            marker=dict(size=6, opacity=0),
            selected=dict(marker=dict(opacity=0)),
            unselected=dict(marker=dict(opacity=0)),
        )
    )
    fig.update_layout(dragmode="select")  # zoom stays in the mode bar


def node_card(config: AppConfig, run, node: dnm.Node, n_samples: int, strip: int = 10, n_selected: int | None = None):
    """Tooltip for one lattice node: its decoded prototype, its numbers (and how many of its samples
    are selected), a strip of the samples it holds."""
    lines = [f"node ({node.row}, {node.col}) · {len(node.members)} samples"]
    if n_selected is not None:
        lines.append(f"{n_selected} of them selected")
    if node.majority >= 0:
        lines.append(f"majority {node.majority} · purity {node.purity:.2f}")
    return cards.sample_card(
        node.prototype, lines, extra=_member_strip(config, run, node, n_samples, strip), image_class="maps-prototype"
    )


def _member_strip(config: AppConfig, run, node: dnm.Node, n_samples: int, strip: int) -> list:
    """A strip of the first ``strip`` member images, when the run's dataset is at hand in full."""
    if not len(node.members):
        return []
    try:
        ds = state.dataset(config, run.manifest.get("dataset"))
    except Exception:
        return []
    if ds.images is None or len(ds.images) != n_samples:
        return []
    pos = node.members[:strip]
    strip_img = images.tile(ds.images[pos], 1, len(pos), pad=1)
    return [
        html.Img(
            src=images.png_data_uri(strip_img, size=min(40 * len(pos), 400)),
            className="tile-img maps-strip",
            style={"height": "40px"},
        )
    ]
