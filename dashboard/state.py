"""Server-side state the callbacks share: datasets kept in memory, runs picked per view.

Big data stays on the server; the browser's stores carry only keys (dataset name,
run id), as in 8Knot.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

from dash import Input

from models import datasets
from models.store import Run, RunStore, StoreError
from models.studies import project as project_face

from . import ids
from .config import AppConfig

#: what every run-showing view redraws on: the picked run, a new run stored, the dataset
RUN_INPUTS = (Input(ids.RUN_PICKER, "value"), Input(ids.STORE_VERSION, "data"), Input(ids.DATASET_PICKER, "value"))


@lru_cache(maxsize=6)
def _load(name: str, data_dir: str, split: str) -> datasets.Dataset:
    return datasets.load(name, data_dir=data_dir, split=split)


def dataset(config: AppConfig, name: str | None, split: str = "train") -> datasets.Dataset:
    """The dataset ``name`` loaded once per process (raises ``DatasetError``); a built-in with only
    some of its files gives the split that is there (what a study of it used, too)."""
    name = name or config.default_dataset
    return _load(name, str(config.data_dir), datasets.default_split(name, config.data_dir, split))


def dataset_options(config: AppConfig) -> list[dict]:
    """Options for the dataset picker: built-ins and the person's own files.

    A built-in with only some of its files is offered with the splits that are there
    (``mnist (test only)``); one with none is disabled, its label naming what is missing.
    """
    options = []
    for name in datasets.available():
        state = datasets.presence(name, config.data_dir)
        if state == "missing":
            options.append(
                {
                    "label": f"{name} (files missing)",
                    "value": name,
                    "disabled": True,
                    "title": datasets.missing_message(name, config.data_dir),
                }
            )
        else:
            label = name if state == "present" else f"{name} ({state})"
            options.append({"label": label, "value": name, "disabled": False})
    options += [{"label": name, "value": name} for name in datasets.discover(config.data_dir)]
    return options


@lru_cache(maxsize=256)
def _load_run(root: str, run_id: str) -> Run:
    return RunStore(root).load(run_id)


def run(config: AppConfig, run_id: str) -> Run:
    """The run ``run_id``, read once per process: a run never changes once written (raises
    ``StoreError`` when it is not there, e.g. deleted in another tab)."""
    if not run_id or not (Path(config.store.root) / run_id).is_dir():
        _load_run.cache_clear() if run_id else None
        raise StoreError(f"no run {run_id!r} in {config.store.root}")
    return _load_run(str(config.store.root), run_id)


@lru_cache(maxsize=128)
def _arrays(path: str, name: str) -> dict:
    return Run(Path(path).name, Path(path), {}).arrays(name)


def arrays(run_: Run, name: str) -> dict:
    """``run_.arrays(name)`` read once per process (the dict is shared: never modify it)."""
    return _arrays(str(run_.path), name)


def opened(picked: Run) -> tuple[Run | None, str]:
    """(the run picking ``picked`` opens, "") — a projection run opens the capture run it projects (Layers draws
    that capture with it), any other run itself — or (None, why not) when that capture was deleted."""
    if picked.kind != project_face.KIND:
        return picked, ""
    try:
        return project_face.source(picked), ""
    except (StoreError, KeyError) as exc:  # KeyError: a manifest without its projection record
        return None, str(exc) if isinstance(exc, StoreError) else f"projection run {picked.id} names no capture run"


def shown_run(picked: Run | None, runs: Sequence[Run], kinds: Sequence[str]) -> Run | None:
    """The one rule for which run a tab draws: ``picked`` when it is of one of the tab's ``kinds`` (a projection
    run: its capture run, :func:`opened`), else the newest of ``runs`` (newest first) of the first kind (the tab's
    own); None when there is none.

    Every tab follows it through :func:`run_for_view`, and the run bar above the tabs through this, so the
    bar always names the run the tab below it draws.
    """
    if picked is not None and picked.kind not in kinds:
        picked = opened(picked)[0]
    if picked is not None and picked.kind in kinds:
        return picked
    return next((r for r in runs if r.kind == kinds[0]), None)


def run_for_view(
    config: AppConfig, run_id: str | None, kinds: str | Sequence[str], dataset_name: str | None = None
) -> tuple[Run | None, str]:
    """The run a tab drawing runs of ``kinds`` (a kind, or several: its own first) shows (:func:`shown_run`),
    and a note saying why when it is not the picked one: the newest run of its own kind for the dataset,
    with a note naming both (never a silent swap); else ``(None, what to do)``.
    """
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    picked = None
    if run_id:
        try:
            picked = run(config, run_id)
        except StoreError:
            picked = None
        if picked is not None and picked.kind in kinds:
            return picked, ""
    source, gone = opened(picked) if picked is not None else (None, "")
    if source is not None and source.kind in kinds:  # a projection run: its capture, drawn with it
        return source, ""
    kind = kinds[0]
    shown = shown_run(picked, config.store.list(kind=kind, dataset=dataset_name), kinds)
    why = f"{gone}; " if gone else f"the picked run is {article(picked.kind)} run; " if picked is not None else ""
    if shown is None:
        return None, f"{why}no {kind} run for {dataset_name or 'this dataset'} yet"
    return shown, f"{why}showing the newest {kind} run, {shown.id}"


def article(word: str) -> str:
    """``"a hardness"`` / ``"an explore"``: the article a word takes (by its first letter)."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def run_model(run: Run) -> str:
    """The model file(s) a run was made from (a capture run: ``my_cnn.onnx``, or ``a.onnx +2``), else ""."""
    models = run.config.get("model")
    if isinstance(models, str):
        models = [models]
    if not models or not isinstance(models, (list, tuple)):
        return ""
    first = Path(str(models[0])).name
    return first + (f" +{len(models) - 1}" if len(models) > 1 else "")


def run_label(run: Run) -> str:
    """``capture · my_cnn.onnx · arrays:usps.npz · 2026-12-06 21:10``: kind, the model (when a run has
    one, so two captures of one dataset tell apart), dataset, time, summary."""
    created = run.manifest.get("created", "")[:16].replace("T", " ")
    summary = run.manifest.get("summary") or run.config.get("summary") or ""
    parts = [run.kind, run_model(run), projection_text(run), run.manifest.get("dataset", "?"), created, summary]
    return " · ".join(p for p in parts if p)


def projection_text(run: Run) -> str:
    """``pca of 2 layers of capture-… (step 5)``: what a projection run holds, so two of them tell apart in the
    Run picker (and a person sees which capture picking it opens); "" for other runs."""
    record = run.manifest.get("projection") if run.kind == project_face.KIND else None
    if not isinstance(record, dict):
        return ""
    n = len(record.get("layers") or {})
    layers = f"{n} layer{'s' if n != 1 else ''}"
    return f"{record.get('method', '?')} of {layers} of {record.get('run', '?')} (step {record.get('step', '?')})"


def splits_of(config: AppConfig, name: str | None) -> list[str]:
    """The splits the Data tab can show: a built-in's present splits; one split for a person's files."""
    name = name or config.default_dataset
    if ":" in name:
        return ["train"]
    try:
        return datasets.present_splits(name, config.data_dir) or ["train"]
    except Exception:  # not a built-in: its files are one split
        return ["train"]


def dataset_line(ds: datasets.Dataset) -> str:
    """``10,000 test samples · 28×28 · 10 classes``: the size of the split that is there, named."""
    shape = "×".join(map(str, ds.image_shape)) if ds.image_shape else f"{ds.dim}-d vectors"
    split = {"train": "training"}.get(ds.split, ds.split)  # "1,442 training samples", "10,000 test samples"
    return f"{ds.n:,} {split} samples · {shape} · {ds.n_classes} classes"
