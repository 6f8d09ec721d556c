"""Checksummed, atomic downloads of the datasets whose entry carries a download spec.

Each file is streamed to a temporary file beside its final place, verified against both
hashes the spec gives, and only then renamed into place, so a broken or tampered download
leaves nothing a loader could mistake for data.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping

from ..progress import ProgressFn, report
from .dataset import DEFAULT_DATA_DIR, DatasetError
from .registry import REGISTRY, missing_message

_CHUNK = 1 << 16
_MAX_UNKNOWN_SIZE = 256 << 20  # cap for a file whose size the table does not know


def downloadable() -> list[str]:
    """Names :func:`download` can fetch."""
    return [name for name, entry in REGISTRY.items() if entry.download is not None]


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
        raise DatasetError(
            f"{url}: SHA-256 {got_sha} does not match the expected {sha256}; "
            "the download is corrupt or the mirror changed, so nothing was kept"
        )
    if md5 and got_md5 != md5.lower():
        raise DatasetError(
            f"{url}: MD5 {got_md5} does not match the published {md5}; "
            "the download is corrupt or the mirror changed, so nothing was kept"
        )


def _by_hand(target: Path | None, files: str | None = None) -> str:
    """ "put <files> in <absolute folder>/" — where a person copies the files when the download cannot run."""
    if target is None:
        return "put the file in place by hand"
    folder = Path(target).parent.resolve()
    return f"put {files or Path(target).name} in {folder}{os.sep}"


def _fetch(
    opener,
    url: str,
    tmp,
    size: int | None,
    progress: ProgressFn | None,
    message: str,
    target: Path | None = None,
    files: str | None = None,
) -> int:
    """Stream ``url`` into the open file ``tmp``; returns the byte count. ``target`` (the file's final
    place) and ``files`` (every file of the dataset) name what to put where when the fetch cannot run."""
    try:
        response = opener.open(url, timeout=60)
    except urllib.error.HTTPError as exc:
        raise DatasetError(
            f"{url}: the server answered {exc.code} {exc.reason}; check the address or {_by_hand(target, files)}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DatasetError(
            f"{url}: cannot connect ({reason}); if this machine is offline, {_by_hand(target, files)}"
        ) from None
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


def download(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    progress: ProgressFn | None = None,
    base_url: str | None = None,
    checksums: Mapping[str, str] | None = None,
) -> list[Path]:
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
    spec = REGISTRY[name].download if name in REGISTRY else None
    if spec is None:
        hint = f"; {missing_message(name, data_dir or DEFAULT_DATA_DIR)}" if name in REGISTRY else ""
        raise DatasetError(f"cannot download {name!r}: only {', '.join(downloadable())} can be downloaded{hint}")
    url_root, table = spec
    if checksums is not None:
        table = {f: (None, h, None) for f, h in checksums.items()}
    url_root = (base_url or url_root).rstrip("/") + "/"
    folder = Path(data_dir if data_dir is not None else DEFAULT_DATA_DIR) / name
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    opener = urllib.request.build_opener()  # reads proxy settings now, not at first import
    paths = []
    try:
        for k, (fname, (size, sha256, md5)) in enumerate(table.items(), start=1):
            target, url = folder / fname, url_root + fname
            message = f"{name}: {fname} ({k}/{len(table)})"
            if target.is_file() and _digests(target)[0] == sha256.lower():
                report(progress, 1, 1, message + " already here")
            else:
                _download_one(opener, url, target, size, sha256, md5, progress, message, files=", ".join(table))
            paths.append(target)
    except BaseException:
        if made and not any(folder.iterdir()):  # a failed first download (offline) leaves no empty folder behind
            folder.rmdir()
        raise
    return paths


def _download_one(
    opener,
    url: str,
    target: Path,
    size: int | None,
    sha256: str,
    md5: str | None,
    progress: ProgressFn | None,
    message: str,
    files: str | None = None,
) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            _fetch(opener, url, fh, size, progress, message, target, files)
        _verify(tmp, sha256, md5, url)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
