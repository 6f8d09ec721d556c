"""A file a person uploads in the browser (Data tab): validated in a private temporary folder with the
loaders every other file goes through, and only then moved into the data folder.

- arrays (``.npz``/``.npy``/``.mat``/``.parquet``/``.csv``) → ``<data_dir>/uploads/<name>``, where the
  dataset picker finds it (``arrays:uploads/<name>``); loaded with :func:`models.datasets.load`
  (pickle refused: ``allow_pickle=False``).
- models (``.onnx``, ``.pt2``, TorchScript ``.ts``/``.pt``, a ``state_dict`` with its JSON sidecar) →
  the models folder the "Your model" tab reads; loaded with :func:`models.capture.formats.load`, which
  never unpickles (``weights_only=True``). Loading a model imports torch: call this inside a job.

Names are a plain file name (no folders, no ``..``, no leading dot; other characters become ``_``);
a file of that name already there is not replaced. Anything wrong raises :class:`UploadError`, and
nothing is written.

Staging is bounded: at most :data:`MAX_PENDING_UPLOADS` staged files wait for their check at once. Each
staging folder records the process that staged it (``.owner``) and the one checking it (``.checker``,
written when the check starts), so :func:`sweep_staging` removes at once the folders whose processes
are gone (the app crashed, a check was killed), not only those an hour old.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..capture import model_formats
from .arrays import ARRAY_SUFFIXES
from .dataset import DatasetError
from .limits import size_text

#: the largest upload accepted (bytes); ``LAYERSCOPE_MAX_UPLOAD_MB`` changes it
MAX_UPLOAD_BYTES = int(os.environ.get("LAYERSCOPE_MAX_UPLOAD_MB", "200")) * (1 << 20)
UPLOAD_FOLDER = "uploads"
STAGING_PREFIX = ".upload-"
MODEL_SUFFIXES = model_formats.SUFFIXES  # the model formats' registry
_NAME = re.compile(r"[^A-Za-z0-9._-]")
#: staged uploads that may wait for their check at once (each up to MAX_UPLOAD_BYTES on disk)
MAX_PENDING_UPLOADS = 4
#: a staging folder's markers: the process that staged it, the process checking it (hidden: never an upload's name)
OWNER, CHECKER = ".owner", ".checker"


class UploadError(DatasetError):
    """An uploaded file was refused; the message says why and what to do."""


@dataclass(frozen=True)
class Accepted:
    path: Path  # where the file now lies
    kind: str  # "arrays" or "model"
    name: str  # the dataset name (``arrays:uploads/<file>``) or the model file (relative to the models folder)
    summary: str  # what was found in it, in words


def kind_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        return "arrays"
    if suffix in MODEL_SUFFIXES:
        return "model"
    raise UploadError(
        f"{name}: not a file LayerScope reads; upload arrays ({', '.join(ARRAY_SUFFIXES)}) "
        f"or a model ({', '.join(MODEL_SUFFIXES)})"
    )


def safe_name(filename: str | None) -> str:
    """The plain file name an upload is stored under; refuses folders, ``..`` and hidden names."""
    raw = str(filename or "")
    if not raw.strip():
        raise UploadError("the upload has no file name")
    if "/" in raw or "\\" in raw or raw.startswith(".") or ".." in raw or "\x00" in raw:
        raise UploadError(f"{raw!r}: a file name only, please (no folders, no '..', not hidden); rename the file")
    name = _NAME.sub("_", raw)[:120]
    kind_of(name)
    return name


def accept(
    filename: str | None,
    content: bytes,
    *,
    data_dir: str | os.PathLike,
    model_dir: str | os.PathLike,
    max_bytes: int = MAX_UPLOAD_BYTES,
) -> Accepted:
    """Validate ``content`` (the uploaded file named ``filename``) and move it into place; see the module."""
    return install(
        stage(filename, content, data_dir=data_dir, max_bytes=max_bytes), data_dir=data_dir, model_dir=model_dir
    )


def stage(
    filename: str | None, content: bytes, *, data_dir: str | os.PathLike, max_bytes: int = MAX_UPLOAD_BYTES
) -> Path:
    """Check size and name, then write ``content`` into a fresh hidden folder of the data folder (the
    dataset picker skips hidden entries); returns the staged file for :func:`install`."""
    if not isinstance(content, (bytes, bytearray)):
        raise UploadError(f"{filename}: the upload arrived as {type(content).__name__}, not a file's bytes")
    if len(content) > max_bytes:
        raise UploadError(
            f"{filename}: {size_text(len(content))} is more than the {size_text(max_bytes)} an upload "
            f"may hold; copy large files into {Path(data_dir).resolve()}{os.sep} instead"
        )
    name = safe_name(filename)
    if not content:
        raise UploadError(f"{name}: the file is empty")
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sweep_staging(data_dir)
    pending = pending_uploads(data_dir)
    if len(pending) >= MAX_PENDING_UPLOADS:
        raise UploadError(
            f"{name}: {len(pending)} uploads are still waiting for their check; wait until they are "
            f"done (or an hour old), or restart LayerScope"
        )
    tmp = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir))
    _mark(tmp / OWNER)
    (tmp / name).write_bytes(content)
    return tmp / name


def pending_uploads(data_dir: str | os.PathLike) -> list[Path]:
    """The staging folders of the data folder (uploads waiting for, or in, their check)."""
    root = Path(data_dir)
    return (
        sorted(f for f in root.glob(f"{STAGING_PREFIX}*") if f.is_dir() and not f.is_symlink()) if root.is_dir() else []
    )


def _mark(path: Path) -> None:
    """Record this process (pid, its start time, the host) in ``path``."""
    pid = os.getpid()
    path.write_text(json.dumps({"pid": pid, "started": _started(pid), "host": socket.gethostname()}))


def _started(pid: int) -> float | None:
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # no psutil, or the process is gone
        return None


def _gone(marker: Path) -> bool | None:
    """Whether the process a marker names has ended (None: no marker, or another host's, so unknown).
    A pid reused by a later process has another start time: the recorded one is gone."""
    try:
        info = json.loads(marker.read_text())
        pid, started = int(info["pid"]), info.get("started")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("host") != socket.gethostname():
        return None
    now = _started(pid)
    if now is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    return started is not None and abs(now - float(started)) > 1.0


def staged_path(data_dir: str | os.PathLike, relative: str) -> Path:
    """A staged file named by its path relative to the data folder (what a view hands a job), checked
    to be one :func:`stage` made."""
    data_dir = Path(data_dir).resolve()
    if not isinstance(relative, str) or not relative:
        raise UploadError(f"{str(relative)[:80]!r}: not a staged upload; upload the file again")
    path = (data_dir / relative).resolve()
    if path.parent.parent != data_dir or not path.parent.name.startswith(STAGING_PREFIX) or not path.is_file():
        raise UploadError(f"{relative}: not a staged upload; upload the file again")
    return path


def install(staged: Path, *, data_dir: str | os.PathLike, model_dir: str | os.PathLike) -> Accepted:
    """Load the staged file with the ordinary loaders; when it loads, move it into the data folder
    (arrays) or the models folder (models). The staging folder is removed either way."""
    staged = Path(staged)
    name = staged.name
    try:
        if staged.parent.name.startswith(STAGING_PREFIX):
            _mark(staged.parent / CHECKER)  # claimed: a sweep keeps it while this process lives
        kind = kind_of(name)
        folder = (Path(data_dir).resolve() / UPLOAD_FOLDER) if kind == "arrays" else Path(model_dir).resolve()
        target = folder / name
        if target.exists():
            raise UploadError(f"{name}: a file of that name is already in {folder}{os.sep}; rename the upload")
        summary = _check_arrays(name, staged.parent) if kind == "arrays" else _check_model(name, staged.parent)
        folder.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise UploadError(f"{name}: a file of that name is already in {folder}{os.sep}; rename the upload")
        shutil.move(str(staged), str(target))
    finally:
        if staged.parent.name.startswith(STAGING_PREFIX):
            shutil.rmtree(staged.parent, ignore_errors=True)
    label = f"arrays:{UPLOAD_FOLDER}/{name}" if kind == "arrays" else name
    return Accepted(path=target, kind=kind, name=label, summary=summary)


def _check_arrays(name: str, folder: Path) -> str:
    from .registry import load

    try:
        ds = load(f"arrays:{name}", data_dir=folder)
    except DatasetError as exc:
        raise UploadError(str(exc).replace(str(folder) + os.sep, "").replace(str(folder), "upload")) from None
    except Exception as exc:  # a reader's own error on a malformed file
        raise UploadError(f"{name}: not readable ({type(exc).__name__}: {exc})") from None
    return f"{ds.n:,} samples × {ds.features.shape[1]:,} features, {ds.n_classes} classes"


def _check_model(name: str, folder: Path) -> str:
    from ..capture.formats import ModelError, load

    try:
        model = load(name, model_dir=folder)
    except ModelError as exc:
        raise UploadError(str(exc).replace(str(folder), "upload")) from None
    except Exception as exc:
        raise UploadError(f"{name}: not a model LayerScope can run ({type(exc).__name__}: {exc})") from None
    return f"a {getattr(model, 'fmt', '') or type(model).__name__} model".replace("a  ", "a ")


def sweep_staging(data_dir: str | os.PathLike, older_than: float = 3600.0) -> list[Path]:
    """Remove staging folders an upload left behind: those ``older_than`` seconds old (the page closed
    before the check ran), and at once those whose processes are gone — the one checking it, or, when no
    check started, the one that staged it (after a crash). A fresh folder of a living process stays: a
    running job may be checking it. Returns what went."""
    now, gone = time.time(), []
    for folder in pending_uploads(data_dir):
        try:
            old = now - folder.stat().st_mtime > older_than
        except OSError:
            continue
        checker = folder / CHECKER
        dead = _gone(checker) if checker.exists() else _gone(folder / OWNER)
        if old or dead:
            shutil.rmtree(folder, ignore_errors=True)
            gone.append(folder)
    return gone
