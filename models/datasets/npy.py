""".npy and .npz files checked before numpy allocates: each array's header (shape, dtype) is read
without its data and compared with the bytes really there (the file's size, or the member's
uncompressed size in the zip directory) and with the array limit (:mod:`.limits`), so a small
file claiming 10¹¹ × 1000 values is refused by name instead of raising ``MemoryError``. The limit
counts what loading allocates: every array at its stored dtype plus the features again as float32
(a 200 KB file of uint8 features inflating to 300 MB becomes 1.2 GB of float32).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterable, NamedTuple

import numpy as np

from .dataset import FEATURE_BYTES, DatasetError
from .limits import check_array_bytes, declared_bytes, size_text


class Header(NamedTuple):
    """What a .npy header declares, and where its data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int

    @property
    def nbytes(self) -> int:
        return declared_bytes(self.shape, self.dtype.itemsize)

    def describe(self) -> str:
        return f"shape {self.shape}, dtype {self.dtype} ({self.nbytes:,} bytes)"


def read_header(fh: BinaryIO, where: str) -> Header:
    """The header at the start of ``fh`` (a file or a zip member), its data left unread."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        # version 3 differs from 2 only in encoding the header as UTF-8 (field names), not in shape or size
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _fortran, dtype = read(fh)
    except (ValueError, EOFError, OSError, zlib.error) as exc:
        raise DatasetError(f"{where}: not a readable .npy array header ({exc}); save it again with numpy") from None
    if dtype.hasobject:
        raise DatasetError(
            f"{where}: holds Python objects (dtype {dtype}); save plain numeric or string arrays "
            "(pickle is refused for safety)"
        )
    return Header(tuple(int(d) for d in shape), dtype, fh.tell())


def _check_stored(header: Header, stored: int, where: str) -> None:
    if stored < header.nbytes:
        raise DatasetError(
            f"{where}: truncated: its header says {header.describe()} but only {stored:,} bytes "
            "of data are there; save the file again"
        )


def float_features_bytes(header: Header) -> int:
    """What the features of ``header`` cost again once converted to float32 (nothing when they are)."""
    return 0 if header.dtype == np.float32 else declared_bytes(header.shape, FEATURE_BYTES)


def check_npy(paths: Iterable[Path], features: Path | None = None) -> None:
    """Refuse ``.npy`` files (read together) that are truncated or together exceed the array limit;
    ``features`` (one of ``paths``) is counted again as float32."""
    total, where = 0, []
    for path in paths:
        try:
            with path.open("rb") as fh:
                header = read_header(fh, str(path))
            size = path.stat().st_size
        except OSError as exc:
            raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
        _check_stored(header, size - header.offset, str(path))
        nbytes = header.nbytes + (float_features_bytes(header) if path == features else 0)
        check_array_bytes(
            nbytes,
            path,
            f"the array its header declares ({header.describe()}"
            + (", with its float32 copy)" if nbytes > header.nbytes else ")"),
        )
        total += nbytes
        where.append(path)
    if len(where) > 1:
        check_array_bytes(total, where[0], f"together with {', '.join(p.name for p in where[1:])}, the arrays")


def check_npz(path: Path, keys: Iterable[str], features: str | None = None) -> dict[str, Header]:
    """The headers of the members ``keys`` of the .npz at ``path``, each checked against its
    uncompressed size in the zip directory, and all of them together against the array limit (the
    ``features`` key counted again as float32)."""
    headers: dict[str, Header] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {info.filename: info for info in zf.infolist()}
            for key in keys:
                info = infos.get(f"{key}.npy") or infos.get(key)
                if info is None:
                    continue
                where = f"{path}: key {key!r} (member {info.filename})"
                with zf.open(info) as fh:
                    header = read_header(fh, where)
                _check_stored(header, info.file_size - header.offset, where)
                headers[key] = header
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt .npz ({exc}); save it again") from None
    total = sum(h.nbytes for h in headers.values())
    extra = 0
    if features in headers:  # images beside features may become the features (pixels/255, float32)
        pixels = "images" in headers and features != "images"
        extra = (
            declared_bytes(headers[features].shape, FEATURE_BYTES)
            if pixels
            else float_features_bytes(headers[features])
        )
    copy = f" and {size_text(extra)} of float32 features made from {features!r}" if extra else ""
    check_array_bytes(
        total + extra,
        path,
        "its arrays ("
        + ", ".join(f"{k}: {h.describe()}" for k, h in headers.items())
        + f"; {size_text(total)} in all{copy})",
    )
    return headers


def read_error(exc: BaseException, where: str) -> DatasetError:
    """A failure while reading an array's data, named: a short read is a truncated file."""
    text = str(exc)
    if isinstance(exc, EOFError) or "EOF" in text or "ended before" in text:
        return DatasetError(f"{where}: truncated: the data ends early ({text}); save the file again")
    return DatasetError(f"{where}: corrupt ({type(exc).__name__}: {text}); save the file again")
