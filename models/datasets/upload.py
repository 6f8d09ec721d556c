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
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
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


class UploadError(DatasetError):
    """An uploaded file was refused; the message says why and what to do."""


@dataclass(frozen=True)
class Accepted:
    path: Path        # where the file now lies
    kind: str         # "arrays" or "model"
    name: str         # the dataset name (``arrays:uploads/<file>``) or the model file (relative to the models folder)
    summary: str      # what was found in it, in words


def kind_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in ARRAY_SUFFIXES:
        return "arrays"
    if suffix in MODEL_SUFFIXES:
        return "model"
    raise UploadError(f"{name}: not a file LayerScope reads; upload arrays ({', '.join(ARRAY_SUFFIXES)}) "
                      f"or a model ({', '.join(MODEL_SUFFIXES)})")


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


def accept(filename: str | None, content: bytes, *, data_dir: str | os.PathLike, model_dir: str | os.PathLike,
           max_bytes: int = MAX_UPLOAD_BYTES) -> Accepted:
    """Validate ``content`` (the uploaded file named ``filename``) and move it into place; see the module."""
    return install(stage(filename, content, data_dir=data_dir, max_bytes=max_bytes),
                   data_dir=data_dir, model_dir=model_dir)


def stage(filename: str | None, content: bytes, *, data_dir: str | os.PathLike,
          max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Check size and name, then write ``content`` into a fresh hidden folder of the data folder (the
    dataset picker skips hidden entries); returns the staged file for :func:`install`."""
    if len(content) > max_bytes:
        raise UploadError(f"{filename}: {size_text(len(content))} is more than the {size_text(max_bytes)} an upload "
                          f"may hold; copy large files into {Path(data_dir).resolve()}{os.sep} instead")
    name = safe_name(filename)
    if not content:
        raise UploadError(f"{name}: the file is empty")
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=data_dir))
    (tmp / name).write_bytes(content)
    return tmp / name


def staged_path(data_dir: str | os.PathLike, relative: str) -> Path:
    """A staged file named by its path relative to the data folder (what a view hands a job), checked
    to be one :func:`stage` made."""
    data_dir = Path(data_dir).resolve()
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
    """Remove staging folders an upload left behind (the page closed before its check ran) once they
    are ``older_than`` seconds old; a fresh one may still be checked by a running job. Returns what went."""
    import time

    root, now, gone = Path(data_dir), time.time(), []
    if not root.is_dir():
        return gone
    for folder in root.glob(f"{STAGING_PREFIX}*"):
        try:
            if folder.is_dir() and not folder.is_symlink() and now - folder.stat().st_mtime > older_than:
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(folder)
        except OSError:
            continue
    return gone
