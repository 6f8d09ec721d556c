"""Server-side state the callbacks share: datasets kept in memory, runs picked per view.

Big data stays on the server; the browser's stores carry only keys (dataset name,
run id), as in 8Knot.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from models import datasets
from models.store import Run, StoreError

from .config import AppConfig


@lru_cache(maxsize=6)
def _load(name: str, data_dir: str, split: str) -> datasets.Dataset:
    return datasets.load(name, data_dir=data_dir, split=split)


def dataset(config: AppConfig, name: str | None, split: str = "train") -> datasets.Dataset:
    """The dataset ``name`` loaded once per process (raises ``DatasetError``)."""
    return _load(name or config.default_dataset, str(config.data_dir), split)


def dataset_options(config: AppConfig) -> list[dict]:
    """Options for the dataset picker: built-ins (missing ones disabled) and the person's own files."""
    options = []
    discover = getattr(datasets, "discover", lambda _d: [])
    present = getattr(datasets, "is_present", lambda n, _d: n == "digits")
    for name in datasets.available():
        ok = present(name, Path(config.data_dir))
        options.append({"label": name if ok else f"{name} (files missing)", "value": name, "disabled": not ok})
    for name in discover(Path(config.data_dir)):
        options.append({"label": name, "value": name})
    return options


def pick_run(config: AppConfig, run_id: str | None, kind: str, dataset_name: str | None = None) -> Run | None:
    """The chosen run if it is of ``kind``; else the newest run of ``kind`` (for the dataset); else None."""
    store = config.store
    if run_id:
        try:
            run = store.load(run_id)
            if run.kind == kind:
                return run
        except StoreError:
            pass
    runs = store.list(kind=kind, dataset=dataset_name)
    return runs[0] if runs else None


def run_label(run: Run) -> str:
    created = run.manifest.get("created", "")[:16].replace("T", " ")
    summary = run.manifest.get("summary") or run.config.get("summary") or ""
    return f"{run.kind} · {run.manifest.get('dataset', '?')} · {created}" + (f" · {summary}" if summary else "")
