"""Fit a dataset to a model's input, and conv feature maps to vectors.

Input adaptation (:func:`plan_input`) starts from the model's per-sample input shape (from the
ONNX or export signature, else given, else guessed from the dataset) and decides, shown in
:meth:`InputPlan.describe`: images or feature vectors, channel order (``C×H×W``, ``H×W×C`` as
Keras exports, or ``H×W``), grey ↔ RGB, resize (bilinear, antialiased), and normalisation:

- ``unit``: pixels in [0, 1] (default), ``none``: raw 0–255 pixels, ``minus1``: [−1, 1],
- ``imagenet``: (x − mean) / std with ImageNet's mean and std, ``custom``: your own mean/std.

A dataset that cannot be fitted raises :class:`ModelError` naming both shapes.

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

    source: str                        # "images" or "features"
    shape: tuple[int, ...]             # per-sample model input
    layout: str                        # "chw", "hwc", "hw" or "flat"
    channels: tuple[int, int] = (1, 1)  # dataset → model
    size: tuple[tuple[int, int], tuple[int, int]] | None = None  # dataset (h, w) → model (h, w)
    normalisation: str = "unit"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def describe(self) -> dict:
        return {"source": self.source, "shape": list(self.shape), "layout": self.layout,
                "channels": list(self.channels), "resize": [list(s) for s in self.size] if self.size else None,
                "normalisation": self.normalisation, "mean": self.mean, "std": self.std}

    def batch(self, ds, idx: np.ndarray) -> torch.Tensor:
        """The model inputs (float32) of the samples at ``idx`` of ``ds``."""
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


def plan_input(ds, input_shape, *, source: str, normalisation: str = "unit", mean=None, std=None,
               resize: bool = True) -> InputPlan:
    """How ``ds`` feeds a model whose per-sample input is ``input_shape`` (``None`` to guess)."""
    if input_shape is None or len(input_shape) == 0:
        if ds.images is not None:
            input_shape = (1 if ds.images.ndim == 3 else 3, *ds.images.shape[1:3])
        else:
            input_shape = (ds.dim,)
    shape = tuple(None if d in (None, 0, -1) else int(d) for d in input_shape)

    def misfit(fix: str) -> ModelError:
        return ModelError(f"dataset {ds.name} gives {dataset_text(ds)} but model {source} expects input "
                          f"{shape_text(shape)}; {fix}")

    if len(shape) == 1:
        if shape[0] in (None, ds.dim):
            mean_std = _stats(normalisation, mean, std, 1) if normalisation in ("custom",) else (None, None)
            return InputPlan("features", (ds.dim,), "flat", normalisation=normalisation, mean=mean_std[0], std=mean_std[1])
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
            return InputPlan("features", full if layout != "hw" else (h, w), layout, (channels, channels),
                             None, normalisation, mean, std)
        raise misfit("a dataset with images (or exactly that many features) is needed")
    h0, w0 = ds.images.shape[1:3]
    h, w = h or h0, w or w0
    if (h, w) != (h0, w0) and not resize:
        raise misfit("allow resizing (--resize) or pick a dataset of that size")
    c0 = 1 if ds.images.ndim == 3 else 3
    final = {"chw": (channels, h, w), "hwc": (h, w, channels), "hw": (h, w)}[layout]
    return InputPlan("images", final, layout, (c0, channels), ((h0, w0), (h, w)), normalisation, mean, std)


def reduce(t: torch.Tensor, pooling: str) -> torch.Tensor:
    """A batch of per-sample outputs as vectors: maps are pooled over their spatial dimensions."""
    if t.ndim <= 1:
        return t.reshape(len(t), -1) if t.ndim == 1 else t.reshape(1, 1)
    if t.ndim == 2:
        return t
    if pooling == "mean":
        return t.float().mean(dim=tuple(range(2, t.ndim)))
    if pooling == "max":
        return t.float().amax(dim=tuple(range(2, t.ndim)))
    if pooling == "flatten":
        return t.reshape(len(t), -1)
    raise ModelError(f"pooling must be one of {', '.join(POOLINGS)} (got {pooling!r})")

