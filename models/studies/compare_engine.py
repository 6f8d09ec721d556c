"""The compare study's engine: read the runs' layers, compute CKA, probes and movers, write one run.

Everything is checked before anything is computed (runs, samples, layers, steps), so bad input
stores nothing; the run is written atomically by :meth:`models.store.RunStore.writer`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from ..cache import ResultCache
from ..errors import UserError
from ..progress import ProgressFn, report, scaled
from ..similarity.cka import cka_matrix, resolve_device
from ..similarity.knn import knn_indices
from ..similarity.movers import kept_share
from ..similarity.probes import folds as probe_folds
from ..similarity.probes import knn_predict, probe_accuracy
from ..store import CACHE, RunStore
from .compare import (
    B_PREFIX,
    KIND,
    Config,
    Source,
    most_similar,
    open_source,
    same_samples,
    sample_rows,
)


# -- what is compared ----------------------------------------------------------------------------
def resolve(config: Config, store: RunStore) -> tuple[Config, Source, Source | None, dict]:
    """The sources, layers and steps a config names, checked; the config as it will be stored."""
    refs = config.runs
    if refs is None:
        runs = store.list(kind="capture")
        if not runs:
            raise UserError(f"no capture run in {store.root}; name one with --runs")
        refs = (runs[0].id,)
    a = open_source(store, refs[0])
    b = open_source(store, refs[1]) if len(refs) > 1 else None
    if b is not None:
        same_samples(a, b)
    layers_a = _layers(a, config.layers, "layers")
    steps_a = a.steps()
    if config.steps is not None:
        unknown = [s for s in config.steps if s not in steps_a]
        if unknown:
            raise UserError(f"run {a.ref} has no step {unknown[0]}; it has {steps_a}")
        steps_a = [s for s in steps_a if s in config.steps]  # in the order the run holds them
    plan = {"layers_a": layers_a, "steps_a": steps_a, "step_a": steps_a[-1]}
    if b is not None:
        wanted = config.layers_b
        if wanted is None and config.layers is not None and set(config.layers) <= set(b.layers()):
            wanted = config.layers
        plan["layers_b"] = _layers(b, wanted, "layers_b")
        if config.step_b is not None and config.step_b not in b.steps():
            raise UserError(f"run {b.ref} has no step {config.step_b}; it has {b.steps()}")
        plan["step_b"] = config.step_b if config.step_b is not None else b.steps()[-1]
    elif config.layers_b is not None or config.step_b is not None:
        raise UserError("layers_b and step_b need a second run (--runs A B)")
    stored = config.replace(
        dataset=a.dataset or config.dataset,
        runs=tuple(s.ref for s in (a, b) if s),
        steps=tuple(steps_a),
        layers=tuple(layers_a),
        layers_b=tuple(plan["layers_b"]) if b is not None else None,
        step_b=plan.get("step_b"),
    )
    return stored, a, b, plan


def _layers(source: Source, wanted: Sequence[str] | None, what: str) -> list[str]:
    have = source.layers()
    if wanted is None:
        return have
    unknown = [layer for layer in wanted if layer not in have]
    if unknown:
        raise UserError(f"run {source.ref} has no layer {unknown[0]!r} ({what}); it has {have}")
    return [layer for layer in have if layer in wanted]  # network order, whatever order they were named in


def _take(X: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return X if rows is None else np.asarray(X[rows])


def _vectors(source: Source, layers: Sequence[str], step: int, rows) -> list[np.ndarray]:
    out = []
    for layer in layers:
        X = _take(source.vectors(layer, step), rows)
        if not np.all(np.isfinite(X)):
            raise UserError(f"run {source.ref} layer {layer!r} at step {step} holds NaN or infinite values")
        out.append(X)
    return out


# -- the study -----------------------------------------------------------------------------------
def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None):
    stored, a, b, plan = resolve(config, store)
    labels_all = a.sample()["labels"]
    index_all = a.sample()["index"]
    n = len(index_all)
    if n < 4:
        raise UserError(f"run {a.ref} holds {n} samples; compare needs at least 4")
    rows = sample_rows(n, config.max_samples, config.seed, 0)
    labels, index = _take(labels_all, rows), _take(index_all, rows)
    device = resolve_device(None if config.device == "cpu" else config.device)
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("device cuda was asked for, but torch sees no GPU here; use --device auto or cpu")
    options = {
        "metric": config.metric,
        "batch_size": config.batch_size,
        "max_samples": config.rbf_samples,
        "seed": config.seed,
        "device": device,
    }
    layers_a, steps_a, step_a = plan["layers_a"], plan["steps_a"], plan["step_a"]
    many_steps = len(steps_a) > 1
    metrics: dict = {}

    # 1. the main comparison: A × B, or A × A at one step
    report(progress, 0, 1, "reading layers")
    vec_a = _vectors(a, layers_a, step_a, rows)
    vec_b = _vectors(b, plan["layers_b"], plan["step_b"], rows) if b is not None else None
    share = (0.0, 0.35 if many_steps else 0.6)
    matrix = cka_matrix(vec_a, vec_b, progress=scaled(progress, *share), **options)
    metrics["cka"] = {
        "layers_a": layers_a,
        "layers_b": plan["layers_b"] if b is not None else layers_a,
        "matrix": matrix.tolist(),
        "metric": config.metric,
        "run_a": a.id,
        "run_b": b.id if b is not None else None,
        "step_a": step_a,
        "step_b": plan["step_b"] if b is not None else step_a,
        "network_a": a.network,
        "network_b": b.network if b is not None else None,
        "samples": len(labels),
    }

    # 2. layer × step: each layer at every step against itself at the last step
    if many_steps:
        grid = np.zeros((len(layers_a), len(steps_a)))
        part = scaled(progress, share[1], 0.6)
        for i, (layer, X_last) in enumerate(zip(layers_a, vec_a)):
            others = [_vectors(a, [layer], s, rows)[0] for s in steps_a]
            grid[i] = cka_matrix([X_last], others, **options)[0]
            report(part, i + 1, len(layers_a), "CKA over steps")
        metrics["cka_steps"] = {"layers": layers_a, "steps": steps_a, "matrix": grid.tolist()}

    # 3. what each layer knows: linear probe and k-NN accuracy (on a seeded subsample)
    probe_rows = sample_rows(len(labels), config.probe_samples, config.seed, 1)
    p_labels = _take(labels, probe_rows)
    neighbours: dict[str, np.ndarray] = {}  # layer ("step|layer" for other steps) → k-NN lists, reused by the movers
    every = rows is None and probe_rows is None  # a projection's cached graph covers every sample, so only then

    def lists(X, origin) -> np.ndarray:
        """k-NN lists of ``X``: a projection's cached graph of the same capture layer when there is one (every
        sample compared), else computed exactly."""
        k = _k(config.k, len(p_labels))
        found = graph_neighbours(store, *origin, k, len(p_labels)) if every else None
        return found if found is not None else knn_indices(_take(X, probe_rows), k)

    def scores(vectors, names, part, origins):
        try:
            splits = probe_folds(p_labels, config.folds, config.seed)
        except ValueError as exc:
            raise UserError(f"{exc}; --no-probes skips the probes") from None
        probe, knn = {}, {}
        for i, (name, X) in enumerate(zip(names, vectors)):
            X = _take(X, probe_rows)
            probe[name] = probe_accuracy(X, p_labels, seed=config.seed, splits=splits)
            neighbours[name] = lists(X, origins[i]) if every else knn_indices(X, _k(config.k, len(p_labels)))
            knn[name] = float(np.mean(knn_predict(neighbours[name], p_labels) == p_labels))
            report(part, i + 1, len(names), "probes and k-NN")
        return probe, knn

    if config.probes:
        part = scaled(progress, 0.6, 0.8 if many_steps else 0.95)
        named = [(layer, X) for layer, X in zip(layers_a, vec_a)]
        origins = [(a, layer, step_a) for layer in layers_a]
        if b is not None:
            named += [(B_PREFIX + layer, X) for layer, X in zip(plan["layers_b"], vec_b)]
            origins += [(b, layer, plan["step_b"]) for layer in plan["layers_b"]]
        probe, knn = scores([x for _, x in named], [n_ for n_, _ in named], part, origins)
        metrics["probe"], metrics["knn"] = probe, knn
        if many_steps:
            metrics["probe_steps"], metrics["knn_steps"] = {}, {}
            part = scaled(progress, 0.8, 0.95)
            for t, step in enumerate(steps_a):
                if step == step_a:
                    p = {layer: probe[layer] for layer in layers_a}
                    kn = {layer: knn[layer] for layer in layers_a}
                else:
                    vecs = _vectors(a, layers_a, step, rows)
                    p, kn = scores(
                        vecs, [f"{step}|{layer}" for layer in layers_a], None, [(a, layer, step) for layer in layers_a]
                    )
                    p = {key.split("|", 1)[1]: v for key, v in p.items()}
                    kn = {key.split("|", 1)[1]: v for key, v in kn.items()}
                metrics["probe_steps"][str(step)], metrics["knn_steps"][str(step)] = p, kn
                report(part, t + 1, len(steps_a), "probes over steps")

    # 4. hardness (t-SNE KL) of a hardness network's layers
    kls = a.hardness()
    if kls:
        metrics["hardness"] = {layer: kls[layer] for layer in layers_a if layer in kls}
    if b is not None and b.hardness():
        metrics.setdefault("hardness", {}).update(
            {B_PREFIX + layer: v for layer, v in b.hardness().items() if layer in plan["layers_b"]}
        )

    # 5. movers: the default pair
    if b is not None:
        ref_from = {"run": a.id, "step": step_a, "layer": layers_a[-1], "network": a.network}
        ref_to = {"run": b.id, "step": plan["step_b"], "layer": plan["layers_b"][-1], "network": b.network}
        X, Y = vec_a[-1], vec_b[-1]
        keys = (layers_a[-1], B_PREFIX + plan["layers_b"][-1])
        origins = ((a, layers_a[-1], step_a), (b, plan["layers_b"][-1], plan["step_b"]))
    elif many_steps:
        ref_from = {"run": a.id, "step": steps_a[0], "layer": layers_a[-1], "network": a.network}
        ref_to = {"run": a.id, "step": step_a, "layer": layers_a[-1], "network": a.network}
        X, Y = _take(a.vectors(layers_a[-1], steps_a[0]), rows), vec_a[-1]
        keys = (f"{steps_a[0]}|{layers_a[-1]}", layers_a[-1])
        origins = ((a, layers_a[-1], steps_a[0]), (a, layers_a[-1], step_a))
    else:
        ref_from = {"run": a.id, "step": step_a, "layer": layers_a[0], "network": a.network}
        ref_to = {"run": a.id, "step": step_a, "layer": layers_a[-1], "network": a.network}
        X, Y = vec_a[0], vec_a[-1]
        keys = (layers_a[0], layers_a[-1])
        origins = ((a, layers_a[0], step_a), (a, layers_a[-1], step_a))
    report(progress, 0.95, 1, "movers")
    k = _k(config.k, len(p_labels))
    kept = kept_share(
        neighbours[keys[0]] if keys[0] in neighbours else lists(X, origins[0]),
        neighbours[keys[1]] if keys[1] in neighbours else lists(Y, origins[1]),
    )
    metrics["movers"] = {"from": ref_from, "to": ref_to, "k": k, "file": "movers.npz", "mean_kept": float(kept.mean())}

    with store.writer(KIND, dataset=stored.dataset, config=stored.record(), seed=stored.seed) as w:
        w.metrics.update(metrics)
        w.manifest["sources"] = {"a": a.ref, "b": b.ref if b is not None else None}
        w.add_arrays(
            "movers",
            {"index": _take(index, probe_rows).astype(np.int64), "kept": kept, "labels": _take(labels, probe_rows)},
        )
        w.add_file("cka.png", heatmap_png(metrics["cka"], metrics.get("cka_steps")))
        w.add_file("report.md", compare_report(stored, metrics))
    report(progress, 1, 1, "done")
    return store.load(w.id)


def graph_neighbours(store: RunStore, source: Source, layer: str, step: int, k: int, n: int) -> np.ndarray | None:
    """Each sample's ``k`` nearest others (n × k) from the k-NN graph a projection study cached for this capture
    layer and step (:func:`models.studies.project_engine.cached_graph`), or None when there is none with ``k``
    neighbours over all ``n`` samples. The same lists as :func:`models.similarity.knn.knn_indices` where the
    graph is exact (below 4,096 samples); pynndescent's approximation above (recall ≈ 0.99 at k ≤ 90)."""
    if source.kind != "capture":
        return None
    from .project_engine import cached_graph

    found = cached_graph(ResultCache(store.root / CACHE), source.id, step, layer, k, samples=n)
    return None if found is None else np.ascontiguousarray(found[0][:, 1 : k + 1])


def _k(k: int, n: int) -> int:
    return max(1, min(k, n - 1))


# -- report and figure ---------------------------------------------------------------------------
def _table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")
    return lines


def compare_report(config: Config, metrics: dict) -> str:
    """report.md: what was compared, the CKA matrix, the most-similar-layer correspondence, probes, movers."""
    info = metrics["cka"]
    two = info["run_b"] is not None
    lines = [
        "# Compare representations",
        "",
        f"{info['metric']} CKA of `{config.runs[0]}` at step {info['step_a']}"
        + (f" against `{config.runs[1]}` at step {info['step_b']}" if two else ", layer against layer")
        + f", on {info['samples']:,} samples of `{config.dataset}`.",
        "",
        "CKA is 1 when two representations are the same up to rotation and scale, near 0 when unrelated.",
        "",
        "## CKA",
        "",
    ]
    M = np.array(info["matrix"])
    lines += _table(
        ["A \\ B"] + info["layers_b"], [[la] + list(map(float, M[i])) for i, la in enumerate(info["layers_a"])]
    )
    lines += [
        "",
        "## Most similar layer",
        "",
        "For each layer of A, the layer of " + ("B" if two else "A (itself left out)") + " most like it.",
        "",
    ]
    corr = most_similar(info["layers_a"], info["layers_b"], M, exclude_self=not two)
    lines += _table(["layer of A", "most similar", "CKA"], corr)
    if "cka_steps" in metrics:
        steps = metrics["cka_steps"]
        lines += ["", "## Each layer against itself at the last step", ""]
        lines += _table(
            ["layer"] + [str(s) for s in steps["steps"]],
            [[layer] + list(map(float, row)) for layer, row in zip(steps["layers"], steps["matrix"])],
        )
    if "probe" in metrics:
        lines += [
            "",
            "## What each layer knows",
            "",
            (
                f"Linear probe: logistic regression on standardized features, {config.folds}-fold stratified "
                f"cross-validation; k-NN: leave-one-out majority of {config.k} nearest neighbours."
            ),
            "",
        ]
        hard = metrics.get("hardness", {})
        header = ["layer", "probe accuracy", "k-NN accuracy"] + (["hardness (t-SNE KL)"] if hard else [])
        lines += _table(
            header,
            [
                [layer, metrics["probe"][layer], metrics["knn"][layer]]
                + ([float(hard[layer]) if layer in hard else "–"] if hard else [])
                for layer in metrics["probe"]
            ],
        )
    mv = metrics["movers"]
    describe = lambda r: f"`{r['run']}` step {r['step']} {r['layer']}"
    lines += [
        "",
        "## Movers",
        "",
        (
            f"Share of each sample's {mv['k']} nearest neighbours kept from {describe(mv['from'])} to "
            f"{describe(mv['to'])}: mean {mv['mean_kept']:.3f} (movers.npz: index, kept, labels)."
        ),
        "",
    ]
    return "\n".join(lines)


def heatmap_png(info: dict, steps: dict | None = None) -> bytes:
    """The CKA heatmap (and the layer × step one beside it), values written in the cells when few."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    a = f"A: {info['run_a']} · step {info['step_a']}"
    b = f"B: {info['run_b']} · step {info['step_b']}" if info["run_b"] else a
    panels = [(np.array(info["matrix"]), info["layers_a"], info["layers_b"], f"{info['metric']} CKA", b, a)]
    if steps:
        panels.append(
            (
                np.array(steps["matrix"]),
                steps["layers"],
                [str(s) for s in steps["steps"]],
                "each layer vs itself at the last step",
                "step",
                "layer of A",
            )
        )
    fig = Figure(figsize=(5.2 * len(panels), 4.6), dpi=110, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (M, rows_, cols, title, xlabel, ylabel) in zip(axes, panels):
        im = ax.imshow(M, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(rows_)), rows_, fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        if M.size <= 144:
            for (i, j), v in np.ndenumerate(M):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="w" if v < 0.6 else "k")
        fig.colorbar(im, ax=ax, shrink=0.8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
