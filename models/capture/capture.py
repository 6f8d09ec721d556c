"""The capture engine: run a model over a dataset and stream chosen layers' vectors to a run.

:class:`CaptureWriter` fills a run folder (a :class:`models.store.RunWriter`'s temporary folder,
so the run appears whole or not at all) one step (checkpoint) at a time. Each layer of each step
is a memory-mapped ``.npy`` file written batch by batch, so 70,000 samples × several wide layers
never sit in memory at once; the output layer gives predictions and class scores. The layout is
described in docs/capture-format.md and read by the face's readers
(:mod:`models.studies.capture`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..progress import ProgressFn, report
from . import pooling as pooling_rules
from .adapt import InputPlan, dataset_text, plan_input, reduce, shape_text
from .backends import OUTPUT, Backend, Layer
from .errors import ModelError
from .layers import check_layers, default_layers

FORMAT_VERSION = 1
MAX_DIM = 512  # flattened maps wider than this are reduced by PCA
PCA_FIT = 2048  # samples the PCA is fitted on (the first ones captured)
SAMPLE = "sample"  # sample.npz: index, labels


def probe(model: Backend, ds, plan: InputPlan) -> list[Layer]:
    """The layer tree from a forward pass of a few samples; a model that cannot take the adapted
    inputs raises :class:`ModelError` naming both shapes."""
    x = plan.batch(ds, np.arange(min(4, ds.n)))  # several samples: what varies across them is an activation
    try:
        return model.tree(x)
    except Exception as exc:  # torch and onnxruntime raise many types for a shape mismatch
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"model {model.source} cannot take dataset {ds.name} ({dataset_text(ds)}) made into "
            f"inputs of {shape_text(plan.shape)}: {first}; give the model's --input-shape"
        ) from None


class _LayerSink:
    """One layer of one step: pooled vectors into a memory-mapped file (PCA'd when flattened wide)."""

    def __init__(self, folder, fname: str, n: int, dtype, pooling: str, layout: str = ""):
        self.folder, self.fname, self.n, self.dtype, self.pooling = folder, fname, n, dtype, pooling
        self.layout = layout
        self.array = None
        self.pending: list[tuple[int, torch.Tensor]] = []
        self.pca: tuple[torch.Tensor, torch.Tensor] | None = None
        self.info: dict = {}
        self.map = False  # whether the layer's per-sample output is more than a vector (set by pool)

    def pool(self, t: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """One batch of the layer's output as float vectors (what the model's hook keeps)."""
        self.map = t.ndim > 2
        return reduce(t, self.pooling, self.layout, mask).float()

    def write(self, start: int, v: torch.Tensor, *, last: bool) -> None:
        """Store one batch of pooled vectors (:meth:`pool`'s) at rows ``start:``."""
        wide = self.map and self.pooling == "flatten" and v.shape[1] > MAX_DIM
        if wide and self.pca is None:
            self.pending.append((start, v.cpu()))
            if sum(len(p) for _, p in self.pending) >= min(PCA_FIT, self.n) or last:
                self._fit()
                pending, self.pending = self.pending, []
                for s, p in pending:
                    self._put(s, self._project(p))
            return
        self._put(start, self._project(v) if self.pca is not None else v)

    def _fit(self) -> None:
        data = torch.cat([p for _, p in self.pending]).double()
        mean = data.mean(0)
        k = min(MAX_DIM, data.shape[0], data.shape[1])
        _, _, vh = torch.linalg.svd(data - mean, full_matrices=False)
        self.pca = (mean.float(), vh[:k].T.float().contiguous())
        self.info = {"pca": {"from": int(data.shape[1]), "to": int(k), "fitted_on": int(data.shape[0])}}

    def _project(self, v: torch.Tensor) -> torch.Tensor:
        mean, comps = self.pca
        return (v.cpu() - mean) @ comps

    def _put(self, start: int, v: torch.Tensor) -> None:
        if self.array is None:
            self.array = np.lib.format.open_memmap(
                self.folder / self.fname, mode="w+", dtype=self.dtype, shape=(self.n, int(v.shape[1]))
            )
        self.array[start : start + len(v)] = v.detach().cpu().numpy().astype(self.dtype, copy=False)

    def close(self) -> int:
        dim = int(self.array.shape[1])
        self.array.flush()
        self.array = None
        return dim


def _scores(out: torch.Tensor) -> torch.Tensor | None:
    """Class scores from the output: probabilities as given, logits through softmax."""
    if out.ndim != 2 or out.shape[1] < 2:
        return None
    out = out.float()
    if bool((out >= 0).all()) and bool(torch.allclose(out.sum(1), torch.ones(len(out), device=out.device), atol=1e-3)):
        return out
    return torch.softmax(out, dim=1)


class CaptureWriter:
    """Writes a capture run's arrays and its ``capture`` manifest section, step by step."""

    def __init__(self, writer, ds, *, float16: bool = False, pooling: str = "mean", options: dict | None = None):
        self.writer, self.ds = writer, ds
        self.dtype = np.float16 if float16 else np.float32
        self.pooling = pooling
        self.options = dict(options or {})  # input shape, normalisation, mean, std, resize
        self.steps: list[dict] = []
        self.layers: list[dict] | None = None
        self.plan: InputPlan | None = None

    def add_step(
        self,
        step: int,
        model: Backend,
        layers: Sequence[str] | None = None,
        *,
        batch_size: int = 256,
        progress: ProgressFn | None = None,
    ) -> dict:
        """Capture ``layers`` (default: :func:`default_layers`) of ``model`` over the whole dataset."""
        if any(s["step"] == step for s in self.steps):
            raise ModelError(f"step {step} is already in this run; give each checkpoint its own step")
        ds, n = self.ds, self.ds.n
        plan, tree = self.fit_input(model)
        names = check_layers(tree, layers, model.source) if layers else default_layers(tree)
        if OUTPUT not in names:
            names = list(names) + [OUTPUT]
        by_name = {layer.name: layer for layer in tree}
        choices = {}
        for name in names:
            try:
                choices[name] = pooling_rules.choose(name, by_name[name].layout or "vector", self.pooling)
            except ValueError as exc:
                raise ModelError(f"{model.source}: {exc}") from None
        if self.layers is not None and [layer["name"] for layer in self.layers] != names:
            raise ModelError(
                f"step {step} captures {names} but earlier steps captured "
                f"{[layer['name'] for layer in self.layers]}; every step captures the same layers"
            )
        index = len(self.steps)
        folder = self.writer.path
        sinks = {
            name: _LayerSink(folder, f"act-{index:03d}-{i:03d}.npy", n, self.dtype, choices[name], by_name[name].layout)
            for i, name in enumerate(names)
        }
        preds = scores = None
        for start in range(0, n, batch_size):
            idx = np.arange(start, min(n, start + batch_size))
            mask = plan.mask(ds, idx)
            pools = {  # pooled in the model's hooks; the output stays whole (class scores read it)
                name: (lambda t, sink=sinks[name], mask=mask: sink.pool(t, mask)) for name in names if name != OUTPUT
            }
            got = model.forward(plan.batch(ds, idx), names, reduce=pools)
            got[OUTPUT], raw = sinks[OUTPUT].pool(got[OUTPUT], mask), got[OUTPUT]
            last = idx[-1] == n - 1
            for name in names:
                sinks[name].write(start, got[name], last=last)
            s = _scores(raw)
            if s is not None:
                if scores is None:
                    scores = np.lib.format.open_memmap(
                        folder / f"scores-{index:03d}.npy", mode="w+", dtype=np.float32, shape=(n, s.shape[1])
                    )
                    preds = np.lib.format.open_memmap(
                        folder / f"pred-{index:03d}.npy", mode="w+", dtype=np.int64, shape=(n,)
                    )
                scores[idx] = s.cpu().numpy()
                preds[idx] = s.argmax(1).cpu().numpy()
            report(progress, idx[-1] + 1, n, f"step {step}: {idx[-1] + 1:,}/{n:,} samples")
        record = {
            "step": int(step),
            "model": model.source,
            "format": model.format,
            "device": model.device,
            "files": {},
            "dims": {},
            "predictions": None,
            "scores": None,
            "accuracy": None,
        }
        for name, sink in sinks.items():
            record["dims"][name] = sink.close()
            record["files"][name] = sink.fname
            if sink.info:
                record.setdefault("reduced", {})[name] = sink.info
        if scores is not None:
            scores.flush()
            preds.flush()
            record["predictions"], record["scores"] = f"pred-{index:03d}.npy", f"scores-{index:03d}.npy"
            if scores.shape[1] == ds.n_classes:
                record["accuracy"] = float((np.asarray(preds) == ds.labels).mean())
            del scores, preds
        if self.layers is None:
            self.layers = [self._layer_record(by_name[name], choices[name]) for name in names]
            self.plan = plan
        self.steps.append(record)
        self._update_manifest()
        return record

    def fit_input(self, model: Backend) -> tuple[InputPlan, list[Layer]]:
        """The input plan and layer tree; with no known input shape, images then vectors are tried."""
        given = self.options.get("input_shape") or model.input_shape
        if self.plan is not None and not given:
            given = self.plan.shape
        shapes = [given]
        if not given and self.ds.images is not None:
            shapes.append((self.ds.dim,))
        for i, shape in enumerate(shapes):
            plan = plan_input(
                self.ds,
                shape,
                source=model.source,
                inputs=model.inputs,
                normalisation=self.options.get("normalisation", "unit"),
                mean=self.options.get("mean"),
                std=self.options.get("std"),
                resize=self.options.get("resize", True),
            )
            try:
                return plan, probe(model, self.ds, plan)
            except ModelError:
                if i == len(shapes) - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _layer_record(layer: Layer, choice: str) -> dict:
        """A layer's manifest entry: ``reduce`` is the pooling used (``none`` for vectors), ``layout``
        what its per-sample output is, ``pooled`` the two in words."""
        layout = layer.layout or "vector"
        reduce_ = "none" if layout == "vector" or len(layer.shape) <= 1 else choice
        return {
            "name": layer.name,
            "type": layer.type,
            "shape": list(layer.shape),
            "reduce": reduce_,
            "layout": layout,
            "pooled": pooling_rules.what_it_gives(layer.shape, layout, reduce_),
        }

    def _update_manifest(self) -> None:
        ds = self.ds
        self.writer.manifest["capture"] = {
            "version": FORMAT_VERSION,
            "samples": int(ds.n),
            "split": ds.split,
            "dtype": np.dtype(self.dtype).name,
            "pooling": self.pooling,
            "class_names": list(ds.class_names),
            "input": self.plan.describe() if self.plan else None,
            "layers": self.layers,
            "steps": self.steps,
        }
        last = self.steps[-1]
        self.writer.metrics.update(
            {
                "steps": len(self.steps),
                "layers": len(self.layers or []),
                "samples": int(ds.n),
                "accuracy": last["accuracy"],
            }
        )

    def finish(self) -> None:
        """Write the samples' positions in the dataset and their labels (call once, last)."""
        if not self.steps:
            raise ModelError("a capture run needs at least one step; call add_step first")
        index = self.ds.index if self.ds.index is not None else np.arange(self.ds.n)
        self.writer.add_arrays(
            SAMPLE, {"index": np.asarray(index, dtype=np.int64), "labels": np.asarray(self.ds.labels, dtype=np.int64)}
        )
