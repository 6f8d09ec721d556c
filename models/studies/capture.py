"""Capture your own model's layers on a dataset: every chosen layer's vectors, side by side.

A person's trained model (ONNX, torch.export ``.pt2``, TorchScript, a state_dict of LayerScope's
own nets, or — from the command line — a ``package.module:function`` factory) is read from the
models folder (``--model-dir``, default ``<data-dir>/models``), the dataset is fitted to its input,
and each chosen layer's output (conv maps pooled to vectors) is streamed to the run, one step per
model file (checkpoints). The Layers, Hardness and Explore tabs read runs through the readers
below; the run format is in docs/capture-format.md.

    python -m models.studies.capture --model my_cnn.onnx --dataset digits
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Iterable

import numpy as np

from ..capture import pooling as pooling_rules
from ..errors import UserError
from ..validation import check_choice, check_int
from .base import StudyConfig, check_kind, command_line, lazy_run, option, split_option

KIND = "capture"
TITLE = "Capture your own model"
POOLINGS = ("mean", "max", "flatten")
NORMALISATIONS = ("unit", "none", "minus1", "imagenet", "custom")
SPLITS = ("train", "test")
DEVICES = ("auto", "cpu", "cuda")


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    model: tuple[str, ...] = option(
        ("model.onnx",),
        "model file(s) in the models folder, one step each "
        "(.onnx, .pt2, .ts, .pt/.safetensors state_dict with a .json sidecar), "
        "or package.module:function (command line only)",
    )
    model_dir: str | None = option(None, "models folder the model path is relative to (default: <data-dir>/models)")
    weights: str | None = option(
        None, "state_dict (.pt/.safetensors in the models folder) loaded into a factory's model"
    )
    steps: tuple[int, ...] | None = option(None, "step (epoch) of each model file, in order (default 0, 1, …)")
    layers: tuple[str, ...] | None = option(None, "layers to capture (default: top-level blocks, penultimate, output)")
    pooling: str = option(
        "mean",
        "how layers become vectors: a plain choice sets conv maps' (mean: global average, "
        "max, or flatten, PCA to 512 when wider); token sequences default to the mean over "
        "tokens (cls: the first token, flatten); per layer or layout: 'max,blocks.1=cls,"
        "sequences=flatten'",
    )
    input_shape: tuple[int, ...] | None = option(
        None, "model input per sample, e.g. 1 28 28 (default: the file's signature, else the dataset's)"
    )
    normalisation: str = option(
        "unit", "inputs: unit=[0,1], none=0–255, minus1=[-1,1], imagenet or custom mean/std", choices=NORMALISATIONS
    )
    mean: tuple[float, ...] | None = option(None, "mean per channel for --normalisation custom")
    std: tuple[float, ...] | None = option(None, "std per channel for --normalisation custom")
    resize: bool = option(True, "resize images to the model's input size")
    split: str | None = split_option()  # none: train, or the split that is present (like every study)
    per_class: int | None = option(None, "balanced sample of this many per class (default: every sample)")
    limit: int | None = option(None, "at most this many samples (after --per-class)")
    batch_size: int = option(256, "samples per forward pass", record=False)
    float16: bool = option(False, "store activations as float16 (half the disk)")
    device: str = option(
        "auto", "where the model runs: auto (CUDA when present), cpu or cuda", choices=DEVICES, record=False
    )
    allow_factory: bool = option(
        False, "accept package.module:function factories (their code runs)", cli=False, record=False
    )

    def check(self) -> None:
        if not self.model or not all(isinstance(m, str) and m for m in self.model):
            raise ValueError(f"model must name at least one model file (got {self.model!r})")
        if self.steps is not None:
            if len(self.steps) != len(self.model):
                raise ValueError(
                    f"steps gives {len(self.steps)} steps for {len(self.model)} model files; give one per file"
                )
            if len(set(self.steps)) != len(self.steps):
                raise ValueError(f"steps must differ from each other (got {list(self.steps)})")
        if not isinstance(self.pooling, str):
            raise ValueError(f"pooling must be text such as 'mean' or 'mean,blocks.1=cls' (got {self.pooling!r})")
        pooling_rules.parse(self.pooling)
        check_choice("normalisation", self.normalisation, NORMALISATIONS)
        if self.split is not None:
            check_choice("split", self.split, SPLITS)
        check_choice("device", self.device, DEVICES)
        check_int("batch_size", self.batch_size, low=1)
        if self.per_class is not None:
            check_int("per_class", self.per_class, low=1)
        if self.limit is not None:
            check_int("limit", self.limit, low=1)
        if self.input_shape is not None and (not self.input_shape or any(int(d) < 1 for d in self.input_shape)):
            raise ValueError(f"input_shape must be positive sizes such as 1 28 28 (got {list(self.input_shape)})")
        if self.normalisation == "custom" and not (self.mean and self.std):
            raise ValueError("normalisation 'custom' needs mean and std (one value or one per channel)")

    @classmethod
    def from_args(cls, args):  # the command line is the person's own machine: factories are allowed
        return dataclasses.replace(super().from_args(args), allow_factory=True)

    @property
    def step_values(self) -> tuple[int, ...]:
        return tuple(self.steps) if self.steps is not None else tuple(range(len(self.model)))


run = lazy_run(f"{__package__}.capture_engine")


# -- readers -------------------------------------------------------------------
def _info(run) -> dict:
    check_kind(run, KIND)
    return run.manifest["capture"]


def layers(run) -> list[dict]:
    """The captured layers in network order: ``name``, ``type``, ``shape`` (per sample, before
    pooling), ``reduce`` (none, mean, max, flatten, cls), and in runs written since layouts exist
    ``layout`` (vector, map, map_last, sequence) and ``pooled`` (in words); ``"output"`` is last."""
    return [dict(layer) for layer in _info(run)["layers"]]


def steps(run) -> list[int]:
    """The steps (checkpoints, e.g. epochs) the run holds, in the order they were captured."""
    return [s["step"] for s in _info(run)["steps"]]


def _step(run, step: int | None) -> dict:
    records = _info(run)["steps"]
    if step is None:
        return records[-1]
    for record in records:
        if record["step"] == step:
            return record
    raise UserError(f"run {run.id} has no step {step}; it has {[r['step'] for r in records]}")


def _array(run, fname: str) -> np.ndarray:
    path = run.file(fname)  # checks the name stays inside the run
    return np.load(path, mmap_mode="r", allow_pickle=False)


def activations(run, layer: str, step: int | None = None) -> np.ndarray:
    """``layer``'s vectors (samples × dims, memory-mapped, read-only) at ``step`` (default: the last)."""
    record = _step(run, step)
    if layer not in record["files"]:
        raise UserError(f"run {run.id} did not capture layer {layer!r}; it has {list(record['files'])}")
    return _array(run, record["files"][layer])


def sample(run, step: int | None = None) -> dict[str, np.ndarray | None]:
    """``index`` (each sample's position in the dataset split), ``labels``, and the model's
    ``predictions`` and ``scores`` at ``step`` (``None`` when its output is not class scores)."""
    arrays = run.arrays("sample")
    record = _step(run, step)
    return {
        "index": arrays["index"],
        "labels": arrays["labels"],
        "predictions": _array(run, record["predictions"]) if record["predictions"] else None,
        "scores": _array(run, record["scores"]) if record["scores"] else None,
    }


def class_names(run) -> list[str]:
    return list(_info(run)["class_names"])


def split(run) -> str:
    return _info(run).get("split", "train")


def summary(run) -> Iterable[str]:
    info = _info(run)
    yield f"captured {info['samples']:,} samples of {run.manifest.get('dataset')} ({info['split']}), {info['dtype']}"
    for record in info["steps"]:
        acc = "" if record["accuracy"] is None else f", accuracy {record['accuracy']:.3f}"
        yield f"step {record['step']}: {record['model']} ({record['format']} on {record['device']}){acc}"
    last = info["steps"][-1]
    for layer in info["layers"]:
        shape = "×".join(map(str, layer["shape"]))
        pooled = layer.get("pooled") or f"{shape} ({layer['reduce']})"
        yield f"  {layer['name']:<24} {pooled} → {last['dims'][layer['name']]} stored"


# -- what the Layers and Hardness tabs read of a capture run (pure of Dash; its projections: .project) --
HARDNESS_SAMPLE = 1_000  # balanced sample whose t-SNE KL is a layer's hardness
SEED = 0


def is_capture(run) -> bool:
    return run is not None and run.kind == KIND


def step_of(run, step) -> int:
    """``step`` if the run holds it, else its last step."""
    held = steps(run)
    return int(step) if step is not None and int(step) in held else held[-1]


def balanced_positions(labels: np.ndarray, total: int = HARDNESS_SAMPLE, seed: int = SEED) -> tuple[np.ndarray, str]:
    """A sorted, seeded sample of about ``total`` with as many of each class as it has (all when fewer)."""
    labels = np.asarray(labels)
    if len(labels) <= total:
        return np.arange(len(labels)), "all"
    classes = np.unique(labels)
    per = max(1, total // len(classes))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per] for c in classes]
    return np.sort(np.concatenate(picks)), f"balanced{per}pc-s{seed}"


def _key(run, step: int, layer: str, what: str, params: dict, sample: str, chain: list[str] | None = None) -> dict:
    key = {"run": run.id, "step": int(step), "layer": layer, "method": what, "params": params, "sample": sample}
    if chain is not None:
        key["chain"] = chain  # the layers before it: a chained layer's map depends on them
    return key


def layer_names(run) -> list[str]:
    return [layer["name"] for layer in layers(run)]


def _vectors(run, layer: str, step: int, positions: np.ndarray) -> np.ndarray:
    return np.asarray(activations(run, layer, step)[positions], dtype=np.float32)


# -- hardness ---------------------------------------------------------------------------
def hardness_keys(run, step: int) -> tuple[list[dict], np.ndarray]:
    positions, tag = balanced_positions(sample(run)["labels"])
    return [_key(run, step, name, "hardness", {"perplexity": 30.0}, tag) for name in layer_names(run)], positions


def hardness_table(results, run, *, compute: bool = False, progress=None) -> tuple[list[str], np.ndarray] | None:
    """(layer names, steps × layers KL) of the run, from the cache (``None`` if a value is missing)
    or computed (``compute=True``): each layer's balanced sample under exact t-SNE, scored by the
    exact KL (:func:`models.projections.hardness`)."""
    from ..progress import report

    names, held = layer_names(run), steps(run)
    table = np.full((len(held), len(names)), np.nan)
    total, done = len(held) * len(names), 0
    for s, step in enumerate(held):
        keys, positions = hardness_keys(run, step)
        for j, (name, key) in enumerate(zip(names, keys)):
            hit = results.get(key)
            if hit is None and compute:
                report(progress, done, total, f"hardness of {name} at step {step}")
                hit = results.get_or_compute(
                    key, lambda name=name, step=step, positions=positions: _hardness(run, name, step, positions)
                )
            if hit is None:
                return None
            table[s, j] = float(hit[1]["kl"])
            done += 1
    return names, table


def _hardness(run, layer: str, step: int, positions: np.ndarray):
    from ..projections import hardness, project

    X = _vectors(run, layer, step, positions)
    Y = project(X, "tsne", seed=SEED, perplexity=30.0).coords
    return {"coords": Y}, {"kl": hardness(X, Y, perplexity=30.0)}


def hardness_tables(run, names: list[str], table: np.ndarray) -> list[tuple[str, list[str], np.ndarray]]:
    """The hardness figure's input: one panel, a translucent bar per step (steps as runs)."""
    held = steps(run)
    title = "KL per layer" + (f" · steps {held[0]}…{held[-1]} (bars), mean (line)" if len(held) > 1 else "")
    return [(title, names, table)]


main = command_line(__name__)

if __name__ == "__main__":
    sys.exit(main())
