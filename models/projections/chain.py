"""Project a network's layers one after another, each started from the previous layer's map.

Neighbouring layers of a network arrange the same samples similarly, so the previous layer's
2-D coordinates are a good start for the next one: the panels line up (lower Procrustes
disparity between neighbours than independent runs) and the optimisation begins near its end,
so it needs a shorter early-exaggeration phase and fewer iterations (``warm``).

- t-SNE: the previous coordinates go in as ``init`` (rescaled by :func:`.methods._tsne` to
  openTSNE's recommended standard deviation of 1e-4); above ``models.exact_tsne.EXACT_LIMIT``
  samples openTSNE's FFT gradient runs, below it the exact kernel.
- UMAP: the previous coordinates, rescaled to UMAP's usual [0, 10] box, as ``init``, with
  fewer epochs.

Pure: arrays in, :class:`~.methods.Projection` objects out; the app caches each layer's result.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..progress import ProgressFn, report
from ..validation import check_choice
from .checks import ProjectionError
from .methods import Projection, project

CHAIN_METHODS = ("tsne", "umap")
INITS = ("previous", "independent")
#: the schedule of layers after the first when started from the previous layer (t-SNE, UMAP)
WARM = {"tsne": {"early_exaggeration_iter": 60, "n_iter": 500}, "umap": {"n_epochs": 120}}


def _umap_init(previous: np.ndarray) -> np.ndarray:
    lo, hi = previous.min(0), previous.max(0)
    return (10.0 * (previous - lo) / np.maximum(hi - lo, 1e-12)).astype(np.float32)


def project_layers(
    arrays: Sequence[np.ndarray],
    method: str = "tsne",
    *,
    init: str = "previous",
    seed: int = 0,
    progress: ProgressFn | None = None,
    names: Sequence[str] | None = None,
    warm: dict[str, Any] | None = None,
    on_layer: Callable[[int, Projection], None] | None = None,
    start: np.ndarray | None = None,
    **params: Any,
) -> list[Projection]:
    """2-D maps of every array in ``arrays`` (layers over the same samples, in forward order).

    ``init="previous"`` starts each layer from the previous layer's map with the ``warm``
    schedule (default :data:`WARM`); ``"independent"`` projects each layer on its own with
    ``params``. ``on_layer(i, projection)`` is called as each layer finishes (e.g. to cache it);
    ``start`` is the map of the layer before ``arrays[0]`` (to continue a chain cached in part).
    """
    check_choice("method", method, CHAIN_METHODS, error=ProjectionError)
    check_choice("init", init, INITS, error=ProjectionError)
    arrays = list(arrays)
    if not arrays:
        return []
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ProjectionError(f"every layer must hold the same samples (got {[len(a) for a in arrays]} rows)")
    names = list(names) if names is not None else [f"layer {i}" for i in range(len(arrays))]
    warm = {**WARM[method], **(warm or {})}
    out: list[Projection] = []
    for i, X in enumerate(arrays):
        report(progress, i, len(arrays), f"projecting {names[i]} ({i + 1}/{len(arrays)}, {method})")
        options = dict(params)
        previous = out[-1].coords if out else start
        if init == "previous" and previous is not None:
            options.update(warm)
            options["init"] = previous if method == "tsne" else _umap_init(previous)
        proj = project(np.asarray(X, dtype=np.float32), method, seed=seed, **options)
        out.append(proj)
        if on_layer is not None:
            on_layer(i, proj)
    report(progress, len(arrays), len(arrays), f"projected {len(arrays)} layers ({method})")
    return out


def adjacent_disparity(coords: Sequence[np.ndarray]) -> list[float]:
    """Procrustes disparity (scipy's, 0 = same shape up to a similarity) of each pair of neighbours."""
    from scipy.spatial import procrustes

    return [
        float(procrustes(np.asarray(a, np.float64), np.asarray(b, np.float64))[2])
        for a, b in zip(coords[:-1], coords[1:])
    ]
