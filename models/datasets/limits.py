"""How much a loader may decode: stated limits, checked against a file's declared shapes *before*
anything is allocated, so a small file that claims a huge array fails with a message instead of
taking the machine's memory.

:class:`Limits` holds the caps (defaults: 4 GiB of memory for the arrays one dataset file makes —
what loading allocates, the float32 features included, not what the file stores —, 50 megapixels
per image, 100,000 classes, 65,536 table columns, dataset names of at most 1,024 characters);
:func:`limits` reads them from the environment (``LAYERSCOPE_MAX_ARRAY_BYTES``,
``LAYERSCOPE_MAX_IMAGE_PIXELS``, ``LAYERSCOPE_MAX_CLASSES``, ``LAYERSCOPE_MAX_COLUMNS``) each
time, so a person can raise them for a big machine without code changes. The ``check_*`` helpers
raise :class:`DatasetError` naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Mapping

from .dataset import DatasetError

GIB = 1 << 30
#: environment variables that override the defaults (a plain integer; ``_`` separators allowed)
ENV_ARRAY_BYTES = "LAYERSCOPE_MAX_ARRAY_BYTES"
ENV_IMAGE_PIXELS = "LAYERSCOPE_MAX_IMAGE_PIXELS"
ENV_CLASSES = "LAYERSCOPE_MAX_CLASSES"
ENV_COLUMNS = "LAYERSCOPE_MAX_COLUMNS"
#: the longest header line a CSV may have (read before pandas parses anything)
MAX_HEADER_BYTES = 4 << 20
#: the longest path component most file systems accept (bytes of UTF-8)
MAX_COMPONENT_BYTES = 255
#: deflate cannot expand data by more than about 1032:1; a gzip claiming more is truncated
MAX_DEFLATE_RATIO = 1032


@dataclass(frozen=True)
class Limits:
    """The caps every loader applies.

    ``max_array_bytes``: memory the arrays read from one dataset file may take once loaded (all of
    them together: each at its stored dtype, plus the features as float32); ``max_image_pixels``:
    width × height of one image before it is decoded; ``max_classes``: classes of one dataset (a
    class id must be below it); ``max_columns``: columns of a CSV or parquet table;
    ``max_name_length``: characters in a dataset name.
    """

    max_array_bytes: int = 4 * GIB
    max_image_pixels: int = 50_000_000
    max_name_length: int = 1024
    max_classes: int = 100_000
    max_columns: int = 65_536

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Limits":
        environ = os.environ if environ is None else environ
        return cls(
            max_array_bytes=env_int(environ, ENV_ARRAY_BYTES, cls.max_array_bytes),
            max_image_pixels=env_int(environ, ENV_IMAGE_PIXELS, cls.max_image_pixels),
            max_classes=env_int(environ, ENV_CLASSES, cls.max_classes),
            max_columns=env_int(environ, ENV_COLUMNS, cls.max_columns),
        )


def env_int(
    environ: Mapping[str, str], key: str, default: int, error: type[Exception] = DatasetError, unit: str = ""
) -> int:
    """The limit ``key`` of ``environ``: a whole number ≥ 1 (``_`` separators allowed), ``default`` when unset; any
    other text raises ``error`` (the dataset or the model family) naming the variable. One reading of a limit
    for every family (``ModelLimits.from_env`` too)."""
    text = environ.get(key, "").strip()
    if not text:
        return default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise error(f"{key}={text!r}: must be a whole number{unit} (e.g. {default})") from None
    if value < 1:
        raise error(f"{key}={text!r}: must be at least 1")
    return value


def limits() -> Limits:
    """The limits in force now (the defaults, overridden by the environment)."""
    return Limits.from_env()


def size_text(nbytes: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.1f} {unit}"
    return f"{nbytes} bytes"


def check_array_bytes(nbytes: int, where, what: str, lim: Limits | None = None) -> None:
    """Refuse ``what`` in ``where`` when its declared ``nbytes`` exceed the array cap."""
    lim = lim or limits()
    if nbytes > lim.max_array_bytes:
        raise DatasetError(
            f"{where}: {what} would take {size_text(nbytes)} once loaded, over the limit of "
            f"{size_text(lim.max_array_bytes)}; raise {ENV_ARRAY_BYTES} if this file is real"
        )


def declared_bytes(shape: Iterable[int], itemsize: int) -> int:
    """Bytes an array of ``shape`` and ``itemsize`` needs (exact Python integers: no overflow)."""
    count = 1
    for d in shape:
        count *= int(d)
    return count * int(itemsize)


def check_classes(count: int, where, what: str, lim: Limits | None = None) -> None:
    """Refuse ``count`` classes (the largest class id + 1, or the distinct names) over the class cap,
    before a list of class names that long is built."""
    lim = lim or limits()
    if count > lim.max_classes:
        raise DatasetError(
            f"{where}: {what} make {count:,} classes, over the limit of {lim.max_classes:,}; class ids "
            f"must lie in 0..{lim.max_classes - 1:,} (number the classes 0..C-1, or store class names), "
            f"or raise {ENV_CLASSES} if the classes are real"
        )


def check_columns(count: int, where, lim: Limits | None = None) -> None:
    """Refuse a table of more than ``max_columns`` columns before it is parsed."""
    lim = lim or limits()
    if count > lim.max_columns:
        raise DatasetError(
            f"{where}: {count:,} columns, over the limit of {lim.max_columns:,}; store wide vectors "
            f"in an .npz (features N×D) or raise {ENV_COLUMNS}"
        )


def check_pixels(width: int, height: int, where, lim: Limits | None = None) -> None:
    """Refuse an image whose declared size exceeds the per-image pixel cap (before decoding it)."""
    lim = lim or limits()
    if width * height > lim.max_image_pixels:
        raise DatasetError(
            f"{where}: image of {width}×{height} = {width * height:,} pixels, over the limit of "
            f"{lim.max_image_pixels:,}; shrink it or raise {ENV_IMAGE_PIXELS}"
        )


def _shown(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:80] + "…")


def check_name(name: object, lim: Limits | None = None) -> str:
    """A dataset name a person typed (or a request sent), refused when no file could carry it:
    not text, a NUL or other control character, too long, or a path part over 255 bytes."""
    lim = lim or limits()
    if not isinstance(name, str) or not name:
        raise DatasetError(f"dataset name {name!r}: must be a non-empty text")
    if len(name) > lim.max_name_length:
        raise DatasetError(
            f"dataset name {_shown(name)}: {len(name):,} characters, longer than the "
            f"{lim.max_name_length:,} a dataset name may have"
        )
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise DatasetError(
            f"dataset name {_shown(name)}: contains the control character {bad!r} "
            f"at position {name.index(bad)}; file names cannot hold it"
        )
    for part in name.replace("\\", "/").split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
            raise DatasetError(
                f"dataset name {_shown(name)}: the part {_shown(part)} is longer than the "
                f"{MAX_COMPONENT_BYTES} bytes a file name may have"
            )
    return name
