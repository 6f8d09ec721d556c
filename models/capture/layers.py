"""The layer tree of a loaded model and the layers captured by default.

:func:`layer_tree` runs one small batch through every layer (like ``torchinfo``'s summary) and
lists each module — or ONNX node output — with its per-sample output shape, in the order the
forward pass finished them, the model's output last. :func:`default_layers` picks what a person
most often wants side by side: each top-level block that holds weights, the penultimate layer
(what the head reads) and the output.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .backends import OUTPUT, Backend, Layer
from .errors import ModelError


def layer_tree(model: Backend, sample: np.ndarray) -> list[Layer]:
    """Every layer with its output shape, found by one forward pass of ``sample`` (a few inputs)."""
    return model.tree(sample)


def default_layers(tree: Sequence[Layer]) -> list[str]:
    """Top-level blocks with weights, the penultimate layer and the output, in forward order."""
    body = [layer for layer in tree if layer.name != OUTPUT]
    picks = [layer.name for layer in body if layer.depth == 1 and layer.params and not layer.final]
    before = [layer for layer in body if not layer.final]
    if before:
        last = before[-1]
        # the shallowest layer that ends at the same tensor (``hidden3`` rather than ``hidden3.1``)
        same = [layer for layer in before if layer.shape == last.shape and layer.name in _ancestors(last.name)]
        penultimate = min(same, key=lambda layer: layer.depth).name if same else last.name
        if penultimate not in picks:
            picks.append(penultimate)
    order = {layer.name: i for i, layer in enumerate(tree)}
    return sorted(dict.fromkeys(picks), key=order.get) + [OUTPUT]


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def check_layers(tree: Sequence[Layer], names: Sequence[str], source: str) -> list[str]:
    """``names`` if every one is in the tree; else a ValueError listing what there is."""
    known = {layer.name for layer in tree}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ModelError(f"layers {unknown} are not layers of {source}; choose from "
                         f"{', '.join(sorted(known, key=[layer.name for layer in tree].index)[:40])}")
    return list(dict.fromkeys(names))


def describe(tree: Sequence[Layer]) -> list[str]:
    """Text lines of the tree (indented by depth) for the command line."""
    return [f"{'  ' * max(0, layer.depth - 1)}{layer.name}  {layer.type}  {'×'.join(map(str, layer.shape)) or 'scalar'}"
            for layer in tree]
