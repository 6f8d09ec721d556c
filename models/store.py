"""The on-disk store of runs.

A run is a folder ``<root>/<run_id>/`` holding ``manifest.json`` (kind, dataset,
config, seed, metrics, library versions, created, status), named ``.npz`` arrays,
torch ``state_dict`` weights (``.pt``) and any extra files (CSV, PNG). A run is
built in a hidden temporary folder and renamed into place only when complete, so a
killed writer never leaves half a run behind: readers see a whole run or none.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import re
import secrets
import shutil
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .errors import UserError

MANIFEST = "manifest.json"
CACHE = ".cache"  # models.cache.ResultCache's folder inside the store, one sub-folder per run
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9_.]+-\d{8}-\d{6}-[0-9a-f]{6}$")  # what writer() names a new run
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# numpy parses .npy headers with ast.literal_eval, and CPython 3.11's compile() is not safe when
# threads call it at once ("AST constructor recursion depth mismatch", seen under Flask's threaded
# server): reads of arrays are serialised in this process.
_NPZ_LOCK = threading.Lock()


def _unlock_npz_in_child() -> None:
    """A process forked while another thread read an .npz would inherit this lock held forever."""
    if _NPZ_LOCK.locked():
        _NPZ_LOCK.release()


os.register_at_fork(after_in_child=_unlock_npz_in_child)

_TRACKED = ("numpy", "scipy", "scikit-learn", "torch", "openTSNE", "umap-learn", "pandas")


class StoreError(UserError):
    """A run is missing, malformed, or a name would leave the store."""


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a result, read without importing them."""
    out = {"python": platform.python_version()}
    for name in _TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def to_jsonable(value: Any) -> Any:
    """Plain JSON for numpy scalars/arrays, paths and tuples; non-finite floats become null."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(f"{what} must be letters, digits, '.', '_' or '-' (got {name!r})")
    return name


@dataclass(frozen=True)
class Run:
    """A complete run as read back: its folder and its manifest."""

    id: str
    path: Path
    manifest: dict

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "")

    @property
    def metrics(self) -> dict:
        return self.manifest.get("metrics", {})

    @property
    def config(self) -> dict:
        return self.manifest.get("config", {})

    def arrays(self, name: str = "arrays") -> dict[str, np.ndarray]:
        """Load ``<name>.npz`` fully (never with pickles)."""
        path = self.path / f"{_check_name(name, 'array name')}.npz"
        if not path.is_file():
            raise StoreError(f"run {self.id} has no arrays named {name!r}")
        with _NPZ_LOCK, np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def weights(self, name: str = "model", map_location: str = "cpu") -> dict:
        """Load a ``state_dict`` with ``weights_only=True``: no code from disk ever runs."""
        import torch

        path = self.path / f"{_check_name(name, 'weights name')}.pt"
        if not path.is_file():
            raise StoreError(f"run {self.id} has no weights named {name!r}")
        return torch.load(path, map_location=map_location, weights_only=True)

    def file(self, name: str) -> Path:
        path = self.path / _check_name(name, "file name")
        if not path.is_file():
            raise StoreError(f"run {self.id} has no file {name!r}")
        return path


class RunWriter:
    """Collects a run's parts in a temporary folder; :meth:`RunStore.writer` commits it."""

    def __init__(self, path: Path, manifest: dict):
        self.path = path
        self.manifest = manifest

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def metrics(self) -> dict:
        return self.manifest["metrics"]

    def add_arrays(self, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        clean = {}
        for key, value in arrays.items():
            arr = np.asarray(value)
            if arr.dtype == object:
                raise StoreError(f"array {name}/{key} has dtype object; store numbers or fixed-width strings")
            clean[key] = arr
        np.savez(self.path / f"{_check_name(name, 'array name')}.npz", **clean)

    def add_weights(self, name: str, state_dict: Mapping[str, Any]) -> None:
        import torch

        cpu = {k: (v.detach().cpu() if hasattr(v, "detach") else v) for k, v in state_dict.items()}
        torch.save(cpu, self.path / f"{_check_name(name, 'weights name')}.pt")

    def add_file(self, name: str, content: bytes | str) -> Path:
        path = self.path / _check_name(name, "file name")
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path


class RunStore:
    """A folder of runs with atomic writes.

    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> run_id = store.save("demo", dataset="digits", config={}, seed=0, arrays={"x": {"a": [1, 2]}})
    >>> store.load(run_id).arrays("x")["a"].tolist()
    [1, 2]
    >>> store.load(run_id).kind
    'demo'
    >>> shutil.rmtree(store.root)
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    # -- paths ---------------------------------------------------------
    def path(self, run_id: str) -> Path:
        """The folder of ``run_id``; refuses ids that would leave the store."""
        if not isinstance(run_id, str) or not _ID.match(run_id):
            raise StoreError(f"not a run id: {run_id!r}")
        return self.root / run_id

    # -- writing -------------------------------------------------------
    @contextmanager
    def writer(
        self, kind: str, *, dataset: str, config: Mapping[str, Any], seed: int | None, run_id: str | None = None
    ) -> Iterator[RunWriter]:
        """Build a run; it appears in the store only if the block finishes without error."""
        _check_name(kind, "run kind")
        stamp = _dt.datetime.now(_dt.timezone.utc)
        run_id = run_id or f"{kind}-{stamp:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        final = self.path(run_id)
        if final.exists():
            raise StoreError(f"run {run_id} already exists")
        tmp = self.root / f".tmp-{run_id}-{os.getpid()}"
        tmp.mkdir(parents=True)
        manifest = {
            "id": run_id,
            "kind": kind,
            "dataset": dataset,
            "config": dict(config),
            "seed": seed,
            "metrics": {},
            "versions": library_versions(),
            "created": stamp.isoformat(timespec="milliseconds"),  # two runs of one second still order
            "status": "complete",
        }
        writer = RunWriter(tmp, manifest)
        try:
            yield writer
            manifest["files"] = sorted(p.name for p in tmp.iterdir())
            data = json.dumps(to_jsonable(manifest), indent=2, allow_nan=False)
            with open(tmp / MANIFEST, "w") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, final)  # atomic on one filesystem: whole run or none
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
                self._forget_results(run_id)  # results cached for a run that never landed

    def save(
        self,
        kind: str,
        *,
        dataset: str,
        config: Mapping[str, Any],
        seed: int | None,
        metrics: Mapping[str, Any] | None = None,
        arrays: Mapping[str, Mapping[str, np.ndarray]] | None = None,
        weights: Mapping[str, Mapping[str, Any]] | None = None,
        files: Mapping[str, bytes | str] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Write a whole run in one call and return its id."""
        with self.writer(kind, dataset=dataset, config=config, seed=seed, run_id=run_id) as w:
            w.metrics.update(metrics or {})
            for name, group in (arrays or {}).items():
                w.add_arrays(name, group)
            for name, state in (weights or {}).items():
                w.add_weights(name, state)
            for name, content in (files or {}).items():
                w.add_file(name, content)
        return w.id

    # -- reading -------------------------------------------------------
    def load(self, run_id: str) -> Run:
        path = self.path(run_id)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except FileNotFoundError:
            raise StoreError(f"no run {run_id!r} in {self.root}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreError(f"run {run_id!r} has an unreadable manifest: {exc}") from None
        return Run(run_id, path, manifest)

    def list(self, kind: str | None = None, dataset: str | None = None) -> list[Run]:
        """Complete runs, newest first; temporary and broken folders are skipped."""
        runs = []
        for entry in self.root.iterdir():
            if entry.name.startswith(".") or not entry.is_dir() or not _ID.match(entry.name):
                continue
            try:
                run = self.load(entry.name)
            except StoreError:
                continue
            if (kind is None or run.kind == kind) and (dataset is None or run.manifest.get("dataset") == dataset):
                runs.append(run)
        runs.sort(key=lambda r: (r.manifest.get("created", ""), r.id), reverse=True)
        return runs

    def delete(self, run_id: str) -> None:
        path = self.path(run_id)
        if not (path / MANIFEST).is_file():
            raise StoreError(f"no run {run_id!r} in {self.root}")
        trash = self.root / f".trash-{run_id}-{secrets.token_hex(3)}"
        os.rename(path, trash)  # disappears atomically, then is removed
        shutil.rmtree(trash, ignore_errors=True)

    def _forget_results(self, run_id: str) -> None:
        shutil.rmtree(self.root / CACHE / run_id, ignore_errors=True)

    def cleanup(self) -> int:
        """Remove what writers that died left behind: their temporary folders and the results
        cached for runs that never landed (a process killed mid-study). Returns how many."""
        removed = 0
        writing = set()
        for entry in self.root.glob(".tmp-*"):
            run_id, _, pid = entry.name[len(".tmp-") :].rpartition("-")
            if pid.isdigit() and _alive(int(pid)):
                writing.add(run_id)
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        for entry in self.root.glob(".trash-*"):
            shutil.rmtree(entry, ignore_errors=True)
        cache = self.root / CACHE
        if cache.is_dir():
            for group in cache.iterdir():
                if _RUN_ID.match(group.name) and group.name not in writing and not (self.root / group.name).is_dir():
                    shutil.rmtree(group, ignore_errors=True)
                    removed += 1
        return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie — killed, not yet reaped — does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (not Linux): trust the signal
