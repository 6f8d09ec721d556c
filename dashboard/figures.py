"""Pure functions: arrays in, Plotly figures out. Tested without a browser.

Conventions every view relies on: scatters are ``Scattergl`` with the sample index
in ``customdata`` (as a list: a NumPy array would travel as a typed array that hover
events do not carry), ``hoverinfo="none"`` so the view's ``dcc.Tooltip`` shows the
image, and a fixed ``uirevision`` so zoom survives updates.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#7b4173", "#3182bd",
           "#31a354", "#756bb1", "#636363", "#e6550d"]

BASE_LAYOUT = dict(template="plotly_white", margin=dict(l=10, r=10, t=36, b=10),
                   font=dict(family="Inter, system-ui, sans-serif", size=12))


def class_color(k: int) -> str:
    return PALETTE[int(k) % len(PALETTE)]


def discrete_colorscale(n: int) -> list[list]:
    """A step colourscale mapping integers 0..n-1 (with cmin=-0.5, cmax=n-0.5) to palette colours."""
    n = max(1, n)
    scale = []
    for k in range(n):
        scale.append([k / n, class_color(k)])
        scale.append([(k + 1) / n, class_color(k)])
    return scale


def empty_figure(message: str = "") -> go.Figure:
    """A blank figure carrying a centred message (nothing to show yet, or why not)."""
    fig = go.Figure()
    fig.update_layout(**BASE_LAYOUT, xaxis=dict(visible=False), yaxis=dict(visible=False),
                      annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                                        font=dict(size=14, color="#6c757d"))] if message else [])
    return fig


def label_marker(labels: np.ndarray, class_names: Sequence[str], size: float = 5, colorbar: bool = True) -> dict:
    """A marker colouring points by class with a discrete colour bar naming the classes."""
    n = len(class_names)
    marker = dict(color=np.asarray(labels).tolist(), colorscale=discrete_colorscale(n), cmin=-0.5, cmax=n - 0.5,
                  size=size, opacity=0.8, line=dict(width=0))
    if colorbar:
        marker["colorbar"] = dict(tickvals=list(range(n)), ticktext=[str(c) for c in class_names],
                                  thickness=12, len=0.9, outlinewidth=0, title=dict(text="class"))
    marker["showscale"] = colorbar
    return marker


def label_scatter(coords: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                  index: np.ndarray | None = None, title: str = "", axis_titles: tuple[str, str] = ("", ""),
                  uirevision: str = "scatter") -> go.Figure:
    """One Scattergl of 2-D ``coords`` coloured by ``labels``; ``customdata`` holds the sample index."""
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be n×2, got shape {coords.shape}")
    if len(labels) != len(coords):
        raise ValueError(f"{len(labels)} labels for {len(coords)} points")
    idx = np.arange(len(coords)) if index is None else np.asarray(index)
    fig = go.Figure(go.Scattergl(
        x=coords[:, 0].tolist(), y=coords[:, 1].tolist(), mode="markers",
        customdata=idx.tolist(), hoverinfo="none",
        marker=label_marker(labels, class_names, size=5 if len(coords) < 5000 else 3),
    ))
    fig.update_layout(**BASE_LAYOUT, title=dict(text=title, x=0.01), uirevision=uirevision, dragmode="zoom",
                      xaxis=dict(title=axis_titles[0], zeroline=False, showticklabels=False),
                      yaxis=dict(title=axis_titles[1], zeroline=False, showticklabels=False, scaleanchor="x"))
    return fig


# -- latent plane (GNE / VAE) ------------------------------------------------------
# Trace order is fixed so callbacks can tell points apart by ``curveNumber``:
# 0 training samples, 1 held-out samples, 2 moved points before, 3 moved points after, 4 before→after lines.
LATENT_TRAIN, LATENT_HELDOUT, LATENT_BEFORE, LATENT_AFTER = 0, 1, 2, 3


def latent_scatter(coords: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                   index: np.ndarray | None = None, heldout: dict | None = None, moved: dict | None = None,
                   handle: Sequence[float] | None = None, handle_radius: float = 0.1, title: str = "",
                   uirevision: str = "latent") -> go.Figure:
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
    fig.add_trace(go.Scattergl(
        x=hc[:, 0].tolist(), y=hc[:, 1].tolist(), mode="markers", name="held-out (placed)",
        customdata=np.asarray(held.get("index", np.arange(len(hc)))).tolist(), hoverinfo="none",
        visible=True if len(hc) else "legendonly",
        marker=dict(symbol="x", size=9, color=[class_color(k) for k in hl.tolist()], line=dict(width=1.2, color="#111")),
    ))
    mv = moved or {}
    ids = np.asarray(mv.get("ids", np.zeros(0)), dtype=int)
    before = np.asarray(mv.get("before", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
    after = np.asarray(mv.get("after", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
    idx = np.arange(len(coords)) if index is None else np.asarray(index)
    data_ids = idx[ids].tolist() if len(ids) else []
    fig.add_trace(go.Scattergl(x=before[:, 0].tolist(), y=before[:, 1].tolist(), mode="markers", name="before move",
                               customdata=data_ids, hoverinfo="none", visible=True if len(ids) else "legendonly",
                               marker=dict(symbol="circle-open", size=9, color="#555", line=dict(width=1.5))))
    fig.add_trace(go.Scattergl(x=after[:, 0].tolist(), y=after[:, 1].tolist(), mode="markers", name="after training on",
                               customdata=data_ids, hoverinfo="none", visible=True if len(ids) else "legendonly",
                               marker=dict(symbol="diamond", size=9, color="#d62728", line=dict(width=1, color="#111"))))
    lx, ly = [], []
    for (x0, y0), (x1, y1) in zip(before.tolist(), after.tolist()):
        lx += [x0, x1, None]
        ly += [y0, y1, None]
    fig.add_trace(go.Scattergl(x=lx, y=ly, mode="lines", hoverinfo="skip", showlegend=False,
                               line=dict(width=1, color="rgba(90,90,90,0.5)")))
    if handle is not None:
        fig.update_layout(shapes=[latent_handle(handle, handle_radius)])
    return fig


def latent_handle(center: Sequence[float], radius: float) -> dict:
    """The draggable handle: a circle shape (moved with ``config={"edits": {"shapePosition": True}}``)."""
    cx, cy = float(center[0]), float(center[1])
    return dict(type="circle", xref="x", yref="y", x0=cx - radius, x1=cx + radius, y0=cy - radius, y1=cy + radius,
                line=dict(color="#d62728", width=3), fillcolor="rgba(214,39,40,0.15)")


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
