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
from models.studies.explore_scores import cluster_mix, page_of

from ... import figures, images
from ... import selection as shared_selection
from ...cards import sample_card
from .data import RANKINGS, Shown, color_values, filter_mask, meta_columns, ranking

LIST_ROWS = 12
MAX_META_LINES = 4
#: rings mark a selection this small (a clicked sample, a list row); a bigger one is shown by the highlight alone
#: (selected points keep their class colour and grow, the others grey), so rings never hide the colours
RING_MAX = 50


def map_figure(
    shown: Shown, color: str | None, label: str | None, pred: str | None, selection: Sequence[int] = ()
) -> go.Figure:
    """The map: the samples passing the filters coloured by ``color`` (trace 0), the others greyed
    underneath (never removed), the axes fixed to every sample's extent so a filter does not rescale
    them; a small selection ringed (a big one highlighted in the page: :func:`dashboard.selection.mark`)."""
    a = shown.arrays
    mask = filter_mask(a["labels"], a["predictions"], label, pred)
    index = np.flatnonzero(mask)
    values, kind, names, title = color_values(a, shown.dataset, color or "label")
    marker = figures.explore_marker(values[index], kind, names, title)
    greyed = "" if mask.all() else " (others greyed)"
    fig = figures.explore_scatter(
        a["coords"],
        index,
        marker,
        selected=rings(shown.valid(selection)),
        title=f"{len(index):,} of {shown.n:,} samples{greyed} · colour: {title}",
        uirevision=f"explore-{shown.run.id}",
        greyed=np.flatnonzero(~mask),
    )
    # trace 0's customdata are run positions: the page maps them to sample ids through the run's ids
    # trace 1, the rings of a small selection, is redrawn over the page's highlight (its veil would dim them)
    return shared_selection.mark(fig, shown.space, [0], key="customdata", lookup=shown.ids, above=[1])


def rings(selection: Sequence[int]) -> list[int]:
    """The positions to ring: the selection when it is small (:data:`RING_MAX`), else none."""
    return list(selection) if len(selection) <= RING_MAX else []


def status_line(shown: Shown) -> str:
    """How the map was made, where the predictions came from, and what is missing."""
    s = shown.summary
    pca = f"PCA to {s.pca_dims} dims, then " if s.pca_dims else ""
    status = (
        f"{pca}{(s.method or '?').upper()} of {shown.n:,} samples · "
        f"{s.dim or shown.dataset.dim}-d vectors · predictions: {s.prediction_source} "
        f"(accuracy {s.accuracy:.1%}) · k = {s.k} cosine neighbours · "
        f"{len(shown.clusters)} error clusters"
    )
    if s.missing_images:
        status += f" · {s.missing_images} image paths not found"
    return status


def thumb(ds: Dataset, i: int, size: int = 48):
    if ds.images is None:
        return html.Div("no image", className="explore-noimg")
    return html.Img(
        src=images.thumbnail((ds.name, ds.split, int(i)), ds.images[int(i)], size=size),
        className="explore-thumb",
        style={"width": f"{size}px", "height": f"{size}px"},
    )


def page_label(page: int, size: int, total: int) -> str:
    """ "1–12 of 1,797": the rows a page shows out of every sample."""
    if total == 0:
        return "0 of 0"
    first = page * size + 1
    return f"{first:,}–{min(first + size - 1, total):,} of {total:,}"


def ranked_rows(shown: Shown, what: str, page: int = 0) -> tuple[html.Div, str, bool, bool, int]:
    """One page (``LIST_ROWS``) of every sample ranked for the ``what`` list ("mistake" or "outlier"), as
    buttons under a header saying how the list is sorted; with the pager's text, whether Prev and Next
    are disabled, and the page actually shown (clamped)."""
    a, names, ds = shown.arrays, shown.names, shown.dataset
    score = RANKINGS[what][0]
    rows_of, page, pages = page_of(ranking(shown, what), page, LIST_ROWS)
    rows = []
    for i in rows_of:
        detail = (
            f"labelled {names[a['labels'][i]]} → looks like {names[a['suggested'][i]]}"
            if what == "mistake"
            else f"labelled {names[a['labels'][i]]} · predicted {names[a['predictions'][i]]}"
        )
        rows.append(
            html.Button(
                [
                    thumb(ds, i),
                    html.Div(
                        [
                            html.Div(f"#{int(shown.ids[i])} · {detail}", className="explore-row-title"),
                            html.Div(f"{what} score {a[score][i]:.3f}", className="small text-muted"),
                        ]
                    ),
                ],
                id={"type": "explore-row", "index": int(i)},
                className="explore-row",
                n_clicks=0,
            )
        )
    body = html.Div([html.Div(RANKINGS[what][1], className="small text-muted mb-1 explore-sorted-by"), *rows])
    return body, page_label(page, LIST_ROWS, shown.n), page == 0, page >= pages - 1, page


MIXED_BELOW = 0.6  # a cluster whose commonest (label, prediction) pair is under this share is "mixed"


def cluster_title(
    c: ErrorCluster, labels: np.ndarray, predictions: np.ndarray, names: Sequence[str]
) -> tuple[str, str]:
    """(title, detail) of an error cluster: its pair "labelled 3, predicted 8" when that pair is most of it,
    else "mixed: 3, 5, 8" (the classes involved, commonest first)."""
    mixed, classes = cluster_mix(labels, predictions, c.members, pure=MIXED_BELOW)
    pair = f"{names[c.label]}→{names[c.prediction]}"
    if mixed:
        return (
            f"{c.size} samples: mixed: {', '.join(str(names[k]) for k in classes)}",
            f"no (label, prediction) pair is {MIXED_BELOW:.0%} of it; the commonest, {pair}, is {c.share:.0%}"
            " · click to select",
        )
    return (
        f"{c.size} samples: labelled {names[c.label]}, predicted {names[c.prediction]}",
        f"that pair ({pair}) is {c.share:.0%} of the cluster · click to select",
    )


def cluster_rows(
    clusters: Sequence[ErrorCluster],
    names: Sequence[str],
    labels: np.ndarray | None = None,
    predictions: np.ndarray | None = None,
) -> html.Div:
    if not clusters:
        return html.Div(
            "No clusters among the misclassified samples (too few errors, or no pattern).", className="small text-muted"
        )
    rows = []
    for c in clusters:
        if labels is not None and predictions is not None:
            title, detail = cluster_title(c, labels, predictions, names)
        else:
            title = f"{c.size} samples: labelled {names[c.label]}, predicted {names[c.prediction]}"
            detail = f"that pair is {c.share:.0%} of the cluster · click to select"
        rows.append(
            html.Button(
                [html.Div(title, className="explore-row-title"), html.Div(detail, className="small text-muted")],
                id={"type": "explore-cluster", "index": c.id},
                className="explore-row",
                n_clicks=0,
            )
        )
    return html.Div(
        [
            html.Div(
                "HDBSCAN over samples whose prediction differs from their label.", className="small text-muted mb-1"
            ),
            *rows,
        ]
    )


def similar_gallery(shown: Shown, sel: Sequence[int], idx: np.ndarray, dist: np.ndarray) -> html.Div:
    """The selection's nearest samples ``idx`` at cosine distances ``dist``, after the query when it is one sample."""
    a, names, ds = shown.arrays, shown.names, shown.dataset
    head = (
        f"{len(sel)} selected: the {len(idx)} samples nearest their mean direction (cosine)"
        if len(sel) > 1
        else f"#{int(shown.ids[sel[0]])}: its {len(idx)} nearest samples (cosine)"
    )
    query = (
        [
            html.Div(
                [thumb(ds, sel[0], 64), html.Div(f"query · {names[a['labels'][sel[0]]]}", className="small")],
                className="explore-card explore-query",
            )
        ]
        if len(sel) == 1
        else []
    )
    cards = [
        html.Div(
            [thumb(ds, i, 64), html.Div(f"{names[a['labels'][i]]} · d={d:.3f}", className="small")],
            className="explore-card",
            title=f"sample #{int(shown.ids[i])}",
        )
        for i, d in zip(idx, dist)
    ]
    return html.Div(
        [
            html.Div(head, className="small text-muted mb-1"),
            html.Div(query + cards, className="explore-gallery", id="explore-gallery"),
        ]
    )


def hover_lines(shown: Shown, i: int) -> list[str]:
    """What the hover card says of sample ``i``: label, prediction, scores, metadata, image path."""
    a, names, ds = shown.arrays, shown.names, shown.dataset
    lines = [
        f"#{int(shown.ids[i])} · label {names[a['labels'][i]]} · predicted {names[a['predictions'][i]]}",
        f"mistake {a['mistake_score'][i]:.3f} · outlier {a['outlier_score'][i]:.3f}",
    ]
    lines += [f"{col}: {values[i]}" for col, values in list(meta_columns(ds).items())[:MAX_META_LINES]]
    if "image_paths" in ds.meta:
        lines.append(str(np.asarray(ds.meta["image_paths"])[i]))
    return lines


def hover_card(shown: Shown, i: int) -> html.Div:
    ds = shown.dataset
    image = ds.images[i] if ds.images is not None else None
    return sample_card(image, hover_lines(shown, i), key=(ds.name, ds.split, i))
