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


# -- Maps and Landscape (deep neural maps, sparse generative landscapes) ------------------
LATTICE_OVERLAYS = {"none": "prototypes only", "majority": "majority class", "purity": "purity",
                    "hits": "hit count", "u_matrix": "U-matrix"}


def image_grid_figure(mosaic_uri: str, rows: int, cols: int, *, values: np.ndarray | None = None,
                      overlay: str = "none", class_names: Sequence[str] = (), title: str = "",
                      uirevision: str = "grid", opacity: float = 0.45) -> go.Figure:
    """A ``rows × cols`` grid of images drawn as ONE picture (``mosaic_uri``, tiled without padding),
    with a heatmap over the cells that carries hover (``customdata`` = cell index) and,
    unless ``overlay == "none"``, colours the cells by ``values``.

    The mosaic is a layout image stretched over cell coordinates ``[-0.5, cols-0.5] × [-0.5, rows-0.5]``,
    so cell ``(r, c)`` sits at ``x = c, y = r`` (row 0 on top).
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be ≥ 1 (got {rows}, {cols})")
    z = np.zeros((rows, cols)) if values is None else np.asarray(values, dtype=float).reshape(rows, cols)
    custom = np.arange(rows * cols).reshape(rows, cols).tolist()
    show = overlay != "none" and values is not None
    heat = dict(z=np.where(np.isfinite(z), z, np.nan).tolist(), x=list(range(cols)), y=list(range(rows)),
                customdata=custom, hoverinfo="none", opacity=opacity if show else 0.0, showscale=show,
                xgap=0, ygap=0, colorbar=dict(thickness=12, len=0.9, outlinewidth=0,
                                              title=dict(text=LATTICE_OVERLAYS.get(overlay, overlay))))
    if show and overlay == "majority" and class_names:
        n = len(class_names)
        heat.update(colorscale=discrete_colorscale(n), zmin=-0.5, zmax=n - 0.5)
        heat["colorbar"].update(tickvals=list(range(n)), ticktext=[str(c) for c in class_names])
        heat["z"] = np.where(z >= 0, z, np.nan).tolist()
    elif show:
        heat["colorscale"] = "Viridis" if overlay != "u_matrix" else "Greys"
    fig = go.Figure(go.Heatmap(**heat))
    fig.add_layout_image(dict(source=mosaic_uri, xref="x", yref="y", x=-0.5, y=-0.5, sizex=cols, sizey=rows,
                              sizing="stretch", layer="below", xanchor="left", yanchor="top"))
    fig.update_layout(**BASE_LAYOUT, title=dict(text=title, x=0.01), uirevision=uirevision,
                      xaxis=dict(range=[-0.5, cols - 0.5], showgrid=False, zeroline=False, showticklabels=False,
                                 constrain="domain"),
                      yaxis=dict(range=[rows - 0.5, -0.5], showgrid=False, zeroline=False, showticklabels=False,
                                 scaleanchor="x", constrain="domain"),
                      plot_bgcolor="#000")
    return fig


def cell_of(point: dict, cols: int) -> int:
    """The cell index under a heatmap hover point of :func:`image_grid_figure`."""
    if "customdata" in point and point["customdata"] is not None:
        return int(point["customdata"])
    return int(round(point["y"])) * cols + int(round(point["x"]))
