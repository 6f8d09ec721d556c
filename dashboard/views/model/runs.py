"""Capture runs as the other tabs see them: projections of every captured layer for Layers (a run of the
projection study, :mod:`models.studies.project`, every sample), per-layer hardness for Hardness (computed
once in a job and cached in ``config.results``, ``ResultCache(store/.cache)``, under (run, step, layer,
method, params, sample)).

Pure of Dash: functions take the results cache and a run, so tests call them directly.
"""

from __future__ import annotations

import numpy as np

from models.projections import procrustes_align
from models.store import RunStore
from models.studies import capture as face
from models.studies import project as project_face

KIND = face.KIND
PROJECT_METHODS = ("tsne", "umap", "pca")
METHOD_PARAMS = {"tsne": {"perplexity": 30.0}, "umap": {"n_neighbors": 15}, "pca": {}}
MAX_PROJECT = project_face.MAX_SAMPLES  # every sample in every panel (the projection study's cap: 100,000)
HARDNESS_SAMPLE = 1_000  # balanced sample whose t-SNE KL is a layer's hardness
SEED = 0


def is_capture(run) -> bool:
    return run is not None and run.kind == KIND


def step_of(run, step) -> int:
    """``step`` if the run holds it, else its last step."""
    steps = face.steps(run)
    return int(step) if step is not None and int(step) in steps else steps[-1]


def projection_sample(n: int, limit: int = MAX_PROJECT, seed: int = SEED) -> tuple[np.ndarray, str]:
    """(positions shown, a tag naming them): every sample, or a sorted seeded subset of ``limit``."""
    if n <= limit:
        return np.arange(n), "all"
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False)), f"random{limit}-s{seed}"


def balanced_positions(labels: np.ndarray, total: int = HARDNESS_SAMPLE, seed: int = SEED) -> tuple[np.ndarray, str]:
    """A sorted, seeded sample of about ``total`` with as many of each class as it has (all when fewer)."""
    labels = np.asarray(labels)
    if len(labels) <= total:
        return np.arange(len(labels)), "all"
    classes = np.unique(labels)
    per = max(1, total // len(classes))
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per] for c in classes]
    return np.sort(np.concatenate(picks)), f"balanced{per}pc-s{seed}"


def _key(run, step: int, layer: str, what: str, params: dict, sample: str, chain: list[str] | None = None) -> dict:
    key = {"run": run.id, "step": int(step), "layer": layer, "method": what, "params": params, "sample": sample}
    if chain is not None:
        key["chain"] = chain  # the layers before it: a chained layer's map depends on them
    return key


def layer_names(run) -> list[str]:
    return [layer["name"] for layer in face.layers(run)]


def _vectors(run, layer: str, step: int, positions: np.ndarray) -> np.ndarray:
    return np.asarray(face.activations(run, layer, step)[positions], dtype=np.float32)


def store_of(run) -> RunStore:
    """The store holding ``run`` (a run's folder is ``<store>/<run id>``): where its projection runs are."""
    return RunStore(run.path.parent)


def projection_run(run, step: int, method: str):
    """The newest projection run (:mod:`models.studies.project`) of every layer of ``run`` at ``step``, or None."""
    return project_face.find(store_of(run), run, step, method)


def project_run(store, run, step: int, method: str, *, progress=None) -> list[tuple[str, np.ndarray]]:
    """Every captured layer of ``step``, every sample, through the projection study (one run of kind
    ``projection``, each layer started from the previous one's map, each layer's k-NN graph computed once);
    an existing projection run is read, not recomputed."""
    found = projection_run(run, step, method)
    if found is None:
        config = project_face.Config(run=run.id, step=int(step), method=method, **METHOD_PARAMS[method])
        found = project_face.run(config, store=store, progress=progress)
    return [(name, project_face.coords(found, name)) for name in layer_names(run)]


def cached_panels(results, run, step: int, method: str) -> tuple[list[tuple[str, np.ndarray]], np.ndarray] | None:
    """(panels aligned to their left neighbour by Procrustes, sample positions: all of them) when a projection
    run of every layer exists, else None. ``results`` is unused (kept for the callers' signature)."""
    found = projection_run(run, step, method)
    if found is None:
        return None
    panels, previous = [], None
    for name in layer_names(run):
        xy = project_face.coords(found, name)
        xy = xy if previous is None else procrustes_align(xy, previous).astype(np.float32)
        panels.append((name, xy))
        previous = xy
    return panels, np.arange(len(panels[0][1]))


# -- hardness ---------------------------------------------------------------------------
def hardness_keys(run, step: int) -> tuple[list[dict], np.ndarray]:
    positions, tag = balanced_positions(face.sample(run)["labels"])
    return [_key(run, step, name, "hardness", {"perplexity": 30.0}, tag) for name in layer_names(run)], positions


def hardness_table(results, run, *, compute: bool = False, progress=None) -> tuple[list[str], np.ndarray] | None:
    """(layer names, steps × layers KL) of the run, from the cache (``None`` if a value is missing)
    or computed (``compute=True``): each layer's balanced sample under exact t-SNE, scored by the
    exact KL (:func:`models.projections.hardness`)."""
    from models.progress import report

    names, steps = layer_names(run), face.steps(run)
    table = np.full((len(steps), len(names)), np.nan)
    total, done = len(steps) * len(names), 0
    for s, step in enumerate(steps):
        keys, positions = hardness_keys(run, step)
        for j, (name, key) in enumerate(zip(names, keys)):
            hit = results.get(key)
            if hit is None and compute:
                report(progress, done, total, f"hardness of {name} at step {step}")
                hit = results.get_or_compute(
                    key, lambda name=name, step=step, positions=positions: _hardness(run, name, step, positions)
                )
            if hit is None:
                return None
            table[s, j] = float(hit[1]["kl"])
            done += 1
    return names, table


def _hardness(run, layer: str, step: int, positions: np.ndarray):
    from models.projections import hardness, project

    X = _vectors(run, layer, step, positions)
    Y = project(X, "tsne", seed=SEED, perplexity=30.0).coords
    return {"coords": Y}, {"kl": hardness(X, Y, perplexity=30.0)}


def hardness_tables(run, names: list[str], table: np.ndarray) -> list[tuple[str, list[str], np.ndarray]]:
    """The hardness figure's input: one panel, a translucent bar per step (steps as runs)."""
    steps = face.steps(run)
    title = "KL per layer" + (f" · steps {steps[0]}…{steps[-1]} (bars), mean (line)" if len(steps) > 1 else "")
    return [(title, names, table)]
