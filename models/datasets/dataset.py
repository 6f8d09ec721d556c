"""What every loader returns and the checks made once at the boundary.

:class:`Dataset` is the one shape all formats produce; :func:`validate` checks it once, so
everything downstream trusts it; :func:`sample` applies the balanced-sample and size options
every loader honours; :func:`safe_path` keeps names a person types inside the data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import UserError

DEFAULT_DATA_DIR = Path("data")
#: bytes of one feature value (float32): an image's pixels cost this much again once loaded
FEATURE_BYTES = 4


class DatasetError(UserError):
    """A dataset could not be loaded; the message says which file and what to do."""


@dataclass(frozen=True)
class Dataset:
    """Samples as vectors (``features``), their ``labels`` and, for image data, ``images``.

    ``features`` is float32 N×D (in [0, 1] for images), ``labels`` int64 N,
    ``images`` uint8 N×H×W or N×H×W×3 (``None`` for pure vectors), ``index`` the
    position of each sample in the full split (so subsets can be traced back),
    ``meta`` extra per-sample columns (predictions, scores, image paths, ``texts`` shown on hover)
    and notes (e.g. ``skipped``: unreadable files left out). ``tokens`` holds a token dataset's
    model inputs (``input_ids`` int64 N×T, optional ``attention_mask`` N×T, 1 = a real token); its
    ``features`` are then a bag of tokens (:mod:`.tokens`), so every view still has vectors.
    """

    name: str
    features: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    images: np.ndarray | None = None
    source: str = ""
    split: str = "train"
    index: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    tokens: dict | None = None

    @property
    def n(self) -> int:
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        return None if self.images is None else tuple(self.images.shape[1:])

    def subset(self, idx: np.ndarray) -> "Dataset":
        """The samples at ``idx`` (positions in this dataset), per-sample meta included."""
        idx = np.asarray(idx, dtype=np.int64)
        base = self.index if self.index is not None else np.arange(self.n)
        meta = {
            k: (v[idx] if isinstance(v, np.ndarray) and v.shape[:1] == (self.n,) else v) for k, v in self.meta.items()
        }
        return replace(
            self,
            features=self.features[idx],
            labels=self.labels[idx],
            images=None if self.images is None else self.images[idx],
            index=base[idx],
            meta=meta,
            tokens=None if self.tokens is None else {k: v[idx] for k, v in self.tokens.items()},
        )


# -- validation ------------------------------------------------------------
def validate(ds: Dataset, *, need_classes: bool = True) -> Dataset:
    """Check shapes, finiteness and labels; return the dataset with canonical dtypes."""
    where = ds.source or ds.name
    feats = np.asarray(ds.features)
    if feats.ndim != 2:
        raise DatasetError(f"{where}: features must be a 2-D array (samples × dimensions), got shape {feats.shape}")
    if feats.shape[0] == 0:
        raise DatasetError(f"{where}: contains zero samples")
    if feats.shape[1] == 0:
        raise DatasetError(f"{where}: samples have zero dimensions")
    if not np.issubdtype(feats.dtype, np.number):
        raise DatasetError(f"{where}: features must be numbers, got dtype {feats.dtype}")
    if np.issubdtype(feats.dtype, np.complexfloating):
        raise DatasetError(
            f"{where}: features are complex numbers ({feats.dtype}); store real values "
            "(e.g. the magnitude, or real and imaginary parts as separate dimensions)"
        )
    feats = feats.astype(np.float32, copy=False)
    # a float64 sum per row is non-finite exactly when the row holds NaN or ±inf (finite float32 values
    # cannot overflow it): no N×D mask, so validating allocates nothing the size of the features
    rows = np.flatnonzero(~np.isfinite(feats.sum(axis=1, dtype=np.float64)))
    if rows.size:
        raise DatasetError(
            f"{where}: {len(rows)} sample(s) contain NaN or infinite values "
            f"(first at row {int(rows[0])}); clean or drop them first"
        )
    labels = np.asarray(ds.labels)
    if labels.shape != (feats.shape[0],):
        raise DatasetError(
            f"{where}: {labels.shape[0] if labels.ndim else 0} labels for {feats.shape[0]} samples; "
            "the label count must equal the sample count"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64, copy=False)
    if labels.min() < 0 or labels.max() >= max(1, len(ds.class_names)):
        raise DatasetError(
            f"{where}: labels must lie in 0..{len(ds.class_names) - 1}, found {int(labels.min())}..{int(labels.max())}"
        )
    if need_classes and np.unique(labels).size < 2:
        raise DatasetError(
            f"{where}: only one class present ({ds.class_names[int(labels[0])]!r}); at least two classes are needed"
        )
    images = ds.images
    if images is not None:
        images = np.asarray(images)
        if images.shape[0] != feats.shape[0] or images.ndim not in (3, 4):
            raise DatasetError(f"{where}: images of shape {images.shape} do not match {feats.shape[0]} samples")
        if images.dtype != np.uint8:
            raise DatasetError(f"{where}: images must be uint8, got {images.dtype}")
    return replace(
        ds,
        features=feats,
        labels=labels,
        images=images,
        index=np.arange(feats.shape[0]) if ds.index is None else ds.index,
    )


def images_to_features(images: np.ndarray) -> np.ndarray:
    """uint8 images → float32 vectors in [0, 1]."""
    return images.reshape(images.shape[0], -1).astype(np.float32) / 255.0


def normalize_features(x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Min–max scale each dimension to [0, 1] (constant dimensions become 0), as float32.

    ``inplace`` scales a writeable float32 ``x`` itself (the loader's own array: no second copy of
    the features); otherwise one float32 copy is made and scaled.
    """
    own = inplace and isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.writeable
    out = x if own else np.array(x, dtype=np.float32)
    lo, hi = out.min(axis=0), out.max(axis=0)
    out -= lo
    out /= np.where(hi > lo, hi - lo, np.float32(1))
    return out


def safe_path(data_dir: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """``data_dir / relative``, refusing any path that escapes ``data_dir``."""
    root = Path(data_dir).expanduser().resolve()
    path = (root / relative).resolve()
    if path != root and root not in path.parents:
        raise DatasetError(
            f"{relative}: path escapes the data directory {root}; put the file inside the data directory"
        )
    return path


# -- sampling --------------------------------------------------------------
def balanced_indices(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """``per_class`` samples of every class (all of a smaller class), chosen with ``seed``, in sorted order."""
    if per_class < 1:
        raise DatasetError(f"per_class must be at least 1 (got {per_class})")
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        picks.append(rng.choice(members, size=min(per_class, members.size), replace=False))
    return np.sort(np.concatenate(picks))


def sample(ds: Dataset, *, limit: int | None = None, per_class: int | None = None, seed: int = 0) -> Dataset:
    """Apply the options every loader honours: a balanced sample and/or a subset size."""
    if per_class is not None:
        ds = ds.subset(balanced_indices(ds.labels, per_class, seed))
    if limit is not None:
        if limit < 1:
            raise DatasetError(f"limit must be at least 1 (got {limit})")
        if limit < ds.n:
            ds = ds.subset(np.sort(np.random.default_rng(seed).choice(ds.n, size=limit, replace=False)))
    return ds


def check_label_range(labels: np.ndarray, n_classes: int, path: Path, lo: int = 0) -> None:
    """Refuse a file whose labels fall outside ``lo..lo + n_classes - 1`` (its format's class ids)."""
    if labels.size and (int(labels.min()) < lo or int(labels.max()) >= lo + n_classes):
        raise DatasetError(
            f"{path}: labels must lie in {lo}..{lo + n_classes - 1}, found {int(labels.min())}..{int(labels.max())}"
        )
