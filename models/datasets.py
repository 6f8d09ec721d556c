"""The dataset registry and its loaders.

Every loader returns a :class:`Dataset` and every failure raises
:class:`DatasetError` with a message that names the file and what is wrong, so
the command line and the dashboard can show it as is. Validation happens here,
once, at the boundary; everything downstream trusts a ``Dataset``.

Names: the registry's built-in names (``digits``, ``mnist``, …) plus names for
data a person brings, found in the data directory: ``arrays:<file>`` for
``.npz``/``.npy``/parquet/CSV vectors and ``folder:<dir>`` for an image folder with
one sub-folder per class. :func:`discover` lists those, :func:`is_present` and
:func:`missing_message` say whether a built-in's files are there and what to do if
not, :func:`download` fetches MNIST, Fashion-MNIST and KMNIST with checksums, and
``python -m models.datasets`` does all of this from a shell.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import pickle
import re
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .progress import ProgressFn, report

DEFAULT_DATA_DIR = Path("data")


class DatasetError(Exception):
    """A dataset could not be loaded; the message says which file and what to do."""


@dataclass(frozen=True)
class Dataset:
    """Samples as vectors (``features``), their ``labels`` and, for image data, ``images``.

    ``features`` is float32 N×D (in [0, 1] for images), ``labels`` int64 N,
    ``images`` uint8 N×H×W or N×H×W×3 (``None`` for pure vectors), ``index`` the
    position of each sample in the full split (so subsets can be traced back),
    ``meta`` extra per-sample columns (predictions, scores, image paths) and notes
    (e.g. ``skipped``: unreadable files left out).
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
        meta = {k: (v[idx] if isinstance(v, np.ndarray) and v.shape[:1] == (self.n,) else v)
                for k, v in self.meta.items()}
        return replace(self, features=self.features[idx], labels=self.labels[idx],
                       images=None if self.images is None else self.images[idx],
                       index=base[idx], meta=meta)


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
    feats = feats.astype(np.float32, copy=False)
    bad = ~np.isfinite(feats)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DatasetError(f"{where}: {len(rows)} sample(s) contain NaN or infinite values "
                           f"(first at row {int(rows[0])}); clean or drop them first")
    labels = np.asarray(ds.labels)
    if labels.shape != (feats.shape[0],):
        raise DatasetError(f"{where}: {labels.shape[0] if labels.ndim else 0} labels for {feats.shape[0]} samples; "
                           "the label count must equal the sample count")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{where}: labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64, copy=False)
    if labels.min() < 0 or labels.max() >= max(1, len(ds.class_names)):
        raise DatasetError(f"{where}: labels must lie in 0..{len(ds.class_names) - 1}, "
                           f"found {int(labels.min())}..{int(labels.max())}")
    if need_classes and np.unique(labels).size < 2:
        raise DatasetError(f"{where}: only one class present ({ds.class_names[int(labels[0])]!r}); "
                           "at least two classes are needed")
    images = ds.images
    if images is not None:
        images = np.asarray(images)
        if images.shape[0] != feats.shape[0] or images.ndim not in (3, 4):
            raise DatasetError(f"{where}: images of shape {images.shape} do not match {feats.shape[0]} samples")
        if images.dtype != np.uint8:
            raise DatasetError(f"{where}: images must be uint8, got {images.dtype}")
    return replace(ds, features=feats, labels=labels, images=images,
                   index=np.arange(feats.shape[0]) if ds.index is None else ds.index)


def images_to_features(images: np.ndarray) -> np.ndarray:
    """uint8 images → float32 vectors in [0, 1]."""
    return (images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)


def normalize_features(x: np.ndarray) -> np.ndarray:
    """Min–max scale each dimension to [0, 1] (constant dimensions become 0)."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return ((x - lo) / span).astype(np.float32)


def safe_path(data_dir: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """``data_dir / relative``, refusing any path that escapes ``data_dir``."""
    root = Path(data_dir).expanduser().resolve()
    path = (root / relative).resolve()
    if path != root and root not in path.parents:
        raise DatasetError(f"{relative}: path escapes the data directory {root}; "
                           "put the file inside the data directory")
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


# -- registry --------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    loader: Callable[..., Dataset]  # loader(data_dir: Path, split: str) -> Dataset
    files: tuple[str, ...] = ()      # what must be in the data directory (for messages and the UI)
    splits: tuple[str, ...] = ("train", "test")


_REGISTRY: dict[str, Entry] = {}


def register(name: str, description: str, files: tuple[str, ...] = (), splits: tuple[str, ...] = ("train", "test")):
    """Decorator adding a loader ``fn(data_dir, split) -> Dataset`` to the registry."""
    def wrap(fn: Callable[..., Dataset]) -> Callable[..., Dataset]:
        _REGISTRY[name] = Entry(name, description, fn, files, splits)
        return fn
    return wrap


def available() -> list[str]:
    """Names of the built-in datasets (those needing files may still be missing)."""
    return list(_REGISTRY)


def describe(name: str) -> Entry:
    if name not in _REGISTRY:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def load(name: str, *, data_dir: str | os.PathLike | None = None, split: str = "train",
         limit: int | None = None, per_class: int | None = None, seed: int = 0,
         normalize: bool = True) -> Dataset:
    """Load dataset ``name`` (a registry name, ``arrays:<file>`` or ``folder:<dir>``).

    ``split`` picks train or test, ``per_class`` draws a balanced sample of that many
    per class with ``seed``, ``limit`` caps the number of samples, and ``normalize``
    scales non-image vectors to [0, 1] (image features are always in [0, 1]).
    """
    data_dir = Path(data_dir if data_dir is not None else DEFAULT_DATA_DIR)
    if ":" in name:
        kind, _, rel = name.partition(":")
        if kind not in _USER_LOADERS:
            raise DatasetError(f"unknown dataset kind {kind!r} in {name!r}; use arrays:<file> or folder:<dir>")
        ds = _USER_LOADERS[kind](safe_path(data_dir, rel), data_dir=data_dir, split=split)
    else:
        entry = describe(name)
        if split not in entry.splits:
            raise DatasetError(f"{name} has no split {split!r}; choose one of {', '.join(entry.splits)}")
        ds = entry.loader(data_dir, split)
    ds = validate(ds)
    # image features are pixels already in [0, 1]; vectors a person brings are scaled
    # even when images ride along with them (thumbnails only)
    if normalize and (ds.images is None or name.startswith("arrays:")):
        ds = replace(ds, features=normalize_features(ds.features))
    return sample(ds, limit=limit, per_class=per_class, seed=seed)


# loaders for data a person brings, by prefix: fn(path, *, data_dir, split) -> Dataset
_USER_LOADERS: dict[str, Callable[..., Dataset]] = {}


# -- built-in datasets -----------------------------------------------------
@register("digits", "scikit-learn's handwritten digits: 1,797 images of 8×8, built in, no files needed")
def _digits(data_dir: Path, split: str) -> Dataset:
    from sklearn.datasets import load_digits

    raw = load_digits()
    images = np.clip(raw.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    labels = raw.target.astype(np.int64)
    # a fixed, stratified 80/20 split so "test" means the same samples everywhere
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        test[rng.choice(members, size=len(members) // 5, replace=False)] = True
    keep = test if split == "test" else ~test
    return Dataset(name="digits", features=images_to_features(images[keep]), labels=labels[keep],
                   class_names=[str(i) for i in range(10)], images=images[keep],
                   source="sklearn.datasets.load_digits", split=split)


# -- where the standard files live ------------------------------------------
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_HOMEPAGES = {
    "mnist": "https://yann.lecun.com/exdb/mnist/",
    "fashion-mnist": "https://github.com/zalandoresearch/fashion-mnist",
    "kmnist": "https://github.com/rois-codh/kmnist",
    "svhn": "http://ufldl.stanford.edu/housenumbers/ (format 2: cropped digits)",
    "coil-20": "https://www.cs.columbia.edu/CAVE/software/softlib/coil-20.php (the processed images)",
    "cifar-10": "https://www.cs.toronto.edu/~kriz/cifar.html (the python version, unpacked)",
}
_SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
_CIFAR_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
_COIL_FILE = re.compile(r"^obj(\d+)__(\d+)\.png$", re.IGNORECASE)
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
ARRAY_SUFFIXES = (".npz", ".npy", ".parquet", ".csv")


def _idx_file(folder: Path, base: str) -> Path | None:
    """``folder/base.gz`` or ``folder/base`` (whichever exists, gzipped first)."""
    for candidate in (folder / f"{base}.gz", folder / base):
        if candidate.is_file():
            return candidate
    return None


def _cifar_folder(data_dir: Path) -> Path:
    """The folder holding CIFAR-10's batches: the unpacked archive's or ``cifar-10/`` itself."""
    root = data_dir / "cifar-10"
    nested = root / "cifar-10-batches-py"
    return nested if nested.is_dir() else root


def _coil_files(data_dir: Path) -> list[Path]:
    """COIL-20's ``obj<k>__<i>.png`` files in ``coil-20/`` (or the archive's ``coil-20-proc/`` inside it)."""
    root = data_dir / "coil-20"
    for folder in (root, root / "coil-20-proc"):
        if folder.is_dir():
            found = [p for p in folder.iterdir() if _COIL_FILE.match(p.name) and p.is_file()]
            if found:
                return found
    return []


def _missing_files(name: str, data_dir: Path, split: str) -> list[str]:
    """The standard files of ``name``'s ``split`` that are not in the data directory."""
    if name in _IDX_NAMES:
        return [f"{base}.gz" for base in _IDX_FILES[split] if _idx_file(data_dir / name, base) is None]
    if name == "svhn":
        return [] if (data_dir / "svhn" / _SVHN_FILES[split]).is_file() else [_SVHN_FILES[split]]
    if name == "cifar-10":
        folder = _cifar_folder(data_dir)
        return [f for f in _CIFAR_FILES[split] if not (folder / f).is_file()]
    if name == "coil-20":
        return [] if _coil_files(data_dir) else ["obj1__0.png … obj20__71.png"]
    return []


def _folder_hint(name: str, data_dir: Path) -> str:
    folder = str(Path(data_dir) / name) + os.sep
    if name == "cifar-10":
        return f"{folder} (or {folder}cifar-10-batches-py{os.sep})"
    return folder


def missing_message(name: str, data_dir: str | os.PathLike, split: str = "train") -> str:
    """What a person should do when a built-in dataset's files are not there.

    Names the missing files, the folder they belong in and, where the module can
    fetch them, the command that does it.
    """
    entry = describe(name)
    data_dir = Path(data_dir)
    missing = _missing_files(name, data_dir, split if split in entry.splits else entry.splits[0])
    files = ", ".join(missing) if missing else ", ".join(Path(f).name for f in entry.files)
    where = _folder_hint(name, data_dir)
    msg = f"{name}: missing {files} in {where}; put the standard files there"
    if name in _IDX_NAMES:
        msg += f" (gzipped or not) or run `python -m models.datasets --download {name}`"
    elif name in _HOMEPAGES:
        msg += f"; download them from {_HOMEPAGES[name]}"
    return msg


def is_present(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether ``name`` can be loaded from the data directory (its train split, the default).

    ``digits`` ships with scikit-learn and is always present; ``arrays:``/``folder:``
    names are present when their file or folder exists inside the data directory.
    """
    data_dir = Path(data_dir if data_dir is not None else DEFAULT_DATA_DIR)
    if ":" in name:
        kind, _, rel = name.partition(":")
        path = safe_path(data_dir, rel)
        return path.is_dir() if kind == "folder" else path.is_file()
    entry = describe(name)
    return not _missing_files(entry.name, data_dir, entry.splits[0])


def _require_files(name: str, data_dir: Path, split: str) -> None:
    if _missing_files(name, data_dir, split):
        raise DatasetError(missing_message(name, data_dir, split))


# -- IDX (MNIST, Fashion-MNIST, KMNIST) --------------------------------------
_IDX_MAGIC = {1: 0x0801, 3: 0x0803}  # unsigned bytes, 1-D labels / 3-D images


def _read_maybe_gzip(path: Path) -> bytes:
    """The bytes of ``path``, gunzipped when it is a gzip file (by content, not by name)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt gzip data ({exc}); download the file again") from None


def read_idx(path: str | os.PathLike, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions (1: labels, 3: images).

    The header is checked before any data is trusted: the magic number must say
    unsigned bytes with ``ndim`` dimensions and the data must be exactly as long as
    the dimensions claim, so a truncated or mislabelled file fails with a message
    instead of a garbled array.
    """
    path = Path(path)
    raw = _read_maybe_gzip(path)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX file: {len(raw)} bytes, shorter than the "
                           f"{header}-byte header of a {ndim}-D IDX file")
    magic = int.from_bytes(raw[:4], "big")
    if magic != _IDX_MAGIC[ndim]:
        raise DatasetError(f"{path}: wrong magic number 0x{magic:08x}; expected 0x{_IDX_MAGIC[ndim]:08x} "
                           f"(unsigned bytes, {ndim}-D: {'labels' if ndim == 1 else 'images'})")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=object))
    found = len(raw) - header
    if found != expected:
        problem = "truncated IDX file" if found < expected else "IDX file has trailing bytes"
        raise DatasetError(f"{path}: {problem}: header says shape {dims} ({expected} bytes of data), "
                           f"found {found} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _check_label_range(labels: np.ndarray, n_classes: int, path: Path, lo: int = 0) -> None:
    if labels.size and (int(labels.min()) < lo or int(labels.max()) >= lo + n_classes):
        raise DatasetError(f"{path}: labels must lie in {lo}..{lo + n_classes - 1}, "
                           f"found {int(labels.min())}..{int(labels.max())}")


def _idx_loader(name: str, class_names: list[str]) -> Callable[[Path, str], Dataset]:
    def load_idx(data_dir: Path, split: str) -> Dataset:
        _require_files(name, data_dir, split)
        folder = data_dir / name
        images_path, labels_path = (_idx_file(folder, base) for base in _IDX_FILES[split])
        images = read_idx(images_path, 3)
        labels = read_idx(labels_path, 1)
        if labels.shape[0] != images.shape[0]:
            raise DatasetError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images in "
                               f"{images_path.name}; the label count must equal the image count")
        _check_label_range(labels, len(class_names), labels_path)
        return Dataset(name=name, features=images_to_features(images), labels=labels.astype(np.int64),
                       class_names=list(class_names), images=images, source=str(folder), split=split)
    load_idx.__doc__ = f"{name} from its four IDX files in ``<data_dir>/{name}/``."
    return load_idx


_IDX_CLASSES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    # the ten hiragana of Kuzushiji-MNIST, romanised with the modern glyph
    "kmnist": ["o (お)", "ki (き)", "su (す)", "tsu (つ)", "na (な)",
               "ha (は)", "ma (ま)", "ya (や)", "re (れ)", "wo (を)"],
}
_IDX_DESCRIPTIONS = {
    "mnist": "MNIST handwritten digits: 60,000 + 10,000 images of 28×28",
    "fashion-mnist": "Fashion-MNIST clothing: 60,000 + 10,000 images of 28×28, 10 classes",
    "kmnist": "Kuzushiji-MNIST cursive hiragana: 60,000 + 10,000 images of 28×28, 10 classes",
}
_IDX_NAMES = tuple(_IDX_CLASSES)
for _name in _IDX_NAMES:
    register(_name, _IDX_DESCRIPTIONS[_name],
             files=tuple(f"{_name}/{base}.gz" for split in ("train", "test") for base in _IDX_FILES[split]))(
        _idx_loader(_name, _IDX_CLASSES[_name]))


# -- SVHN -----------------------------------------------------------------------
@register("svhn", "Street View House Numbers: 73,257 + 26,032 colour digits of 32×32 (.mat files)",
          files=tuple(f"svhn/{f}" for f in _SVHN_FILES.values()))
def _svhn(data_dir: Path, split: str) -> Dataset:
    from scipy.io import loadmat

    _require_files("svhn", data_dir, split)
    path = data_dir / "svhn" / _SVHN_FILES[split]
    try:
        mat = loadmat(path, variable_names=["X", "y"])
    except Exception as exc:  # scipy raises many types for a bad file; all mean the same to a person
        raise DatasetError(f"{path}: cannot read as a MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    if "X" not in mat or "y" not in mat:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise DatasetError(f"{path}: expected variables 'X' and 'y', found {found}")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise DatasetError(f"{path}: X must be uint8 of shape 32×32×3×N, got {x.dtype} {x.shape}")
    if y.shape[0] != x.shape[3]:
        raise DatasetError(f"{path}: {y.shape[0]} labels in y for {x.shape[3]} images in X; the counts must match")
    y = y.astype(np.int64)
    _check_label_range(y, 10, path, lo=1)
    images = np.ascontiguousarray(x.transpose(3, 0, 1, 2))
    return Dataset(name="svhn", features=images_to_features(images), labels=np.where(y == 10, 0, y),
                   class_names=[str(i) for i in range(10)], images=images, source=str(path), split=split)


# -- images from files (COIL-20, image folders, image paths) -------------------
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


def _read_image(path: Path) -> np.ndarray:
    """One image as uint8 H×W (grayscale) or H×W×3 (colour); PIL's errors pass through."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        return np.asarray(im.convert("L" if im.mode in _GRAY_MODES else "RGB"), dtype=np.uint8)


def _unreadable_errors() -> tuple[type[BaseException], ...]:
    from PIL import Image

    # PIL reports a damaged file as OSError, ValueError, SyntaxError or a decompression bomb
    return (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _same_size(arrays: Sequence[np.ndarray]) -> tuple[int, int] | None:
    """``None`` when all images share height and width, else the positions of two that differ."""
    first = arrays[0].shape[:2]
    for i, a in enumerate(arrays):
        if a.shape[:2] != first:
            return 0, i
    return None


def _stack(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Stack same-size images, promoting grayscale ones to RGB when colour is mixed in."""
    if any(a.ndim == 3 for a in arrays):
        arrays = [a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in arrays]
    return np.stack(arrays)


def _size_text(a: np.ndarray) -> str:
    return f"{a.shape[1]}×{a.shape[0]}"


def _read_image_set(paths: Sequence[Path], where: Path) -> tuple[np.ndarray, list[int], list[str]]:
    """Read ``paths`` into one uint8 array, skipping unreadable files.

    Returns the images, the positions in ``paths`` that were read, and one warning
    per skipped file. Images of different sizes cannot share an array, so they raise
    :class:`DatasetError` naming two files that differ.
    """
    errors = _unreadable_errors()
    arrays, kept, warnings = [], [], []
    for i, p in enumerate(paths):
        try:
            arrays.append(_read_image(p))
            kept.append(i)
        except errors as exc:
            warnings.append(f"{p}: unreadable image skipped ({type(exc).__name__}: {exc})")
    if not arrays:
        raise DatasetError(f"{where}: no readable images ({len(paths)} file(s) tried, all unreadable)")
    differ = _same_size(arrays)
    if differ is not None:
        a, b = differ
        raise DatasetError(f"{where}: images of mixed sizes: {paths[kept[a]]} is {_size_text(arrays[a])} but "
                           f"{paths[kept[b]]} is {_size_text(arrays[b])} (width×height); resize them to one size")
    return _stack(arrays), kept, warnings


@register("coil-20", "Columbia Object Image Library: 20 objects × 72 views, 128×128 grayscale PNGs",
          files=("coil-20/obj1__0.png",), splits=("train",))
def _coil20(data_dir: Path, split: str) -> Dataset:
    _require_files("coil-20", data_dir, split)
    found = []
    for p in _coil_files(data_dir):
        k, view = (int(g) for g in _COIL_FILE.match(p.name).groups())
        if not 1 <= k <= 20:
            raise DatasetError(f"{p}: object number {k} is outside COIL-20's 1..20")
        found.append((k, view, p))
    found.sort()
    paths = [p for _, _, p in found]
    images, kept, warnings = _read_image_set(paths, data_dir / "coil-20")
    if images.ndim == 4:  # COIL-20 is grayscale; an RGB-saved copy still means gray levels
        images = images.mean(axis=3).round().astype(np.uint8)
    labels = np.array([found[i][0] - 1 for i in kept], dtype=np.int64)
    return Dataset(name="coil-20", features=images_to_features(images), labels=labels,
                   class_names=[f"obj{k}" for k in range(1, 21)], images=images,
                   source=str(paths[0].parent), split=split,
                   meta={"skipped": len(warnings), "warnings": warnings})


# -- CIFAR-10 (python pickles, read safely) ------------------------------------
# Plain numpy arrays need only these to be rebuilt; anything else in a pickle could
# run code (os.system, eval, ...), so it is refused before it is ever looked up.
_PICKLE_ALLOWED = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5 arrays
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol 2 writes bytes; a pure text→bytes function
})


class _SafeUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds dicts, lists, numbers, strings and numpy arrays, nothing else."""

    def __init__(self, file, source: Path):
        super().__init__(file, encoding="bytes")  # CIFAR's pickles come from Python 2
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_ALLOWED:
            raise DatasetError(f"refusing to unpickle {module}.{name} from {self.source}: only plain numpy "
                               "arrays, lists and dicts are allowed in a dataset file")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module[len("numpy.core."):]  # numpy 2 moved them; avoids a warning
        return super().find_class(module, name)


def safe_unpickle(path: str | os.PathLike) -> object:
    """Unpickle ``path`` allowing only plain data and numpy arrays (see :data:`_PICKLE_ALLOWED`)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return _SafeUnpickler(fh, path).load()
    except DatasetError:
        raise
    except Exception as exc:  # a damaged pickle can fail in many ways; none may escape as a crash
        raise DatasetError(f"{path}: cannot unpickle ({type(exc).__name__}: {exc})") from None


def _key(obj: dict, name: str, path: Path):
    for k in (name.encode(), name):
        if k in obj:
            return obj[k]
    raise DatasetError(f"{path}: no {name!r} entry; expected a CIFAR batch with 'data' and 'labels', "
                       f"found keys {sorted(str(k) for k in obj)}")


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    obj = safe_unpickle(path)
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: expected a dict with 'data' and 'labels', got {type(obj).__name__}")
    data = _key(obj, "data", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise DatasetError(f"{path}: 'data' must be a uint8 array of shape N×3072, "
                           f"got {type(data).__name__} {getattr(data, 'dtype', '')} {shape}")
    labels = np.asarray(_key(obj, "labels", path))
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{path}: 'labels' must be {data.shape[0]} integers (one per image), "
                           f"got {labels.dtype} of shape {labels.shape}")
    _check_label_range(labels, 10, path)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def _cifar_names(folder: Path) -> list[str]:
    path = folder / "batches.meta"
    if not path.is_file():
        return list(_CIFAR_NAMES)
    meta = safe_unpickle(path)
    names = meta.get(b"label_names", meta.get("label_names")) if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != 10:
        return list(_CIFAR_NAMES)
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]


@register("cifar-10", "CIFAR-10 colour photos: 50,000 + 10,000 images of 32×32, 10 classes (python pickles)",
          files=tuple(f"cifar-10/cifar-10-batches-py/{f}" for split in ("train", "test") for f in _CIFAR_FILES[split]))
def _cifar10(data_dir: Path, split: str) -> Dataset:
    _require_files("cifar-10", data_dir, split)
    folder = _cifar_folder(data_dir)
    parts = [_cifar_batch(folder / f) for f in _CIFAR_FILES[split]]
    images = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    labels = np.concatenate([p[1] for p in parts])
    return Dataset(name="cifar-10", features=images_to_features(images), labels=labels,
                   class_names=_cifar_names(folder), images=images, source=str(folder), split=split)


# -- data a person brings: arrays ---------------------------------------------
def _encode_labels(values: np.ndarray, class_names: list[str] | None, where: Path,
                   what: str = "labels") -> tuple[np.ndarray, list[str]]:
    """Labels as class ids 0..C-1 plus the class names.

    Integers are class ids (names default to ``"0".."C-1"``); strings are class names,
    mapped to ids in sorted order unless ``class_names`` fixes the order.
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise DatasetError(f"{where}: {what} must be one value per sample (1-D), got shape {values.shape}")
    if values.dtype == object:
        values = _object_labels(values, where, what)
    kind = values.dtype.kind
    if kind == "b":
        values = values.astype(np.int64)
        kind = "i"
    if kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DatasetError(f"{where}: {what} must be whole numbers or class names; "
                               f"found {values[row]!r} at row {row}")
        values, kind = values.astype(np.int64), "i"
    if kind in "iu":
        ids = values.astype(np.int64)
        if ids.size and ids.min() < 0:
            raise DatasetError(f"{where}: {what} must be non-negative class ids, found {int(ids.min())}")
        top = int(ids.max()) + 1 if ids.size else 0
        names = list(class_names) if class_names is not None else [str(i) for i in range(top)]
        return ids, names
    if kind in "US":
        strings = values.astype(str)
        names = list(class_names) if class_names is not None else sorted(set(strings.tolist()))
        lookup = {n: i for i, n in enumerate(names)}
        unknown = [s for s in strings.tolist() if s not in lookup]
        if unknown:
            raise DatasetError(f"{where}: {what} {unknown[0]!r} is not one of the class names {names}")
        return np.array([lookup[s] for s in strings.tolist()], dtype=np.int64), names
    raise DatasetError(f"{where}: {what} must be integers or class names, got dtype {values.dtype}")


def _object_labels(values: np.ndarray, where: Path, what: str) -> np.ndarray:
    """An object column (pandas) as a str or int array; a missing entry is an error naming its row."""
    for row, v in enumerate(values.tolist()):
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            raise DatasetError(f"{where}: {what} missing at row {row}; every sample needs a value")
    if all(isinstance(v, str) for v in values.tolist()):
        return values.astype(str)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values.tolist()):
        return values.astype(np.int64)
    return values.astype(str)


def _npz_get(npz, key: str, path: Path) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise DatasetError(f"{path}: key {key!r} holds Python objects ({exc}); "
                           "save plain numeric or string arrays (pickle is refused for safety)") from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt .npz: key {key!r} cannot be read ({exc})") from None


def _first_key(keys: Sequence[str], choices: Sequence[str]) -> str | None:
    return next((k for k in choices if k in keys), None)


def _read_npz(path: Path) -> dict:
    if not zipfile.is_zipfile(path):
        raise DatasetError(f"{path}: corrupt .npz: not a zip archive (an .npz is written by numpy.savez); "
                           "save it again")
    try:
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt .npz ({exc}); save it again") from None
    with npz:
        keys = list(npz.files)
        fkey = _first_key(keys, ("features", "X", "embeddings"))
        lkey = _first_key(keys, ("labels", "y"))
        if fkey is None or lkey is None:
            raise DatasetError(f"{path}: expected arrays 'features' (or 'X'/'embeddings') and 'labels' (or 'y'), "
                               f"found {keys}")
        cols = {"features": _npz_get(npz, fkey, path), "labels": _npz_get(npz, lkey, path)}
        for key in ("images", "predictions", "scores", "image_paths", "class_names", "split"):
            if key in keys:
                cols[key] = _npz_get(npz, key, path)
    if "class_names" in cols:
        cols["class_names"] = [str(c) for c in np.asarray(cols["class_names"]).reshape(-1).tolist()]
    return cols


def _labels_sidecar(path: Path) -> Path | None:
    for candidate in (path.with_name(f"{path.stem}.labels.npy"), path.with_name(f"{path.stem}_labels.npy")):
        if candidate.is_file():
            return candidate
    return None


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DatasetError(f"{path}: cannot read as a plain .npy array ({exc}); "
                           "save numeric arrays with numpy.save (pickle is refused for safety)") from None
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: corrupt .npy ({exc}); save it again") from None


def _read_npy(path: Path) -> dict:
    sidecar = _labels_sidecar(path)
    if sidecar is None:
        raise DatasetError(f"{path}: no labels file next to it; expected {path.stem}.labels.npy "
                           f"or {path.stem}_labels.npy in {path.parent}")
    return {"features": _load_npy(path), "labels": _load_npy(sidecar)}


_FEATURE_COLUMN = re.compile(r"^f(\d+)$")
_SCORE_COLUMN = re.compile(r"^score_?(\d+)$")
_TABLE_RESERVED = ("label", "prediction", "image_path", "split")


def _holds_lists(column) -> bool:
    values = column.dropna()
    if values.empty:
        return False
    first = values.iloc[0]
    return isinstance(first, (list, tuple, np.ndarray)) or (isinstance(first, str) and first.lstrip().startswith("["))


def _list_column(column, path: Path) -> np.ndarray:
    """A column of lists (parquet) or JSON list text (CSV) as an N×D float array."""
    rows = []
    for row, v in enumerate(column.tolist()):
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}: column {column.name!r} row {row}: not a list of numbers ({exc})") from None
        if v is None or (isinstance(v, float) and np.isnan(v)):
            raise DatasetError(f"{path}: column {column.name!r} is empty at row {row}")
        rows.append(np.asarray(v, dtype=np.float64).reshape(-1))
    widths = {r.shape[0] for r in rows}
    if len(widths) > 1:
        bad = next(i for i, r in enumerate(rows) if r.shape[0] != rows[0].shape[0])
        raise DatasetError(f"{path}: column {column.name!r} holds lists of different lengths "
                           f"({rows[0].shape[0]} at row 0, {rows[bad].shape[0]} at row {bad})")
    return np.stack(rows) if rows else np.zeros((0, 0))


def _numeric_block(df, columns: list, path: Path) -> np.ndarray:
    try:
        return df[columns].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: feature columns {columns[:5]}… must hold numbers ({exc})") from None


def _table_features(df, path: Path) -> tuple[np.ndarray, list]:
    """The feature block of a table and the columns it used.

    Columns ``f0..fN`` win; else a single column of lists; else every other numeric column.
    """
    import pandas as pd

    named = sorted((int(m.group(1)), c) for c in df.columns if (m := _FEATURE_COLUMN.match(str(c))))
    if named:
        cols = [c for _, c in named]
        return _numeric_block(df, cols, path), cols
    free = [c for c in df.columns if c not in _TABLE_RESERVED and not _SCORE_COLUMN.match(str(c))]
    lists = [c for c in free if not pd.api.types.is_numeric_dtype(df[c]) and _holds_lists(df[c])]
    if len(lists) > 1:
        raise DatasetError(f"{path}: several columns hold lists ({lists}); keep one column of feature vectors")
    if lists:
        return _list_column(df[lists[0]], path), lists
    numeric = [c for c in free if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    if not numeric:
        raise DatasetError(f"{path}: no feature columns; expected columns f0..fN, numeric columns, "
                           f"or one column of lists (found {list(df.columns)})")
    return _numeric_block(df, numeric, path), numeric


def _read_table(path: Path) -> dict:
    import pandas as pd

    kind = "parquet" if path.suffix.lower() == ".parquet" else "CSV"
    try:
        df = pd.read_parquet(path) if kind == "parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas/pyarrow raise many types for a bad file
        raise DatasetError(f"{path}: cannot read as {kind} ({type(exc).__name__}: {exc})") from None
    if "label" not in df.columns:
        raise DatasetError(f"{path}: no 'label' column; expected a 'label' column (found {list(df.columns)[:10]})")
    features, used = _table_features(df, path)
    cols: dict = {"features": features, "labels": df["label"].to_numpy()}
    scores = sorted((int(m.group(1)), c) for c in df.columns if (m := _SCORE_COLUMN.match(str(c))))
    if scores:
        cols["scores"] = df[[c for _, c in scores]].to_numpy(dtype=np.float64)
    for col, key in (("prediction", "predictions"), ("image_path", "image_paths"), ("split", "split")):
        if col in df.columns:
            cols[key] = df[col].to_numpy()
    taken = set(used) | set(_TABLE_RESERVED) | {c for _, c in scores}
    cols["extra"] = {str(c): df[c].to_numpy() for c in df.columns if c not in taken}
    return cols


def _split_rows(cols: dict, split: str, path: Path) -> np.ndarray | None:
    """Rows of ``split`` when the file has a split column; a file without one is all "train"."""
    if "split" not in cols:
        if split != "train":
            raise DatasetError(f"{path} has no split {split!r}: without a 'split' column the whole file is "
                               "the 'train' split")
        return None
    values = np.asarray(cols.pop("split")).astype(str)
    rows = np.flatnonzero(values == split)
    if rows.size == 0:
        raise DatasetError(f"{path} has no split {split!r}; its 'split' column holds {sorted(set(values.tolist()))}")
    return rows


def _take(value, rows: np.ndarray | None, n: int):
    if rows is None or not isinstance(value, np.ndarray) or value.ndim == 0 or value.shape[0] != n:
        return value
    return value[rows]


def _image_paths_to_images(paths: np.ndarray, data_dir: Path) -> tuple[np.ndarray | None, int, list[str]]:
    """Load the images that ``paths`` (relative to the data directory) point to.

    A missing, unreadable or escaping path is counted and described, never fatal:
    the vectors are the data, the images only illustrate them. Images fill the array
    only when every one loads and all share a size.
    """
    errors = _unreadable_errors()
    arrays, warnings = [], []
    for rel in paths.tolist():
        if not isinstance(rel, str) or not rel:
            warnings.append(f"{rel!r}: not an image path; left out")
            continue
        try:
            arrays.append(_read_image(safe_path(data_dir, rel)))
        except DatasetError:
            warnings.append(f"{rel}: image path escapes the data directory {data_dir}; left out")
        except FileNotFoundError:
            warnings.append(f"{rel}: image not found in {data_dir}; left out")
        except errors as exc:
            warnings.append(f"{rel}: unreadable image ({type(exc).__name__}); left out")
    missing = len(paths) - len(arrays)
    if missing or not arrays:
        return None, missing, warnings
    if _same_size(arrays) is not None:
        return None, 0, warnings + ["images differ in size; no image array was made"]
    return _stack(arrays), 0, warnings


def _check_per_sample(value: np.ndarray, n: int, what: str, path: Path) -> np.ndarray:
    value = np.asarray(value)
    if value.ndim == 0 or value.shape[0] != n:
        raise DatasetError(f"{path}: {what} has {value.shape[0] if value.ndim else 0} rows for {n} samples; "
                           "it needs one row per sample")
    return value


def _arrays_dataset(path: Path, data_dir: Path, cols: dict, split: str) -> Dataset:
    """Turn the columns read from an arrays file into a validated-ready :class:`Dataset`."""
    given = np.asarray(cols["labels"])
    n = given.shape[0] if given.ndim else 0
    rows = _split_rows(cols, split, path)
    cols = {k: _take(v, rows, n) if k != "extra" else {c: _take(a, rows, n) for c, a in v.items()}
            for k, v in cols.items()}
    labels, names = _encode_labels(cols["labels"], cols.get("class_names"), path)
    n = labels.shape[0]
    meta: dict = dict(cols.get("extra", {}))
    if "predictions" in cols:
        preds, _ = _encode_labels(_check_per_sample(cols["predictions"], n, "predictions", path), names,
                                  path, what="predictions")
        meta["predictions"] = preds
    if "scores" in cols:
        scores = _check_per_sample(cols["scores"], n, "scores", path)
        if scores.ndim != 2 or not np.issubdtype(scores.dtype, np.number):
            raise DatasetError(f"{path}: scores must be numbers of shape N×C, got {scores.dtype} {scores.shape}")
        meta["scores"] = scores.astype(np.float32)
    images = cols.get("images")
    if "image_paths" in cols:
        paths = _check_per_sample(cols["image_paths"], n, "image_paths", path).astype(object)
        meta["image_paths"] = paths
        if images is None:
            images, meta["missing_images"], meta["warnings"] = _image_paths_to_images(paths, data_dir)
    rel = path.relative_to(data_dir.resolve()).as_posix()
    return Dataset(name=f"arrays:{rel}", features=np.asarray(cols["features"]), labels=labels, class_names=names,
                   images=images, source=str(path), split=split, meta=meta)


def _load_arrays(path: Path, *, data_dir: str | os.PathLike, split: str = "train") -> Dataset:
    """Vectors a person brings: ``.npz``, ``.npy`` (+ labels file), parquet or CSV."""
    readers = {".npz": _read_npz, ".npy": _read_npy, ".parquet": _read_table, ".csv": _read_table}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(f"{path}: unsupported file type {path.suffix!r}; expected one of {', '.join(readers)}")
    if not path.is_file():
        raise DatasetError(f"{path}: no such file in the data directory")
    return _arrays_dataset(path, Path(data_dir).resolve(), reader(path), split)


# -- data a person brings: an image folder -------------------------------------
def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())


def _class_folders(folder: Path) -> list[Path]:
    """Sub-folders holding at least one image file, in sorted order (their names are the classes)."""
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and _image_files(d))


def _load_folder(path: Path, *, data_dir: str | os.PathLike, split: str = "train") -> Dataset:
    """An image folder with one sub-folder per class; unreadable images are skipped and counted."""
    if split != "train":
        raise DatasetError(f"{path}: an image folder has only the 'train' split (got split {split!r})")
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder in the data directory")
    classes = _class_folders(path)
    if not classes:
        raise DatasetError(f"{path}: no sub-folders with images; expected one sub-folder per class, "
                           f"e.g. {path / 'cat' / '001.png'}")
    files, owners = [], []
    for c, folder in enumerate(classes):
        found = _image_files(folder)
        files += found
        owners += [c] * len(found)
    images, kept, warnings = _read_image_set(files, path)
    root = Path(data_dir).resolve()
    rel = path.relative_to(root).as_posix()
    return Dataset(name=f"folder:{rel}", features=images_to_features(images),
                   labels=np.array([owners[k] for k in kept], dtype=np.int64),
                   class_names=[d.name for d in classes], images=images, source=str(path), split=split,
                   meta={"skipped": len(warnings), "warnings": warnings,
                         "image_paths": np.array([files[k].relative_to(root).as_posix() for k in kept], dtype=object)})


_USER_LOADERS.update({"arrays": _load_arrays, "folder": _load_folder})


def _builtin_folders() -> set[str]:
    return {"svhn", "coil-20", "cifar-10", *_IDX_NAMES}


def _is_sidecar(path: Path) -> bool:
    return path.name.endswith(".labels.npy") or path.name.endswith("_labels.npy")


def discover(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the datasets a person put in the data directory, ready for :func:`load`.

    ``arrays:<file>`` for top-level ``.npz``/``.npy``/parquet/CSV files (not the labels
    files beside an ``.npy``) and ``folder:<dir>`` for top-level folders, other than a
    built-in's, with at least two sub-folders of images.
    """
    root = Path(data_dir if data_dir is not None else DEFAULT_DATA_DIR)
    if not root.is_dir():
        return []
    found = []
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.suffix.lower() in ARRAY_SUFFIXES and not _is_sidecar(p):
            found.append(f"arrays:{p.name}")
        elif p.is_dir() and p.name not in _builtin_folders() and len(_class_folders(p)) >= 2:
            found.append(f"folder:{p.name}")
    return found


# -- download ------------------------------------------------------------------
# (size in bytes, SHA-256, MD5) of each canonical file.
# MD5: the checksums the datasets' authors publish (Fashion-MNIST's and KMNIST's
# READMEs) and that torchvision verifies for these same URLs.
# SHA-256: not published by the authors; taken from TensorFlow Datasets' recorded
# url_checksums (tensorflow_datasets/url_checksums/{mnist,fashion_mnist,kmnist}.txt),
# which list the same sizes. TFDS recorded MNIST's from the storage.googleapis.com
# cvdf mirror; the ossci mirror serves byte-identical files (same size and the same
# MD5 torchvision checks). Both hashes are verified, so one wrong entry fails loudly.
_DOWNLOADS: dict[str, tuple[str, dict[str, tuple[int, str, str]]]] = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", {
        "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                       "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                       "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                      "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                                      "ec29112dd5afa0611ce80d1b7f02629c"),
    }),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", {
        "train-images-idx3-ubyte.gz": (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                                       "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                                       "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                                      "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                                      "bb300cfdad3c16e7a12a480ee83cd310"),
    }),
    "kmnist": ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/", {
        "train-images-idx3-ubyte.gz": (18165135, "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                                       "bdb82020997e1d708af4cf47b453dcf7"),
        "train-labels-idx1-ubyte.gz": (29497, "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                                       "e144d726b3acfaa3e44228e80efcd344"),
        "t10k-images-idx3-ubyte.gz": (3041136, "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                                      "5c965bf0a639b31b8f53240b1b52f4d7"),
        "t10k-labels-idx1-ubyte.gz": (5120, "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
                                      "7320c461ea6c1c855c0b718fb2a4b134"),
    }),
}
_CHUNK = 1 << 16
_MAX_UNKNOWN_SIZE = 256 << 20  # cap for a file whose size the table does not know


def downloadable() -> list[str]:
    """Names :func:`download` can fetch."""
    return list(_DOWNLOADS)


def _digests(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()


def _verify(path: Path, sha256: str, md5: str | None, url: str) -> None:
    got_sha, got_md5 = _digests(path)
    if got_sha != sha256.lower():
        raise DatasetError(f"{url}: SHA-256 {got_sha} does not match the expected {sha256}; "
                           "the download is corrupt or the mirror changed, so nothing was kept")
    if md5 and got_md5 != md5.lower():
        raise DatasetError(f"{url}: MD5 {got_md5} does not match the published {md5}; "
                           "the download is corrupt or the mirror changed, so nothing was kept")


def _fetch(opener, url: str, tmp, size: int | None, progress: ProgressFn | None, message: str) -> int:
    """Stream ``url`` into the open file ``tmp``; returns the byte count."""
    try:
        response = opener.open(url, timeout=60)
    except urllib.error.HTTPError as exc:
        raise DatasetError(f"{url}: the server answered {exc.code} {exc.reason}; "
                           "check the address or put the file in place by hand") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DatasetError(f"{url}: cannot connect ({reason}); if this machine is offline, "
                           "put the file in place by hand") from None
    with response:
        length = response.headers.get("Content-Length")
        total = size or (int(length) if length and length.isdigit() else 0)
        limit = size or _MAX_UNKNOWN_SIZE
        done = 0
        report(progress, 0, total, message)
        try:
            while block := response.read(_CHUNK):
                done += len(block)
                if done > limit:
                    raise DatasetError(f"{url}: more than the expected {limit} bytes; refusing the download")
                tmp.write(block)
                report(progress, done, total, message)
        except (OSError, urllib.error.URLError) as exc:
            raise DatasetError(f"{url}: the download broke off after {done} bytes ({exc})") from None
    report(progress, done, done, message)
    return done


def download(name: str, data_dir: str | os.PathLike | None = None, *, progress: ProgressFn | None = None,
             base_url: str | None = None, checksums: Mapping[str, str] | None = None) -> list[Path]:
    """Fetch ``name``'s four files into ``<data_dir>/<name>/`` and return their paths.

    Each file is streamed to a temporary file beside its final place, verified, and
    only then renamed into place, so a failed or tampered download leaves nothing a
    loader could mistake for data. A file already there with the right hash is kept.

    Parameters
    ----------
    progress : callback receiving bytes done / total per file (may cancel).
    base_url : another mirror (tests point this at a local server).
    checksums : ``{file name: SHA-256}`` replacing the built-in table (for ``base_url``).
    """
    if name not in _DOWNLOADS:
        hint = f"; {missing_message(name, data_dir or DEFAULT_DATA_DIR)}" if name in _REGISTRY else ""
        raise DatasetError(f"cannot download {name!r}: only {', '.join(_DOWNLOADS)} can be downloaded{hint}")
    url_root, table = _DOWNLOADS[name]
    if checksums is not None:
        table = {f: (None, h, None) for f, h in checksums.items()}
    url_root = (base_url or url_root).rstrip("/") + "/"
    folder = Path(data_dir if data_dir is not None else DEFAULT_DATA_DIR) / name
    folder.mkdir(parents=True, exist_ok=True)
    opener = urllib.request.build_opener()  # reads proxy settings now, not at first import
    paths = []
    for k, (fname, (size, sha256, md5)) in enumerate(table.items(), start=1):
        target, url = folder / fname, url_root + fname
        message = f"{name}: {fname} ({k}/{len(table)})"
        if target.is_file() and _digests(target)[0] == sha256.lower():
            report(progress, 1, 1, message + " already here")
        else:
            _download_one(opener, url, target, size, sha256, md5, progress, message)
        paths.append(target)
    return paths


def _download_one(opener, url: str, target: Path, size: int | None, sha256: str, md5: str | None,
                  progress: ProgressFn | None, message: str) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            _fetch(opener, url, fh, size, progress, message)
        _verify(tmp, sha256, md5, url)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# -- command line --------------------------------------------------------------
def _print_list(data_dir: Path) -> None:
    print(f"built-in datasets (data directory: {data_dir}):")
    for name in available():
        state = "present" if is_present(name, data_dir) else "missing"
        print(f"  {name:<14} {state:<8} {describe(name).description}")
    found = discover(data_dir)
    print("your datasets:" if found else f"your datasets: none found in {data_dir}")
    for name in found:
        print(f"  {name}")


def _print_check(name: str, data_dir: Path, split: str) -> None:
    ds = load(name, data_dir=data_dir, split=split)
    counts = np.bincount(ds.labels, minlength=ds.n_classes)
    shown = ", ".join(f"{c} ({n})" for c, n in zip(ds.class_names[:12], counts[:12].tolist()))
    more = f", … {ds.n_classes - 12} more" if ds.n_classes > 12 else ""
    print(f"{ds.name} [{ds.split}] from {ds.source}")
    print(f"  n={ds.n} samples, dims={ds.dim}, images={ds.image_shape}")
    print(f"  classes={ds.n_classes}: {shown}{more}")
    for warning in ds.meta.get("warnings", [])[:10]:
        print(f"  warning: {warning}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m models.datasets``: list, download or check datasets; errors exit 2."""
    from .progress import Cancelled, console

    parser = argparse.ArgumentParser(prog="python -m models.datasets",
                                     description="List, download and check LayerScope's datasets.")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the data directory (default: data)")
    parser.add_argument("--list", action="store_true", help="built-ins (present/missing) and datasets found here")
    parser.add_argument("--download", metavar="NAME", help=f"fetch one of {', '.join(_DOWNLOADS)} with checksums")
    parser.add_argument("--check", metavar="NAME", help="load NAME and print its size, dimensions and classes")
    parser.add_argument("--split", default="train", help="split for --check (default: train)")
    args = parser.parse_args(argv)
    try:
        if args.download:
            for path in download(args.download, args.data_dir, progress=console(sys.stderr)):
                print(path)
        if args.check:
            _print_check(args.check, args.data_dir, args.split)
        if args.list or not (args.download or args.check):
            _print_list(args.data_dir)
    except (DatasetError, Cancelled) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
