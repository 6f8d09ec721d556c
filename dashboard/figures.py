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


# -- explore: your own embeddings ----------------------------------------------------
AGREEMENT_COLORS = ["#2ca02c", "#d62728"]  # correct, wrong


def explore_marker(values: np.ndarray, kind: str, names: Sequence[str] = (), title: str = "",
                   size: float = 5) -> dict:
    """Marker colouring for the Explore scatter: ``kind`` is "classes", "agreement", "categories" or "continuous"."""
    values = np.asarray(values)
    if kind in ("classes", "categories"):
        return {**label_marker(values, names, size=size), "colorbar": dict(
            tickvals=list(range(len(names))), ticktext=[str(c) for c in names], thickness=12, len=0.9,
            outlinewidth=0, title=dict(text=title))} if len(names) <= 30 else dict(
            color=values.tolist(), colorscale="Turbo", size=size, opacity=0.8, line=dict(width=0), showscale=False)
    if kind == "agreement":
        scale = [[0, AGREEMENT_COLORS[0]], [0.5, AGREEMENT_COLORS[0]], [0.5, AGREEMENT_COLORS[1]], [1, AGREEMENT_COLORS[1]]]
        return dict(color=values.astype(int).tolist(), colorscale=scale, cmin=-0.5, cmax=1.5, size=size, opacity=0.8,
                    line=dict(width=0), showscale=True,
                    colorbar=dict(tickvals=[0, 1], ticktext=["correct", "wrong"], thickness=12, len=0.5,
                                  outlinewidth=0, title=dict(text=title)))
    if kind == "continuous":
        return dict(color=values.astype(float).tolist(), colorscale="Viridis", size=size, opacity=0.85,
                    line=dict(width=0), showscale=True,
                    colorbar=dict(thickness=12, len=0.9, outlinewidth=0, title=dict(text=title)))
    raise ValueError(f"kind must be classes, agreement, categories or continuous (got {kind!r})")


def explore_scatter(coords: np.ndarray, index: np.ndarray, marker: dict, *, selected: Sequence[int] = (),
                    title: str = "", uirevision: str = "explore") -> go.Figure:
    """The Explore map: trace 0 the shown points (``customdata`` = sample index), trace 1 the selection ring.

    ``coords`` holds every sample; ``index`` the ones shown (after filters).
    """
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be n×2, got shape {coords.shape}")
    index = np.asarray(index, dtype=np.int64)
    size = 6 if len(index) < 3000 else 4 if len(index) < 30000 else 2.5
    marker = {**marker, "size": size}
    fig = go.Figure([
        go.Scattergl(x=coords[index, 0].tolist(), y=coords[index, 1].tolist(), mode="markers",
                     customdata=index.tolist(), hoverinfo="none", marker=marker, name="samples", showlegend=False),
        selection_trace(coords, selected),
    ])
    fig.update_layout(**BASE_LAYOUT, title=dict(text=title, x=0.01), uirevision=uirevision, dragmode="lasso",
                      clickmode="event", xaxis=dict(zeroline=False, showticklabels=False),
                      yaxis=dict(zeroline=False, showticklabels=False, scaleanchor="x"))
    return fig


def selection_trace(coords: np.ndarray, selected: Sequence[int]) -> go.Scattergl:
    """Open black rings around the selected samples (drawn over the map, not hoverable)."""
    sel = np.asarray(list(selected), dtype=np.int64)
    return go.Scattergl(x=coords[sel, 0].tolist(), y=coords[sel, 1].tolist(), mode="markers", hoverinfo="skip",
                        marker=dict(symbol="circle-open", size=12, color="#111", line=dict(width=2)),
                        name="selected", showlegend=False)


def centred_range(coords: np.ndarray, i: int, frac: float = 0.12) -> tuple[list[float], list[float]]:
    """Axis ranges centring sample ``i`` with a window of ``frac`` of the map's extent."""
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    half = np.maximum((hi - lo) * frac, 1e-6)
    c = coords[i]
    return [float(c[0] - half[0]), float(c[0] + half[0])], [float(c[1] - half[1]), float(c[1] + half[1])]
