"""SVHN (format 2, cropped digits): ``train_32x32.mat`` and ``test_32x32.mat`` in ``<data_dir>/svhn/``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import FEATURE_BYTES, Dataset, DatasetError, check_label_range, images_to_features
from .limits import check_array_bytes, declared_bytes
from .registry import Entry, register, require_files

FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def _missing(data_dir: Path, split: str) -> list[str]:
    return [] if (data_dir / "svhn" / FILES[split]).is_file() else [FILES[split]]


def load_svhn(data_dir: Path, split: str) -> Dataset:
    """The .mat file of ``split``: X 32×32×3×N uint8, y N×1 in 1..10 (10 is the digit 0)."""
    from scipy.io import loadmat, whosmat

    require_files("svhn", data_dir, split)
    path = data_dir / "svhn" / FILES[split]
    try:  # the variables' declared shapes, read without their data, are checked first
        declared = {name: (shape, kind) for name, shape, kind in whosmat(path)}
    except Exception as exc:  # scipy raises many types for a bad file; all mean the same to a person
        raise DatasetError(f"{path}: cannot read as a MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    if "X" in declared:
        shape, kind = declared["X"]
        check_array_bytes(
            declared_bytes(shape, 1 + FEATURE_BYTES),
            path,
            f"X of shape {'×'.join(map(str, shape))} (with its float features)",
        )
        if kind != "uint8":
            raise DatasetError(f"{path}: X must be uint8 of shape 32×32×3×N, got {kind} {tuple(shape)}")
    if "y" in declared:
        check_array_bytes(declared_bytes(declared["y"][0], 8), path, "y")
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
    check_label_range(y, 10, path, lo=1)
    images = np.ascontiguousarray(x.transpose(3, 0, 1, 2))
    return Dataset(
        name="svhn",
        features=images_to_features(images),
        labels=np.where(y == 10, 0, y),
        class_names=[str(i) for i in range(10)],
        images=images,
        source=str(path),
        split=split,
    )


register(
    Entry(
        "svhn",
        "Street View House Numbers: 73,257 + 26,032 colour digits of 32×32 (.mat files)",
        load_svhn,
        _missing,
        files=tuple(f"svhn/{f}" for f in FILES.values()),
        homepage="http://ufldl.stanford.edu/housenumbers/ (format 2: cropped digits)",
    )
)
