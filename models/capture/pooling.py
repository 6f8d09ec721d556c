"""Layer layouts and how each becomes one vector per sample (pure: no torch, the face reads it).

A captured layer's per-sample output is one of:

- ``vector`` (D): kept as it is;
- ``map`` (C×H×W, or C×L for 1-d convolutions): channels first, as torch and ONNX convolutions give;
- ``map_last`` (H×W×C): channels last, where the model says so (a Linear/LayerNorm acting on the last
  axis of a spatial tensor, an ONNX ``Transpose`` to NHWC);
- ``sequence`` (T×D): tokens × features, as transformer blocks give.

Poolings per layout (the first is the default): maps → ``mean`` (global average), ``max``,
``flatten``; sequences → ``mean`` over tokens (honouring an attention mask when the dataset has
one), ``cls`` (the first token), ``flatten``. A pooling spec is a text such as
``"max, blocks.1=cls, sequences=flatten"``: a plain choice is the maps' default (what
``--pooling mean`` always meant), ``NAME=CHOICE`` sets one layer, ``maps=``/``sequences=`` a layout.
"""

from __future__ import annotations

import math

from .errors import ModelError

LAYOUTS = ("vector", "map", "map_last", "sequence")
POOLINGS = {
    "vector": ("none",),
    "map": ("mean", "max", "flatten"),
    "map_last": ("mean", "max", "flatten"),
    "sequence": ("mean", "cls", "flatten"),
}
MAP_POOLINGS = POOLINGS["map"]
ALL_POOLINGS = ("mean", "max", "flatten", "cls")
GROUPS = {"maps": ("map", "map_last"), "sequences": ("sequence",)}
LABELS = {"mean": "mean", "max": "max", "flatten": "flatten", "cls": "cls", "none": "as is"}


def parse(spec: str | dict | None) -> tuple[str, dict[str, str]]:
    """(maps' default, {layer or ``maps``/``sequences``: choice}) of a pooling spec; ValueError naming a bad part."""
    if spec is None or spec == "":
        return "mean", {}
    if isinstance(spec, dict):
        items = [f"{k}={v}" for k, v in spec.items()]
    else:
        items = [p for p in str(spec).replace(",", " ").split() if p]
    default, overrides = "mean", {}
    for item in items:
        name, eq, choice = item.rpartition("=")
        if not eq:
            if choice not in MAP_POOLINGS:
                raise ModelError(
                    f"pooling {choice!r}: a plain choice sets conv maps' pooling, one of "
                    f"{', '.join(MAP_POOLINGS)}; give NAME=CHOICE (e.g. blocks.1=cls) for one layer"
                )
            default = choice
            continue
        if not name or choice not in ALL_POOLINGS:
            raise ModelError(f"pooling {item!r}: expected NAME=CHOICE with CHOICE one of {', '.join(ALL_POOLINGS)}")
        if name in GROUPS and choice not in POOLINGS[GROUPS[name][0]]:
            raise ModelError(f"pooling {item!r}: {name} take {', '.join(POOLINGS[GROUPS[name][0]])}")
        overrides[name] = choice
    return default, overrides


def text(default: str, overrides: dict[str, str]) -> str:
    """The spec back as text (what the manifest's config keeps)."""
    return ", ".join([default] + [f"{k}={v}" for k, v in overrides.items()])


def choose(name: str, layout: str, spec: str | dict | None) -> str:
    """The pooling of layer ``name`` of ``layout`` under ``spec``; ValueError when it does not fit the layout."""
    default, overrides = parse(spec)
    allowed = POOLINGS[layout]
    if layout == "vector":
        if overrides.get(name, "none") not in ("none", "flatten", "mean"):
            raise ModelError(f"pooling {name}={overrides[name]}: {name} is a vector; it is kept as it is")
        return "none"
    group = next(g for g, layouts in GROUPS.items() if layout in layouts)
    choice = overrides.get(name) or overrides.get(group) or (default if group == "maps" else "mean")
    if choice not in allowed:
        raise ModelError(
            f"pooling {name}={choice}: {name} is {describe_layout(layout)}; choose one of {', '.join(allowed)}"
        )
    return choice


def describe_layout(layout: str) -> str:
    return {
        "vector": "a vector",
        "map": "a conv map (channels first)",
        "map_last": "a conv map (channels last)",
        "sequence": "a token sequence",
    }[layout]


def pooled_dim(shape, layout: str, pooling: str) -> int:
    """The vector width ``pooling`` gives a layer of per-sample ``shape`` (before any PCA)."""
    shape = tuple(int(d) for d in shape)
    if layout == "vector" or len(shape) <= 1:
        return int(math.prod(shape)) if shape else 1
    if pooling == "flatten":
        return int(math.prod(shape))
    if layout == "map_last":
        return shape[-1]
    if layout == "sequence":
        return int(math.prod(shape[1:]))
    return shape[0]


def shape_words(shape, layout: str) -> str:
    """``17 tokens × 64``, ``8×16×16 (C×H×W)``, ``10``."""
    shape = [int(d) for d in shape]
    if not shape:
        return "scalar"
    if layout == "sequence":
        return f"{shape[0]} tokens × {'×'.join(map(str, shape[1:]))}"
    if layout == "map":
        return "×".join(map(str, shape)) + {2: " (C×L)", 3: " (C×H×W)"}.get(len(shape), "")
    if layout == "map_last":
        return "×".join(map(str, shape)) + " (H×W×C)"
    return "×".join(map(str, shape))


def what_it_gives(shape, layout: str, pooling: str) -> str:
    """``17 tokens × 64 → 64 (mean over tokens)``: what a layer becomes under ``pooling``."""
    words = {
        "mean": "mean over tokens" if layout == "sequence" else "mean",
        "cls": "first token",
        "max": "max",
        "flatten": "flatten",
        "none": "as is",
    }[pooling]
    return f"{shape_words(shape, layout)} → {pooled_dim(shape, layout, pooling)} ({words})"


def choices_text(shape, layout: str) -> str:
    """Every pooling a layer allows and its width: ``mean 64 · cls 64 · flatten 1088``."""
    if layout == "vector":
        return ""
    return " · ".join(f"{p} {pooled_dim(shape, layout, p)}" for p in POOLINGS[layout])
