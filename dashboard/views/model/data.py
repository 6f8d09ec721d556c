"""The Your model tab's data: model files, the form → :class:`models.studies.capture.Config`,
and the layer tree (computed in a job: it loads torch/onnxruntime, never in the web process)."""

from __future__ import annotations

from pathlib import Path

from models.capture import formats
from models.capture import pooling as pooling_rules
from models.errors import UserError
from models.studies import capture as face

from ...config import AppConfig

NORMALISATION_LABELS = {
    "unit": "[0, 1]",
    "none": "none (0–255)",
    "minus1": "[−1, 1]",
    "imagenet": "ImageNet mean/std",
    "custom": "custom mean/std",
}
PROBE_PER_CLASS = 1  # the forward pass that finds the layer tree needs a few samples only


def model_dir(config: AppConfig) -> Path:
    return formats.model_dir_of(config.data_dir, config.model_dir)


def model_options(config: AppConfig) -> list[dict]:
    return [{"label": name, "value": name} for name in formats.available(model_dir(config))]


def numbers(text, cast=float, what: str = "values") -> tuple | None:
    """``"1 28 28"`` or ``"0.5, 0.5"`` as a tuple; empty → None; anything else a ValueError naming it."""
    if text is None or not str(text).strip():
        return None
    try:
        return tuple(cast(v) for v in str(text).replace(",", " ").split())
    except ValueError:
        raise UserError(f"{what} must be numbers separated by spaces (got {text!r})") from None


def input_shape(text, channels, detected) -> tuple[int, ...] | None:
    """The model input per sample: as typed, else as detected; ``channels`` (1 grey, 3 RGB) replaces
    the channel size of a C×H×W or H×W×C shape."""
    shape = numbers(text, int, "input shape") or (tuple(detected) if detected else None)
    if channels in (None, "", "model") or shape is None or len(shape) != 3:
        return shape
    c = int(channels)
    if shape[0] in (1, 3):
        return (c, *shape[1:])
    if shape[2] in (1, 3):
        return (*shape[:2], c)
    return shape


def pooling_spec(maps, sequences=None, per_layer=None) -> str:
    """The pooling spec (:mod:`models.capture.pooling`) of the form: maps' choice, the sequences'
    choice when not the mean, and per-layer overrides typed as ``blocks.1=cls, head=flatten``."""
    parts = [maps or "mean"]
    if sequences and sequences != "mean":
        parts.append(f"sequences={sequences}")
    if per_layer and str(per_layer).strip():
        _, overrides = pooling_rules.parse(str(per_layer))
        parts += [f"{k}={v}" for k, v in overrides.items()]
    return ", ".join(parts)


def capture_config(
    dataset,
    model_file,
    layers,
    pooling,
    sample,
    per_class,
    split,
    float16,
    shape_text,
    channels,
    resize,
    normalisation,
    mean,
    std,
    sequences=None,
    per_layer=None,
    detected=None,
) -> face.Config:
    """The capture study's config from the form (raises ValueError with what to fix)."""
    if not model_file:
        raise UserError("pick a model file first (put .onnx, .pt2, .ts or .pt files in the models folder)")
    return face.Config(
        dataset=dataset,
        model=(model_file,),
        layers=tuple(layers) if layers else None,
        pooling=pooling_spec(pooling, sequences, per_layer),
        input_shape=input_shape(shape_text, channels, detected),
        normalisation=normalisation or "unit",
        mean=numbers(mean, what="mean"),
        std=numbers(std, what="std"),
        resize=bool(resize),
        split=split or "train",
        per_class=int(per_class or 50) if sample == "per_class" else None,
        float16=bool(float16),
    )


def inspect(config: AppConfig, dataset: str, cfg: face.Config) -> dict:
    """The model's layer tree, default selection and input plan on ``dataset`` (heavy: a job calls it)."""
    from models import datasets
    from models.capture.capture import CaptureWriter
    from models.capture.layers import default_layers

    ds = datasets.load(dataset, data_dir=config.data_dir, split=cfg.split, per_class=PROBE_PER_CLASS, normalize=False)
    model = formats.load(cfg.model[0], model_dir=model_dir(config), device="cpu")
    options = {
        "input_shape": cfg.input_shape,
        "normalisation": cfg.normalisation,
        "mean": cfg.mean,
        "std": cfg.std,
        "resize": cfg.resize,
    }
    plan, tree = CaptureWriter(None, ds, pooling=cfg.pooling, options=options).fit_input(model)
    return {
        "model": cfg.model[0],
        "format": model.format,
        "dataset": dataset,
        "signature": None if model.input_shape is None else [d for d in model.input_shape],
        "input": plan.describe(),
        "layers": [layer.as_dict() for layer in tree],
        "default": default_layers(tree),
    }


def tree_options(tree: dict | None) -> list[dict]:
    """Checklist options: one per layer, indented by depth, with its type and output shape."""
    if not tree:
        return []
    options = []
    for layer in tree["layers"]:
        layout = layer.get("layout") or "vector"
        shape = pooling_rules.shape_words(layer["shape"], layout)
        choices = pooling_rules.choices_text(layer["shape"], layout)
        indent = "\u2003" * max(0, layer["depth"] - 1)
        label = f"{indent}{layer['name']} · {layer['type']} · {shape}" + (f" → {choices}" if choices else "")
        options.append({"label": label, "value": layer["name"]})
    return options


def plan_text(tree: dict | None) -> str:
    """One line saying how the dataset becomes the model's inputs."""
    if not tree:
        return ""
    plan = tree["input"]
    shape = "×".join(map(str, plan["shape"]))
    parts = [f"{tree['dataset']} → {shape} ({plan['layout']})"]
    c_from, c_to = plan["channels"]
    if c_from != c_to:
        parts.append(f"{'grey → RGB' if c_to == 3 else 'RGB → grey'}")
    if plan["resize"] and plan["resize"][0] != plan["resize"][1]:
        (h0, w0), (h, w) = plan["resize"]
        parts.append(f"resized {h0}×{w0} → {h}×{w}")
    parts.append(f"normalised {NORMALISATION_LABELS.get(plan['normalisation'], plan['normalisation'])}")
    sig = tree.get("signature")
    parts.append("model input " + ("×".join("?" if d is None else str(d) for d in sig) if sig else "not in the file"))
    return " · ".join(parts)
