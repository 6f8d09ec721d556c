"""The Latent plane's server-side reads: runs through ``state.run_for_view``, arrays through
``state.arrays`` (memoised: runs never change) and the GNE face's typed readers."""

from __future__ import annotations

import numpy as np
from dash import html

from models.store import Run, StoreError
from models.studies import gne

from ... import images, state
from ...cards import sample_card
from ...config import AppConfig

GRID_PIXELS = 560  # the nearest-sample grid is drawn this wide (as wide as the decoded grid figure)


def run_for_view(config: AppConfig, run_id: str | None, dataset_name: str | None) -> tuple[Run | None, str]:
    """The GNE run the tab shows and the note saying why it is not the picked one (if so)."""
    return state.run_for_view(config, run_id, gne.KIND, dataset_name)


def plane(run: Run, side: str) -> gne.Plane:
    return gne.plane(run, side, read=state.arrays)


def moved(run: Run) -> gne.Moved | None:
    return gne.moved(run, read=state.arrays)


def heldout(config: AppConfig, run: Run, ref: dict | None) -> gne.Heldout | None:
    """The held-out placement the ``latent-heldout`` store points at, if it is this run's."""
    if not ref or ref.get("run") != run.id:
        return None
    return gne.cached_heldout(config.results, run.id, ref["limit"])


def parent_mse(config: AppConfig, metrics: gne.Metrics) -> float | None:
    """The GNE mse of the run a moved run was moved from (None when that run is gone)."""
    if not metrics.parent:
        return None
    try:
        return gne.metrics(state.run(config, metrics.parent)).gne_mse
    except StoreError:
        return None


def grid_images(config: AppConfig, run: Run, side: str, k: int) -> tuple[str | None, str | None]:
    """PNG data URIs of ``side``'s decoded k×k grid and of the nearest real sample of each cell."""
    shape = gne.image_shape(run)
    grid = gne.latent_grid(run, side, k, read=state.arrays)
    if grid is None or not shape:
        return None, None
    ds = state.dataset(config, run.manifest["dataset"])
    decoded = grid.images.reshape(k * k, *shape)
    neighbours = ds.images[plane(run, side).index[grid.neighbours.ravel()]]
    return (
        images.png_data_uri(images.tile(decoded, k, k, pad=1), size=GRID_PIXELS),
        images.png_data_uri(images.tile(neighbours, k, k, pad=1), size=GRID_PIXELS),
    )


def hover_card(
    config: AppConfig,
    run: Run | None,
    dataset_name: str | None,
    point: dict,
    *,
    heldout_trace: int,
    heldout_split: str = "test",
) -> html.Div:
    """The card of a hovered point: a training sample, or a held-out one (trace ``heldout_trace``,
    taken from ``heldout_split``: the test split, or the trained one when it is the only split)."""
    name = run.manifest["dataset"] if run else dataset_name
    held = point.get("curveNumber") == heldout_trace
    split = heldout_split if held else "train"
    ds = state.dataset(config, name, split)
    idx = int(point["customdata"])
    number = int(ds.index[idx]) if ds.index is not None else idx
    lines = [
        f"#{number} · class {ds.class_names[int(ds.labels[idx])]}",
        f"{'held-out ' if held else ''}{ds.split or split} sample · ({point['x']:.2f}, {point['y']:.2f})",
    ]
    image = ds.images[idx] if ds.images is not None else None
    return sample_card(image, lines, key=(name, split, idx))


DECODE_PIXELS = 112  # the decoded image in the hover card
GRID_FIGURE_PIXELS = 800  # the decoded grid's tiled image is made this wide (crisp when zoomed in)


def grid_figure(config: AppConfig, run: Run, side: str, k: int):
    """``side``'s decoded k×k grid as a zoomable, hoverable figure (None when the run has no such grid)."""
    from . import figures

    shape = gne.image_shape(run)
    grid = gne.latent_grid(run, side, k, read=state.arrays)
    if grid is None or not shape:
        return None
    source = images.png_data_uri(images.tile(grid.images.reshape(k * k, *shape), k, k, pad=1), size=GRID_FIGURE_PIXELS)
    return figures.grid_figure(side, source, grid.extent, k, run_id=run.id)


def decode_step(run: Run, side: str) -> float:
    """The fine grid decoded points are rounded to (and cached on): 1/2000 of the plane's larger extent."""
    coords = plane(run, side).coords
    span = float(np.max(np.ptp(coords[:, :2], axis=0))) if len(coords) else 1.0
    return max(span, 1e-6) / 2000.0


def decode_card(run: Run, side: str, x: float, y: float) -> html.Div:
    """The hover card of an empty spot of the plane: the image ``side``'s generator decodes there.

    Imports the torch side (``gne_decode``) on the first hover only; the decoding is cached per fine-grid cell.
    """
    from ...fork_guard import torch_in_web_process

    torch_in_web_process()  # one thread: a job forked later must not inherit torch's thread pool
    from models.studies import gne_decode

    image = gne_decode.decode_at(run, side, x, y, step=decode_step(run, side))
    return sample_card(
        image,
        [f"decoded at ({x:.2f}, {y:.2f})", f"{side.upper()} generator"],
        size=DECODE_PIXELS,
        image_class="decoded-img",
    )
