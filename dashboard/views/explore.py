"""The Explore tab: bring your own embeddings and look for label mistakes, outliers and
error clusters on a 2-D map; click a point (or lasso a group) to see its most similar
samples; export a selection as CSV for relabelling."""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import ALL, Input, Output, Patch, State, ctx, dcc, html, no_update

from models.neighbors import similar_to, unit_rows
from models.store import StoreError
from models.studies import explore as study

from .. import figures, images, state
from ..config import AppConfig
from ..jobs import describe_error, job_options, reporter

TAB_ID = "explore"
LABEL = "Explore"
TRAINS = "explore"
ARRAY_SUFFIXES = (".npz", ".npy", ".parquet", ".csv")
LIST_ROWS = 12
GALLERY_K = 12
HIDDEN_META = {"predictions", "scores", "image_paths", "missing_images", "warnings", "skipped"}


# -- layout -------------------------------------------------------------------------
def layout(config: AppConfig):
    controls = dbc.Row([
        dbc.Col(dbc.InputGroup([dbc.InputGroupText("Vectors"),
                                dbc.Select(id="explore-source", options=source_options(config), value="")],
                               size="sm"), md=5),
        dbc.Col(dbc.InputGroup([dbc.InputGroupText("Map"),
                                dbc.Select(id="explore-method", value="umap", options=[
                                    {"label": "UMAP", "value": "umap"}, {"label": "t-SNE", "value": "tsne"},
                                    {"label": "PCA", "value": "pca"}])], size="sm"), md=3),
        dbc.Col(dbc.InputGroup([dbc.InputGroupText("k"),
                                dbc.Input(id="explore-k", type="number", min=2, max=100, step=1, value=15)],
                               size="sm"), md=2),
        dbc.Col(dbc.Button("Compute", id="explore-compute", color="primary", size="sm", className="w-100"), md=2),
    ], className="g-2 mb-2")
    filters = dbc.Row([
        dbc.Col(dbc.InputGroup([dbc.InputGroupText("Colour"),
                                dbc.Select(id="explore-color", value="label", options=base_color_options())],
                               size="sm"), md=4),
        dbc.Col(dbc.InputGroup([dbc.InputGroupText("Label"),
                                dbc.Select(id="explore-label", value="all", options=[{"label": "any", "value": "all"}])],
                               size="sm"), md=3),
        dbc.Col(dbc.InputGroup([dbc.InputGroupText("Predicted"),
                                dbc.Select(id="explore-pred", value="all", options=[{"label": "any", "value": "all"}])],
                               size="sm"), md=3),
        dbc.Col([dbc.Button("Export CSV", id="explore-export", color="secondary", outline=True, size="sm",
                            className="w-100", title="Download the selection (or every shown point) as CSV"),
                 dcc.Download(id="explore-download")], md=2),
    ], className="g-2 mb-1")
    side = dbc.Tabs([
        dbc.Tab(html.Div(id="explore-similar", className="explore-list",
                         children=html.Div("Click a point, a list row, or lasso a group.", className="text-muted small")),
                label="Similar", tab_id="similar"),
        dbc.Tab(html.Div(id="explore-mistakes", className="explore-list"), label="Mistakes", tab_id="mistakes"),
        dbc.Tab(html.Div(id="explore-outliers", className="explore-list"), label="Outliers", tab_id="outliers"),
        dbc.Tab(html.Div(id="explore-clusters", className="explore-list"), label="Clusters", tab_id="clusters"),
    ], id="explore-side", active_tab="mistakes")
    return html.Div([
        controls, filters,
        dbc.Row([
            dbc.Col([
                dcc.Graph(id="explore-scatter", figure=figures.empty_figure("choose vectors and press Compute"),
                          clear_on_unhover=True, style={"height": "64vh"},
                          config={"displaylogo": False, "scrollZoom": True}),
                dcc.Tooltip(id="explore-tooltip", direction="right"),
                html.Div(id="explore-status", className="small text-muted"),
            ], md=7),
            dbc.Col(side, md=5),
        ], className="g-3"),
        dcc.Store(id="explore-run"), dcc.Store(id="explore-selection", data=[]),
    ])


def base_color_options() -> list[dict]:
    return [{"label": "label", "value": "label"}, {"label": "prediction", "value": "prediction"},
            {"label": "agreement (correct / wrong)", "value": "agreement"},
            {"label": "mistake score", "value": "mistake_score"}, {"label": "outlier score", "value": "outlier_score"}]


def source_options(config: AppConfig) -> list[dict]:
    """The dataset in the picker, then every arrays file found in the data directory."""
    options = [{"label": "dataset in the picker (its pixels)", "value": ""}]
    root = Path(config.data_dir)
    if root.is_dir():
        found = sorted(p for p in root.rglob("*") if p.suffix.lower() in ARRAY_SUFFIXES and p.is_file()
                       and not p.name.endswith((".labels.npy", "_labels.npy")))
        for p in found[:200]:
            rel = p.relative_to(root).as_posix()
            options.append({"label": f"arrays: {rel}", "value": f"arrays:{rel}"})
    return options + run_activation_options(config)


def run_activation_options(config: AppConfig, max_runs: int = 20) -> list[dict]:
    """Layer activations stored in runs: any array of a run's ``.npz`` that sits next to ``labels``."""
    import zipfile

    options = []
    for run in config.store.list()[:max_runs]:
        if run.kind == study.KIND:
            continue
        for npz in sorted(run.path.glob("*.npz")):
            try:
                with zipfile.ZipFile(npz) as zf:
                    keys = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
            except (OSError, zipfile.BadZipFile):
                continue
            if "labels" not in keys:
                continue
            for key in keys:
                if key in ("labels", "predictions", "scores", "index"):
                    continue
                value = f"run:{run.id}/{npz.stem}/{key}"
                options.append({"label": f"run {run.kind} · {run.id[-6:]} · {npz.stem}/{key}", "value": value})
    return options


# -- pure helpers ---------------------------------------------------------------------
def filter_mask(labels: np.ndarray, preds: np.ndarray, label: str | None, pred: str | None) -> np.ndarray:
    """Which samples pass "label = …" and "predicted …" (``all``, ``right``, ``wrong``, ``=k``, ``!=k``)."""
    mask = np.ones(len(labels), dtype=bool)
    if label not in (None, "", "all"):
        mask &= labels == int(label)
    if pred in (None, "", "all"):
        return mask
    if pred == "right":
        return mask & (preds == labels)
    if pred == "wrong":
        return mask & (preds != labels)
    if pred.startswith("!="):
        return mask & (preds != int(pred[2:]))
    if pred.startswith("="):
        return mask & (preds == int(pred[1:]))
    raise ValueError(f"prediction filter must be all, right, wrong, =k or !=k (got {pred!r})")


def pred_options(names: list[str]) -> list[dict]:
    opts = [{"label": "any", "value": "all"}, {"label": "= label (correct)", "value": "right"},
            {"label": "≠ label (wrong)", "value": "wrong"}]
    opts += [{"label": f"= {n}", "value": f"={k}"} for k, n in enumerate(names)]
    opts += [{"label": f"≠ {n}", "value": f"!={k}"} for k, n in enumerate(names)]
    return opts


def meta_columns(ds) -> dict[str, np.ndarray]:
    """Per-sample metadata columns a person can colour by."""
    return {k: np.asarray(v) for k, v in ds.meta.items()
            if k not in HIDDEN_META and isinstance(v, np.ndarray) and v.shape == (ds.n,)}


def selection_csv(sel: np.ndarray, arrays: dict, names: list[str], ds) -> str:
    """CSV rows for ``sel``: index, labels, prediction, suggested label, scores (and image path)."""
    import pandas as pd

    labels, preds = arrays["labels"], arrays["predictions"]
    frame = pd.DataFrame({
        "index": arrays["index"][sel] if "index" in arrays else sel,
        "label": [names[c] for c in labels[sel]], "prediction": [names[c] for c in preds[sel]],
        "suggested_label": [names[c] for c in arrays["suggested"][sel]],
        "mistake_score": np.round(arrays["mistake_score"][sel], 4),
        "outlier_score": np.round(arrays["outlier_score"][sel], 4)})
    if "image_paths" in ds.meta:
        frame["image_path"] = np.asarray(ds.meta["image_paths"])[sel]
    frame = frame.sort_values("mistake_score", ascending=False)
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue()


# -- server-side data -----------------------------------------------------------------
@lru_cache(maxsize=4)
def _run_arrays(store_root: str, run_id: str) -> dict:
    from models.store import RunStore

    run = RunStore(store_root).load(run_id)
    arrays = run.arrays("explore")
    clusters, summary = study.load_run_meta(run)
    return {"arrays": arrays, "clusters": clusters, "summary": summary, "config": run.config,
            "dataset": run.manifest.get("dataset", "")}


def run_data(config: AppConfig, run_id: str) -> dict:
    return _run_arrays(str(config.store_dir), run_id)


@lru_cache(maxsize=4)
def _source_dataset(data_dir: str, store_root: str, source: str):
    from models.store import RunStore

    return study.load_source(source, data_dir=data_dir, store=RunStore(store_root))


def run_dataset(config: AppConfig, data: dict):
    source = data["config"].get("source") or data["dataset"]
    if source.startswith("run:") or source.startswith("arrays:"):
        return _source_dataset(str(config.data_dir), str(config.store_dir), source)
    return state.dataset(config, source)


_UNIT: dict[tuple, np.ndarray] = {}


def unit_for(ds) -> np.ndarray:
    """The dataset's unit-length vectors, made once per dataset for similar-sample queries."""
    key = (ds.name, ds.n, ds.dim)
    if key not in _UNIT:
        _UNIT.clear()
        _UNIT[key] = unit_rows(ds.features)
    return _UNIT[key]


def thumb(ds, i: int, size: int = 48):
    if ds.images is None:
        return html.Div("no image", className="explore-noimg")
    return html.Img(src=images.thumbnail((ds.name, ds.split, int(i)), ds.images[int(i)], size=size),
                    className="explore-thumb", style={"width": f"{size}px", "height": f"{size}px"})


# -- callbacks ------------------------------------------------------------------------
def register_callbacks(app: dash.Dash, config: AppConfig) -> None:
    @app.callback(Output("explore-source", "options"), Input("tabs", "active_tab"), Input("store-version", "data"))
    def refresh_sources(tab, _v):
        if tab != TAB_ID:
            return no_update
        return source_options(config)

    @app.callback(Output("store-version", "data", allow_duplicate=True),
                  Output("job-result", "children", allow_duplicate=True),
                  Output("explore-run", "data", allow_duplicate=True),
                  Input("explore-compute", "n_clicks"),
                  State("explore-source", "value"), State("dataset-picker", "value"),
                  State("explore-method", "value"), State("explore-k", "value"), State("store-version", "data"),
                  **job_options("explore-compute"))
    def compute(set_progress, _n, source, picked, method, k, version):
        source = source or picked or config.default_dataset
        progress = reporter(set_progress, f"explore {source}")
        try:
            run = study.run_explore(source, data_dir=config.data_dir, store=config.store, method=method or "umap",
                                    k=int(k or 15), cache=config.results, progress=progress)
        except Exception as exc:
            return no_update, dbc.Alert(describe_error(exc), color="danger", className="p-2 mb-0"), no_update
        pca = run.config.get("pca_dims")
        note = f" (PCA to {pca} dims first)" if pca else ""
        return (version or 0) + 1, f"explore: {method}{note} of {run.manifest['dataset']} done", run.id

    @app.callback(Output("explore-run", "data"),
                  Input("tabs", "active_tab"), Input("explore-source", "value"), Input("dataset-picker", "value"),
                  Input("run-picker", "value"), State("explore-run", "data"))
    def choose_run(tab, source, picked, run_id, current):
        if tab != TAB_ID:
            return no_update
        name = source or picked or config.default_dataset
        run = None
        if ctx.triggered_id == "run-picker" and run_id:
            try:
                run = config.store.load(run_id)
            except StoreError:
                run = None
            if run is None or run.kind != study.KIND:
                return no_update
        else:
            runs = config.store.list(kind=study.KIND, dataset=name)
            run = runs[0] if runs else None
        new = run.id if run is not None else None
        return no_update if new == current else new

    @app.callback(Output("explore-label", "options"), Output("explore-pred", "options"),
                  Output("explore-color", "options"), Output("explore-mistakes", "children"),
                  Output("explore-outliers", "children"), Output("explore-clusters", "children"),
                  Output("explore-status", "children"), Output("explore-selection", "data", allow_duplicate=True),
                  Input("explore-run", "data"), prevent_initial_call=True)
    def show_run(run_id):
        if not run_id:
            return ([{"label": "any", "value": "all"}], pred_options([]), base_color_options(), None, None, None,
                    "no explore run for these vectors yet: press Compute", [])
        try:
            data = run_data(config, run_id)
            ds = run_dataset(config, data)
        except Exception as exc:
            return (no_update,) * 6 + (describe_error(exc), [])
        a, names = data["arrays"], ds.class_names
        s = data["summary"]
        labels = [{"label": "any", "value": "all"}] + [{"label": n, "value": str(k)} for k, n in enumerate(names)]
        colors = base_color_options() + [{"label": f"meta: {c}", "value": f"meta:{c}"} for c in meta_columns(ds)]
        mistakes = ranked_rows(ds, a, "mistake_score", names, "mistake")
        outliers = ranked_rows(ds, a, "outlier_score", names, "outlier")
        clusters = cluster_rows(data["clusters"], names)
        pca = f"PCA to {s['pca_dims']} dims, then " if s.get("pca_dims") else ""
        status = (f"{pca}{s.get('method', '?').upper()} of {len(a['labels']):,} samples · "
                  f"{s.get('dim', ds.dim)}-d vectors · predictions: {s.get('prediction_source')} "
                  f"(accuracy {s.get('accuracy', 0):.1%}) · k = {s.get('k')} cosine neighbours · "
                  f"{len(data['clusters'])} error clusters")
        if s.get("missing_images"):
            status += f" · {s['missing_images']} image paths not found"
        return labels, pred_options(names), colors, mistakes, outliers, clusters, status, []

    @app.callback(Output("explore-scatter", "figure"),
                  Input("explore-run", "data"), Input("explore-color", "value"), Input("explore-label", "value"),
                  Input("explore-pred", "value"), State("explore-selection", "data"))
    def draw(run_id, color, label, pred, selection):
        if not run_id:
            return figures.empty_figure("choose vectors and press Compute")
        try:
            data = run_data(config, run_id)
            ds = run_dataset(config, data)
        except Exception as exc:
            return figures.empty_figure(describe_error(exc))
        a, names = data["arrays"], ds.class_names
        shown = np.flatnonzero(filter_mask(a["labels"], a["predictions"], label, pred))
        values, kind, vnames, title = color_values(a, ds, color or "label")
        marker = figures.explore_marker(values[shown], kind, vnames, title)
        sel = [i for i in (selection or []) if 0 <= i < len(a["labels"])]
        return figures.explore_scatter(a["coords"], shown, marker, selected=sel,
                                       title=f"{len(shown):,} of {len(a['labels']):,} samples · colour: {title}",
                                       uirevision=f"explore-{run_id}")

    @app.callback(Output("explore-selection", "data"),
                  Input("explore-scatter", "clickData"), Input("explore-scatter", "selectedData"),
                  Input({"type": "explore-row", "index": ALL}, "n_clicks"),
                  Input({"type": "explore-cluster", "index": ALL}, "n_clicks"),
                  State("explore-run", "data"), prevent_initial_call=True)
    def select(click, selected, _rows, _clusters, run_id):
        trig = ctx.triggered_id
        if trig is None or not run_id:
            return no_update
        if isinstance(trig, dict):
            if not ctx.triggered[0]["value"]:
                return no_update  # a list re-rendered, nobody clicked
            if trig["type"] == "explore-row":
                return [int(trig["index"])]
            for c in run_data(config, run_id)["clusters"]:
                if c["id"] == trig["index"]:
                    return c["members"]
            return no_update
        if trig == "explore-scatter" and ctx.triggered[0]["prop_id"].endswith("clickData"):
            pts = [p for p in (click or {}).get("points", []) if p.get("curveNumber", 0) == 0]
            return [int(pts[0]["customdata"])] if pts else no_update
        pts = [p for p in (selected or {}).get("points", []) if p.get("curveNumber", 0) == 0]
        return [int(p["customdata"]) for p in pts] if pts else no_update

    @app.callback(Output("explore-scatter", "figure", allow_duplicate=True),
                  Output("explore-similar", "children"), Output("explore-side", "active_tab"),
                  Input("explore-selection", "data"), State("explore-run", "data"), State("explore-k", "value"),
                  prevent_initial_call=True)
    def show_selection(selection, run_id, k):
        if not run_id:
            return no_update, no_update, no_update
        data = run_data(config, run_id)
        ds = run_dataset(config, data)
        a = data["arrays"]
        sel = [i for i in (selection or []) if 0 <= i < len(a["labels"])]
        if not sel:
            return no_update, html.Div("Click a point, a list row, or lasso a group.", className="text-muted small"), no_update
        patch = Patch()
        patch["data"][1] = figures.selection_trace(a["coords"], sel).to_plotly_json()
        if len(sel) == 1:  # centre the map on a single sample
            xr, yr = figures.centred_range(a["coords"], sel[0])
            patch["layout"]["xaxis"]["range"] = xr
            patch["layout"]["yaxis"]["range"] = yr
            patch["layout"]["xaxis"]["autorange"] = False
            patch["layout"]["yaxis"]["autorange"] = False
        return patch, similar_gallery(config, data, ds, sel, int(k or GALLERY_K)), "similar"

    @app.callback(Output("explore-tooltip", "show"), Output("explore-tooltip", "bbox"),
                  Output("explore-tooltip", "children"),
                  Input("explore-scatter", "hoverData"), State("explore-run", "data"))
    def hover(hover_data, run_id):
        if not hover_data or not run_id:
            return False, no_update, no_update
        point = hover_data["points"][0]
        if point.get("curveNumber", 0) != 0 or "customdata" not in point:
            return False, no_update, no_update
        data = run_data(config, run_id)
        ds = run_dataset(config, data)
        return True, point["bbox"], sample_card(ds, data["arrays"], int(point["customdata"]))

    @app.callback(Output("explore-download", "data"), Input("explore-export", "n_clicks"),
                  State("explore-selection", "data"), State("explore-run", "data"),
                  State("explore-label", "value"), State("explore-pred", "value"), prevent_initial_call=True)
    def export(_n, selection, run_id, label, pred):
        if not run_id:
            return no_update
        data = run_data(config, run_id)
        ds = run_dataset(config, data)
        a = data["arrays"]
        sel = np.asarray(selection or [], dtype=np.int64)
        if sel.size == 0:
            sel = np.flatnonzero(filter_mask(a["labels"], a["predictions"], label, pred))
        return dcc.send_string(selection_csv(sel, a, ds.class_names, ds), f"explore-{run_id}-selection.csv")


# -- pieces of the view ----------------------------------------------------------------
def color_values(a: dict, ds, color: str) -> tuple[np.ndarray, str, list[str], str]:
    """(values per sample, marker kind, category names, title) for the colour choice."""
    names = ds.class_names
    if color == "label":
        return a["labels"], "classes", names, "label"
    if color == "prediction":
        return a["predictions"], "classes", names, "prediction"
    if color == "agreement":
        return (a["predictions"] != a["labels"]).astype(int), "agreement", [], "agreement"
    if color in ("mistake_score", "outlier_score"):
        return a[color], "continuous", [], color.replace("_", " ")
    if color.startswith("meta:"):
        col = meta_columns(ds).get(color[5:])
        if col is not None:
            if np.issubdtype(col.dtype, np.number):
                return col.astype(float), "continuous", [], color[5:]
            cats, codes = np.unique(col.astype(str), return_inverse=True)
            return codes, "categories", cats.tolist(), color[5:]
    return a["labels"], "classes", names, "label"


def ranked_rows(ds, a: dict, score: str, names: list[str], what: str) -> html.Div:
    order = np.argsort(-a[score], kind="stable")[:LIST_ROWS]
    rows = []
    for i in order:
        detail = (f"labelled {names[a['labels'][i]]} → looks like {names[a['suggested'][i]]}" if what == "mistake"
                  else f"labelled {names[a['labels'][i]]} · predicted {names[a['predictions'][i]]}")
        rows.append(html.Button([
            thumb(ds, i),
            html.Div([html.Div(f"#{int(a['index'][i])} · {detail}", className="explore-row-title"),
                      html.Div(f"{what} score {a[score][i]:.3f}", className="small text-muted")]),
        ], id={"type": "explore-row", "index": int(i)}, className="explore-row", n_clicks=0))
    head = ("Ranked by how strongly the nearest neighbours (and the model, when it gave scores) disagree with the label."
            if what == "mistake" else "Ranked by cosine distance to the k-th nearest neighbour in the original space.")
    return html.Div([html.Div(head, className="small text-muted mb-1"), *rows])


def cluster_rows(clusters: list[dict], names: list[str]) -> html.Div:
    if not clusters:
        return html.Div("No clusters among the misclassified samples (too few errors, or no pattern).",
                        className="small text-muted")
    rows = [html.Button([
        html.Div(f"{c['size']} samples: labelled {names[c['label']]}, predicted {names[c['prediction']]}",
                 className="explore-row-title"),
        html.Div(f"that pair is {c['share']:.0%} of the cluster · click to select", className="small text-muted"),
    ], id={"type": "explore-cluster", "index": c["id"]}, className="explore-row", n_clicks=0) for c in clusters]
    return html.Div([html.Div("HDBSCAN over samples whose prediction differs from their label.",
                              className="small text-muted mb-1"), *rows])


def similar_gallery(config: AppConfig, data: dict, ds, sel: list[int], k: int) -> html.Div:
    """The selection's k most similar samples (cosine, original space) with distances."""
    a, names = data["arrays"], ds.class_names
    # exact cosine over unit rows: ~30 ms for 10⁵ × 512 (bench/explore.py), so a click needs no approximation
    idx, dist = similar_to(unit_for(ds), ds.features[sel], k, exclude=np.asarray(sel))
    head = (f"{len(sel)} selected: the {len(idx)} samples nearest their mean direction (cosine)" if len(sel) > 1
            else f"#{int(a['index'][sel[0]])}: its {len(idx)} nearest samples (cosine)")
    query = [html.Div([thumb(ds, sel[0], 64), html.Div(f"query · {names[a['labels'][sel[0]]]}", className="small")],
                      className="explore-card explore-query")] if len(sel) == 1 else []
    cards = [html.Div([thumb(ds, i, 64),
                       html.Div(f"{names[a['labels'][i]]} · d={d:.3f}", className="small")],
                      className="explore-card", title=f"sample #{int(a['index'][i])}") for i, d in zip(idx, dist)]
    return html.Div([html.Div(head, className="small text-muted mb-1"),
                     html.Div(query + cards, className="explore-gallery", id="explore-gallery")])


def sample_card(ds, a: dict, i: int) -> html.Div:
    names = ds.class_names
    lines = [f"#{int(a['index'][i])} · label {names[a['labels'][i]]} · predicted {names[a['predictions'][i]]}",
             f"mistake {a['mistake_score'][i]:.3f} · outlier {a['outlier_score'][i]:.3f}"]
    for col, values in list(meta_columns(ds).items())[:4]:
        lines.append(f"{col}: {values[i]}")
    if "image_paths" in ds.meta:
        lines.append(str(np.asarray(ds.meta["image_paths"])[i]))
    children = []
    if ds.images is not None:
        children.append(html.Img(src=images.thumbnail((ds.name, ds.split, i), ds.images[i], size=96),
                                 className="tooltip-img"))
    children += [html.Div(line, className="tooltip-line") for line in lines]
    return html.Div(children, className="tooltip-card")
