"""A model archive (``.pt2``, TorchScript, a zipped ``torch.save``) looked at with :mod:`zipfile`
before torch opens it: member names, how many, and each member's declared size against the limits,
so a zip bomb is refused from its directory and a member that inflates past what it declared is
stopped at that size."""

from __future__ import annotations

import zipfile
from pathlib import Path

from .errors import ModelError
from .model_limits import ModelLimits, check_bytes, check_file_size, model_limits, size_text

_CHUNK = 1 << 20


def directory(path: Path, where: str, lim: ModelLimits | None = None) -> list[zipfile.ZipInfo]:
    """The archive's members, refused when their declared sizes or count exceed the limits."""
    lim = lim or model_limits()
    size = check_file_size(path, where, lim)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelError(f"{where}: not a readable archive ({exc})") from None
    if len(infos) > lim.max_members:
        raise ModelError(f"{where}: {len(infos):,} archive members, more than the {lim.max_members:,} a model may hold")
    total = 0
    for info in infos:
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelError(
                f"{where}: member {info.filename!r} uses compression {info.compress_type}; "
                "save the model again (torch writes uncompressed archives)"
            )
        total += info.file_size
    check_bytes(total, where, "the archive's members", lim)
    if total > size * lim.max_inflate_ratio:
        raise ModelError(
            f"{where}: its members declare {size_text(total)} inflated from a {size_text(size)} file "
            f"(more than {lim.max_inflate_ratio}× compression): a zip bomb, refused"
        )
    return infos


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    """A member's bytes, never more than its declared size (+1 to notice a liar)."""
    parts, got = [], 0
    try:
        with zf.open(info) as fh:
            while got <= info.file_size:
                chunk = fh.read(min(_CHUNK, info.file_size + 1 - got))
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        if got > info.file_size:
            raise ModelError(
                f"{where}: member {info.filename!r} inflates past the {size_text(info.file_size)} it declares; refused"
            ) from None
        raise ModelError(f"{where}: member {info.filename!r} is damaged ({exc})") from None
    if got > info.file_size:
        raise ModelError(
            f"{where}: member {info.filename!r} inflates past the {size_text(info.file_size)} it declares; refused"
        )
    return b"".join(parts)
