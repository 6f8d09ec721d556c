"""``layerscope.Capture``: one capture run written over a training script's life, one step per ``add``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from layerscope._loader import module

KIND = "capture"


def _dataset(dataset, *, data_dir, split, per_class, limit, seed):
    """A LayerScope dataset from a name, a Dataset, or ``(inputs, labels)`` arrays ready for the model."""
    datasets = module("datasets")
    Dataset = datasets.Dataset

    if isinstance(dataset, str):
        return datasets.load(
            dataset, data_dir=data_dir, split=split, per_class=per_class, limit=limit, seed=seed, normalize=False
        ), None
    if isinstance(dataset, Dataset):
        return datasets.sample(dataset, per_class=per_class, limit=limit, seed=seed), None
    if isinstance(dataset, (tuple, list)) and len(dataset) in (2, 3):
        inputs = _numpy(dataset[0]).astype(np.float32, copy=False)
        labels = _numpy(dataset[1]).astype(np.int64).reshape(-1)
        names = list(dataset[2]) if len(dataset) == 3 else [str(c) for c in range(int(labels.max()) + 1)]
        ds = datasets.validate(
            Dataset(
                name="arrays", features=inputs.reshape(len(inputs), -1), labels=labels, class_names=names, split=split
            )
        )
        return datasets.sample(ds, per_class=per_class, limit=limit, seed=seed), tuple(inputs.shape[1:])
    raise TypeError("dataset must be a dataset name, a models.datasets.Dataset, or (inputs, labels[, class_names])")


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


class Capture:
    """Writes one capture run into ``root`` (a run store folder); each :meth:`add` is a step.

    ``model`` is an ``nn.Module`` (captured where it lives, in eval mode, its mode restored after),
    a model file in ``model_dir`` or a ``package.module:function`` factory. ``layers`` defaults to
    the top-level blocks, the penultimate layer and the output; given ones are captured in network
    order. ``pooling`` is the conv maps' pooling (``"mean"``, ``"max"``, ``"flatten"``), a spec such as
    ``"mean, blocks.1=cls"``, or a dict ``{"blocks.1": "cls", "sequences": "flatten"}``; token sequences
    default to the mean over their tokens. The run appears in the store when :meth:`close` is
    called (or the ``with`` block ends without an error).
    """

    def __init__(
        self,
        root: str | os.PathLike = "runs",
        *,
        dataset: Any = "digits",
        model: Any = None,
        layers: Sequence[str] | None = None,
        data_dir: str | os.PathLike | None = None,
        model_dir: str | os.PathLike | None = None,
        split: str = "train",
        per_class: int | None = None,
        limit: int | None = None,
        seed: int = 0,
        pooling: str | dict = "mean",
        float16: bool = False,
        batch_size: int = 256,
        input_shape: Sequence[int] | None = None,
        normalisation: str = "unit",
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        resize: bool = True,
        device: str | None = None,
        name: str | None = None,
    ):
        CaptureWriter = module("capture.capture").CaptureWriter
        RunStore = module("store").RunStore
        rules = module("capture.pooling")
        pooling = rules.text(*rules.parse(pooling))  # a bad spec fails here, before anything is written

        self.ds, shape = _dataset(dataset, data_dir=data_dir, split=split, per_class=per_class, limit=limit, seed=seed)
        self.model, self.layers, self.batch_size, self.device = (
            model,
            list(layers) if layers else None,
            batch_size,
            device,
        )
        self.data_dir, self.model_dir = data_dir, model_dir
        self.store = RunStore(root)
        config = {
            "dataset": self.ds.name,
            "seed": seed,
            "model": [self._describe(model)],
            "layers": self.layers,
            "pooling": pooling,
            "input_shape": list(input_shape or shape or []) or None,
            "normalisation": normalisation,
            "mean": mean,
            "std": std,
            "resize": resize,
            "split": split,
            "per_class": per_class,
            "limit": limit,
            "float16": float16,
            "source": "python",
        }
        self._stack = contextlib.ExitStack()
        self._writer = self._stack.enter_context(
            self.store.writer(KIND, dataset=self.ds.name, config=config, seed=seed, run_id=name)
        )
        self._capture = CaptureWriter(
            self._writer,
            self.ds,
            float16=float16,
            pooling=pooling,
            options={
                "input_shape": input_shape or shape,
                "normalisation": normalisation,
                "mean": mean,
                "std": std,
                "resize": resize,
            },
        )
        self.run = None

    @staticmethod
    def _describe(model) -> str | None:
        return model if isinstance(model, str) or model is None else type(model).__name__

    @property
    def run_id(self) -> str:
        return self._writer.id

    def add(self, step: int | None = None, model: Any = None) -> dict:
        """Capture the model (``model``, else the one given at start) now, as ``step`` (default: next)."""
        formats = module("capture.formats")

        if self.run is not None:
            raise ValueError(f"capture run {self.run_id} is closed; start a new Capture")
        model = model if model is not None else self.model
        if model is None:
            raise ValueError("no model: pass model= to Capture or to add()")
        step = len(self._capture.steps) if step is None else int(step)
        backend = formats.load(
            model, model_dir=formats.model_dir_of(self.data_dir, self.model_dir), allow_factory=True, device=self.device
        )
        return self._capture.add_step(step, backend, self.layers, batch_size=self.batch_size)

    def close(self):
        """Write the run into the store and return it (a :class:`models.store.Run`)."""
        if self.run is None:
            self._capture.finish()
            self._stack.close()
            self.run = self.store.load(self._writer.id)
        return self.run

    def discard(self) -> None:
        """Drop the run being written (nothing lands in the store)."""
        if self.run is None:
            self._stack.__exit__(RuntimeError, RuntimeError("discarded"), None)
            self.run = False

    def __enter__(self) -> "Capture":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def load_run(root: str | os.PathLike, run_id: str | None = None):
    """A capture run from store ``root`` (default: the newest)."""
    store = module("store").RunStore(Path(root))
    if run_id is not None:
        return store.load(run_id)
    runs = store.list(kind=KIND)
    if not runs:
        raise ValueError(f"no capture runs in {store.root}")
    return runs[0]


def compare(
    run_a: Any,
    run_b: Any = None,
    *,
    root: str | os.PathLike | None = None,
    steps: Sequence[int] | None = None,
    layers: Sequence[str] | None = None,
    step_b: int | None = None,
    layers_b: Sequence[str] | None = None,
    metric: str = "linear",
    k: int = 10,
    folds: int = 5,
    probes: bool = True,
    max_samples: int | None = None,
    probe_samples: int = 5000,
    seed: int = 0,
    device: str = "auto",
    progress=None,
):
    """Compare the layers of one run (layer × layer, layer × step) or of two runs on the same samples.

    ``run_a``/``run_b``: a run id (``RUN:NETWORK`` for a hardness network), a run (``Capture.close()``
    returns one) or a closed :class:`Capture`; ``root`` is their store (default: the run's own folder's
    parent, else ``runs``). Writes a run of kind ``compare`` to that store and returns its numbers as a
    ``Result`` (``cka`` matrix, ``probe``/``knn`` per layer, ``most_similar()``, movers …), the same the
    command line ``python -m models.studies.compare --runs A [B]`` writes.
    """
    face = module("studies.compare")
    RunStore = module("store").RunStore

    def ref(value):
        if isinstance(value, Capture):
            value = value.close()
        if hasattr(value, "path") and hasattr(value, "id"):
            return value.id, Path(value.path).parent
        if isinstance(value, str):
            return value, None
        raise TypeError(f"a run must be a run id, a run or a Capture (got {type(value).__name__})")

    id_a, where = ref(run_a)
    runs = [id_a]
    if run_b is not None:
        id_b, where_b = ref(run_b)
        runs.append(id_b)
        where = where or where_b
    store = RunStore(root if root is not None else (where or "runs"))
    config = face.Config(
        runs=tuple(runs),
        steps=steps,
        layers=layers,
        step_b=step_b,
        layers_b=layers_b,
        metric=metric,
        k=k,
        folds=folds,
        probes=probes,
        max_samples=max_samples,
        probe_samples=probe_samples,
        seed=seed,
        device=device,
    )
    return face.Result.of(face.run(config, store=store, progress=progress))
