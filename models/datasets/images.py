"""Images read from files: COIL-20's PNGs, a person's folder with one sub-folder per class, and
the images that an arrays file's ``image_paths`` point to. Unreadable files are skipped and
counted, never fatal (their messages are in ``Dataset.meta["warnings"]``); images of mixed sizes
are refused with the two files that differ, and so are an image over the pixel limit, images over
the array limit, and (in a person's folder) a class folder or image that links outside the data
directory (:mod:`.limits`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from .dataset import FEATURE_BYTES, Dataset, DatasetError, images_to_features, safe_path
from .limits import ENV_IMAGE_PIXELS, Limits, check_array_bytes, check_pixels, limits
from .registry import Entry, UserKind, register, register_kind, require_files

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


def _read_image(path: Path, lim: Limits | None = None) -> np.ndarray:
    """One image as uint8 H×W (grayscale) or H×W×3 (colour); PIL's errors pass through.

    Its size is checked against the per-image pixel limit before it is decoded (a
    :class:`DatasetError` naming the file); Pillow's own bomb guard is set to the same limit.
    """
    from PIL import Image

    lim = lim or limits()
    Image.MAX_IMAGE_PIXELS = lim.max_image_pixels  # Pillow refuses twice this in open(), warns above it
    try:
        with Image.open(path) as im:
            check_pixels(*im.size, path, lim)
            im.load()
            return np.asarray(im.convert("L" if im.mode in _GRAY_MODES else "RGB"), dtype=np.uint8)
    except Image.DecompressionBombError as exc:
        raise DatasetError(
            f"{path}: image over the limit of {lim.max_image_pixels:,} pixels ({exc}); "
            f"shrink it or raise {ENV_IMAGE_PIXELS}"
        ) from None


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


def read_image_set(paths: Sequence[Path], where: Path) -> tuple[np.ndarray, list[int], list[str]]:
    """Read ``paths`` into one uint8 array, skipping unreadable files.

    Returns the images, the positions in ``paths`` that were read, and one warning
    per skipped file. Images of different sizes cannot share an array, so they raise
    :class:`DatasetError` naming two files that differ; so does an image over the pixel
    limit, or images that together (with their features) pass the array limit.
    """
    errors = _unreadable_errors()
    lim = limits()
    arrays, kept, warnings, total = [], [], [], 0
    for i, p in enumerate(paths):
        try:
            arrays.append(_read_image(p, lim))
            kept.append(i)
        except DatasetError:  # over the pixel limit: refused, not skipped (a DatasetError is a ValueError too)
            raise
        except errors as exc:
            warnings.append(f"{p}: unreadable image skipped ({type(exc).__name__}: {exc})")
            continue
        total += arrays[-1].nbytes * (1 + FEATURE_BYTES)  # the pixels and their float features
        check_array_bytes(
            total, where, f"the images up to {p.name} ({len(arrays)} of {len(paths)}, with their float features)", lim
        )
    if not arrays:
        raise DatasetError(f"{where}: no readable images ({len(paths)} file(s) tried, all unreadable)")
    differ = _same_size(arrays)
    if differ is not None:
        a, b = differ
        raise DatasetError(
            f"{where}: images of mixed sizes: {paths[kept[a]]} is {_size_text(arrays[a])} but "
            f"{paths[kept[b]]} is {_size_text(arrays[b])} (width×height); resize them to one size"
        )
    return _stack(arrays), kept, warnings


def image_paths_to_images(paths: np.ndarray, data_dir: Path) -> tuple[np.ndarray | None, int, list[str]]:
    """Load the images that ``paths`` (relative to the data directory) point to.

    A missing, unreadable or escaping path is counted and described, never fatal:
    the vectors are the data, the images only illustrate them. Images fill the array
    only when every one loads and all share a size.
    """
    errors = _unreadable_errors()
    lim = limits()
    arrays, warnings, total = [], [], 0
    for rel in paths.tolist():
        if not isinstance(rel, str) or not rel:
            warnings.append(f"{rel!r}: not an image path; left out")
            continue
        try:
            path = safe_path(data_dir, rel)
        except DatasetError:
            warnings.append(f"{rel}: image path escapes the data directory {data_dir}; left out")
            continue
        if total > lim.max_array_bytes:
            warnings.append(f"{rel}: left out, the images so far passed the array limit")
            continue
        try:
            arrays.append(_read_image(path, lim))
            total += arrays[-1].nbytes
        except DatasetError as exc:  # over the pixel limit: thumbnails are never worth failing for
            warnings.append(f"{exc}; left out")
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


# -- COIL-20 --------------------------------------------------------------------
_COIL_FILE = re.compile(r"^obj(\d+)__(\d+)\.png$", re.IGNORECASE)


def _coil_files(data_dir: Path) -> list[Path]:
    """COIL-20's ``obj<k>__<i>.png`` files in ``coil-20/`` (or the archive's ``coil-20-proc/`` inside it)."""
    root = data_dir / "coil-20"
    for folder in (root, root / "coil-20-proc"):
        if folder.is_dir():
            found = [p for p in folder.iterdir() if _COIL_FILE.match(p.name) and p.is_file()]
            if found:
                return found
    return []


def _coil_missing(data_dir: Path, split: str) -> list[str]:
    return [] if _coil_files(data_dir) else ["obj1__0.png … obj20__71.png"]


def load_coil20(data_dir: Path, split: str) -> Dataset:
    """20 objects × 72 views; the object number in each file name is its class."""
    require_files("coil-20", data_dir, split)
    found = []
    for p in _coil_files(data_dir):
        k, view = (int(g) for g in _COIL_FILE.match(p.name).groups())
        if not 1 <= k <= 20:
            raise DatasetError(f"{p}: object number {k} is outside COIL-20's 1..20")
        found.append((k, view, p))
    found.sort()
    paths = [p for _, _, p in found]
    images, kept, warnings = read_image_set(paths, data_dir / "coil-20")
    if images.ndim == 4:  # COIL-20 is grayscale; an RGB-saved copy still means gray levels
        images = images.mean(axis=3).round().astype(np.uint8)
    labels = np.array([found[i][0] - 1 for i in kept], dtype=np.int64)
    return Dataset(
        name="coil-20",
        features=images_to_features(images),
        labels=labels,
        class_names=[f"obj{k}" for k in range(1, 21)],
        images=images,
        source=str(paths[0].parent),
        split=split,
        meta={"skipped": len(warnings), "warnings": warnings},
    )


register(
    Entry(
        "coil-20",
        "Columbia Object Image Library: 20 objects × 72 views, 128×128 grayscale PNGs",
        load_coil20,
        _coil_missing,
        files=("coil-20/obj1__0.png",),
        splits=("train",),
        homepage="https://www.cs.columbia.edu/CAVE/software/softlib/coil-20.php (the processed images)",
    )
)


# -- a person's image folder: one sub-folder per class --------------------------
def _check_inside(path: Path, root: Path | None) -> None:
    """Refuse ``path`` when it (a link) leads outside ``root`` (``None``: no check)."""
    if root is None:
        return
    target = path.resolve()
    if target != root and root not in target.parents:
        raise DatasetError(
            f"{path}: links outside the data directory {root} (to {target}); "
            "copy the files into the data directory instead"
        )


def _image_files(folder: Path, root: Path | None = None) -> list[Path]:
    """The image files of ``folder``; with ``root``, one linking outside it is refused (before it is read)."""
    found = []
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
            _check_inside(p, root)
            if p.is_file():
                found.append(p)
    return found


def _class_folders(folder: Path, root: Path | None = None) -> list[Path]:
    """Sub-folders holding at least one image file, in sorted order (their names are the classes);
    with ``root``, a sub-folder linking outside it is refused before it is listed."""
    classes = []
    for d in sorted(folder.iterdir()):
        if d.name.startswith(".") or not d.is_dir():
            continue
        _check_inside(d, root)
        if _image_files(d, root):
            classes.append(d)
    return classes


def _load_folder(path: Path, *, data_dir: str | os.PathLike, split: str = "train") -> Dataset:
    """An image folder with one sub-folder per class; unreadable images are skipped and counted."""
    if split != "train":
        raise DatasetError(f"{path}: an image folder has only the 'train' split (got split {split!r})")
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder in the data directory")
    root = Path(data_dir).resolve()
    classes = _class_folders(path, root)
    if not classes:
        raise DatasetError(
            f"{path}: no sub-folders with images; expected one sub-folder per class, e.g. {path / 'cat' / '001.png'}"
        )
    files, owners = [], []
    for c, folder in enumerate(classes):
        found = _image_files(folder, root)
        files += found
        owners += [c] * len(found)
    images, kept, warnings = read_image_set(files, path)
    rel = path.relative_to(root).as_posix()
    return Dataset(
        name=f"folder:{rel}",
        features=images_to_features(images),
        labels=np.array([owners[k] for k in kept], dtype=np.int64),
        class_names=[d.name for d in classes],
        images=images,
        source=str(path),
        split=split,
        meta={
            "skipped": len(warnings),
            "warnings": warnings,
            "image_paths": np.array([files[k].relative_to(root).as_posix() for k in kept], dtype=object),
        },
    )


def is_image_folder(path: Path) -> bool:
    """A folder with at least two sub-folders of images: the classes of a person's image dataset."""
    return path.is_dir() and len(_class_folders(path)) >= 2


register_kind(UserKind("folder", _load_folder, is_image_folder, is_folder=True))
