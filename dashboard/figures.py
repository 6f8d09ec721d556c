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

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#e7ba52",
    "#637939",
    "#ad494a",
    "#7b4173",
    "#3182bd",
    "#31a354",
    "#756bb1",
    "#636363",
    "#e6550d",
]

BASE_LAYOUT = dict(
    template="plotly_white",
    margin=dict(l=10, r=10, t=36, b=10),
    font=dict(family="Inter, system-ui, sans-serif", size=12),
)


# The one look of a selection (every view): selected points keep their class colour and grow,
# the others are greyed — not black, not hidden.
UNSELECTED_GREY = "#c3c8d0"


def selected_style(size: float = 5) -> dict:
    return dict(marker=dict(opacity=1.0, size=float(size) + 3))


def unselected_style() -> dict:
    return dict(marker=dict(opacity=0.5, color=UNSELECTED_GREY))


def class_colors(n: int) -> list[str]:
    """THE class palette: the colours of classes 0..n-1, the same in every tab (Data, Layers, Methods,
    Latent, Explore, Maps overlays). Every class colour in the dashboard comes from here."""
    return [PALETTE[k % len(PALETTE)] for k in range(max(0, int(n)))]


def class_color(k: int) -> str:
    return class_colors(int(k) + 1)[int(k)]


def discrete_colorscale(n: int) -> list[list]:
    """A step colourscale mapping integers 0..n-1 (with cmin=-0.5, cmax=n-0.5) to palette colours."""
    n = max(1, n)
    scale = []
    for k, colour in enumerate(class_colors(n)):
        scale.append([k / n, colour])
        scale.append([(k + 1) / n, colour])
    return scale


def empty_figure(message: str = "") -> go.Figure:
    """A blank figure carrying a centred message (nothing to show yet, or why not)."""
    fig = go.Figure()
    fig.update_layout(
        **BASE_LAYOUT,
        xaxis=dict(visible=False),
        yaxis=dict(visible=False),
        annotations=[
            dict(
                text=message,
                showarrow=False,
                x=0.5,
                y=0.5,
                xref="paper",
                yref="paper",
                font=dict(size=14, color="#6c757d"),
            )
        ]
        if message
        else [],
    )
    return fig


def label_marker(labels: np.ndarray, class_names: Sequence[str], size: float = 5, colorbar: bool = True) -> dict:
    """A marker colouring points by class with a discrete colour bar naming the classes."""
    n = len(class_names)
    marker = dict(
        color=np.asarray(labels).tolist(),
        colorscale=discrete_colorscale(n),
        cmin=-0.5,
        cmax=n - 0.5,
        size=size,
        opacity=0.8,
        line=dict(width=0),
    )
    if colorbar:
        marker["colorbar"] = dict(
            tickvals=list(range(n)),
            ticktext=[str(c) for c in class_names],
            thickness=12,
            len=0.9,
            outlinewidth=0,
            title=dict(text="class"),
        )
    marker["showscale"] = colorbar
    return marker


def label_scatter(
    coords: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    index: np.ndarray | None = None,
    title: str = "",
    axis_titles: tuple[str, str] = ("", ""),
    uirevision: str = "scatter",
) -> go.Figure:
    """One Scattergl of 2-D ``coords`` coloured by ``labels``; ``customdata`` holds the sample index."""
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be n×2, got shape {coords.shape}")
    if len(labels) != len(coords):
        raise ValueError(f"{len(labels)} labels for {len(coords)} points")
    idx = np.arange(len(coords)) if index is None else np.asarray(index)
    fig = go.Figure(
        go.Scattergl(
            x=coords[:, 0].tolist(),
            y=coords[:, 1].tolist(),
            mode="markers",
            customdata=idx.tolist(),
            hoverinfo="none",
            marker=label_marker(labels, class_names, size=5 if len(coords) < 5000 else 3),
        )
    )
    fig.update_layout(
        **BASE_LAYOUT,
        title=dict(text=title, x=0.01),
        uirevision=uirevision,
        dragmode="zoom",
        xaxis=dict(title=axis_titles[0], zeroline=False, showticklabels=False),
        yaxis=dict(title=axis_titles[1], zeroline=False, showticklabels=False, scaleanchor="x"),
    )
    return fig


# -- explore: your own embeddings ----------------------------------------------------
# correct / wrong (model agrees with the label or not): Okabe–Ito blue and orange, told apart with
# every common colour-vision deficiency (never red/green)
CORRECT_COLOR, WRONG_COLOR = "#0072B2", "#E69F00"
AGREEMENT_COLORS = [CORRECT_COLOR, WRONG_COLOR]  # correct, wrong


def explore_marker(values: np.ndarray, kind: str, names: Sequence[str] = (), title: str = "", size: float = 5) -> dict:
    """Marker colouring for the Explore scatter: ``kind`` is "classes", "agreement", "categories" or "continuous"."""
    values = np.asarray(values)
    if kind in ("classes", "categories"):
        return (
            {
                **label_marker(values, names, size=size),
                "colorbar": dict(
                    tickvals=list(range(len(names))),
                    ticktext=[str(c) for c in names],
                    thickness=12,
                    len=0.9,
                    outlinewidth=0,
                    title=dict(text=title),
                ),
            }
            if len(names) <= 30
            else dict(
                color=values.tolist(), colorscale="Turbo", size=size, opacity=0.8, line=dict(width=0), showscale=False
            )
        )
    if kind == "agreement":
        scale = [
            [0, AGREEMENT_COLORS[0]],
            [0.5, AGREEMENT_COLORS[0]],
            [0.5, AGREEMENT_COLORS[1]],
            [1, AGREEMENT_COLORS[1]],
        ]
        return dict(
            color=values.astype(int).tolist(),
            colorscale=scale,
            cmin=-0.5,
            cmax=1.5,
            size=size,
            opacity=0.8,
            line=dict(width=0),
            showscale=True,
            colorbar=dict(
                tickvals=[0, 1],
                ticktext=["correct", "wrong"],
                thickness=12,
                len=0.5,
                outlinewidth=0,
                title=dict(text=title),
            ),
        )
    if kind == "continuous":
        return dict(
            color=values.astype(float).tolist(),
            colorscale="Viridis",
            size=size,
            opacity=0.85,
            line=dict(width=0),
            showscale=True,
            colorbar=dict(thickness=12, len=0.9, outlinewidth=0, title=dict(text=title)),
        )
    raise ValueError(f"kind must be classes, agreement, categories or continuous (got {kind!r})")


GREYED_SVG_MAX = 20_000  # greyed points drawn as SVG (beneath the WebGL points) up to this many


def explore_scatter(
    coords: np.ndarray,
    index: np.ndarray,
    marker: dict,
    *,
    selected: Sequence[int] = (),
    title: str = "",
    uirevision: str = "explore",
    greyed: Sequence[int] = (),
) -> go.Figure:
    """The Explore map: trace 0 the shown points (``customdata`` = sample index), trace 1 the selection ring,
    trace 2 the ``greyed`` samples (filtered out: drawn grey, not hoverable, never removed).

    ``coords`` holds every sample; ``index`` the ones shown (after filters). The axes span every sample,
    so a filter greys points without rescaling the map.
    """
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be n×2, got shape {coords.shape}")
    index = np.asarray(index, dtype=np.int64)
    size = 6 if len(index) < 3000 else 4 if len(index) < 30000 else 2.5
    marker = {**marker, "size": size}
    fig = go.Figure(
        [
            go.Scattergl(
                x=coords[index, 0].tolist(),
                y=coords[index, 1].tolist(),
                mode="markers",
                customdata=index.tolist(),
                hoverinfo="none",
                marker=marker,
                name="samples",
                showlegend=False,
                selected=selected_style(size),
                unselected=unselected_style(),
            ),
            selection_trace(coords, selected),
            greyed_trace(coords, greyed, size),
        ]
    )
    xr, yr = full_range(coords)
    fig.update_layout(
        **BASE_LAYOUT,
        title=dict(text=title, x=0.01),
        uirevision=uirevision,
        dragmode="lasso",
        clickmode="event",
        xaxis=dict(zeroline=False, showticklabels=False, range=xr),
        yaxis=dict(zeroline=False, showticklabels=False, scaleanchor="x", range=yr),
    )
    return fig


def full_range(coords: np.ndarray, pad: float = 0.04) -> tuple[list[float], list[float]]:
    """Axis ranges spanning every point of ``coords`` with a margin (fixed, whatever a filter shows)."""
    coords = np.asarray(coords, dtype=np.float64)
    if len(coords) == 0:
        return [-1.0, 1.0], [-1.0, 1.0]
    lo, hi = np.nanmin(coords, axis=0), np.nanmax(coords, axis=0)
    margin = np.maximum((hi - lo) * pad, 1e-6)
    return [float(lo[0] - margin[0]), float(hi[0] + margin[0])], [float(lo[1] - margin[1]), float(hi[1] + margin[1])]


def greyed_trace(coords: np.ndarray, greyed: Sequence[int], size: float = 5):
    """The samples a filter leaves out, in grey. SVG (drawn beneath WebGL traces, so the shown points stay
    on top) up to ``GREYED_SVG_MAX`` points, WebGL past that."""
    g = np.asarray(list(greyed), dtype=np.int64)
    kind = go.Scatter if len(g) <= GREYED_SVG_MAX else go.Scattergl
    return kind(
        x=coords[g, 0].tolist(),
        y=coords[g, 1].tolist(),
        mode="markers",
        hoverinfo="skip",
        marker=dict(color=UNSELECTED_GREY, size=max(2.0, float(size) - 1), opacity=0.45, line=dict(width=0)),
        name="filtered out",
        showlegend=False,
    )


def selection_trace(coords: np.ndarray, selected: Sequence[int]) -> go.Scattergl:
    """Open rings around the selected samples (drawn over the map, not hoverable): wide enough that the
    point's own class colour shows inside."""
    sel = np.asarray(list(selected), dtype=np.int64)
    return go.Scattergl(
        x=coords[sel, 0].tolist(),
        y=coords[sel, 1].tolist(),
        mode="markers",
        hoverinfo="skip",
        marker=dict(symbol="circle-open", size=14, color="#2c3e50", line=dict(width=1.5)),
        name="selected",
        showlegend=False,
    )


def centred_range(coords: np.ndarray, i: int, frac: float = 0.12) -> tuple[list[float], list[float]]:
    """Axis ranges centring sample ``i`` with a window of ``frac`` of the map's extent."""
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    half = np.maximum((hi - lo) * frac, 1e-6)
    c = coords[i]
    return [float(c[0] - half[0]), float(c[0] + half[0])], [float(c[1] - half[1]), float(c[1] + half[1])]


# ---------------------------------------------------------------------------
# Layer hardness study: layers side by side, hardness bars, methods side by side
# ---------------------------------------------------------------------------
CORRECT_COLORS = {True: CORRECT_COLOR, False: WRONG_COLOR}  # colour-blind safe (see AGREEMENT_COLORS)
LIST_CUSTOMDATA_MAX = 20_000


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(max_cols, max(1, n))
    return -(-n // cols), cols


def colour_marker(
    mode: str,
    labels: np.ndarray,
    predictions: np.ndarray | None,
    class_names: Sequence[str],
    size: float,
    colorbar: bool,
) -> dict:
    """Marker colours for ``mode``: ``label``, ``prediction`` (discrete classes) or ``correct`` (blue/orange)."""
    if mode == "correct" and predictions is not None:
        ok = (np.asarray(predictions) == np.asarray(labels)).astype(np.int8)
        scale = [
            [0, CORRECT_COLORS[False]],
            [0.5, CORRECT_COLORS[False]],
            [0.5, CORRECT_COLORS[True]],
            [1, CORRECT_COLORS[True]],
        ]
        return dict(
            color=ok, colorscale=scale, cmin=0, cmax=1, showscale=False, size=size, opacity=0.85, line=dict(width=0)
        )
    values = predictions if (mode == "prediction" and predictions is not None) else labels
    marker = label_marker(values, class_names, size=size, colorbar=colorbar)
    marker["color"] = np.asarray(values, dtype=np.int16)  # an array: validated and sent as a typed array
    return marker


def layers_figure(
    panels: Sequence[tuple[str, np.ndarray]],
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    predictions: np.ndarray | None = None,
    index: np.ndarray | None = None,
    colour: str = "label",
    selected: Sequence[int] | None = None,
    focus: str | Sequence[str] | None = None,
    max_cols: int = 4,
    uirevision: str = "layers",
) -> go.Figure:
    """Every representation as one figure of Scattergl subplots (one WebGL context for all panels).

    ``panels`` is ``[(title, n×2 coords), …]`` over the same samples in the same order, so
    point ``i`` of every trace is the same sample: a selection in one panel is shown in all
    by setting each trace's ``selectedpoints`` (the view patches only that). ``customdata``
    holds the sample index; ``focus`` names a panel (or panels) to mark (the layer clicked in Hardness, the
    pair clicked in Compare).
    """
    from plotly.subplots import make_subplots

    if not panels:
        return empty_figure("no layers to show")
    n = len(labels)
    for title, coords in panels:
        if np.asarray(coords).shape != (n, 2):
            raise ValueError(f"panel {title!r} has shape {np.asarray(coords).shape}, expected ({n}, 2)")
    rows, cols = grid_shape(len(panels), max_cols)
    marked = {focus} if isinstance(focus, str) else set(focus or ())
    titles = [f"<b>▶ {t}</b>" if t in marked else t for t, _ in panels]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        horizontal_spacing=0.02,
        vertical_spacing=0.08 if rows > 1 else 0.02,
    )
    custom = np.arange(n) if index is None else np.asarray(index)
    # customdata as a list (what hover events carry) while that is cheap; for big panels a typed
    # array (a 70k list costs ~0.5 s of validation per panel): callbacks then use ``pointIndex``.
    custom = custom.tolist() if n <= LIST_CUSTOMDATA_MAX else custom
    size = 5 if n < 3000 else (3 if n < 20000 else 2)
    for k, (title, coords) in enumerate(panels):
        coords = np.asarray(coords)
        fig.add_trace(
            go.Scattergl(
                x=coords[:, 0],
                y=coords[:, 1],
                mode="markers",
                name=title,
                customdata=custom,
                hoverinfo="none",
                showlegend=False,
                marker=colour_marker(
                    colour, labels, predictions, class_names, size, colorbar=(k == 0 and colour != "correct")
                ),
                selectedpoints=None if selected is None else list(selected),
                selected=selected_style(size),
                unselected=unselected_style(),
            ),
            row=k // cols + 1,
            col=k % cols + 1,
        )
    fig.update_xaxes(showticklabels=False, zeroline=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, zeroline=False, showgrid=False)
    fig.update_layout(
        **BASE_LAYOUT, uirevision=uirevision, dragmode="select", height=max(320, 300 * rows), clickmode="event+select"
    )
    return fig


def hardness_figure(tables: Sequence[tuple[str, list[str], np.ndarray]], *, uirevision: str = "hardness") -> go.Figure:
    """Per-layer KL as in the paper: one panel per activation, a translucent bar per run (side by side, so
    each run is its own mark), the mean a bold line with the runs' min–max as its error bar.

    ``tables`` is ``[(activation, layer names, runs × layers KL), …]``. Each bar's
    ``customdata`` is ``[activation, layer, run]`` so a click can open that layer.
    """
    import warnings

    from plotly.subplots import make_subplots

    if not tables:
        return empty_figure("no hardness results yet: train a grid in the Hardness tab")
    fig = make_subplots(
        rows=1, cols=len(tables), subplot_titles=[t[0] for t in tables], shared_yaxes=True, horizontal_spacing=0.03
    )
    for k, (activation, layers, table) in enumerate(tables):
        short = ["in" if l == "input" else ("out" if l == "logits" else l.replace("hidden", "h")) for l in layers]
        table = np.asarray(table, dtype=float)
        colour = class_color(k)
        for run, kl in enumerate(table):
            fig.add_trace(
                go.Bar(
                    x=short,
                    y=kl.tolist(),
                    name=f"run {run}",
                    marker=dict(color=colour, line=dict(color=colour, width=1)),
                    opacity=0.45,
                    showlegend=False,
                    offsetgroup=f"run{run}",
                    legendgroup=f"run{run}",
                    customdata=[[activation, layer, run] for layer in layers],
                    hovertemplate=f"{activation} · %{{x}} · run {run}<br>KL %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=k + 1,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a layer with no run yet: NaN, drawn as a gap
            mean, low, high = np.nanmean(table, 0), np.nanmin(table, 0), np.nanmax(table, 0)
        spread = [f"{lo:.3f}–{hi:.3f}" for lo, hi in zip(low, high)]
        fig.add_trace(
            go.Scatter(
                x=short,
                y=mean.tolist(),
                mode="lines+markers",
                name="mean (bar: min–max of runs)",
                line=dict(color="#111", width=3),
                marker=dict(size=7),
                showlegend=(k == 0),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=(high - mean).tolist(),
                    arrayminus=(mean - low).tolist(),
                    color="#111",
                    thickness=1.5,
                    width=5,
                    visible=len(table) > 1,
                ),
                customdata=[[activation, layer, -1] for layer in layers],
                text=spread,
                hovertemplate=f"{activation} · %{{x}}<br>mean KL %{{y:.3f}} over {len(table)} "
                "runs<br>min–max %{text}<extra></extra>",
            ),
            row=1,
            col=k + 1,
        )
    fig.update_yaxes(title_text="KL (hardness)", row=1, col=1)
    fig.update_layout(
        **BASE_LAYOUT,
        barmode="group",
        bargap=0.25,
        bargroupgap=0.05,
        uirevision=uirevision,
        height=360,
        legend=dict(orientation="h", y=-0.15),
    )
    return fig


def hardness_accuracy_figure(points: Sequence[dict], split: str = "test") -> go.Figure:
    """Mean hidden-layer hardness vs accuracy on ``split`` (the run's: ``train`` for a capture of the train
    split), one point per network, coloured by activation."""
    if not points:
        return empty_figure("no networks yet")
    fig = go.Figure()
    acts = list(dict.fromkeys(p["activation"] for p in points))
    for k, act in enumerate(acts):
        mine = [p for p in points if p["activation"] == act]
        fig.add_trace(
            go.Scatter(
                x=[p["kl"] for p in mine],
                y=[p["test_accuracy"] for p in mine],
                mode="markers",
                name=act,
                marker=dict(size=10, color=class_color(k)),
                text=[p["name"] for p in mine],
                hovertemplate="%{text}<br>mean hidden KL %{x:.3f}<br>accuracy %{y:.3f}<extra></extra>",
            )
        )
    fig.update_layout(
        **BASE_LAYOUT,
        height=300,
        xaxis_title="mean hidden-layer KL",
        yaxis_title=f"{split} accuracy",
        yaxis_range=[0, 1.03],
        title=dict(text=f"hardness vs {split} accuracy", x=0.01),
    )
    return fig


def methods_figure(
    results: Sequence[tuple[str, np.ndarray, dict]],
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    index: np.ndarray | None = None,
    uirevision: str = "methods",
) -> go.Figure:
    """One layer under several methods side by side; titles carry KL, trustworthiness and seconds."""
    titles = [
        f"{m} · KL {r.get('kl', float('nan')):.2f} · T {r.get('trustworthiness', float('nan')):.2f}"
        f" · {r.get('seconds', 0):.1f}s"
        for m, _, r in results
    ]
    fig = layers_figure(
        [(t, c) for t, (_, c, _) in zip(titles, results)],
        labels,
        class_names,
        index=index,
        max_cols=3,
        uirevision=uirevision,
    )
    fig.update_layout(dragmode="zoom")
    return fig


# -- Maps and Landscape (deep neural maps, sparse generative landscapes) ------------------
LATTICE_OVERLAYS = {
    "none": "prototypes only",
    "majority": "majority class",
    "purity": "purity",
    "hits": "hit count",
    "u_matrix": "U-matrix",
    "prototype_mse": "prototype error (blur)",
}


def image_grid_figure(
    mosaic_uri: str,
    rows: int,
    cols: int,
    *,
    values: np.ndarray | None = None,
    overlay: str = "none",
    class_names: Sequence[str] = (),
    title: str = "",
    uirevision: str = "grid",
    opacity: float = 0.45,
) -> go.Figure:
    """A ``rows × cols`` grid of images drawn as ONE picture (``mosaic_uri``, each cell padded by a thin gap,
    :func:`dashboard.images.cell_mosaic`),
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
    heat = dict(
        z=np.where(np.isfinite(z), z, np.nan).tolist(),
        x=list(range(cols)),
        y=list(range(rows)),
        customdata=custom,
        hoverinfo="none",
        opacity=opacity if show else 0.0,
        showscale=show,
        xgap=0,
        ygap=0,
        colorbar=dict(thickness=12, len=0.9, outlinewidth=0, title=dict(text=LATTICE_OVERLAYS.get(overlay, overlay))),
    )
    if show and overlay == "majority" and class_names:
        n = len(class_names)
        heat.update(colorscale=discrete_colorscale(n), zmin=-0.5, zmax=n - 0.5)
        heat["colorbar"].update(tickvals=list(range(n)), ticktext=[str(c) for c in class_names])
        heat["z"] = np.where(z >= 0, z, np.nan).tolist()
    elif show:
        heat["colorscale"] = "Viridis" if overlay != "u_matrix" else "Greys"
    fig = go.Figure(go.Heatmap(**heat))
    fig.add_layout_image(
        dict(
            source=mosaic_uri,
            xref="x",
            yref="y",
            x=-0.5,
            y=-0.5,
            sizex=cols,
            sizey=rows,
            sizing="stretch",
            layer="below",
            xanchor="left",
            yanchor="top",
        )
    )
    fig.update_layout(
        **BASE_LAYOUT,
        title=dict(text=title, x=0.01),
        uirevision=uirevision,
        xaxis=dict(range=[-0.5, cols - 0.5], showgrid=False, zeroline=False, showticklabels=False, constrain="domain"),
        yaxis=dict(
            range=[rows - 0.5, -0.5],
            showgrid=False,
            zeroline=False,
            showticklabels=False,
            scaleanchor="x",
            constrain="domain",
        ),
        plot_bgcolor="#000",
    )
    return fig


def cell_of(point: dict, cols: int) -> int:
    """The cell index under a heatmap hover point of :func:`image_grid_figure`."""
    if "customdata" in point and point["customdata"] is not None:
        return int(point["customdata"])
    return int(round(point["y"])) * cols + int(round(point["x"]))
