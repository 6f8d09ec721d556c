"""Likely label mistakes, outliers, error clusters and a 2-D map of a dataset's vectors (or your own embeddings
with --arrays).

A person brings vectors (say a classifier's penultimate layer) with labels and, optionally,
the model's predictions and class scores (an ``arrays:<file>`` dataset), or picks a run's
layer activations (``run:<run id>/<arrays>/<key>``). The engine
(:mod:`models.studies.explore_engine`) computes, once per input and cached under a
fingerprint of it: a 2-D embedding (UMAP by default; wide data reduced with PCA to 50
dimensions first), the cosine k-NN graph in the *original* space, a **mistake score**, an
**outlier score** and **error clusters** (the scores: :mod:`models.studies.explore_scores`).
With ``--flip-labels`` it measures the mistake finder honestly: flip a seeded fraction of
labels and report precision@k (k = number flipped) of the ranking vs the base rate.

This face imports without torch or scikit-learn: the config, the input loader and the typed
readers of an explore run, which the Explore tab imports.
"""

from __future__ import annotations

import json
import sys
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable

import numpy as np

from ..validation import check_choice, check_float, check_int
from .base import StudyConfig, check_kind, command_line, lazy_run, option

if typing.TYPE_CHECKING:  # pragma: no cover
    from ..datasets import Dataset
    from ..store import Run, RunStore

KIND = "explore"
TITLE = "Explore embeddings"
METHODS = ("umap", "tsne", "pca")
PCA_DIMS = 50  # wide vectors are reduced to this many dimensions before the 2-D map
VERSION = 2  # bump when the analysis changes, so cached results are not reused
ARRAYS = "explore"  # the run's per-sample arrays (explore.npz)
RUN_SOURCE_PARTS = ("run id", "arrays name", "array key")


@dataclass(frozen=True)
class Config(StudyConfig):
    """What to explore (``dataset``, or ``arrays``, or a run's ``activations``) and how."""

    arrays: str | None = option(
        None, "your own embeddings instead of --dataset: an arrays file inside --data-dir (.npz, .npy, parquet, CSV)"
    )
    activations: str | None = option(
        None, "a run's activations instead of --dataset: <run id>/<arrays name>/<array key>", flag="--run"
    )
    split: str | None = option(
        None,
        "split of --dataset (or --arrays) to explore, e.g. test (none: train, or "
        "the split that is present when only one is)",
    )
    method: str = option("umap", "the 2-D map (vectors wider than 50 go through PCA first)", choices=METHODS)
    k: int = option(
        15, "cosine neighbours per sample: their votes make the mistake score, the k-th distance the outlier score"
    )
    flip_labels: float | None = option(
        None, "evaluate: flip this fraction of labels (e.g. 0.05) and report the mistake ranking's precision@k"
    )

    def check(self) -> None:
        check_choice("method", self.method, METHODS)
        if self.split is not None and (not isinstance(self.split, str) or not self.split):
            raise ValueError(f"split must name a split such as train or test (got {self.split!r})")
        check_int("k", self.k, low=1)
        if self.flip_labels is not None:
            check_float("flip_labels", self.flip_labels, 0.0, 1.0, high_open=True)
        if self.arrays is not None and self.activations is not None:
            raise ValueError(
                f"give arrays or a run's activations, not both (got arrays={self.arrays!r}, run={self.activations!r})"
            )
        if self.arrays is not None and (not isinstance(self.arrays, str) or not self.arrays):
            raise ValueError(f"arrays must be a file inside the data directory (got {self.arrays!r})")
        if self.activations is not None and (
            not isinstance(self.activations, str)
            or len(self.activations.split("/")) != len(RUN_SOURCE_PARTS)
            or not all(self.activations.split("/"))
        ):
            raise ValueError(f"run must be <{'>/<'.join(RUN_SOURCE_PARTS)}> (got {self.activations!r})")

    @property
    def source(self) -> str:
        """The input as one name: ``run:<id>/<arrays>/<key>``, ``arrays:<file>`` or the dataset."""
        if self.activations is not None:
            return f"run:{self.activations}"
        if self.arrays is not None:
            return f"arrays:{self.arrays}"
        return self.dataset

    @classmethod
    def for_source(cls, source: str, **changes) -> "Config":
        """The config for a source name as the Explore tab's picker gives it (see :attr:`source`)."""
        if source.startswith("run:"):
            return cls(activations=source[len("run:") :], **changes)
        return cls(dataset=source, **changes)  # dataset names include arrays:<file> and folder:<dir>


run = lazy_run(f"{__package__}.explore_engine")


# -- input (light: the tab reads a run's vectors through this too) -----------------------
def load_source(
    source: str, *, data_dir: str | Path | None = None, store: "RunStore | None" = None, split: str | None = None
) -> "Dataset":
    """The dataset behind ``source``: a dataset name (``digits``, ``arrays:<file>``, …) or a run's activations.

    ``run:<id>/<arrays>/<key>`` takes array ``key`` of the run's ``<arrays>.npz``
    as vectors; that file must also hold ``labels`` (and may hold ``predictions``,
    ``scores`` and ``index`` — positions in the run's dataset, used to show images).
    For a capture run it is ``run:<id>/step-<step>/<layer>`` (the layer name URL-quoted,
    :func:`capture_source`): the layer's vectors with the capture's labels, the model's
    predictions and scores at that step. A hardness run's layer, ``run:<id>/act-<network>/hidden<k>``,
    takes its labels (and sample positions) from the run's ``sample`` arrays. Vectors are used as
    given (no min–max scaling), since cosine geometry is the point.

    ``split`` picks a dataset's split (none: train, or the only split present, e.g. MNIST with only
    its test files).
    """
    from .. import datasets

    if source.startswith("run:"):
        return _run_activations(source, data_dir=data_dir, store=store)
    split = split or datasets.default_split(source, data_dir)
    # embeddings keep their geometry: per-dimension min–max scaling would move the origin and bend cosines
    return datasets.load(source, data_dir=data_dir, split=split, normalize=False)


def _run_activations(source: str, *, data_dir, store) -> "Dataset":
    from .. import datasets
    from ..datasets import Dataset, DatasetError

    parts = source[len("run:") :].split("/")
    if len(parts) != len(RUN_SOURCE_PARTS) or store is None:
        raise DatasetError(f"source {source!r}: expected run:<{'>/<'.join(RUN_SOURCE_PARTS)}> and a store")
    run_id, name, key = parts
    found = store.load(run_id)
    if found.kind == "capture":
        return _capture_layer(found, name, key, data_dir=data_dir)
    arrays = dict(found.arrays(name))
    if key in arrays and "labels" not in arrays:
        arrays.update(_sample_of(found, arrays[key].shape[0]))
    for need in (key, "labels"):
        if need not in arrays:
            raise DatasetError(f"run {run_id} arrays {name!r} has no {need!r}; found {sorted(arrays)}")
    feats = arrays[key].reshape(arrays[key].shape[0], -1)
    labels = arrays["labels"]
    base = None
    try:
        dataset = found.manifest.get("dataset", "")
        split = found.manifest.get("sample_split") or ("test" if found.kind == "hardness" else None)
        base = datasets.load(dataset, data_dir=data_dir, split=split or datasets.default_split(dataset, data_dir))
    except DatasetError:
        pass
    names = base.class_names if base is not None else [str(c) for c in range(int(labels.max()) + 1)]
    images = None
    if base is not None and base.images is not None and "index" in arrays:
        images = base.images[np.asarray(arrays["index"], dtype=np.int64)]
    meta = {k: arrays[k] for k in ("predictions", "scores") if k in arrays}
    index = np.asarray(arrays["index"], dtype=np.int64) if "index" in arrays else None  # positions in the run's split
    ds = Dataset(
        name=source,
        features=feats,
        labels=labels,
        class_names=names,
        images=images,
        source=f"{found.path}/{name}.npz:{key}",
        meta=meta,
        index=index,
        split=base.split if base is not None else "train",
    )
    return datasets.validate(ds)


def _sample_of(found, n: int) -> dict:
    """Labels and sample positions for a run's arrays that hold only activations (a hardness run's
    ``act-<network>``): its ``sample`` arrays, when they have one row per activation row."""
    try:
        sample = found.arrays("sample")
    except Exception:  # no sample arrays: the caller names what is missing
        return {}
    if "labels" not in sample or np.asarray(sample["labels"]).shape[:1] != (n,):
        return {}
    return {k: sample[k] for k in ("labels", "index") if k in sample}


def capture_source(run_id: str, step: int, layer: str) -> str:
    """The source naming one captured layer of a capture run at ``step``."""
    from urllib.parse import quote

    return f"run:{run_id}/step-{int(step)}/{quote(layer, safe='')}"


def _capture_layer(found, name: str, key: str, *, data_dir) -> "Dataset":
    from urllib.parse import unquote

    from .. import datasets
    from ..datasets import Dataset, DatasetError
    from . import capture

    if not name.startswith("step-") or not name[5:].lstrip("-").isdigit():
        raise DatasetError(f"capture run {found.id}: expected step-<step> (got {name!r}); steps {capture.steps(found)}")
    step, layer = int(name[5:]), unquote(key)
    try:
        feats = np.asarray(capture.activations(found, layer, step), dtype=np.float32)
        sample = capture.sample(found, step)
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    names = capture.class_names(found)
    images = None
    try:
        base = datasets.load(found.manifest.get("dataset", ""), data_dir=data_dir, split=capture.split(found))
        if base.images is not None:
            images = base.images[np.asarray(sample["index"], dtype=np.int64)]
    except DatasetError:
        pass
    meta = {k: np.asarray(sample[k]) for k in ("predictions", "scores") if sample[k] is not None}
    # index: each sample's position in the captured split, so the tab numbers and selects them like Layers and Data
    ds = Dataset(
        name=capture_source(found.id, step, layer),
        features=feats,
        labels=np.asarray(sample["labels"]),
        class_names=names,
        images=images,
        source=f"{found.path}:{layer}@{step}",
        meta=meta,
        split=capture.split(found),
        index=np.asarray(sample["index"], dtype=np.int64),
    )
    return datasets.validate(ds)


# -- readers of an explore run -------------------------------------------------------------
@dataclass(frozen=True)
class ErrorCluster:
    """Misclassified samples that sit together, and the (label, prediction) pair most of them share."""

    id: int
    size: int
    label: int
    prediction: int
    share: float  # the dominant pair's share of the cluster
    members: tuple[int, ...]  # sample positions in the run's arrays


@dataclass(frozen=True)
class InputSummary:
    """What an explore run was computed from and how (its ``summary.json``)."""

    n: int = 0
    dim: int = 0
    classes: int = 0
    has_predictions: bool = False
    has_scores: bool = False
    missing_images: int = 0  # image paths that were not found (counted, never fatal)
    method: str = ""
    k: int = 0
    seed: int = 0
    pca_dims: int | None = None  # set when the vectors were reduced with PCA before the map
    prediction_source: str = ""  # "model", "model scores" or "neighbour vote"
    accuracy: float = 0.0  # of the predictions against the (possibly flipped) labels
    seconds: dict = field(default_factory=dict)  # time per stage


def clusters(run: "Run") -> list[ErrorCluster]:
    """The run's error clusters, largest first."""
    raw = json.loads(check_kind(run, KIND).file("clusters.json").read_text())
    return [
        ErrorCluster(
            id=int(c["id"]),
            size=int(c["size"]),
            label=int(c["label"]),
            prediction=int(c["prediction"]),
            share=float(c["share"]),
            members=tuple(int(m) for m in c["members"]),
        )
        for c in raw
    ]


def input_summary(run: "Run") -> InputSummary:
    """What the run's analysis saw and did (fields a newer run adds are ignored)."""
    raw = json.loads(check_kind(run, KIND).file("summary.json").read_text())
    names = {f.name for f in fields(InputSummary)}
    return InputSummary(**{k: v for k, v in raw.items() if k in names})


def source(run: "Run") -> str:
    """The input an explore run was made from (a dataset name, ``arrays:…`` or ``run:…``)."""
    return check_kind(run, KIND).config.get("source") or run.manifest.get("dataset", "")


def summary(run: "Run") -> Iterable[str]:
    """The command line's report of a finished run."""
    m = run.metrics
    if "mistake_precision_at_k" in m:
        yield f"mistake precision@{m['k']}: {m['mistake_precision_at_k']:.3f} (base rate {m['base_rate']:.3f})"
    yield (
        f"accuracy of predictions ({run.config.get('prediction_source')}): {m.get('accuracy', 0):.3f}; "
        f"error clusters: {m.get('n_clusters', 0)}; missing images: {m.get('missing_images', 0)}"
    )


main = command_line(__name__)

if __name__ == "__main__":
    sys.exit(main())
