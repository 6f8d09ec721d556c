"""The layer tree of a loaded model and the layers captured by default.

:func:`layer_tree` runs one small batch through every layer (like ``torchinfo``'s summary) and
lists each module — or ONNX module scope and node activation — with its per-sample output shape
and layout, parents before children in network order, the model's output last.
:func:`default_layers` picks what a person most often wants side by side: each top-level block
(the items of a ``ModuleList``/``Sequential`` of blocks each count; a run of plain layers such as
conv → ReLU counts as one block, ending at its activation), evenly thinned to at most
:data:`MAX_DEFAULT` panels, the penultimate layer (what the head reads) and the output.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Sequence

import numpy as np

from . import pooling as pooling_rules
from .backends import OUTPUT, Backend, Layer
from .errors import ModelError

MAX_DEFAULT = 12  # blocks ticked by default, before the penultimate layer and the output
CONTAINERS = {"Sequential", "ModuleList", "ModuleDict"}
_LIGHT = {"Dropout", "Dropout1d", "Dropout2d", "Identity"}
#: single weight layers whose activation (and norm) after them make one block; "scope": an ONNX module of unknown type
WEIGHT_TYPES = {
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "Linear",
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "scope",
}


def layer_tree(model: Backend, sample) -> list[Layer]:
    """Every layer with its output shape, found by one forward pass of ``sample`` (a few inputs)."""
    return model.tree(sample)


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def default_layers(tree: Sequence[Layer], limit: int = MAX_DEFAULT) -> list[str]:
    """Top-level blocks (containers of blocks opened), the penultimate layer and the output, in network order."""
    body = [layer for layer in tree if layer.name != OUTPUT]
    modules = [layer for layer in body if layer.module] or body
    known = {layer.name for layer in modules}
    kids: dict[str, list[Layer]] = defaultdict(list)
    top: list[Layer] = []
    for layer in modules:
        parent = _parent(layer.name)
        while parent and parent not in known:  # a ModuleList is never called: its items are its parent's
            parent = _parent(parent)
        (kids[parent] if parent else top).append(layer)

    def is_container(layer: Layer) -> bool:
        children = kids.get(layer.name, [])
        numbered = len(children) >= 2 and all(re.fullmatch(rf"{re.escape(layer.name)}\.\d+", c.name) for c in children)
        return bool(children) and (layer.type in CONTAINERS or numbered) and all(kids.get(c.name) for c in children)

    repeated: set[str] = set()  # items of a ModuleList/Sequential of blocks: the ones thinned

    def units(siblings: list[Layer], inside: bool = False) -> list[str]:
        picks, group = [], None
        for layer in siblings:
            if layer.final:
                group = None
                continue
            if is_container(layer):
                group = None
                picks += units(kids[layer.name], inside=True)
            elif kids.get(layer.name):
                group = None
                picks.append(layer.name)
                if inside or re.search(r"\.\d+$", layer.name):
                    repeated.add(layer.name)
            elif layer.params and "Norm" not in layer.type or group is None and layer.params:
                group = layer
                picks.append(layer.name)
            elif (
                group is not None
                and group.type in WEIGHT_TYPES
                and layer.shape == group.shape
                and layer.type not in _LIGHT
            ):
                picks[-1] = layer.name  # conv → BatchNorm → ReLU: the block ends at its activation
        return picks

    picks = units(top)
    if len(picks) > limit:
        # thin the repeated blocks evenly (first and last kept), then anything else still over the limit
        blocks = [p for p in picks if p in repeated]
        room = max(2, limit - (len(picks) - len(blocks)))
        if len(blocks) > room:
            keep = {blocks[i] for i in np.linspace(0, len(blocks) - 1, room).round().astype(int)}
            picks = [p for p in picks if p not in repeated or p in keep]
        if len(picks) > limit:
            picks = [picks[i] for i in sorted(set(np.linspace(0, len(picks) - 1, limit).round().astype(int)))]
    before = [layer for layer in modules if not layer.final]
    if before:
        last = before[-1]
        # the shallowest layer that ends at the same tensor (``hidden3`` rather than ``hidden3.1``)
        same = [layer for layer in before if layer.shape == last.shape and layer.name in _ancestors(last.name)]
        penultimate = min(same, key=lambda layer: layer.depth).name if same else last.name
        if penultimate not in picks:
            picks.append(penultimate)
    return network_order(tree, picks) + [OUTPUT]


def network_order(tree: Sequence[Layer], names: Sequence[str]) -> list[str]:
    """``names`` (no repeats) in the order the tree lists them: the network's, whatever the order given."""
    order = {layer.name: i for i, layer in enumerate(tree)}
    return sorted(dict.fromkeys(names), key=lambda n: order.get(n, len(order)))


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def check_layers(tree: Sequence[Layer], names: Sequence[str], source: str) -> list[str]:
    """``names`` in network order if every one is in the tree; else a ValueError listing what there is."""
    known = {layer.name for layer in tree}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ModelError(
            f"layers {unknown} are not layers of {source}; choose from {', '.join([layer.name for layer in tree][:40])}"
        )
    return network_order(tree, names)


def describe(tree: Sequence[Layer], spec: str | None = None) -> list[str]:
    """Text lines of the tree (indented by depth) for the command line, each with what pooling gives."""
    lines = []
    for layer in tree:
        try:
            gives = pooling_rules.what_it_gives(
                layer.shape, layer.layout or "vector", pooling_rules.choose(layer.name, layer.layout or "vector", spec)
            )
        except ValueError:
            gives = "×".join(map(str, layer.shape)) or "scalar"
        lines.append(f"{'  ' * max(0, layer.depth - 1)}{layer.name}  {layer.type}  {gives}")
    return lines
