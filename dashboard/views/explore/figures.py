"""The Explore tab's pieces as pure functions of an explore run (:class:`data.Shown`): the map,
the ranked lists, the error clusters, the similar-samples gallery, the hover card and the status
line. No callbacks and no store here, so each is tested without a browser."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from dash import html
from plotly import graph_objects as go

from models.datasets import Dataset
from models.studies.explore import ErrorCluster

from ... import figures, images
from ...cards import sample_card
from .data import Shown, color_values, filter_mask, meta_columns

LIST_ROWS = 12
MAX_META_LINES = 4
MISTAKES_HEAD = ("Ranked by how strongly the nearest neighbours (and the model, when it gave scores) "
                 "disagree with the label.")
OUTLIERS_HEAD = "Ranked by cosine distance to the k-th nearest neighbour in the original space."


def map_figure(shown: Shown, color: str | None, label: str | None, pred: str | None,
               selection: Sequence[int] = ()) -> go.Figure:
    """The map of every sample passing the filters, coloured by ``color``, the selection ringed."""
    a = shown.arrays
    index = np.flatnonzero(filter_mask(a["labels"], a["predictions"], label, pred))
    values, kind, names, title = color_values(a, shown.dataset, color or "label")
    marker = figures.explore_marker(values[index], kind, names, title)
    return figures.explore_scatter(a["coords"], index, marker, selected=shown.valid(selection),
                                   title=f"{len(index):,} of {shown.n:,} samples · colour: {title}",
                                   uirevision=f"explore-{shown.run.id}")


def status_line(shown: Shown) -> str:
    """How the map was made, where the predictions came from, and what is missing."""
    s = shown.summary
    pca = f"PCA to {s.pca_dims} dims, then " if s.pca_dims else ""
    status = (f"{pca}{(s.method or '?').upper()} of {shown.n:,} samples · "
              f"{s.dim or shown.dataset.dim}-d vectors · predictions: {s.prediction_source} "
              f"(accuracy {s.accuracy:.1%}) · k = {s.k} cosine neighbours · "
              f"{len(shown.clusters)} error clusters")
    if s.missing_images:
        status += f" · {s.missing_images} image paths not found"
    return status


def thumb(ds: Dataset, i: int, size: int = 48):
    if ds.images is None:
        return html.Div("no image", className="explore-noimg")
    return html.Img(src=images.thumbnail((ds.name, ds.split, int(i)), ds.images[int(i)], size=size),
                    className="explore-thumb", style={"width": f"{size}px", "height": f"{size}px"})


def ranked_rows(shown: Shown, score: str, what: str) -> html.Div:
    """The ``LIST_ROWS`` samples with the highest ``score`` ("mistake_score" or "outlier_score"), as buttons."""
    a, names, ds = shown.arrays, shown.names, shown.dataset
    rows = []
    for i in np.argsort(-a[score], kind="stable")[:LIST_ROWS]:
        detail = (f"labelled {names[a['labels'][i]]} → looks like {names[a['suggested'][i]]}" if what == "mistake"
                  else f"labelled {names[a['labels'][i]]} · predicted {names[a['predictions'][i]]}")
        rows.append(html.Button([
            thumb(ds, i),
            html.Div([html.Div(f"#{int(a['index'][i])} · {detail}", className="explore-row-title"),
                      html.Div(f"{what} score {a[score][i]:.3f}", className="small text-muted")]),
        ], id={"type": "explore-row", "index": int(i)}, className="explore-row", n_clicks=0))
    head = MISTAKES_HEAD if what == "mistake" else OUTLIERS_HEAD
    return html.Div([html.Div(head, className="small text-muted mb-1"), *rows])


def cluster_rows(clusters: Sequence[ErrorCluster], names: Sequence[str]) -> html.Div:
    if not clusters:
        return html.Div("No clusters among the misclassified samples (too few errors, or no pattern).",
                        className="small text-muted")
    rows = [html.Button([
        html.Div(f"{c.size} samples: labelled {names[c.label]}, predicted {names[c.prediction]}",
                 className="explore-row-title"),
        html.Div(f"that pair is {c.share:.0%} of the cluster · click to select", className="small text-muted"),
    ], id={"type": "explore-cluster", "index": c.id}, className="explore-row", n_clicks=0) for c in clusters]
    return html.Div([html.Div("HDBSCAN over samples whose prediction differs from their label.",
                              className="small text-muted mb-1"), *rows])


def similar_gallery(shown: Shown, sel: Sequence[int], idx: np.ndarray, dist: np.ndarray) -> html.Div:
    """The selection's nearest samples ``idx`` at cosine distances ``dist``, after the query when it is one sample."""
    a, names, ds = shown.arrays, shown.names, shown.dataset
    head = (f"{len(sel)} selected: the {len(idx)} samples nearest their mean direction (cosine)" if len(sel) > 1
            else f"#{int(a['index'][sel[0]])}: its {len(idx)} nearest samples (cosine)")
    query = [html.Div([thumb(ds, sel[0], 64), html.Div(f"query · {names[a['labels'][sel[0]]]}", className="small")],
                      className="explore-card explore-query")] if len(sel) == 1 else []
    cards = [html.Div([thumb(ds, i, 64),
                       html.Div(f"{names[a['labels'][i]]} · d={d:.3f}", className="small")],
                      className="explore-card", title=f"sample #{int(a['index'][i])}") for i, d in zip(idx, dist)]
    return html.Div([html.Div(head, className="small text-muted mb-1"),
                     html.Div(query + cards, className="explore-gallery", id="explore-gallery")])


def hover_lines(shown: Shown, i: int) -> list[str]:
    """What the hover card says of sample ``i``: label, prediction, scores, metadata, image path."""
    a, names, ds = shown.arrays, shown.names, shown.dataset
    lines = [f"#{int(a['index'][i])} · label {names[a['labels'][i]]} · predicted {names[a['predictions'][i]]}",
             f"mistake {a['mistake_score'][i]:.3f} · outlier {a['outlier_score'][i]:.3f}"]
    lines += [f"{col}: {values[i]}" for col, values in list(meta_columns(ds).items())[:MAX_META_LINES]]
    if "image_paths" in ds.meta:
        lines.append(str(np.asarray(ds.meta["image_paths"])[i]))
    return lines


def hover_card(shown: Shown, i: int) -> html.Div:
    ds = shown.dataset
    image = ds.images[i] if ds.images is not None else None
    return sample_card(image, hover_lines(shown, i), key=(ds.name, ds.split, i))
