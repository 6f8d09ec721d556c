"""Capture runs as the other tabs see them: projections of every captured layer for Layers,
per-layer hardness for Hardness, each computed once in a job and cached in ``config.results``
(``ResultCache(store/.cache)``) under (run, step, layer, method, params, sample).

Pure of Dash: functions take the results cache and a run, so tests call them directly.
"""
from __future__ import annotations

import numpy as np

from models.projections import procrustes_align
from models.studies import capture as face

KIND = face.KIND
PROJECT_METHODS = ("tsne", "umap")
METHOD_PARAMS = {"tsne": {"perplexity": 30.0}, "umap": {"n_neighbors": 15, "min_dist": 0.1}}
MAX_PROJECT = 10_000     # samples per panel; bigger runs are shown through a seeded subset
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


def projection_keys(run, step: int, method: str) -> list[dict]:
    names = layer_names(run)
    positions, tag = projection_sample(face.sample(run)["labels"].shape[0])
    return [_key(run, step, name, method, METHOD_PARAMS[method], tag, names[:i]) for i, name in enumerate(names)]


def project_run(results, run, step: int, method: str, *, progress=None) -> list[tuple[str, np.ndarray]]:
    """Every captured layer of ``step`` projected as a chain (:func:`models.projections.chain.project_layers`),
    each layer cached as it finishes; cached layers are read, not recomputed."""
    from models.projections.chain import project_layers

    names = layer_names(run)
    keys = projection_keys(run, step, method)
    positions, _ = projection_sample(face.sample(run)["labels"].shape[0])
    hits = [results.get(k) for k in keys]
    if all(h is not None for h in hits):
        return [(name, hit[0]["coords"]) for name, hit in zip(names, hits)]
    first = next(i for i, h in enumerate(hits) if h is None)
    arrays = [_vectors(run, name, step, positions) for name in names[first:]]

    def keep(i: int, proj) -> None:
        results.put(keys[i], {"coords": proj.coords, "positions": positions},
                    {"seconds": proj.seconds, "kl": proj.extra.get("kl_divergence")})

    start = hits[first - 1][0]["coords"] if first else None  # continue the chain from the last cached map
    maps = project_layers(arrays, method, seed=SEED, progress=progress, names=names[first:], start=start,
                          on_layer=lambda i, p: keep(first + i, p), **METHOD_PARAMS[method])
    cached = [(name, hit[0]["coords"]) for name, hit in zip(names[:first], hits[:first])]
    return cached + [(name, p.coords) for name, p in zip(names[first:], maps)]


def cached_panels(results, run, step: int, method: str) -> tuple[list[tuple[str, np.ndarray]], np.ndarray] | None:
    """(panels aligned to their left neighbour by Procrustes, sample positions) if every layer is cached."""
    hits = [results.get(k) for k in projection_keys(run, step, method)]
    if not hits or any(h is None for h in hits):
        return None
    panels, previous = [], None
    for name, (arrays, _meta) in zip(layer_names(run), hits):
        xy = arrays["coords"] if previous is None else procrustes_align(arrays["coords"], previous)
        panels.append((name, xy))
        previous = xy
    return panels, hits[0][0]["positions"]


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
                    key, lambda name=name, step=step, positions=positions: _hardness(run, name, step, positions))
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
