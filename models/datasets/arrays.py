"""Vectors a person brings: ``.npz``, ``.npy`` (plus a labels file beside it), MATLAB ``.mat``, parquet or CSV.

A ``.mat`` file (USPS, COIL-20 and many benchmark sets circulate so) is read with scipy: numeric
arrays only, features under ``X``/``features``/``fea``/``data``, labels under ``y``/``labels``/``gnd``.
An ``.npz`` or ``.mat`` whose features are the pixels of its images keeps them as pixels/255, like
every image dataset (never min–max scaled per feature). Labels may be class ids or class names; optional
columns add predictions, scores, image paths
(their images are loaded for thumbnails) and a split. Pickle is refused everywhere.

Class ids are kept as given, never remapped (id 7 stays class "7", and ``scores`` columns and
``predictions`` follow the same ids), so the largest id sets the number of classes: ids must be below
:attr:`~.limits.Limits.max_classes` (100,000; a label of 10¹² would ask for a trillion class names),
checked before the class list is built, and so must the number of distinct class names.
"""

from __future__ import annotations

import csv
import json
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from .dataset import FEATURE_BYTES, Dataset, DatasetError, images_to_features
from .images import image_paths_to_images
from .limits import MAX_HEADER_BYTES, check_array_bytes, check_classes, check_columns, declared_bytes, limits, size_text
from .npy import check_npy, check_npz, read_error
from .registry import UserKind, register_kind
from .tokens import TOKEN_KEYS, bag_of_tokens, token_columns

ARRAY_SUFFIXES = (".npz", ".npy", ".mat", ".parquet", ".csv")


def _encode_labels(
    values: np.ndarray, class_names: list[str] | None, where: Path, what: str = "labels"
) -> tuple[np.ndarray, list[str]]:
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
            raise DatasetError(
                f"{where}: {what} must be whole numbers or class names; found {values[row]!r} at row {row}"
            )
        _check_ids(values, where, what)  # before the cast: 1e300 is whole but no int64
        values, kind = values.astype(np.int64), "i"
    if kind in "iu":
        _check_ids(values, where, what)  # before the cast: a uint64 over 2**63 would wrap negative
        ids = values.astype(np.int64)
        top = int(ids.max()) + 1 if ids.size else 0
        names = list(class_names) if class_names is not None else [str(i) for i in range(top)]
        return ids, names
    if kind in "US":
        strings = values.astype(str)
        names = list(class_names) if class_names is not None else sorted(set(strings.tolist()))
        check_classes(len(names), where, f"{what} ({len(names):,} distinct names)")
        lookup = {n: i for i, n in enumerate(names)}
        unknown = [s for s in strings.tolist() if s not in lookup]
        if unknown:
            raise DatasetError(f"{where}: {what} {unknown[0]!r} is not one of the class names {names}")
        return np.array([lookup[s] for s in strings.tolist()], dtype=np.int64), names
    raise DatasetError(f"{where}: {what} must be integers or class names, got dtype {values.dtype}")


def _check_ids(values: np.ndarray, where: Path, what: str) -> None:
    """Class ids must be non-negative and below the class limit: the class list is built from the
    largest id (10¹² would ask for a trillion names), so it is checked first."""
    if not values.size:
        return
    low, high = values.min(), values.max()
    if low < 0:
        row = int(np.argmin(values))
        raise DatasetError(f"{where}: {what} must be non-negative class ids, found {low.item()!r} at row {row}")
    if high >= limits().max_classes:
        row = int(np.argmax(values))
        check_classes(int(high) + 1, where, f"{what} (the largest class id is {high.item()!r}, at row {row})")


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
    except ValueError as exc:
        if "EOF" in str(exc):  # numpy's short read: the member ends before its header's size
            raise read_error(exc, f"{path}: key {key!r}") from None
        # object arrays need pickle, which is refused
        raise DatasetError(
            f"{path}: key {key!r} holds Python objects ({exc}); "
            "save plain numeric or string arrays (pickle is refused for safety)"
        ) from None
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise read_error(exc, f"{path}: corrupt .npz: key {key!r} cannot be read") from None


def _first_key(keys: Sequence[str], choices: Sequence[str]) -> str | None:
    return next((k for k in choices if k in keys), None)


_NPZ_OPTIONAL = ("images", "predictions", "scores", "image_paths", "class_names", "split") + TOKEN_KEYS


def _read_npz(path: Path) -> dict:
    if not zipfile.is_zipfile(path):
        with path.open("rb") as fh:
            started = fh.read(4) == b"PK\x03\x04"
        if started:  # a zip's directory is at its end: a file cut short has lost it
            raise DatasetError(
                f"{path}: corrupt .npz, truncated: the zip archive has no directory at its end "
                "(the file was cut short); save it again"
            )
        raise DatasetError(
            f"{path}: corrupt .npz: not a zip archive (an .npz is written by numpy.savez); save it again"
        )
    try:
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt .npz ({exc}); save it again") from None
    with npz:
        keys = list(npz.files)
        # images alone are features too: their pixels
        fkey = _first_key(keys, ("features", "X", "embeddings", "images"))
        lkey = _first_key(keys, ("labels", "y"))
        if (fkey is None and "input_ids" not in keys) or lkey is None:
            raise DatasetError(
                f"{path}: expected arrays 'features' (or 'X'/'embeddings'/'images', or 'input_ids' "
                f"for tokens) and 'labels' (or 'y'), found {keys}"
            )
        wanted = {**({"features": fkey} if fkey else {}), "labels": lkey, **{k: k for k in _NPZ_OPTIONAL if k in keys}}
        headers = check_npz(path, wanted.values(), features=fkey)  # before numpy allocates anything
        if fkey and headers[fkey].dtype.kind == "c":
            raise DatasetError(
                f"{path}: features {fkey!r} are complex numbers ({headers[fkey].dtype}); store real "
                "values (e.g. the magnitude, or real and imaginary parts as separate dimensions)"
            )
        read = {key: _npz_get(npz, key, path) for key in dict.fromkeys(wanted.values())}  # each member once
        cols = {col: read[key] for col, key in wanted.items()}
    if "class_names" in cols:
        names = np.asarray(cols["class_names"]).reshape(-1)
        check_classes(names.size, path, "its class_names")
        cols["class_names"] = [str(c) for c in names.tolist()]
    return cols


#: variable names a .mat file's features and labels go by (USPS and COIL-20 use fea/gnd)
MAT_FEATURE_KEYS = ("features", "X", "fea", "data", "images")
MAT_LABEL_KEYS = ("labels", "y", "gnd", "label", "Y")
#: MATLAB classes read (whosmat names them); cells, structs, objects, strings and sparse are refused
MAT_NUMERIC = {
    "double": 8,
    "single": 4,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
    "logical": 1,
}


def _read_mat(path: Path) -> dict:
    """Features and labels of a MATLAB .mat file (v4–v7; v7.3 is HDF5: save with ``-v7``).

    Declared shapes and classes are read first (no data): only numeric arrays are accepted and
    their decoded size is checked against :mod:`.limits` before scipy allocates them. Features of
    3 or 4 dimensions whose last axis counts the samples (MATLAB's H×W×N, H×W×C×N, as SVHN's) are
    images, moved to N×H×W(×C).
    """
    from scipy.io import loadmat, whosmat

    try:
        declared = {name: (tuple(shape), kind) for name, shape, kind in whosmat(path)}
    except NotImplementedError:
        raise DatasetError(f"{path}: a MATLAB v7.3 (HDF5) file; save it with save(..., '-v7') or as .npz") from None
    except Exception as exc:  # scipy raises many types for a bad file; all mean the same to a person
        raise DatasetError(f"{path}: cannot read as a MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    fkey = _first_key(list(declared), MAT_FEATURE_KEYS)
    lkey = _first_key(list(declared), MAT_LABEL_KEYS)
    if fkey is None or lkey is None:
        raise DatasetError(
            f"{path}: expected variables {'/'.join(MAT_FEATURE_KEYS)} (features) and "
            f"{'/'.join(MAT_LABEL_KEYS)} (labels), found {sorted(declared)}"
        )
    total = 0
    for key in (fkey, lkey):
        shape, kind = declared[key]
        if kind not in MAT_NUMERIC:
            raise DatasetError(
                f"{path}: variable {key!r} is a MATLAB {kind}; only numeric arrays are read ({', '.join(MAT_NUMERIC)})"
            )
        total += declared_bytes(shape, MAT_NUMERIC[kind] + (FEATURE_BYTES if key == fkey else 0))
    check_array_bytes(total, path, f"variables {fkey!r} and {lkey!r} (with their float features)")
    try:
        mat = loadmat(path, variable_names=[fkey, lkey])
    except Exception as exc:  # scipy raises many types for a bad file; all mean the same to a person
        raise DatasetError(f"{path}: cannot read as a MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    features, labels = np.asarray(mat[fkey]), np.asarray(mat[lkey])
    if not (np.issubdtype(features.dtype, np.number) or features.dtype == bool) or labels.dtype == object:
        raise DatasetError(
            f"{path}: {fkey!r} and {lkey!r} must be numeric arrays (got {features.dtype}, {labels.dtype})"
        )
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.reshape(-1)
    n = labels.shape[0] if labels.ndim else 0
    cols: dict = {"labels": labels}
    if features.ndim in (3, 4) and features.shape[-1] == n and features.shape[0] != n:
        features = np.moveaxis(features, -1, 0)
    elif features.ndim == 2 and features.shape[0] != n and features.shape[1] == n:
        features = features.T  # samples as columns, MATLAB style
    if features.ndim in (3, 4):
        if features.dtype == np.uint8:
            cols["images"] = np.ascontiguousarray(features)
        features = features.reshape(features.shape[0], -1)
    cols["features"] = features
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
        raise DatasetError(
            f"{path}: cannot read as a plain .npy array ({exc}); "
            "save numeric arrays with numpy.save (pickle is refused for safety)"
        ) from None
    except (OSError, EOFError) as exc:
        raise read_error(exc, f"{path}: corrupt .npy") from None


def _read_npy(path: Path) -> dict:
    sidecar = _labels_sidecar(path)
    if sidecar is None:
        raise DatasetError(
            f"{path}: no labels file next to it; expected {path.stem}.labels.npy "
            f"or {path.stem}_labels.npy in {path.parent}"
        )
    check_npy([path, sidecar], features=path)  # before numpy allocates anything
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
        raise DatasetError(
            f"{path}: column {column.name!r} holds lists of different lengths "
            f"({rows[0].shape[0]} at row 0, {rows[bad].shape[0]} at row {bad})"
        )
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
        raise DatasetError(
            f"{path}: no feature columns; expected columns f0..fN, numeric columns, "
            f"or one column of lists (found {list(df.columns)})"
        )
    return _numeric_block(df, numeric, path), numeric


#: what reading a table allocates per value at its peak (measured: about 24 bytes): pandas' parsed float64
#: columns and the frame's float64 block they are joined into, then the float32 features
TABLE_VALUE_BYTES = 8 + 8 + 2 * FEATURE_BYTES
#: a parquet value is an Arrow column's first (measured: about 34 bytes in all)
PARQUET_VALUE_BYTES = 12 + TABLE_VALUE_BYTES
#: what pandas spends per column besides its values (index, dtype inference, block bookkeeping); measured
#: at about 3 KB (10⁶ columns took 3.2 GB)
TABLE_COLUMN_BYTES = 4 << 10
#: bytes of a parquet leaf value by its physical type (variable-length ones are counted by their size)
_PARQUET_WIDTH = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}


def _csv_columns(path: Path) -> int:
    """The columns of a CSV's header line, read before pandas parses anything: a header longer than
    :data:`MAX_HEADER_BYTES` is refused without reading further."""
    with path.open("rb") as fh:
        head = fh.read(MAX_HEADER_BYTES + 1)
    end = head.find(b"\n")
    if end < 0 and len(head) > MAX_HEADER_BYTES:
        raise DatasetError(
            f"{path}: the header line is longer than {size_text(MAX_HEADER_BYTES)}; a CSV's first line "
            "names its columns (store wide vectors in an .npz as features N×D)"
        )
    line = (head if end < 0 else head[:end]).decode("utf-8", errors="replace")
    return len(next(csv.reader([line]), [])) if line.strip() else 0


def _table_bytes(path: Path, kind: str) -> tuple[int, int]:
    """(columns, bytes reading the table will allocate), known before reading it: a parquet file's
    columns and value counts from its footer; a CSV's header, and one value per 2 bytes of the file (a
    digit and its comma) at :data:`TABLE_VALUE_BYTES` each; each column adds pandas' overhead."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
            columns = meta.num_columns
            check_columns(columns, path)
            nbytes = 0
            for i in range(meta.num_row_groups):
                group = meta.row_group(i)
                for j in range(group.num_columns):
                    chunk = group.column(j)
                    width = _PARQUET_WIDTH.get(chunk.physical_type)
                    # a dictionary- or run-length-encoded chunk stores far less than it decodes to: count values
                    nbytes += chunk.num_values * PARQUET_VALUE_BYTES if width else 2 * chunk.total_uncompressed_size
        except DatasetError:
            raise
        except Exception as exc:  # pyarrow raises many types for a bad footer
            raise DatasetError(f"{path}: cannot read as parquet ({type(exc).__name__}: {exc})") from None
        return columns, nbytes + columns * TABLE_COLUMN_BYTES
    columns = _csv_columns(path)
    check_columns(columns, path)
    return columns, path.stat().st_size * TABLE_VALUE_BYTES // 2 + columns * TABLE_COLUMN_BYTES


def _read_table(path: Path) -> dict:
    import pandas as pd

    kind = "parquet" if path.suffix.lower() == ".parquet" else "CSV"
    columns, nbytes = _table_bytes(path, kind)  # before pandas parses anything
    check_array_bytes(nbytes, path, f"the {kind} table ({columns:,} columns)")
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
            raise DatasetError(
                f"{path} has no split {split!r}: without a 'split' column the whole file is the 'train' split"
            )
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


def _check_per_sample(value: np.ndarray, n: int, what: str, path: Path) -> np.ndarray:
    value = np.asarray(value)
    if value.ndim == 0 or value.shape[0] != n:
        raise DatasetError(
            f"{path}: {what} has {value.shape[0] if value.ndim else 0} rows for {n} samples; "
            "it needs one row per sample"
        )
    return value


def _arrays_dataset(path: Path, data_dir: Path, cols: dict, split: str) -> Dataset:
    """Turn the columns read from an arrays file into a validated-ready :class:`Dataset`."""
    given = np.asarray(cols["labels"])
    n = given.shape[0] if given.ndim else 0
    rows = _split_rows(cols, split, path)
    cols = {
        k: _take(v, rows, n) if k != "extra" else {c: _take(a, rows, n) for c, a in v.items()} for k, v in cols.items()
    }
    labels, names = _encode_labels(cols["labels"], cols.get("class_names"), path)
    n = labels.shape[0]
    meta: dict = dict(cols.get("extra", {}))
    if "predictions" in cols:
        preds, _ = _encode_labels(
            _check_per_sample(cols["predictions"], n, "predictions", path), names, path, what="predictions"
        )
        meta["predictions"] = preds
    if "scores" in cols:
        scores = _check_per_sample(cols["scores"], n, "scores", path)
        if scores.ndim != 2 or not np.issubdtype(scores.dtype, np.number):
            raise DatasetError(f"{path}: scores must be numbers of shape N×C, got {scores.dtype} {scores.shape}")
        meta["scores"] = scores.astype(np.float32)
    images = cols.get("images")
    tokens, texts = token_columns(cols, n, path)
    if texts is not None:
        meta["texts"] = texts
    features = np.asarray(cols["features"]) if "features" in cols else bag_of_tokens(tokens)
    if _are_pixels(features, images):
        features = images_to_features(np.asarray(images))
        meta["pixel_features"] = True  # pixels/255 already: registry.load must not min–max scale them
    if "image_paths" in cols:
        paths = _check_per_sample(cols["image_paths"], n, "image_paths", path).astype(object)
        meta["image_paths"] = paths
        if images is None:
            images, meta["missing_images"], meta["warnings"] = image_paths_to_images(paths, data_dir)
    rel = path.relative_to(data_dir.resolve()).as_posix()
    return Dataset(
        name=f"arrays:{rel}",
        features=features,
        labels=labels,
        class_names=names,
        images=images,
        source=str(path),
        split=split,
        meta=meta,
        tokens=tokens,
    )


def _are_pixels(features: np.ndarray, images) -> bool:
    """Whether ``features`` are the pixels of ``images`` (uint8), as given (0–255) or already /255."""
    if images is None:
        return False
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4) or images.shape[0] != features.shape[0]:
        return False
    flat = images.reshape(images.shape[0], -1)
    if features.reshape(features.shape[0], -1).shape != flat.shape or features.dtype.kind not in "uif":
        return False
    same = features.reshape(flat.shape)
    # a block of rows at a time: comparing all at once makes float64 copies of every pixel
    step = max(1, (1 << 24) // max(1, flat.shape[1]))
    blocks = [(same[i : i + step], flat[i : i + step]) for i in range(0, flat.shape[0], step)]
    return all(np.array_equal(f, g) for f, g in blocks) or all(np.allclose(f, g / 255.0, atol=1e-3) for f, g in blocks)


def _load_arrays(path: Path, *, data_dir: str | os.PathLike, split: str = "train") -> Dataset:
    """Vectors a person brings: ``.npz``, ``.npy`` (+ labels file), parquet or CSV."""
    readers = {".npz": _read_npz, ".npy": _read_npy, ".mat": _read_mat, ".parquet": _read_table, ".csv": _read_table}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DatasetError(f"{path}: unsupported file type {path.suffix!r}; expected one of {', '.join(readers)}")
    if not path.is_file():
        raise DatasetError(f"{path}: no such file in the data directory")
    return _arrays_dataset(path, Path(data_dir).resolve(), reader(path), split)


def is_sidecar(path: Path) -> bool:
    """The labels file beside an ``.npy`` (part of that dataset, not one of its own)."""
    return path.name.endswith(".labels.npy") or path.name.endswith("_labels.npy")


def is_arrays_file(path: Path) -> bool:
    return path.suffix.lower() in ARRAY_SUFFIXES and not is_sidecar(path) and path.is_file()


register_kind(UserKind("arrays", _load_arrays, is_arrays_file, anywhere=True))
