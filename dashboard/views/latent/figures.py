"""The Latent plane's pure parts: arrays and readers' results in, Plotly figures and status
text out. Tested without a browser (tests/test_latent_view.py)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.figures import class_color, empty_figure, label_scatter, selected_style, unselected_style
from models.studies.gne import Heldout, Metrics, Moved, Plane

__all__ = ["LATENT_TRAIN", "LATENT_HELDOUT", "LATENT_BEFORE", "LATENT_AFTER", "latent_scatter", "latent_handle",
           "handle_center", "handle_size", "TITLES", "plane_figure", "metrics_text", "heldout_text", "moved_text", "empty_figure"]

TITLES = {"gne": "GNE (learned points)", "vae": "VAE (encoder means)"}

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


def handle_size(coords: np.ndarray) -> float:
    """The handle's radius: 4% of the plane's robust extent, so it looks the same at every scale."""
    extent = np.percentile(coords, 99, axis=0) - np.percentile(coords, 1, axis=0)
    return float(0.04 * extent.max())


def metrics_text(run_id: str, m: Metrics) -> list[str]:
    """The status line's parts: both sides' error and speed, then how the run was trained."""
    return [f"{run_id}: ",
            f"GNE mse {m.gne_mse:.4f} · {m.gne_seconds_per_epoch:.3f} s/epoch",
            "  |  ",
            f"VAE mse {m.vae_mse:.4f} · {m.vae_seconds_per_epoch:.3f} s/epoch",
            f"  ({m.epochs} epochs, batch {m.batch_size}, {m.device}"
            + ("" if m.generator == "?" else f", {m.generator} generator") + ")"]


def heldout_text(held: Heldout) -> str:
    return (f"held-out: {len(held.index)} test samples · GNE new-point mse {held.gne_error.mean():.4f} (from "
            f"{held.gne_start_error.mean():.4f} at the starting guess) · VAE encoder mse {held.vae_error.mean():.4f}")


def moved_text(moved: Moved | None, m: Metrics, parent_mse: float | None = None) -> str:
    """What a moved run did (empty for a trained one); ``parent_mse`` is the GNE mse before the move."""
    if moved is None:
        return ""
    before = "" if parent_mse is None else f"; GNE mse {parent_mse:.4f} before → {m.gne_mse:.4f} after"
    pin = "pinned" if m.pinned else "free"
    return (f"Moved {len(moved.ids)} points ({pin}) by {moved.shift:.3f} on average, trained on {m.epochs_on} "
            f"epochs; they ended {moved.drift:.3f} from where they were put{before}. "
            "Open circles: before; diamonds: after.")


def plane_figure(side: str, plane: Plane, class_names: Sequence[str], *, run_id: str,
                 heldout: Heldout | None = None, moved: Moved | None = None) -> go.Figure:
    """One side of the tab: its plane with the held-out placement and (GNE only) the moved points."""
    held = None if heldout is None else {"coords": heldout.coords(side), "labels": heldout.labels,
                                         "index": heldout.index}
    mv = None
    if moved is not None and side == "gne":
        mv = {"ids": moved.ids, "before": moved.before, "after": moved.after}
    fig = latent_scatter(plane.coords, plane.labels, class_names, index=plane.index, heldout=held, moved=mv,
                         title=f"{TITLES[side]} · {len(plane.coords):,} samples", uirevision=f"latent-{side}-{run_id}")
    train = fig.data[LATENT_TRAIN]
    train.selected, train.unselected = selected_style(train.marker.size), unselected_style()
    return fig
