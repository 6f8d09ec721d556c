"""Pure figure functions of the Compare tab: arrays in, Plotly figures out (tested without a browser).

Heatmaps keep the layers in network order on integer axes (so two layers with the same short name
never merge into one category) with readable names as tick labels; every cell carries
``customdata = [row layer, column layer]`` so a click names the pair without a lookup. The colour
scale is fixed to [0, 1]: CKA of 0.4 looks the same in every figure, never stretched to the data.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from ...figures import BASE_LAYOUT, class_color, empty_figure

#: a sequential scale, light (unalike) → dark (alike), readable by the colour-blind and in grey
CKA_SCALE = "Viridis"
#: cells get their value written in them up to this many cells
ANNOTATE_MAX = 144


def short_name(layer: str, width: int = 22) -> str:
    """A tick label for a layer name: ONNX paths such as ``/layer1/conv/Conv_output_0`` become
    ``layer1/conv``; what is still long keeps its end (the distinctive part) behind an ellipsis."""
    name = str(layer)
    name = re.sub(r"(_output_\d+|/Conv|/Gemm|/Relu|/MatMul|/Add)+$", "", name).strip("/") or name
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def unique_ticks(layers: Sequence[str]) -> list[str]:
    """Short names, made unique by a counter where shortening made two the same."""
    seen: dict[str, int] = {}
    out = []
    for layer in layers:
        s = short_name(layer)
        seen[s] = seen.get(s, 0) + 1
        out.append(s if seen[s] == 1 else f"{s} ({seen[s]})")
    return out


def _matrix(matrix, rows: int, cols: int, what: str) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.shape != (rows, cols):
        raise ValueError(f"{what} matrix has shape {m.shape}, expected ({rows}, {cols}) for its layers")
    return m


def _heatmap(
    m: np.ndarray,
    row_ticks: Sequence[str],
    col_ticks: Sequence[str],
    customdata: list,
    *,
    row_title: str,
    col_title: str,
    metric: str,
    hovertemplate: str,
    square: bool = False,
    tickangle: int | None = None,
) -> go.Figure:
    """A CKA matrix on integer axes (row ``i`` at ``y = i``, top to bottom) labelled with ``row_ticks`` /
    ``col_ticks``, the colour scale fixed to [0, 1], NaN cells blank, values written in small grids; ``square``
    keeps the cells square. The one drawing both heatmaps share (their layouts stay their own)."""
    rows, cols = m.shape
    fig = go.Figure(
        go.Heatmap(
            z=np.where(np.isfinite(m), m, None).tolist(),
            x=list(range(cols)),
            y=list(range(rows)),
            zmin=0.0,
            zmax=1.0,
            colorscale=CKA_SCALE,
            customdata=customdata,
            xgap=1,
            ygap=1,
            colorbar=dict(title=dict(text=metric, side="right"), thickness=12, tickvals=[0, 0.25, 0.5, 0.75, 1]),
            hovertemplate=hovertemplate,
            texttemplate="%{z:.2f}" if rows * cols <= ANNOTATE_MAX else None,
            textfont=dict(size=10),
        )
    )
    axis = dict(tickmode="array", showgrid=False, zeroline=False)
    fig.update_xaxes(**axis, tickvals=list(range(cols)), ticktext=list(col_ticks), title_text=col_title)
    if tickangle is not None:
        fig.update_xaxes(tickangle=tickangle)
    fig.update_yaxes(
        **axis, tickvals=list(range(rows)), ticktext=list(row_ticks), title_text=row_title, autorange="reversed"
    )
    if square:
        fig.update_yaxes(scaleanchor="x", constrain="domain")
    return fig


def cka_heatmap(
    rows: Sequence[str],
    cols: Sequence[str],
    matrix,
    *,
    row_title: str = "layer",
    col_title: str = "layer",
    metric: str = "linear CKA",
    uirevision: str = "compare",
) -> go.Figure:
    """Similarity of every row layer to every column layer (layer × layer of one run, or A × B).

    Rows are drawn top to bottom in network order; a NaN cell (a pair that was not computed) is left
    blank. Each cell's ``customdata`` is ``[row layer, column layer]``.
    """
    rows, cols = list(rows), list(cols)
    if not rows or not cols:
        return empty_figure("no layers to compare")
    fig = _heatmap(
        _matrix(matrix, len(rows), len(cols), "CKA"),
        unique_ticks(rows),
        unique_ticks(cols),
        [[[r, c] for c in cols] for r in rows],
        row_title=row_title,
        col_title=col_title,
        metric=metric,
        hovertemplate=f"{row_title}: %{{customdata[0]}}<br>{col_title}: %{{customdata[1]}}<br>"
        f"{metric} %{{z:.3f}}<extra>click: open both in Layers</extra>",
        square=True,
        tickangle=-40,
    )
    side = max(340, min(760, 44 * max(len(rows), len(cols)) + 140))
    fig.update_layout(
        **{**BASE_LAYOUT, "margin": dict(l=10, r=10, t=36, b=10)},
        height=side,
        uirevision=uirevision,
        title=dict(text=f"{metric}: {row_title} × {col_title}", x=0.01, font=dict(size=13)),
    )
    return fig


def step_heatmap(
    layers: Sequence[str],
    steps: Sequence[int],
    matrix,
    *,
    metric: str = "linear CKA",
    uirevision: str = "compare-steps",
) -> go.Figure:
    """Each layer (row) at each step (column) against itself at the last step: where learning
    happens (dark late), when it settles (dark early). ``customdata`` is ``[layer, step]``."""
    layers, steps = list(layers), [int(s) for s in steps]
    if not layers or not steps:
        return empty_figure("one step only: capture several checkpoints to see a layer change over training")
    fig = _heatmap(
        _matrix(matrix, len(layers), len(steps), "layer × step"),
        unique_ticks(layers),
        [str(s) for s in steps],
        [[[l, s] for s in steps] for l in layers],
        row_title="layer",
        col_title="step",
        metric=metric,
        hovertemplate=f"%{{customdata[0]}} at step %{{customdata[1]}}<br>{metric} with step {steps[-1]} "
        "%{z:.3f}<extra>click: open in Layers</extra>",
    )
    fig.update_layout(
        **BASE_LAYOUT,
        height=max(300, 40 * len(layers) + 120),
        uirevision=uirevision,
        title=dict(text=f"each layer against itself at step {steps[-1]}", x=0.01, font=dict(size=13)),
    )
    return fig


def depth_curves(
    panels: Sequence[tuple[str, Mapping[str, tuple[Sequence[str], Sequence[float]]], bool]],
    *,
    uirevision: str = "compare-curves",
) -> go.Figure:
    """What each layer knows, over depth: one subplot per measure, one line per step or model.

    ``panels`` is ``[(title, {line name: (layers, values)}, is_accuracy), …]``; accuracy panels are
    fixed to [0, 1], others (hardness, a KL) follow their data. Lines of the same name share a colour
    across panels and one legend entry.
    """
    from plotly.subplots import make_subplots

    panels = [p for p in panels if p[1]]
    if not panels:
        return empty_figure("no per-layer scores in this comparison")
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], horizontal_spacing=0.08)
    names = list(dict.fromkeys(name for _, lines, _ in panels for name in lines))
    for k, (title, lines, accuracy) in enumerate(panels):
        for name, (layers, values) in lines.items():
            colour = class_color(names.index(name))
            vals = [None if v is None or not np.isfinite(v) else float(v) for v in values]
            fig.add_trace(
                go.Scatter(
                    x=unique_ticks(layers),
                    y=vals,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=name not in {t.name for t in fig.data},
                    line=dict(color=colour, width=2),
                    marker=dict(size=7, color=colour),
                    customdata=list(layers),
                    hovertemplate=f"{name} · %{{customdata}}<br>{title} %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=k + 1,
            )
        if accuracy:
            fig.update_yaxes(range=[0, 1.03], row=1, col=k + 1)
        fig.update_xaxes(tickangle=-40, row=1, col=k + 1)
    fig.update_layout(**BASE_LAYOUT, height=340, uirevision=uirevision, legend=dict(orientation="h", y=-0.35))
    return fig


def split_lines(scores: Mapping[str, float], a_name: str = "A", b_name: str = "B") -> dict[str, tuple[list, list]]:
    """``{layer: score}`` of the contract (B's layers prefixed ``"B:"``) → one line per model."""
    a = [(l, v) for l, v in scores.items() if not str(l).startswith("B:")]
    b = [(l[2:], v) for l, v in scores.items() if str(l).startswith("B:")]
    out = {}
    for name, pairs in ((a_name, a), (b_name, b)):
        if pairs:
            out[name] = ([l for l, _ in pairs], [v for _, v in pairs])
    return out


def step_lines(by_step: Mapping[str, Mapping[str, float]]) -> dict[str, tuple[list, list]]:
    """``{str(step): {layer: score}}`` → one line per step (in step order), A's layers only."""
    out = {}
    for step in sorted(by_step, key=lambda s: int(s)):
        scores = {l: v for l, v in by_step[step].items() if not str(l).startswith("B:")}
        out[f"step {step}"] = (list(scores), list(scores.values()))
    return out
