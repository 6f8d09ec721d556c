"""Project a capture run's layers to 2-D, every sample: the maps the Layers tab draws.

Each chosen layer of one step of a capture run (:mod:`.capture`) is laid out with t-SNE (openTSNE),
UMAP (umap-learn) or PCA, in network order; t-SNE and UMAP start each layer from the previous layer's map
(see :mod:`models.projections.chain`), PCA projects each layer on its own (:func:`how`). Every sample is
projected (up to :data:`MAX_SAMPLES`), not a subset: the run holds one N × 2 float32 array per layer in
the capture's sample order. Each layer's k-NN graph is computed once (pynndescent) and cached beside the
runs, so t-SNE's affinities and UMAP's fuzzy graph of the same layer share it.

    python -m models.studies.project --run capture-20261206-… --method umap
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from typing import Iterable

import numpy as np

from ..errors import ConfigError, UserError
from ..projections import procrustes_align
from ..store import RunStore, StoreError
from ..validation import check_choice, check_float, check_int
from . import capture as captured
from .base import StudyConfig, check_kind, command_line, lazy_run, option

KIND = "projection"
TITLE = "Project a capture's layers"
METHODS = ("tsne", "umap", "pca")
MAX_SAMPLES = 100_000  # every sample of a capture up to this many; beyond, the run is refused


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    # the dataset is the capture run's: not a flag, not recorded (the run's manifest names it)
    dataset: str = option("capture", "dataset (taken from the capture run)", cli=False, record=False)
    run: str | None = option(None, "the capture run to project (its id, as python -m models.studies.capture printed)")
    method: str = option("tsne", "projection: tsne (openTSNE), umap (umap-learn) or pca", choices=METHODS)
    step: int | None = option(None, "the captured step (checkpoint) to project (default: the last)")
    layers: tuple[str, ...] | None = option(
        None, "layers to project, in any order (default: every captured layer); they are projected in network order"
    )
    perplexity: float = option(30.0, "t-SNE perplexity (its k-NN graph holds 3 × perplexity neighbours)")
    n_neighbors: int = option(15, "neighbours UMAP builds its graph from (fewer: more local structure)")
    n_jobs: int = option(
        -1, "threads for the k-NN graph and t-SNE (-1: the cores this process may use, at most 8)", record=False
    )

    def check(self) -> None:
        if self.run is not None and (not isinstance(self.run, str) or not self.run):
            raise ConfigError(f"run must be a run id (got {self.run!r})")
        check_choice("method", self.method, METHODS)
        if self.step is not None:
            check_int("step", self.step, low=0)
        if self.layers is not None and (not self.layers or not all(isinstance(n, str) and n for n in self.layers)):
            raise ConfigError(f"layers must name at least one layer (got {self.layers!r})")
        check_float("perplexity", self.perplexity, 1.0)
        check_int("n_neighbors", self.n_neighbors, low=2)
        if self.n_jobs != -1:
            try:
                check_int("n_jobs", self.n_jobs, low=1)
            except ConfigError:
                raise ConfigError(f"n_jobs must be -1 (every core) or an integer ≥ 1 (got {self.n_jobs!r})") from None


run = lazy_run(f"{__package__}.project_engine")


# -- readers -------------------------------------------------------------------
def info(run) -> dict:
    """The run's ``projection`` record: ``layers`` {name: file}, ``run`` (the capture), ``step``, ``method``."""
    return check_kind(run, KIND).manifest["projection"]


def layer_names(run) -> list[str]:
    """The projected layers in network order."""
    return list(info(run)["layers"])


def coords(run, layer: str) -> np.ndarray:
    """``layer``'s N × 2 map (float32, the capture's sample order)."""
    files = info(run)["layers"]
    if layer not in files:
        raise UserError(f"run {run.id} did not project layer {layer!r}; it has {list(files)}")
    out = np.load(run.file(files[layer]), allow_pickle=False)  # run.file keeps the name inside the run
    if out.ndim != 2 or out.shape[1] != 2 or out.dtype != np.float32:
        raise UserError(f"run {run.id}: {files[layer]} is not an N × 2 float32 array (got {out.dtype} {out.shape})")
    return out


def how(method: str) -> str:
    """What a projection by ``method`` does from layer to layer, as the Layers tab and the progress say it: t-SNE
    and UMAP start each layer from the previous layer's map; PCA projects each layer on its own."""
    if method == "pca":
        return "each layer its own PCA, aligned to the previous one"
    return "each layer started from the previous one's map and aligned to it"


def source(run):
    """The capture run a projection run projects: what picking it opens (the Layers tab draws that capture with
    this projection). A capture deleted since raises a ``StoreError`` that says so."""
    record = info(run)
    try:
        return store_of(run).load(record["run"])
    except StoreError:
        raise StoreError(
            f"projection run {run.id} projects capture run {record['run']}, which is no longer in the store "
            "(deleted): delete this projection run, or capture and project again"
        ) from None


def projections_of(store, run_id: str) -> list:
    """The projection runs of capture run ``run_id`` (newest first): they mean nothing without it, so deleting
    the capture deletes them (:func:`models.studies.delete_run`)."""
    return [r for r in store.list(KIND) if r.manifest.get("projection", {}).get("run") == run_id]


def find(store, source, step: int, method: str, layers: Iterable[str] | None = None):
    """The newest projection run of ``source`` (a capture run) at ``step`` with ``method`` that holds
    every one of ``layers`` (default: every captured layer) for all its samples; None if there is none."""
    wanted = list(layers) if layers is not None else captured.layer_names(source)
    for candidate in store.list(KIND):
        record = candidate.manifest.get("projection", {})
        if (
            record.get("run") == source.id
            and record.get("step") == int(step)
            and record.get("method") == method
            and set(wanted) <= set(record.get("layers", {}))
        ):
            return candidate
    return None


def summary(run) -> Iterable[str]:
    record = info(run)
    yield (
        f"projected {record['samples']:,} samples × {len(record['layers'])} layers of {record['run']} "
        f"(step {record['step']}, {record['method']})"
    )
    for name in record["layers"]:
        kl = record.get("kl", {}).get(name)
        seconds = record.get("seconds", {}).get(name, 0.0)
        yield f"  {name:<24} {seconds:7.1f} s" + ("" if kl is None else f"  KL {kl:.3f}")


# -- what the Layers tab reads: a capture run's layers through this study ----------------------
PROJECT_METHODS = ("tsne", "umap", "pca")
METHOD_PARAMS = {"tsne": {"perplexity": 30.0}, "umap": {"n_neighbors": 15}, "pca": {}}
MAX_PROJECT = MAX_SAMPLES  # every sample in every panel (the projection study's cap: 100,000)


def projection_sample(n: int, limit: int = MAX_PROJECT, seed: int = captured.SEED) -> tuple[np.ndarray, str]:
    """(positions shown, a tag naming them): every sample, or a sorted seeded subset of ``limit``."""
    if n <= limit:
        return np.arange(n), "all"
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False)), f"random{limit}-s{seed}"


def store_of(source) -> RunStore:
    """The store holding capture run ``source`` (a run's folder is ``<store>/<run id>``): where its projection
    runs are."""
    return RunStore(source.path.parent)


def projection_run(source, step: int, method: str, picked=None):
    """``picked`` (the projection run the Run picker holds) when it projects capture run ``source`` at ``step``
    with ``method``, else the newest projection run of every layer of ``source`` there; None when there is none."""
    record = picked.manifest.get("projection", {}) if picked is not None and picked.kind == KIND else {}
    if record.get("run") == source.id and record.get("step") == int(step) and record.get("method") == method:
        return picked
    return find(store_of(source), source, step, method)


def project_run(store, source, step: int, method: str, *, progress=None) -> list[tuple[str, np.ndarray]]:
    """Every captured layer of ``step``, every sample, through the projection study (one run of kind
    ``projection``, laid out as :func:`how` says, each layer's k-NN graph computed once);
    an existing projection run is read, not recomputed."""
    found = projection_run(source, step, method)
    if found is None:
        with one_at_a_time(store, source.id, int(step), method, progress):
            found = projection_run(source, step, method)  # another tab's job may have made it while we waited
            if found is None:
                config = Config(run=source.id, step=int(step), method=method, **METHOD_PARAMS[method])  # every core
                found = run(config, store=store, progress=progress)
    return [(name, coords(found, name)) for name in captured.layer_names(source)]


@contextlib.contextmanager
def one_at_a_time(store, run_id: str, step: int, method: str, progress=None, poll: float = 0.5):
    """Hold the lock on projecting ``run_id``'s ``step`` with ``method``; while another job holds it, report that
    we wait (Cancel still works). Why: two tabs pressing Project on one capture would each compute the same
    projection at half speed; the second now waits and reads the first's run. A lock file (``filelock``: the
    operating system releases it when its process dies, so a killed job never blocks the next)."""
    import filelock

    from ..progress import report
    from ..store import CACHE

    folder = store.root / CACHE / run_id
    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(folder / f"project-step{step}-{method}.lock"))
    while True:
        try:
            lock.acquire(timeout=poll)
            break
        except filelock.Timeout:  # the job's row adds how long it has run
            report(progress, 0, 1, f"waiting for another job projecting this capture ({method}, step {step})")
    try:
        yield
    finally:
        lock.release()


def cores(cap: int = 8) -> int:
    """The cores this process may use, at most ``cap``: what the Project button grants a projection (its two
    t-SNE worker processes share them, :mod:`.project_pipeline`)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cap, usable))


def cached_panels(
    results, source, step: int, method: str, picked=None
) -> tuple[list[tuple[str, np.ndarray]], np.ndarray] | None:
    """(panels aligned to their left neighbour by Procrustes, sample positions: all of them) of ``picked`` (a
    projection run of these, :func:`projection_run`: its layers) or of a projection run of every layer, else None.
    ``results`` is unused (kept for the callers' signature)."""
    found = projection_run(source, step, method, picked)
    if found is None:
        return None
    panels, previous = [], None
    for name in layer_names(found):
        xy = coords(found, name)
        xy = xy if previous is None else procrustes_align(xy, previous).astype(np.float32)
        panels.append((name, xy))
        previous = xy
    return panels, np.arange(len(panels[0][1]))


main = command_line(__name__)

if __name__ == "__main__":
    sys.exit(main())
