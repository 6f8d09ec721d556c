"""CIFAR-10's python version: pickled batches in ``<data_dir>/cifar-10/`` (or the unpacked
``cifar-10-batches-py/`` inside it), read with an unpickler that allows only plain data."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from .dataset import FEATURE_BYTES, Dataset, DatasetError, check_label_range, images_to_features
from .limits import check_array_bytes
from .registry import Entry, register, require_files

FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
NESTED = "cifar-10-batches-py"  # the folder the official archive unpacks to


# Plain numpy arrays need only these to be rebuilt; anything else in a pickle could
# run code (os.system, eval, ...), so it is refused before it is ever looked up.
_PICKLE_ALLOWED = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),  # protocol 5 arrays
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol 2 writes bytes; a pure text→bytes function
    }
)


class _SafeUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds dicts, lists, numbers, strings and numpy arrays, nothing else."""

    def __init__(self, file, source: Path):
        super().__init__(file, encoding="bytes")  # CIFAR's pickles come from Python 2
        self.source = source

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_ALLOWED:
            raise DatasetError(
                f"refusing to unpickle {module}.{name} from {self.source}: only plain numpy "
                "arrays, lists and dicts are allowed in a dataset file"
            )
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module[len("numpy.core.") :]  # numpy 2 moved them; avoids a warning
        return super().find_class(module, name)


def safe_unpickle(path: str | os.PathLike) -> object:
    """Unpickle ``path`` allowing only plain data and numpy arrays (see :data:`_PICKLE_ALLOWED`)."""
    path = Path(path)
    try:
        # a pickle rebuilds at most about its own size of arrays (every byte of data is in the file)
        check_array_bytes(path.stat().st_size, path, "the pickle")
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
    raise DatasetError(
        f"{path}: no {name!r} entry; expected a CIFAR batch with 'data' and 'labels', "
        f"found keys {sorted(str(k) for k in obj)}"
    )


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    obj = safe_unpickle(path)
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: expected a dict with 'data' and 'labels', got {type(obj).__name__}")
    data = _key(obj, "data", path)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise DatasetError(
            f"{path}: 'data' must be a uint8 array of shape N×3072, "
            f"got {type(data).__name__} {getattr(data, 'dtype', '')} {shape}"
        )
    labels = np.asarray(_key(obj, "labels", path))
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(
            f"{path}: 'labels' must be {data.shape[0]} integers (one per image), "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    check_label_range(labels, 10, path)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.int64)


def _cifar_names(folder: Path) -> list[str]:
    path = folder / "batches.meta"
    if not path.is_file():
        return list(CLASS_NAMES)
    meta = safe_unpickle(path)
    names = meta.get(b"label_names", meta.get("label_names")) if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != 10:
        return list(CLASS_NAMES)
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names]


def cifar_folder(data_dir: Path) -> Path:
    """The folder holding CIFAR-10's batches: the unpacked archive's or ``cifar-10/`` itself."""
    root = data_dir / "cifar-10"
    nested = root / NESTED
    return nested if nested.is_dir() else root


def _missing(data_dir: Path, split: str) -> list[str]:
    folder = cifar_folder(data_dir)
    return [f for f in FILES[split] if not (folder / f).is_file()]


def load_cifar10(data_dir: Path, split: str) -> Dataset:
    """The five training batches or the test batch, class names from ``batches.meta`` when there."""
    require_files("cifar-10", data_dir, split)
    folder = cifar_folder(data_dir)
    sizes = sum((folder / f).stat().st_size for f in FILES[split])
    check_array_bytes(sizes * (1 + FEATURE_BYTES), folder, f"the {split} batches (with their float features)")
    parts = [_cifar_batch(folder / f) for f in FILES[split]]
    images = np.ascontiguousarray(np.concatenate([p[0] for p in parts]))
    labels = np.concatenate([p[1] for p in parts])
    return Dataset(
        name="cifar-10",
        features=images_to_features(images),
        labels=labels,
        class_names=_cifar_names(folder),
        images=images,
        source=str(folder),
        split=split,
    )


register(
    Entry(
        "cifar-10",
        "CIFAR-10 colour photos: 50,000 + 10,000 images of 32×32, 10 classes (python pickles)",
        load_cifar10,
        _missing,
        files=tuple(f"cifar-10/{NESTED}/{f}" for split in ("train", "test") for f in FILES[split]),
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html (the python version, unpacked)",
        alt_folder=NESTED,
    )
)
