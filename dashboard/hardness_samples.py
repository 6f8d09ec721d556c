"""A hardness-study run's sample as the cards and the legend see it: its labels and class names, and the
card a hover shows (image, label, prediction). The Layers and Methods tabs both draw such runs."""

from __future__ import annotations

import numpy as np
from dash import html

from . import state
from .cards import label_lines, sample_card
from .config import AppConfig


def sample_classes(config: AppConfig, shown_: dict) -> tuple[np.ndarray, list]:
    """Labels and class names of the sample of the hardness run ``shown_`` describes (the legend's classes)."""
    run = state.run(config, shown_["run"])
    return (
        state.arrays(run, "sample")["labels"],
        state.dataset(config, run.manifest.get("dataset"), "test").class_names,
    )


def hover_card(config: AppConfig, run, network: str, position: int, layer: str | None = None) -> html.Div:
    """Image, label, prediction and index of the sample at ``position`` of the study's sample."""
    sample = state.arrays(run, "sample")
    preds = state.arrays(run, f"act-{network}")["predictions"]
    ds = state.dataset(config, run.manifest.get("dataset"), "test")
    return point_card(
        ds.images,
        ds.class_names,
        sample["index"],
        sample["labels"],
        preds,
        position,
        layer=layer,
        key=(ds.name, "test"),
    )


def point_card(
    images_: np.ndarray | None,
    class_names,
    index: np.ndarray,
    labels: np.ndarray,
    predictions: np.ndarray,
    position: int,
    *,
    layer: str | None = None,
    key: tuple = (),
) -> html.Div:
    """The shared sample card for the point at ``position``: thumbnail, ``#index · layer``, label, prediction ✓/✗."""
    idx = int(index[position])
    lines = [
        f"#{idx}" + (f" · {layer}" if layer else ""),
        *label_lines(class_names, labels[position], predictions[position]),
    ]
    return sample_card(None if images_ is None else images_[idx], lines, key=(*key, idx))
