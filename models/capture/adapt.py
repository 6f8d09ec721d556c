"""Fit a dataset to a model's input, and conv feature maps to vectors.

Input adaptation (:func:`plan_input`) starts from the model's per-sample input shape (from the
ONNX or export signature, else given, else guessed from the dataset) and decides, shown in
:meth:`InputPlan.describe`: images or feature vectors, channel order (``C×H×W``, ``H×W×C`` as
Keras exports, or ``H×W``), grey ↔ RGB, resize (bilinear, antialiased), and normalisation:

- ``unit``: pixels in [0, 1] (default), ``none``: raw 0–255 pixels, ``minus1``: [−1, 1],
- ``imagenet``: (x − mean) / std with ImageNet's mean and std, ``custom``: your own mean/std.

A dataset that cannot be fitted raises :class:`ModelError` naming both shapes.

A model whose input is integer token ids (or any model, given a token dataset: an arrays file with
``input_ids``) is fed the dataset's ``tokens`` by name: an input whose name holds ``mask`` gets the
``attention_mask`` (1 for a real token, 0 for padding, as Hugging Face; all ones when the dataset has
none), the other one the ``input_ids``. A model with integer inputs given images or plain vectors
raises :class:`ModelError`: it needs a token dataset.

Feature maps (``C×H×W`` or ``C×L`` per sample) become vectors by :func:`reduce`: global average
pooling (``mean``, default), spatial ``max``, or ``flatten`` (then PCA to 512 when wider, fitted in
:mod:`models.capture.capture`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import ModelError

NORMALISATIONS = ("unit", "none", "minus1", "imagenet", "custom")
PRESETS = {"imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), "minus1": ((0.5,), (0.5,))}
POOLINGS = ("mean", "max", "flatten")
_LUMA = torch.tensor([0.299, 0.587, 0.114])


def shape_text(shape) -> str:
    return "×".join("?" if d is None else str(d) for d in shape)


def dataset_text(ds) -> str:
    if ds.images is None:
        return f"{ds.dim} features per sample (no images)"
    h, w = ds.images.shape[1:3]
    kind = "grey" if ds.images.ndim == 3 else "RGB"
    return f"{h}×{w} {kind} images ({ds.dim} features)"


@dataclass(frozen=True)
class InputPlan:
    """How one dataset's samples become one model's inputs."""

    source: str  # "images" or "features"
    shape: tuple[int, ...]  # per-sample model input
    layout: str  # "chw", "hwc", "hw" or "flat"
    channels: tuple[int, int] = (1, 1)  # dataset → model
    size: tuple[tuple[int, int], tuple[int, int]] | None = None  # dataset (h, w) → model (h, w)
    normalisation: str = "unit"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    feeds: tuple[tuple[str, str, str], ...] = ()  # tokens: (model input, dataset column or "ones", int|float|bool)

    def describe(self) -> dict:
        out = {
            "source": self.source,
            "shape": list(self.shape),
            "layout": self.layout,
            "channels": list(self.channels),
            "resize": [list(s) for s in self.size] if self.size else None,
            "normalisation": self.normalisation,
            "mean": self.mean,
            "std": self.std,
        }
        if self.feeds:
            out["feeds"] = {model_input: column for model_input, column, _ in self.feeds}
        return out

    def mask(self, ds, idx: np.ndarray) -> torch.Tensor | None:
        """The attention mask (N×T, 1 = a real token) of the samples at ``idx``, for masked means; else None."""
        tokens = getattr(ds, "tokens", None)
        if self.source != "tokens" or not tokens or tokens.get("attention_mask") is None:
            return None
        return torch.from_numpy(np.ascontiguousarray(tokens["attention_mask"][idx]))

    def batch(self, ds, idx: np.ndarray):
        """The model inputs of the samples at ``idx`` of ``ds``: float32 images or vectors, or for a token
        dataset ``{input name: ids or mask}`` (one tensor when the model takes one input)."""
        if self.source == "tokens":
            ids = ds.tokens["input_ids"][idx]
            out = {}
            for model_input, column, kind in self.feeds:
                values = np.ones_like(ids) if column == "ones" else ds.tokens[column][idx]
                t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.int64))
                out[model_input] = t.float() if kind == "float" else t.bool() if kind == "bool" else t
            return next(iter(out.values())) if len(out) == 1 else out
        if self.source == "features":
            x = torch.from_numpy(np.ascontiguousarray(ds.features[idx], dtype=np.float32))
            x = _normalise(x.reshape(len(idx), *self.shape), self, channel_dim=0 if self.layout == "hwc" else 1)
            return x
        images = torch.from_numpy(np.ascontiguousarray(ds.images[idx])).float()
        x = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
        c_from, c_to = self.channels
        if c_from == 1 and c_to == 3:
            x = x.expand(-1, 3, -1, -1)
        elif c_from == 3 and c_to == 1:
            x = (x * _LUMA.view(1, 3, 1, 1)).sum(1, keepdim=True)
        if self.size and self.size[0] != self.size[1]:
            (h0, w0), (h, w) = self.size
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=h < h0 or w < w0)
        if self.normalisation != "none":
            x = x / 255.0
        x = _normalise(x, self, channel_dim=1)
        if self.layout == "hwc":
            x = x.permute(0, 2, 3, 1)
        elif self.layout == "hw":
            x = x[:, 0]
        return x.contiguous()


def _normalise(x: torch.Tensor, plan: InputPlan, channel_dim: int) -> torch.Tensor:
    if plan.normalisation == "minus1":
        return x * 2.0 - 1.0
    if plan.mean is None:
        return x
    if plan.layout == "flat":
        return (x - plan.mean[0]) / plan.std[0]
    view = [1] * x.ndim
    view[channel_dim] = -1
    mean, std = torch.tensor(plan.mean).view(view), torch.tensor(plan.std).view(view)
    return (x - mean) / std


def _stats(normalisation: str, mean, std, channels: int):
    if normalisation not in NORMALISATIONS:
        raise ModelError(f"normalisation must be one of {', '.join(NORMALISATIONS)} (got {normalisation!r})")
    if normalisation == "imagenet":
        mean, std = PRESETS["imagenet"]
    elif normalisation != "custom":
        return None, None
    if not mean or not std:
        raise ModelError("normalisation 'custom' needs --mean and --std (one value, or one per channel)")
    mean, std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
    for name, vals in (("mean", mean), ("std", std)):
        if len(vals) not in (1, channels):
            raise ModelError(f"{name} needs 1 or {channels} values for a {channels}-channel input (got {len(vals)})")
    if any(s <= 0 for s in std):
        raise ModelError(f"std values must be positive (got {std})")
    if len(mean) < channels:
        mean = mean * channels
    if len(std) < channels:
        std = std * channels
    return mean, std


def token_plan(ds, inputs, source: str) -> InputPlan:
    """How a token dataset feeds a model's inputs, matched by name (see the module's docstring)."""
    ids = ds.tokens["input_ids"]
    length = int(ids.shape[1])
    inputs = list(inputs or [])
    if not inputs:
        return InputPlan("tokens", (length,), "tokens", feeds=(("input_ids", "input_ids", "int"),))
    feeds, ids_taken = [], False
    for value in inputs:
        kind = "float" if value.integer is False else "int"
        fixed = value.shape[0] if value.shape else None
        if fixed not in (None, length):
            raise ModelError(
                f"model {source} input {value.name!r} takes {fixed} tokens per sample but dataset "
                f"{ds.name} gives {length}; pad or cut the dataset's input_ids to {fixed}"
            )
        if "mask" in value.name.lower():
            has = ds.tokens.get("attention_mask") is not None
            feeds.append((value.name, "attention_mask" if has else "ones", kind))
        elif not ids_taken:
            feeds.append((value.name, "input_ids", "int"))
            ids_taken = True
        else:
            raise ModelError(
                f"model {source} takes inputs {[i.name for i in inputs]}; LayerScope feeds a token "
                "dataset's input_ids and attention_mask by name (an input named like 'mask' gets "
                f"the mask) and has nothing for {value.name!r}"
            )
    if not ids_taken:
        raise ModelError(f"model {source} takes inputs {[i.name for i in inputs]}: none can take input_ids")
    return InputPlan("tokens", (length,), "tokens", feeds=tuple(feeds))


def plan_input(
    ds, input_shape, *, source: str, normalisation: str = "unit", mean=None, std=None, resize: bool = True, inputs=None
) -> InputPlan:
    """How ``ds`` feeds a model whose per-sample input is ``input_shape`` (``None`` to guess); ``inputs``
    (:class:`models.capture.backends.ModelInput`) say which take token ids."""
    integer = bool(inputs) and any(i.integer for i in inputs)
    if getattr(ds, "tokens", None) and (integer or not inputs or inputs[0].integer is None):
        return token_plan(ds, inputs, source)
    if integer:
        names = ", ".join(f"{i.name} ({'integers' if i.integer else 'floats'})" for i in inputs)
        raise ModelError(
            f"model {source} takes token ids ({names}) but dataset {ds.name} gives {dataset_text(ds)}; "
            "it needs a token dataset: an arrays file (.npz) holding input_ids (N×T integers), "
            "labels, and optionally attention_mask and texts"
        )
    if input_shape is None or len(input_shape) == 0:
        if ds.images is not None:
            input_shape = (1 if ds.images.ndim == 3 else 3, *ds.images.shape[1:3])
        else:
            input_shape = (ds.dim,)
    shape = tuple(None if d in (None, 0, -1) else int(d) for d in input_shape)

    def misfit(fix: str) -> ModelError:
        return ModelError(
            f"dataset {ds.name} gives {dataset_text(ds)} but model {source} expects input {shape_text(shape)}; {fix}"
        )

    if len(shape) == 1:
        if shape[0] in (None, ds.dim):
            mean_std = _stats(normalisation, mean, std, 1) if normalisation in ("custom",) else (None, None)
            return InputPlan(
                "features", (ds.dim,), "flat", normalisation=normalisation, mean=mean_std[0], std=mean_std[1]
            )
        raise misfit("pick a dataset with that many features, or give the model's --input-shape if it is wrong")
    if len(shape) == 2:
        layout, channels, (h, w) = "hw", 1, shape
    elif len(shape) == 3 and shape[0] in (1, 3):
        layout, (channels, h, w) = "chw", shape
    elif len(shape) == 3 and shape[2] in (1, 3):
        layout, (h, w, channels) = "hwc", shape
    else:
        raise misfit("LayerScope feeds vectors (D), grey images (H×W) or images with 1 or 3 channels (C×H×W or H×W×C)")
    mean, std = _stats(normalisation, mean, std, channels)
    if ds.images is None:
        full = (channels, h, w) if layout != "hwc" else (h, w, channels)
        if None not in full and math.prod(full) == ds.dim:
            return InputPlan(
                "features",
                full if layout != "hw" else (h, w),
                layout,
                (channels, channels),
                None,
                normalisation,
                mean,
                std,
            )
        raise misfit("a dataset with images (or exactly that many features) is needed")
    h0, w0 = ds.images.shape[1:3]
    h, w = h or h0, w or w0
    if (h, w) != (h0, w0) and not resize:
        raise misfit("allow resizing (--resize) or pick a dataset of that size")
    c0 = 1 if ds.images.ndim == 3 else 3
    final = {"chw": (channels, h, w), "hwc": (h, w, channels), "hw": (h, w)}[layout]
    return InputPlan("images", final, layout, (c0, channels), ((h0, w0), (h, w)), normalisation, mean, std)


def reduce(t: torch.Tensor, pooling: str, layout: str | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """A batch of per-sample outputs as vectors, pooled the way their ``layout`` says
    (:mod:`.pooling`): maps over their spatial axes (channels first, or last for ``map_last``),
    sequences over their tokens (``mask``, N×T with 1 for a real token, makes the mean skip padding;
    ``cls`` takes the first token). Without a layout, what is not a vector is a channels-first map."""
    if t.ndim <= 1:
        return t.reshape(len(t), -1) if t.ndim == 1 else t.reshape(1, 1)
    if t.ndim == 2 or layout == "vector":
        return t.reshape(len(t), -1)
    if pooling == "flatten":
        return t.reshape(len(t), -1)
    if layout == "sequence":
        if pooling == "cls":
            return t[:, 0].reshape(len(t), -1)
        if pooling != "mean":
            raise ModelError(f"pooling of a token sequence must be mean, cls or flatten (got {pooling!r})")
        t = t.float()
        if mask is not None and mask.ndim == 2 and mask.shape == t.shape[:2]:
            m = mask.to(t.device, torch.float32).reshape(*mask.shape, *([1] * (t.ndim - 2)))
            return ((t * m).sum(1) / m.sum(1).clamp_min(1.0)).reshape(len(t), -1)
        return t.mean(1).reshape(len(t), -1)
    axes = tuple(range(1, t.ndim - 1)) if layout == "map_last" else tuple(range(2, t.ndim))
    if pooling == "mean":
        return t.float().mean(dim=axes)
    if pooling == "max":
        return t.float().amax(dim=axes)
    raise ModelError(f"pooling must be one of {', '.join(POOLINGS)} (got {pooling!r})")
