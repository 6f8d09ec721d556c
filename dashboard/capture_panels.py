"""What the Layers tab draws for a capture run: every captured layer side by side (the same
:func:`dashboard.figures.layers_figure` as for the hardness study), aligned, and the sample
card a hover shows (the image, its label and the model's prediction)."""

from __future__ import annotations

import numpy as np
from dash import html

from models.studies import capture as face
from models.studies import project as project_face

from . import figures, state
from .cards import label_lines, sample_card
from .config import AppConfig
from .shown_points import count_text, typed_points


def capture_dataset(config: AppConfig, run):
    """The dataset split the run was captured on (for images)."""
    return state.dataset(config, run.manifest.get("dataset"), face.split(run))


def step_controls(run) -> tuple[int, int, dict, int, dict]:
    """(min, max, marks, value, style) of the step slider: shown only when the run has several steps."""
    steps = face.steps(run)
    marks = {int(s): str(s) for s in steps}
    hidden = {"display": "none"} if len(steps) < 2 else {"width": "360px"}
    return int(min(steps)), int(max(steps)), marks, int(steps[-1]), hidden


def figure(config: AppConfig, run, step, method: str, colour: str, focus_layer: str | None = None, picked=None):
    """(figure, status text) of the run's layers at ``step`` under ``method`` (``picked``: the projection run the
    Run picker holds, drawn when it is one of these); a hint to press Project when they are not computed yet."""
    step = face.step_of(run, step)
    found = project_face.cached_panels(config.results, run, step, method, picked)
    names = face.layer_names(run)
    if found is None:
        return (
            figures.empty_figure(f"press Project to lay out {len(names)} layers of step {step} with {method}"),
            f"{len(names)} captured layers: {', '.join(names)}",
        )
    panels, positions = found
    sample = face.sample(run, step)
    labels = np.asarray(sample["labels"])[positions]
    preds = None if sample["predictions"] is None else np.asarray(sample["predictions"])[positions]
    index = np.asarray(sample["index"])[positions]
    fig = figures.layers_figure(
        panels,
        labels,
        face.class_names(run),
        predictions=preds,
        index=index,
        colour=colour,
        focus=focus_layer,
        uirevision=f"layers-{run.id}-{step}-{method}",
    )
    typed_points(fig)
    acc = "" if preds is None else f" · accuracy {np.mean(preds == labels):.3f}"
    text = (
        f"{count_text(len(positions), len(sample['labels']))} · step {step} · {method}{acc} · "
        f"{project_face.how(method)} · drag a box to link panels"
    )
    return fig, text


def card(config: AppConfig, run, step, position: int, layer: str | None) -> html.Div:
    """The sample card of the point at ``position`` of the shown sample."""
    step = face.step_of(run, step)
    positions, _ = project_face.projection_sample(len(face.sample(run)["labels"]))
    row = int(positions[position])
    sample = face.sample(run, step)
    idx = int(sample["index"][row])
    pred = None if sample["predictions"] is None else int(sample["predictions"][row])
    text = None
    try:
        ds = capture_dataset(config, run)
        image = ds.images[idx] if ds.images is not None else None
        key = (ds.name, ds.split, idx)
        texts = ds.meta.get("texts")
        if texts is not None:  # a token dataset: its text instead of an image
            position = np.flatnonzero(np.asarray(ds.index) == idx) if ds.index is not None else [idx]
            text = str(texts[int(position[0])]) if len(position) else None
    except Exception:  # the dataset is not here: the card still names the sample
        image, key = None, None
    lines = [
        f"#{idx}" + (f" · {layer}" if layer else ""),
        *label_lines(face.class_names(run), sample["labels"][row], pred),
    ]
    return sample_card(image, lines, key=key, text=text)


def panel_names(config: AppConfig, run, step, method: str, picked=None) -> list[str]:
    """The layers :func:`figure` draws, in panel order (a picked projection run of some layers: those)."""
    found = project_face.projection_run(run, face.step_of(run, step), method, picked) if picked is not None else None
    if found is not None and found.id == picked.id:
        return project_face.layer_names(found)
    return face.layer_names(run)  # the newest projection drawn holds every layer (no store scan on each hover)


_INDEX: dict[tuple, np.ndarray] = {}


def sample_index(config: AppConfig, run, step, method: str, picked=None) -> np.ndarray | None:
    """The dataset index of each point of the panels :func:`figure` draws (with ``picked``, as there; None before
    Project); what the shared selection (:mod:`dashboard.selection`) is mapped through. A projection run holds
    every sample in the capture's order, so it is the step's sample index."""
    step = face.step_of(run, step)
    key = (run.id, step, method)
    if key not in _INDEX:
        if project_face.projection_run(run, step, method, picked) is None:
            return None
        _INDEX.clear() if len(_INDEX) > 16 else None
        _INDEX[key] = np.asarray(face.sample(run, step)["index"])
    return _INDEX[key]


def selection_space(run) -> str:
    return f"{run.manifest.get('dataset')}:{face.split(run)}"
