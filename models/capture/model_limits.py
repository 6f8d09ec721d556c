"""How much a model file may make us read or allocate, checked before any deserialiser runs.

Defaults: 2 GiB per model file and per model's decoded tensors (``LAYERSCOPE_MAX_MODEL_BYTES``),
a zip member may inflate at most 32× (torch writes its archives uncompressed, so a higher ratio is
a zip bomb), at most 100,000 members per archive, and model names of at most 1,024 characters
(255 bytes per path part). Read from the environment each time, like the datasets' limits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from ..datasets.limits import env_int, size_text  # one way to read a limit, one to write a size (zip_check's too)
from .errors import ModelError

GIB = 1 << 30
ENV_MODEL_BYTES = "LAYERSCOPE_MAX_MODEL_BYTES"
#: the longest path component most file systems accept (bytes of UTF-8)
MAX_COMPONENT_BYTES = 255


@dataclass(frozen=True)
class ModelLimits:
    """``max_model_bytes``: bytes of one model file and of the tensors it declares together;
    ``max_inflate_ratio``: uncompressed ÷ compressed size of an archive; ``max_members``: entries
    of an archive; ``max_name_length``: characters of a model path."""

    max_model_bytes: int = 2 * GIB
    max_inflate_ratio: int = 32
    max_members: int = 100_000
    max_name_length: int = 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ModelLimits":
        environ = os.environ if environ is None else environ
        return cls(max_model_bytes=env_int(environ, ENV_MODEL_BYTES, cls.max_model_bytes, ModelError, " of bytes"))


def model_limits() -> ModelLimits:
    return ModelLimits.from_env()


def check_bytes(nbytes: int, where: str, what: str, lim: ModelLimits | None = None) -> None:
    """Refuse ``what`` of ``where`` when its ``nbytes`` exceed the model cap."""
    lim = lim or model_limits()
    if nbytes > lim.max_model_bytes:
        raise ModelError(
            f"{where}: {what} would take {size_text(nbytes)}, over the limit of "
            f"{size_text(lim.max_model_bytes)}; raise {ENV_MODEL_BYTES} if this model is real"
        )


def check_file_size(path, where: str, lim: ModelLimits | None = None) -> int:
    """The size of the file at ``path``, refused when empty or over the cap (before reading it)."""
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ModelError(f"{where}: cannot read the file ({exc.strerror})") from None
    if size == 0:
        raise ModelError(f"{where}: the file is empty; save the model again")
    check_bytes(size, where, "the file", lim)
    return size


def shown(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:80] + "…")


def check_model_name(name: str, lim: ModelLimits | None = None) -> str:
    """A model path a person typed, refused when no file could carry it (too long, a control
    character, a part over 255 bytes) — before the file system is asked."""
    lim = lim or model_limits()
    if len(name) > lim.max_name_length:
        raise ModelError(
            f"model {shown(name)}: {len(name):,} characters, longer than the "
            f"{lim.max_name_length:,} a model path may have; rename the file"
        )
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise ModelError(f"model {shown(name)}: contains the control character {bad!r}; file names cannot hold it")
    for part in name.replace("\\", "/").split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
            raise ModelError(
                f"model {shown(name)}: the part {shown(part)} is longer than the "
                f"{MAX_COMPONENT_BYTES} bytes a file name may have; rename the file"
            )
    return name
