"""The hardness study's engine: train the grid of MLPs, project every layer, write one run.

The face (:mod:`models.studies.hardness`) holds the config and the readers; this module holds
the heavy work and is imported only when a run starts. Networks train in parallel, then every
(network, layer) is projected in parallel (joblib); each (run, network, layer, method, params,
sample) result is cached in :class:`models.cache.ResultCache`, so nothing is computed twice.
Progress and cancellation go through :mod:`models.progress`.
"""

from __future__ import annotations

import io
import os
from typing import Callable, Mapping, Sequence

import numpy as np

from .. import datasets
from ..cache import ResultCache
from ..errors import ConfigError
from ..progress import ProgressFn, report, scaled
from ..projections import joint_affinities, kl_divergence, project, quality
from ..store import CACHE, Run, RunStore
from .hardness import (
    CSV_COLUMNS,
    KIND,
    SCORES,
    Config,
    accuracy_points,
    layer_activations,
    layer_names,
    layer_table,
    network_name,
    network_seed,
    sample_tag,
)


# -- training ------------------------------------------------------------------
def train_network(
    config: Config,
    activation: str,
    depth: int,
    run: int,
    train: datasets.Dataset,
    test: datasets.Dataset,
    sample: np.ndarray,
    progress: ProgressFn | None = None,
    threads: int | None = None,
) -> dict:
    """Train one MLP and read its layers on the sample; returns plain arrays (picklable)."""
    import torch

    from ..activations import capture
    from ..nets.mlp import MLP, default_lr
    from ..training import batches, default_device, fit, seed_everything, to_tensor

    if threads:
        torch.set_num_threads(threads)
    name = network_name(activation, depth, run)
    seed = network_seed(config.seed, activation, depth, run)
    gen = seed_everything(seed)
    device = default_device(config.device)
    order = np.random.default_rng(seed).permutation(train.n)
    n_val = max(1, int(round(config.val_fraction * train.n)))
    val, fit_idx = order[:n_val], order[n_val:]
    X = to_tensor(train.features, device)
    y = torch.as_tensor(np.array(train.labels, dtype=np.int64), device=device)  # a worker's memmap is read-only
    model = MLP(train.dim, train.n_classes, depth=depth, width=config.width, activation=activation).to(device)
    lr = config.lr or default_lr(activation)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=config.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(m, batch):
        logits = m(batch[0])
        return loss_fn(logits, batch[1]), {"accuracy": (logits.argmax(1) == batch[1]).float().mean()}

    def validate(m):
        logits = m(X[val])
        return {
            "val_loss": float(loss_fn(logits, y[val])),
            "val_accuracy": float((logits.argmax(1) == y[val]).float().mean()),
        }

    history = fit(
        model,
        optimizer,
        step,
        batches(X[fit_idx], y[fit_idx], batch_size=config.batch_size, generator=gen),
        epochs=config.epochs,
        progress=progress,
        validate=validate,
        patience=config.early_stopping,
        message=f"training {name}",
    )
    with torch.no_grad():
        test_pred = model(to_tensor(test.features, device)).argmax(1).cpu().numpy()
    acts = capture(model, test.features[sample], model.layer_names, include_input=False)
    return {
        "name": name,
        "activation": activation,
        "depth": depth,
        "run": run,
        "seed": seed,
        "lr": lr,
        "test_accuracy": float(np.mean(test_pred == test.labels)),
        "epochs": len(history.epochs),
        "stopped_early": history.stopped_early,
        "train_loss": [float(e["loss"]) for e in history.epochs],
        "val_loss": [float(e["val_loss"]) for e in history.epochs if "val_loss" in e],
        "state_dict": {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
        "activations": acts,
        "predictions": acts["logits"].argmax(1).astype(np.int64),
    }


# -- projections -----------------------------------------------------------------
def method_params(config: Config, method: str) -> dict:
    """The parameters a study uses for ``method`` (part of every cache key)."""
    if method == "tsne":
        return {"perplexity": config.perplexity, "n_iter": config.tsne_iter, "gradient": "auto"}
    return {}


def project_layer(
    X: np.ndarray,
    labels: np.ndarray,
    methods: Sequence[str],
    params: dict[str, dict],
    *,
    perplexity: float,
    seed: int,
    cache_root: str | None,
    key: dict,
    before: Callable[[str], None] | None = None,
) -> dict[str, dict]:
    """Every method on one layer: coordinates, exact KL, quality metrics, seconds (cached per method).

    ``before(method)``, when given, runs just before a method is computed (not on a cache hit), outside
    the timed call: :func:`project_run_layer` warms the method up there (numba compilation).
    """
    cache = ResultCache(cache_root) if cache_root else None
    P = None
    out = {}
    for method in methods:

        def compute(method=method):
            nonlocal P
            if P is None:
                P = joint_affinities(X, perplexity)
            if before is not None:
                before(method)
            shared = {"affinities": P} if method == "tsne" and params[method].get("perplexity") == perplexity else {}
            proj = project(X, method, seed=seed, **params[method], **shared)
            # the exact t-SNE already scored its result against this very P
            exact = shared and proj.extra.get("gradient") == "exact"
            meta = {
                "kl": proj.extra["kl_divergence"] if exact else kl_divergence(P, proj.coords),
                "seconds": proj.seconds,
                **quality(X, proj.coords, labels, k=10),
            }
            return {"coords": proj.coords}, meta

        full_key = {**key, "method": method, "params": params[method], "seed": seed, "perplexity": perplexity}
        arrays, meta = cache.get_or_compute(full_key, compute) if cache else compute()
        out[method] = {"coords": arrays["coords"], **{k: v for k, v in meta.items() if k != "key"}}
    return out


def layer_key(run_id: str, network: str, layer: str, config: Config) -> dict:
    """The cache key of one layer's projections (the input layer is shared by every network)."""
    owner = "input" if layer == "input" else network
    return {"run": run_id, "network": owner, "layer": layer, "sample": sample_tag(config.record())}


#: each method's main parameter and its default (what the Methods tab lets a person change); t-SNE's
#: default perplexity is the study's own (``config.perplexity``), so the study's results are reused
MAIN_PARAMS = {
    "tsne": ("perplexity", None),
    "umap": ("n_neighbors", 15),
    "lle": ("n_neighbors", 10),
    "isomap": ("n_neighbors", 10),
}

#: method → seconds of its warm-up call in this process (one-off numba/JIT compilation, imports): a
#: method is warmed once per process, just before its first computed (uncached) projection, so the
#: seconds reported for the projection itself exclude compilation
WARMED: dict[str, float] = {}


def warm_up(method: str, seed: int = 0) -> float:
    """Run ``method`` once on a tiny array (uncached) unless this process already did; its seconds."""
    if method not in WARMED:
        import time

        X = np.random.default_rng(seed).normal(size=(40, 8)).astype(np.float32)
        params = (
            {"perplexity": 5.0, "n_iter": 20, "early_exaggeration_iter": 5}
            if method == "tsne"
            else ({"n_neighbors": 5} if method in ("umap", "lle", "isomap") else {})
        )
        t0 = time.perf_counter()
        project(X, method, seed=seed, **params)
        WARMED[method] = time.perf_counter() - t0
    return WARMED[method]


def run_layer_params(config: Config, method: str, overrides: Mapping[str, dict] | None = None) -> dict:
    """The study's parameters for ``method`` with a person's ``overrides`` of it (``{method: {name: value}}``).

    A value equal to the default is left out, so the key of an unchanged method stays the study's own.
    """
    params = method_params(config, method)
    main, default = MAIN_PARAMS.get(method, (None, None))
    for name, value in ((overrides or {}).get(method) or {}).items():
        if value is None:
            continue
        if name == main:
            value = float(value) if method == "tsne" else int(value)
        if name == main and value == default:
            params.pop(name, None)
        else:
            params[name] = value
    return params


def project_run_layer(
    run: Run,
    network: str,
    layer: str,
    methods: Sequence[str],
    cache: ResultCache,
    progress: ProgressFn | None = None,
    params: Mapping[str, dict] | None = None,
    warm: bool = True,
) -> dict[str, dict]:
    """``methods`` on one layer of a stored study, through the same cache keys the study used.

    ``params`` overrides a method's parameters, e.g. ``{"tsne": {"perplexity": 10}, "umap": {"n_neighbors":
    30}}`` (part of the cache key: each setting is its own result). KL is always against the study's P
    (its perplexity): the hardness of that layer, whatever the projection's own settings. With ``warm``,
    each method computed here is first run on a tiny array (:func:`warm_up`), so its ``seconds`` exclude
    one-off compilation; ``warmup_seconds`` then says what the first call cost in this process.
    """
    config = Config.from_record(run.config)
    X = layer_activations(run, network, layer)
    labels = run.arrays("sample")["labels"]
    key = layer_key(run.id, network, layer, config)
    computed: set[str] = set()

    def before(method):
        computed.add(method)
        if warm:
            warm_up(method, config.seed)

    out = {}
    for i, method in enumerate(methods):
        report(progress, i, len(methods), f"{method} of {layer}")
        out.update(
            project_layer(
                X,
                labels,
                [method],
                {method: run_layer_params(config, method, params)},
                perplexity=config.perplexity,
                seed=config.seed,
                cache_root=str(cache.root),
                key=key,
                before=before,
            )
        )
        out[method]["cached"] = method not in computed
        if method in computed and method in WARMED:
            out[method]["warmup_seconds"] = WARMED[method]
    report(progress, len(methods), len(methods), "done")
    return out


#: how much a worker's memory may grow over its size after its first task before loky replaces it.
#: loky's own bound (300 MB) is below what one MNIST-sized network's tensors take, so it replaced
#: healthy workers mid-run ("A worker stopped while some jobs were given to the executor") and
#: re-imported torch in each; a real leak still shows past this bound.
WORKER_MEMORY_SLACK = 4 << 30


def _worker_init() -> None:
    """Runs once in every worker: widen loky's leak check (see :data:`WORKER_MEMORY_SLACK`)."""
    from joblib.externals.loky import process_executor

    process_executor._MAX_MEMORY_LEAK_SIZE = max(process_executor._MAX_MEMORY_LEAK_SIZE, WORKER_MEMORY_SLACK)


def _parallel(n_jobs: int, n_tasks: int):
    from joblib import Parallel

    wanted = (os.cpu_count() or 1) if n_jobs in (-1, None) else int(n_jobs)
    jobs = max(1, min(n_tasks, wanted))
    return jobs, Parallel(n_jobs=jobs, return_as="generator_unordered", initializer=_worker_init)


# -- the study ---------------------------------------------------------------------
def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None) -> Run:
    """Train, read, project and score every network of ``config``; write ONE run and return it."""
    from joblib import delayed

    cache = ResultCache(store.root / CACHE)
    report(progress, 0, 1, "loading data")
    data_dir = None if data_dir is None else str(data_dir)
    train, test, split_note = datasets.train_test(
        config.dataset, data_dir=data_dir, holdout=config.split_holdout, seed=config.seed
    )
    sample = datasets.balanced_indices(test.labels, config.per_class, config.seed)
    if len(sample) <= config.perplexity:
        raise ConfigError(
            f"per_class={config.per_class} gives {len(sample)} samples; perplexity {config.perplexity} needs more"
        )
    labels = test.labels[sample]
    specs = config.grid()

    with store.writer(KIND, dataset=config.dataset, config=config.record(), seed=config.seed) as w:
        # 1. train (in parallel when there are several networks; in-process shows per-epoch progress)
        train_part = scaled(progress, 0.0, 0.5)
        jobs, parallel = _parallel(config.n_jobs, len(specs))
        nets: list[dict] = []
        if jobs == 1:
            for i, (a, d, r) in enumerate(specs):
                nets.append(
                    train_network(
                        config,
                        a,
                        d,
                        r,
                        train,
                        test,
                        sample,
                        progress=scaled(train_part, i / len(specs), (i + 1) / len(specs)),
                    )
                )
        else:
            report(train_part, 0, len(specs), f"training {len(specs)} networks on {jobs} workers")
            for net in parallel(
                delayed(train_network)(config, a, d, r, train, test, sample, threads=1) for a, d, r in specs
            ):
                nets.append(net)
                report(train_part, len(nets), len(specs), f"trained {net['name']}", accuracy=net["test_accuracy"])
        nets.sort(key=lambda n: (config.activations.index(n["activation"]), n["depth"], n["run"]))

        # 2. project every (network, layer); the input is the same for all networks: once
        params = {m: method_params(config, m) for m in config.methods}
        tasks = [("input", "input", test.features[sample])]
        for net in nets:
            tasks += [(net["name"], layer, net["activations"][layer]) for layer in layer_names(net["depth"])[1:]]
        proj_part = scaled(progress, 0.5, 0.97)
        report(proj_part, 0, len(tasks), f"projecting {len(tasks)} layers")
        jobs, parallel = _parallel(config.n_jobs, len(tasks))

        def task(owner, layer, X):
            return (
                owner,
                layer,
                project_layer(
                    X,
                    labels,
                    config.methods,
                    params,
                    perplexity=config.perplexity,
                    seed=config.seed,
                    cache_root=str(cache.root),
                    key=layer_key(w.id, owner, layer, config),
                ),
            )

        results: dict[tuple[str, str], dict] = {}
        source = (task(*t) for t in tasks) if jobs == 1 else parallel(delayed(task)(*t) for t in tasks)
        for owner, layer, res in source:
            results[owner, layer] = res
            report(proj_part, len(results), len(tasks), f"projected {owner} {layer}", kl=res["tsne"]["kl"])

        # 3. write
        report(progress, 0.97, 1, "writing the run")
        w.manifest["split"] = split_note
        w.manifest["sample_split"] = test.split
        # positions in the split file the sample came from (the test file, or the only split present)
        write_run(w, config, nets, results, test.index[sample], labels, test.features[sample])
    report(progress, 1, 1, "done")
    return store.load(w.id)


def write_run(
    w,
    config: Config,
    nets: list[dict],
    results: dict[tuple[str, str], dict],
    sample: np.ndarray,
    labels: np.ndarray,
    inputs: np.ndarray,
) -> None:
    """Arrays, weights, metrics, CSV and figure of a finished study into the run writer ``w``."""
    import torch

    w.add_arrays("sample", {"index": sample, "labels": labels, "input": inputs})
    w.add_arrays("proj-input", {f"{m}.input": results["input", "input"][m]["coords"] for m in config.methods})
    rows, networks = [], []
    for net in nets:
        name = net["name"]
        w.add_weights(f"net-{name}", {k: torch.as_tensor(v) for k, v in net["state_dict"].items()})
        w.add_arrays(f"act-{name}", {**net["activations"], "predictions": net["predictions"]})
        coords = {}
        for layer in layer_names(net["depth"]):
            res = results["input", "input"] if layer == "input" else results[name, layer]
            for m in config.methods:
                coords[f"{m}.{layer}"] = res[m]["coords"]
                rows.append(
                    {
                        "activation": net["activation"],
                        "depth": net["depth"],
                        "run": net["run"],
                        "layer": layer,
                        "method": m,
                        **{k: res[m][k] for k in SCORES},
                    }
                )
        w.add_arrays(f"proj-{name}", coords)
        networks.append(
            {
                k: net[k]
                for k in (
                    "name",
                    "activation",
                    "depth",
                    "run",
                    "seed",
                    "lr",
                    "test_accuracy",
                    "epochs",
                    "stopped_early",
                    "train_loss",
                    "val_loss",
                )
            }
            | {"layers": layer_names(net["depth"])}
        )
    w.metrics["hardness"] = rows
    w.metrics["test_accuracy"] = {n["name"]: n["test_accuracy"] for n in networks}
    w.metrics["networks"] = networks
    w.metrics["mean_test_accuracy"] = float(np.mean([n["test_accuracy"] for n in networks]))
    w.metrics["samples"] = int(len(sample))
    w.manifest["summary"] = config.label
    w.add_file("hardness.csv", hardness_csv(rows))
    w.add_file("hardness.png", hardness_png(rows, networks))
    w.add_file(
        "report.md", hardness_report(config, rows, networks, split=w.manifest.get("split", ""), samples=len(sample))
    )


# -- outputs -------------------------------------------------------------------------
def hardness_csv(rows: list[dict]) -> str:
    lines = [",".join(CSV_COLUMNS)]
    for r in rows:
        lines.append(",".join(f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c]) for c in CSV_COLUMNS))
    return "\n".join(lines) + "\n"


DEPTH_MARKERS = ("o", "s", "^", "D", "v", "P", "X")

#: what the paper reports, set beside our numbers in report.md
PAPER_STATEMENT = (
    "Kuzma & Farkaš: the t-SNE KL divergence of a layer's activations (its *hardness*) falls layer "
    "by layer from the input to the last hidden layer, for all four activations (logsig, tanh, "
    "softsign, ReLU), in MLPs of 1–7 hidden layers of 100 units trained 100 epochs with SGD and "
    "momentum, measured on a balanced sample of 100 per class over several runs."
)


def _mean_sd(values) -> str:
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if not values.size:
        return "–"
    return f"{values.mean():.3f}" + (f" ± {values.std():.3f}" if values.size > 1 else "")


def hardness_report(
    config: Config, rows: list[dict], networks: list[dict], *, split: str = "", samples: int = 0, method: str = "tsne"
) -> str:
    """report.md: per activation and depth, the mean KL per layer ± its spread (standard deviation) over
    runs, test accuracy, the training loss's plateau and the epochs run, beside the paper's statement."""
    lr = (
        f"{config.lr:g}"
        if config.lr is not None
        else "per activation: " + ", ".join(sorted({f"{n['activation']} {n['lr']:g}" for n in networks}))
    )
    stopping = f"after {config.early_stopping} epochs without progress" if config.early_stopping else "off"
    lines = [
        "# Hardness (embedding complexity): report",
        "",
        f"Dataset `{config.dataset}` ({split or 'train/test'}); {samples} test samples "
        f"({config.per_class} per class) embedded per layer with t-SNE (perplexity {config.perplexity:g}, "
        f"{config.tsne_iter} iterations). Networks: width {config.width}, {config.epochs} epochs of SGD "
        f"(lr {lr}, momentum {config.momentum:g}, batch {config.batch_size}), early stopping {stopping}; "
        f"{config.runs} run(s) each.",
        "",
        "**Paper.** " + PAPER_STATEMENT,
        "",
        "**Ours.** KL per layer is the mean ± standard deviation over runs; *falls* says whether the mean "
        "falls at every layer from the input to the last hidden layer. The plateau is the training loss's "
        "largest change over the last 5 epochs, as a share of its first epoch's value.",
        "",
        "| activation | depth | runs | KL per layer (input → hidden → out) | falls | test accuracy | "
        "final training loss | plateau | epochs run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for act, depth in dict.fromkeys((n["activation"], n["depth"]) for n in networks):
        layers, table = layer_table(rows, act, depth, method)
        means = np.nanmean(table, 0) if table.size else np.array([])
        per_layer = " → ".join(
            f"{'in' if l == 'input' else ('out' if l == 'logits' else l[6:])} {_mean_sd(table[:, i])}"
            for i, l in enumerate(layers)
        )
        hidden = [i for i, l in enumerate(layers) if l == "input" or l.startswith("hidden")]
        steps = np.diff(means[hidden]) if means.size else np.array([])
        falls = (
            "yes"
            if steps.size and np.all(steps < 0)
            else ("no (rises at " + ", ".join(layers[hidden[i + 1]] for i in np.flatnonzero(steps >= 0)) + ")")
        )
        mine = [n for n in networks if n["activation"] == act and n["depth"] == depth]
        losses = [np.asarray(n["train_loss"], dtype=float) for n in mine if n.get("train_loss")]
        plateau = [float((l[-5:].max() - l[-5:].min()) / l[0]) for l in losses if l.size and l[0] > 0]
        epochs = sorted({int(n["epochs"]) for n in mine})
        stopped = sum(bool(n.get("stopped_early")) for n in mine)
        lines.append(
            f"| {act} | {depth} | {len(mine)} | {per_layer} | {falls} | "
            f"{_mean_sd([n['test_accuracy'] for n in mine])} | {_mean_sd([l[-1] for l in losses])} | "
            f"{(f'{max(plateau):.1%}' if plateau else '–')} | "
            f"{'–'.join(map(str, (epochs[0], epochs[-1]))) if len(epochs) > 1 else epochs[0]}"
            f"{f' ({stopped} stopped early)' if stopped else ''} |"
        )
    lines += [
        "",
        "Files: `hardness.csv` (every network, layer and method), `hardness.png` (one panel per "
        "activation and depth: runs as translucent bars, the mean as a bold line; accuracy against mean "
        "hidden-layer KL, colour = activation, marker = depth).",
    ]
    return "\n".join(lines) + "\n"


def hardness_png(rows: list[dict], networks: list[dict]) -> bytes:
    """The paper's figure with matplotlib: per activation, KL per layer — a translucent bar per run, the mean bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    combos = list(dict.fromkeys((n["activation"], n["depth"]) for n in networks))
    fig, axes = plt.subplots(1, len(combos) + 1, figsize=(3.6 * (len(combos) + 1), 3.2), squeeze=False)
    for ax, (act, depth) in zip(axes[0], combos):
        layers, table = layer_table(rows, act, depth)
        x = np.arange(len(layers))
        for run_kl in table:
            ax.bar(x, run_kl, width=0.7, alpha=0.25, color="tab:blue")
        ax.plot(x, np.nanmean(table, 0), color="black", lw=2.5, marker="o")
        ax.set_xticks(x, ["in" if l == "input" else ("out" if l == "logits" else l[6:]) for l in layers])
        ax.set_title(f"{act}, depth {depth}")
        ax.set_xlabel("layer")
        ax.set_ylabel("KL (hardness)")
    ax = axes[0][-1]
    points = accuracy_points(rows, networks)
    depth_of = {n["name"]: n["depth"] for n in networks}
    acts = list(dict.fromkeys(p["activation"] for p in points))
    depths = sorted({depth_of[p["name"]] for p in points})
    colour = {a: f"C{i}" for i, a in enumerate(acts)}
    marker = {d: DEPTH_MARKERS[i % len(DEPTH_MARKERS)] for i, d in enumerate(depths)}
    for act in acts:  # colour: activation; marker: depth (the paper tells depths apart in this scatter)
        for d in depths:
            mine = [p for p in points if p["activation"] == act and depth_of[p["name"]] == d]
            if mine:
                ax.scatter(
                    [p["kl"] for p in mine],
                    [p["test_accuracy"] for p in mine],
                    color=colour[act],
                    marker=marker[d],
                    s=36,
                    alpha=0.85,
                    edgecolors="black",
                    linewidths=0.4,
                )
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour[a], marker="o", ls="", label=a) for a in acts]
    handles += [Line2D([], [], color="grey", marker=marker[d], ls="", label=f"depth {d}") for d in depths]
    ax.legend(handles=handles, fontsize=7, ncol=2 if len(handles) > 5 else 1)
    ax.set_xlabel("mean hidden-layer KL")
    ax.set_ylabel("test accuracy")
    ax.set_title("accuracy vs hardness")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()
