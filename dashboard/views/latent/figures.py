"""The Latent plane's pure parts: arrays and readers' results in, Plotly figures and status
text out. Tested without a browser (tests/test_latent_view.py)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import class_color, empty_figure, label_scatter, selected_style, unselected_style
from models.studies.gne import Heldout, Metrics, Moved, Plane

__all__ = [
    "LATENT_TRAIN",
    "LATENT_HELDOUT",
    "LATENT_BEFORE",
    "LATENT_AFTER",
    "latent_scatter",
    "latent_handle",
    "handle_center",
    "handle_size",
    "TITLES",
    "plane_figure",
    "metrics_text",
    "heldout_text",
    "moved_text",
    "empty_figure",
    "LATENT_DECODE",
    "LATENT_CELL",
    "DECODE_CELLS",
    "decode_layer",
    "cell_marker",
    "grid_cells",
    "grid_figure",
    "GRID_FIGURE_HEIGHT",
    "EMPTY_MESSAGE",
]

TITLES = {"gne": "GNE (learned points)", "vae": "VAE (encoder means)"}

# Trace order is fixed so callbacks can tell points apart by ``curveNumber``:
# 0 training samples, 1 held-out samples, 2 moved points before, 3 moved points after, 4 before→after lines.
LATENT_TRAIN, LATENT_HELDOUT, LATENT_BEFORE, LATENT_AFTER = 0, 1, 2, 3
# 5: an invisible heat map under the points, so hovering empty space gives (x, y) to decode there;
# 6: the marker of the decoded-grid cell last clicked.
LATENT_DECODE, LATENT_CELL = 5, 6
DECODE_CELLS = 160  # the hover layer's cells per axis: the decoded image follows the pointer on this grid
GRID_FIGURE_HEIGHT = 620  # px: ≥ 28 px per cell of a 20×20 grid (the plot area is about 560 px square)
EMPTY_MESSAGE = "no GNE run yet: set epochs and press “Train GNE + VAE”"


def latent_scatter(
    coords: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    index: np.ndarray | None = None,
    heldout: dict | None = None,
    moved: dict | None = None,
    handle: Sequence[float] | None = None,
    handle_radius: float = 0.1,
    title: str = "",
    uirevision: str = "latent",
) -> go.Figure:
    """A latent plane: training points by class, held-out points (``heldout``: coords, labels, index) as
    black-edged crosses, moved points (``moved``: ids, before, after) as open circles → diamonds, and an
    optional draggable ``handle`` (a circle shape centred there)."""
    fig = label_scatter(coords, labels, class_names, index=index, title=title, uirevision=uirevision)
    fig.data[0].name = "train"
    fig.data[0].showlegend = False
    fig.update_layout(dragmode="select", showlegend=True, legend=dict(orientation="h", y=-0.02, x=0.0))
    held = heldout or {}
    hc = np.asarray(held.get("coords", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
    hl = np.asarray(held.get("labels", np.zeros(0)), dtype=int)
    fig.add_trace(
        go.Scattergl(
            x=hc[:, 0].tolist(),
            y=hc[:, 1].tolist(),
            mode="markers",
            name="held-out (placed)",
            customdata=np.asarray(held.get("index", np.arange(len(hc)))).tolist(),
            hoverinfo="none",
            visible=True if len(hc) else "legendonly",
            marker=dict(
                symbol="x", size=9, color=[class_color(k) for k in hl.tolist()], line=dict(width=1.2, color="#111")
            ),
        )
    )
    mv = moved or {}
    ids = np.asarray(mv.get("ids", np.zeros(0)), dtype=int)
    before = np.asarray(mv.get("before", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
    after = np.asarray(mv.get("after", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
    idx = np.arange(len(coords)) if index is None else np.asarray(index)
    data_ids = idx[ids].tolist() if len(ids) else []
    fig.add_trace(
        go.Scattergl(
            x=before[:, 0].tolist(),
            y=before[:, 1].tolist(),
            mode="markers",
            name="before move",
            customdata=data_ids,
            hoverinfo="none",
            visible=True if len(ids) else "legendonly",
            marker=dict(symbol="circle-open", size=9, color="#555", line=dict(width=1.5)),
        )
    )
    fig.add_trace(
        go.Scattergl(
            x=after[:, 0].tolist(),
            y=after[:, 1].tolist(),
            mode="markers",
            name="after training on",
            customdata=data_ids,
            hoverinfo="none",
            visible=True if len(ids) else "legendonly",
            marker=dict(symbol="diamond", size=9, color="#d62728", line=dict(width=1, color="#111")),
        )
    )
    lx, ly = [], []
    for (x0, y0), (x1, y1) in zip(before.tolist(), after.tolist()):
        lx += [x0, x1, None]
        ly += [y0, y1, None]
    fig.add_trace(
        go.Scattergl(
            x=lx, y=ly, mode="lines", hoverinfo="skip", showlegend=False, line=dict(width=1, color="rgba(90,90,90,0.5)")
        )
    )
    if handle is not None:
        fig.update_layout(shapes=[latent_handle(handle, handle_radius)])
    return fig


def latent_handle(center: Sequence[float], radius: float) -> dict:
    """The draggable handle: a circle shape (moved with ``config={"edits": {"shapePosition": True}}``)."""
    cx, cy = float(center[0]), float(center[1])
    return dict(
        type="circle",
        xref="x",
        yref="y",
        x0=cx - radius,
        x1=cx + radius,
        y0=cy - radius,
        y1=cy + radius,
        line=dict(color="#d62728", width=3),
        fillcolor="rgba(214,39,40,0.15)",
    )


def handle_center(relayout: dict | None, shape: int = 0) -> tuple[float, float] | None:
    """The centre of shape ``shape`` from a graph's ``relayoutData`` after it was dragged, or None."""
    if not relayout:
        return None
    keys = [f"shapes[{shape}].{k}" for k in ("x0", "x1", "y0", "y1")]
    if all(k in relayout for k in keys):
        x0, x1, y0, y1 = (float(relayout[k]) for k in keys)
        return (x0 + x1) / 2, (y0 + y1) / 2
    shapes = relayout.get("shapes")
    if isinstance(shapes, list) and len(shapes) > shape:
        s = shapes[shape]
        return (float(s["x0"]) + float(s["x1"])) / 2, (float(s["y0"]) + float(s["y1"])) / 2
    return None


def handle_size(coords: np.ndarray) -> float:
    """The handle's radius: 4% of the plane's robust extent, so it looks the same at every scale."""
    extent = np.percentile(coords, 99, axis=0) - np.percentile(coords, 1, axis=0)
    return float(0.04 * extent.max())


def metrics_text(run_id: str, m: Metrics) -> list[str]:
    """The status line's parts: both sides' error and speed, then how the run was trained."""
    return [
        f"{run_id}: ",
        f"GNE mse {m.gne_mse:.4f} · {m.gne_seconds_per_epoch:.3f} s/epoch",
        "  |  ",
        f"VAE mse {m.vae_mse:.4f} · {m.vae_seconds_per_epoch:.3f} s/epoch",
        f"  ({m.epochs} epochs, batch {m.batch_size}, {m.device}"
        + ("" if m.generator == "?" else f", {m.generator} generator")
        + ")",
    ]


def heldout_text(held: Heldout) -> str:
    where = "test samples" if held.split == "test" else f"{held.split}-split samples left out of training"
    return (
        f"held-out: {len(held.index)} {where} · GNE new-point mse {held.gne_error.mean():.4f} (from "
        f"{held.gne_start_error.mean():.4f} at the starting guess) · VAE encoder mse {held.vae_error.mean():.4f}"
    )


def moved_text(moved: Moved | None, m: Metrics, parent_mse: float | None = None) -> str:
    """What a moved run did (empty for a trained one); ``parent_mse`` is the GNE mse before the move."""
    if moved is None:
        return ""
    before = "" if parent_mse is None else f"; GNE mse {parent_mse:.4f} before → {m.gne_mse:.4f} after"
    pin = "pinned" if m.pinned else "free"
    return (
        f"Moved {len(moved.ids)} points ({pin}) by {moved.shift:.3f} on average, trained on {m.epochs_on} "
        f"epochs; they ended {moved.drift:.3f} from where they were put{before}. "
        "Open circles: before; diamonds: after."
    )


def plane_figure(
    side: str,
    plane: Plane,
    class_names: Sequence[str],
    *,
    run_id: str,
    heldout: Heldout | None = None,
    moved: Moved | None = None,
) -> go.Figure:
    """One side of the tab: its plane with the held-out placement and (GNE only) the moved points."""
    held = (
        None if heldout is None else {"coords": heldout.coords(side), "labels": heldout.labels, "index": heldout.index}
    )
    mv = None
    if moved is not None and side == "gne":
        mv = {"ids": moved.ids, "before": moved.before, "after": moved.after}
    fig = latent_scatter(
        plane.coords,
        plane.labels,
        class_names,
        index=plane.index,
        heldout=held,
        moved=mv,
        title=f"{TITLES[side]} · {len(plane.coords):,} samples",
        uirevision=f"latent-{side}-{run_id}",
    )
    train = fig.data[LATENT_TRAIN]
    train.selected, train.unselected = selected_style(train.marker.size), unselected_style()
    fig.add_trace(decode_layer(plane.coords))
    fig.add_trace(cell_marker(None))
    # the axes span the points (the hover layer reaches far beyond, so every spot of the plot decodes,
    # also where the equal aspect widens one axis, and after zooming out a little)
    lo, hi = _bounds(plane.coords, 0.06)
    ranges = [[float(lo[0]), float(hi[0])], [float(lo[1]), float(hi[1])]]
    # meta.ranges: what a window resize starts again from (assets/latent.js), so the equal aspect never
    # leaves the plane zoomed out after the window was short for a moment
    fig.update_layout(hovermode="closest", xaxis_range=ranges[0], yaxis_range=ranges[1], meta={"ranges": ranges})
    return fig


def _bounds(coords: np.ndarray, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """The first two axes' min and max, widened by ``pad`` × the larger extent (the same on both axes)."""
    pts = np.asarray(coords, dtype=float).reshape(len(coords), -1)[:, :2] if len(coords) else np.zeros((1, 2))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    span = max(float(np.max(hi - lo)), 1e-6)
    return lo - pad * span, hi + pad * span


def decode_layer(coords: np.ndarray, cells: int = DECODE_CELLS) -> go.Heatmap:
    """A transparent ``cells``×``cells`` heat map over the plane's points: Plotly reports hovers only on
    traces, so this makes every spot of the plane hoverable (its cell centre is decoded). Points still win
    the hover where the pointer is near one (a heat map's hover distance is the largest there is)."""
    lo, hi = _bounds(coords, 0.5)
    d = (hi - lo) / cells
    return go.Heatmap(
        z=np.zeros((cells, cells), dtype=np.int8).tolist(),
        x0=float(lo[0] + d[0] / 2),
        dx=float(d[0]),
        y0=float(lo[1] + d[1] / 2),
        dy=float(d[1]),
        showscale=False,
        hoverinfo="none",
        name="decode",
        colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
        zmin=0,
        zmax=1,
        showlegend=False,
    )


def cell_marker(center: Sequence[float] | None, k: int | None = None) -> go.Scatter:
    """Where a clicked cell of the decoded grid sits on the plane (empty when none was clicked). An SVG
    trace, not WebGL: it marks a place, it is no sample trace (selection styles leave it as it is)."""
    x, y = ([float(center[0])], [float(center[1])]) if center is not None else ([], [])
    return go.Scatter(
        x=x,
        y=y,
        mode="markers",
        name="grid cell" + (f" ({k}×{k})" if k else ""),
        hoverinfo="skip",
        showlegend=False,
        unselected=dict(marker=dict(opacity=1)),
        marker=dict(symbol="square-x-open", size=26, color="#111", line=dict(width=3)),
    )


def grid_cells(extent: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The latent x of each grid column and y of each grid row (row 0 at the top), as the engine decoded them."""
    ext = np.asarray(extent, dtype=float)
    return np.linspace(ext[0, 0], ext[0, 1], k), np.linspace(ext[1, 1], ext[1, 0], k)


def grid_figure(side: str, source: str, extent: np.ndarray, k: int, *, run_id: str = "") -> go.Figure:
    """The decoded k×k grid as a zoomable figure in the plane's own coordinates: the tiled image (``source``,
    a PNG data URI) behind a transparent k×k heat map whose hover names each cell's latent point and
    whose click (``clickData`` x, y) is that point."""
    xs, ys = grid_cells(extent, k)
    dx = (xs[-1] - xs[0]) / (k - 1) if k > 1 else 1.0
    dy = (ys[0] - ys[-1]) / (k - 1) if k > 1 else 1.0
    rows = np.arange(k)[::-1]  # heat-map rows go up in y; grid row 0 is the top
    custom = [[[int(r) + 1, c + 1] for c in range(k)] for r in rows]
    fig = go.Figure(
        go.Heatmap(
            z=np.zeros((k, k), dtype=np.int8).tolist(),
            x=xs.tolist(),
            y=ys[::-1].tolist(),
            customdata=custom,
            showscale=False,
            colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
            zmin=0,
            zmax=1,
            xgap=0,
            ygap=0,
            hovertemplate="row %{customdata[0]}, column %{customdata[1]}<br>latent (%{x:.3f}, %{y:.3f})"
            "<br>click: show it on the plane<extra></extra>",
        )
    )
    x0, x1 = float(xs[0] - dx / 2), float(xs[-1] + dx / 2)
    y0, y1 = float(ys[-1] - dy / 2), float(ys[0] + dy / 2)
    fig.update_layout(
        images=[
            dict(
                source=source,
                xref="x",
                yref="y",
                x=x0,
                y=y1,
                sizex=x1 - x0,
                sizey=y1 - y0,
                sizing="stretch",
                layer="below",
            )
        ],
        xaxis=dict(range=[x0, x1], showgrid=False, zeroline=False, title=dict(text="x", standoff=2)),
        yaxis=dict(range=[y0, y1], showgrid=False, zeroline=False, title=dict(text="y", standoff=2)),
        height=GRID_FIGURE_HEIGHT,
        margin=dict(l=50, r=10, t=34, b=40),
        plot_bgcolor="white",
        dragmode="zoom",
        title=dict(
            text=f"{TITLES[side].split(' ')[0]} decoded {k}×{k} grid · hover a cell, click it to find it on the plane",
            x=0.01,
            font=dict(size=13),
        ),
        uirevision=f"latent-grid-{side}-{run_id}-{k}",
    )
    return fig
