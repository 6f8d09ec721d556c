"""The layer hardness study (Kuzma & Farkaš): how hard is each layer of an MLP to embed?

For every (activation, depth, run) an MLP is trained on the dataset's train split;
a balanced, seeded sample of the test split (the same for every network) is passed
through it and every representation is kept — ``input`` (layer 0), ``hidden1`` …
``hiddenL``, ``logits``. Each representation is projected with the configured
methods; its *hardness* is the exact KL(P‖Q) of its t-SNE embedding
(:func:`models.projections.hardness`), reported beside trustworthiness, continuity,
k-NN preservation and k-NN accuracy in 2-D.

Everything goes into ONE run of kind ``hardness``:

- arrays ``sample``: ``index`` (sample positions in the test split), ``labels``, ``input``
- arrays ``act-<net>``: one key per layer (n × units) plus ``predictions``
- arrays ``proj-<net>``: ``<method>.<layer>`` → n × 2 coordinates
- weights ``net-<net>``; files ``hardness.csv`` and ``hardness.png`` (KL per layer per activation, and
  hardness vs test accuracy)
- ``metrics.hardness``: rows {activation, depth, run, layer, method, kl, trustworthiness,
  continuity, knn_preservation, knn_accuracy, seconds}; ``metrics.test_accuracy``:
  {net: accuracy}; ``metrics.networks``: one record per network.

``<net>`` is ``<activation>-d<depth>-r<run>``. Networks train in parallel, then every
(network, layer) is projected in parallel (joblib); each (run, network, layer, method,
params, sample) result is cached in :class:`models.cache.ResultCache`, so nothing is
computed twice. Progress and cancellation go through :mod:`models.progress`.

Command line::

    python -m models.studies.hardness --dataset digits --depths 3 --activations relu tanh --runs 2 --epochs 20
"""
from __future__ import annotations

import argparse
import io
import os
import sys
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from models import datasets
from models.cache import ResultCache
from models.progress import ProgressFn, report, scaled
from models.projections import METHODS, joint_affinities, kl_divergence, project, quality
from models.store import Run, RunStore
from models.studies.cli import finish

KIND = "hardness"
TITLE = "Layer hardness (MLP grid)"
ACTIVATIONS = ("logsig", "tanh", "softsign", "relu")


@dataclass
class HardnessConfig:
    """What to train and how to measure it (defaults follow the paper; tests shrink them)."""

    dataset: str = "digits"
    depths: Sequence[int] = (5,)
    activations: Sequence[str] = ACTIVATIONS
    runs: int = 5
    epochs: int = 100
    per_class: int = 100
    methods: Sequence[str] = ("tsne",)
    width: int = 100
    batch_size: int = 128
    momentum: float = 0.9
    lr: float | None = None          # None: the per-activation default of models.nets.mlp
    patience: int = 10
    val_fraction: float = 0.1
    perplexity: float = 30.0
    tsne_iter: int = 750             # after openTSNE's 250 exaggerated steps (sklearn runs 1,000 in all)
    seed: int = 0
    n_jobs: int = -1
    data_dir: str | None = None
    device: str | None = None

    def validate(self) -> "HardnessConfig":
        from models.nets.mlp import MAX_DEPTH

        self.depths = [int(d) for d in self.depths]
        self.activations = list(self.activations)
        self.methods = list(dict.fromkeys(["tsne", *self.methods]))  # hardness needs t-SNE
        if not self.depths or any(not 1 <= d <= MAX_DEPTH for d in self.depths):
            raise ValueError(f"depths must be integers from 1 to {MAX_DEPTH} (got {self.depths})")
        bad = [a for a in self.activations if a not in ACTIVATIONS]
        if not self.activations or bad:
            raise ValueError(f"activations must be among {', '.join(ACTIVATIONS)} (got {self.activations})")
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ValueError(f"methods must be among {', '.join(METHODS)} (got {bad})")
        for name, low in (("runs", 1), ("epochs", 1), ("per_class", 2), ("width", 1), ("batch_size", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer ≥ {low} (got {value!r})")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5) (got {self.val_fraction})")
        return self


def network_name(activation: str, depth: int, run: int) -> str:
    return f"{activation}-d{depth}-r{run}"


def layer_names(depth: int) -> list[str]:
    """The representations of a depth-``depth`` MLP, input first."""
    return ["input"] + [f"hidden{i + 1}" for i in range(depth)] + ["logits"]


# -- training ------------------------------------------------------------------
def train_network(config: HardnessConfig, activation: str, depth: int, run: int,
                  train: datasets.Dataset, test: datasets.Dataset, sample: np.ndarray,
                  progress: ProgressFn | None = None, threads: int | None = None) -> dict:
    """Train one MLP and read its layers on the sample; returns plain arrays (picklable)."""
    import torch

    from models.activations import capture
    from models.nets.mlp import MLP, default_lr
    from models.training import batches, default_device, fit, seed_everything, to_tensor

    if threads:
        torch.set_num_threads(threads)
    seed = config.seed * 100_003 + run * 1009 + depth * 31 + ACTIVATIONS.index(activation)
    gen = seed_everything(seed)
    device = default_device(config.device)
    rng = np.random.default_rng(seed)
    order = rng.permutation(train.n)
    n_val = max(1, int(round(config.val_fraction * train.n)))
    val, fit_idx = order[:n_val], order[n_val:]
    X = to_tensor(train.features, device)
    y = torch.as_tensor(train.labels, device=device)
    model = MLP(train.dim, train.n_classes, depth=depth, width=config.width, activation=activation).to(device)
    lr = config.lr or default_lr(activation)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=config.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(m, batch):
        logits = m(batch[0])
        return loss_fn(logits, batch[1]), {"accuracy": (logits.argmax(1) == batch[1]).float().mean()}

    def validate(m):
        logits = m(X[val])
        return {"val_loss": float(loss_fn(logits, y[val])), "val_accuracy": float((logits.argmax(1) == y[val]).float().mean())}

    history = fit(model, optimizer, step, batches(X[fit_idx], y[fit_idx], batch_size=config.batch_size, generator=gen),
                  epochs=config.epochs, progress=progress, validate=validate, patience=config.patience,
                  message=f"training {network_name(activation, depth, run)}")
    with torch.no_grad():
        test_pred = model(to_tensor(test.features, device)).argmax(1).cpu().numpy()
    acts = capture(model, test.features[sample], model.layer_names, include_input=False)
    return {
        "name": network_name(activation, depth, run), "activation": activation, "depth": depth, "run": run,
        "seed": seed, "lr": lr, "test_accuracy": float(np.mean(test_pred == test.labels)),
        "epochs": len(history.epochs), "stopped_early": history.stopped_early,
        "state_dict": {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
        "activations": acts, "predictions": acts["logits"].argmax(1).astype(np.int64),
    }


# -- projections -----------------------------------------------------------------
def method_params(config: HardnessConfig, method: str) -> dict:
    """The parameters a study uses for ``method`` (part of every cache key)."""
    if method == "tsne":
        return {"perplexity": config.perplexity, "n_iter": config.tsne_iter, "gradient": "auto"}
    return {}


def project_layer(X: np.ndarray, labels: np.ndarray, methods: Sequence[str], params: dict[str, dict],
                  *, perplexity: float, seed: int, cache_root: str | None, key: dict) -> dict[str, dict]:
    """Every method on one layer: coordinates, exact KL, quality metrics, seconds (cached per method)."""
    cache = ResultCache(cache_root) if cache_root else None
    P = None
    out = {}
    for method in methods:
        def compute(method=method):
            nonlocal P
            if P is None:
                P = joint_affinities(X, perplexity)
            shared = {"affinities": P} if method == "tsne" and params[method].get("perplexity") == perplexity else {}
            proj = project(X, method, seed=seed, **params[method], **shared)
            # the exact t-SNE already scored its result against this very P
            exact = shared and proj.extra.get("gradient") == "exact"
            meta = {"kl": proj.extra["kl_divergence"] if exact else kl_divergence(P, proj.coords), "seconds": proj.seconds,
                    **quality(X, proj.coords, labels, k=10)}
            return {"coords": proj.coords}, meta

        full_key = {**key, "method": method, "params": params[method], "seed": seed, "perplexity": perplexity}
        arrays, meta = cache.get_or_compute(full_key, compute) if cache else compute()
        out[method] = {"coords": arrays["coords"], **{k: v for k, v in meta.items() if k != "key"}}
    return out


def _parallel(n_jobs: int, n_tasks: int):
    from joblib import Parallel

    wanted = (os.cpu_count() or 1) if n_jobs in (-1, None) else int(n_jobs)
    jobs = max(1, min(n_tasks, wanted))
    return jobs, Parallel(n_jobs=jobs, return_as="generator_unordered")


# -- the study ---------------------------------------------------------------------
def run_study(config: HardnessConfig, store: RunStore, progress: ProgressFn | None = None,
              cache: ResultCache | None = None) -> Run:
    """Train, read, project and score every network of ``config``; write ONE run and return it."""
    from joblib import delayed

    config.validate()
    cache = cache or ResultCache(store.root / ".cache")
    report(progress, 0, 1, "loading data")
    train = datasets.load(config.dataset, data_dir=config.data_dir, split="train")
    test = datasets.load(config.dataset, data_dir=config.data_dir, split="test")
    sample = datasets.balanced_indices(test.labels, config.per_class, config.seed)
    if len(sample) <= config.perplexity:
        raise ValueError(f"per_class={config.per_class} gives {len(sample)} samples; "
                         f"perplexity {config.perplexity} needs more")
    labels = test.labels[sample]
    specs = [(a, d, r) for a in config.activations for d in config.depths for r in range(config.runs)]
    store_config = {k: v for k, v in asdict(config).items() if k not in ("n_jobs", "data_dir", "device")}
    store_config["summary"] = (f"{'/'.join(config.activations)} · depth {'/'.join(map(str, config.depths))} · "
                               f"{config.runs} run{'s' * (config.runs > 1)}")

    with store.writer(KIND, dataset=config.dataset, config=store_config, seed=config.seed) as w:
        # 1. train (in parallel when there are several networks; in-process shows per-epoch progress)
        train_part = scaled(progress, 0.0, 0.5)
        jobs, parallel = _parallel(config.n_jobs, len(specs))
        nets: list[dict] = []
        if jobs == 1:
            for i, (a, d, r) in enumerate(specs):
                nets.append(train_network(config, a, d, r, train, test, sample,
                                          progress=scaled(train_part, i / len(specs), (i + 1) / len(specs))))
        else:
            report(train_part, 0, len(specs), f"training {len(specs)} networks on {jobs} workers")
            for net in parallel(delayed(train_network)(config, a, d, r, train, test, sample, threads=1)
                                for a, d, r in specs):
                nets.append(net)
                report(train_part, len(nets), len(specs), f"trained {net['name']}",
                       accuracy=net["test_accuracy"])
        nets.sort(key=lambda n: (config.activations.index(n["activation"]), n["depth"], n["run"]))

        # 2. project every (network, layer); the input is the same for all networks: once
        params = {m: method_params(config, m) for m in config.methods}
        tag = sample_tag(asdict(config))
        tasks = [("input", "input", test.features[sample])]
        for net in nets:
            tasks += [(net["name"], layer, net["activations"][layer]) for layer in layer_names(net["depth"])[1:]]
        proj_part = scaled(progress, 0.5, 0.97)
        report(proj_part, 0, len(tasks), f"projecting {len(tasks)} layers")
        jobs, parallel = _parallel(config.n_jobs, len(tasks))

        def task(owner, layer, X):
            key = {"run": w.id, "network": owner, "layer": layer, "sample": tag}
            return owner, layer, project_layer(X, labels, config.methods, params, perplexity=config.perplexity,
                                               seed=config.seed, cache_root=str(cache.root), key=key)

        results: dict[tuple[str, str], dict] = {}
        source = (task(*t) for t in tasks) if jobs == 1 else parallel(delayed(task)(*t) for t in tasks)
        for owner, layer, res in source:
            results[owner, layer] = res
            report(proj_part, len(results), len(tasks), f"projected {owner} {layer}",
                   kl=res["tsne"]["kl"])

        # 3. write
        report(progress, 0.97, 1, "writing the run")
        w.add_arrays("sample", {"index": sample, "labels": labels, "input": test.features[sample]})
        w.add_arrays("proj-input", {f"{m}.input": results["input", "input"][m]["coords"] for m in config.methods})
        rows, networks = [], []
        for net in nets:
            name = net["name"]
            w.add_weights(f"net-{name}", {k: __import__("torch").as_tensor(v) for k, v in net["state_dict"].items()})
            w.add_arrays(f"act-{name}", {**net["activations"], "predictions": net["predictions"]})
            coords = {}
            for layer in layer_names(net["depth"]):
                res = results["input", "input"] if layer == "input" else results[name, layer]
                for m in config.methods:
                    coords[f"{m}.{layer}"] = res[m]["coords"]
                    rows.append({"activation": net["activation"], "depth": net["depth"], "run": net["run"],
                                 "layer": layer, "method": m, **{k: res[m][k] for k in (
                                     "kl", "trustworthiness", "continuity", "knn_preservation", "knn_accuracy",
                                     "seconds")}})
            w.add_arrays(f"proj-{name}", coords)
            networks.append({k: net[k] for k in ("name", "activation", "depth", "run", "seed", "lr",
                                                 "test_accuracy", "epochs", "stopped_early")}
                            | {"layers": layer_names(net["depth"])})
        w.metrics["hardness"] = rows
        w.metrics["test_accuracy"] = {n["name"]: n["test_accuracy"] for n in networks}
        w.metrics["networks"] = networks
        w.metrics["mean_test_accuracy"] = float(np.mean([n["test_accuracy"] for n in networks]))
        w.metrics["samples"] = int(len(sample))
        w.manifest["summary"] = store_config["summary"]
        w.add_file("hardness.csv", hardness_csv(rows))
        w.add_file("hardness.png", hardness_png(rows, networks))
    report(progress, 1, 1, "done")
    return store.load(w.id)


# -- reading a study run back (for the dashboard and scripts) ------------------------
def network_record(run: Run, network: str) -> dict:
    for net in run.metrics.get("networks", []):
        if net["name"] == network:
            return net
    raise ValueError(f"network must be one of {[n['name'] for n in run.metrics.get('networks', [])]} (got {network!r})")


def layer_activations(run: Run, network: str, layer: str) -> np.ndarray:
    """The sample's activations at ``layer`` of ``network`` (``input`` is shared by all networks)."""
    if layer == "input":
        return run.arrays("sample")["input"]
    acts = run.arrays(f"act-{network}")
    if layer not in acts:
        raise ValueError(f"layer must be one of {network_record(run, network)['layers']} (got {layer!r})")
    return acts[layer]


def sample_tag(config: dict) -> str:
    return f"{config['per_class']}pc-s{config['seed']}-{config['dataset']}-test"


def project_run_layer(run: Run, network: str, layer: str, methods: Sequence[str], cache: ResultCache,
                      progress: ProgressFn | None = None) -> dict[str, dict]:
    """``methods`` on one layer of a stored study, through the same cache keys the study used."""
    cfg = HardnessConfig(**{k: v for k, v in run.config.items() if k in HardnessConfig.__dataclass_fields__})
    X = layer_activations(run, network, layer)
    labels = run.arrays("sample")["labels"]
    owner = "input" if layer == "input" else network
    key = {"run": run.id, "network": owner, "layer": layer, "sample": sample_tag(run.config)}
    out = {}
    for i, method in enumerate(methods):
        report(progress, i, len(methods), f"{method} of {layer}")
        out.update(project_layer(X, labels, [method], {method: method_params(cfg, method)}, perplexity=cfg.perplexity,
                                 seed=cfg.seed, cache_root=str(cache.root), key=key))
    report(progress, len(methods), len(methods), "done")
    return out


# -- outputs -------------------------------------------------------------------------
CSV_COLUMNS = ("activation", "depth", "run", "layer", "method", "kl", "trustworthiness", "continuity",
               "knn_preservation", "knn_accuracy", "seconds")


def hardness_csv(rows: list[dict]) -> str:
    lines = [",".join(CSV_COLUMNS)]
    for r in rows:
        lines.append(",".join(f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c]) for c in CSV_COLUMNS))
    return "\n".join(lines) + "\n"


def layer_table(rows: list[dict], activation: str, depth: int, method: str = "tsne") -> tuple[list[str], np.ndarray]:
    """Layer names and a runs × layers array of KL for one (activation, depth)."""
    layers = layer_names(depth)
    runs = sorted({r["run"] for r in rows if r["activation"] == activation and r["depth"] == depth})
    table = np.full((len(runs), len(layers)), np.nan)
    for r in rows:
        if r["activation"] == activation and r["depth"] == depth and r["method"] == method:
            table[runs.index(r["run"]), layers.index(r["layer"])] = r["kl"]
    return layers, table


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
    for act in dict.fromkeys(n["activation"] for n in networks):
        accs = [n["test_accuracy"] for n in networks if n["activation"] == act]
        kls = [np.mean([r["kl"] for r in rows if r["method"] == "tsne" and r["activation"] == act
                        and r["depth"] == n["depth"] and r["run"] == n["run"] and r["layer"].startswith("hidden")])
               for n in networks if n["activation"] == act]
        ax.scatter(kls, accs, label=act)
    ax.set_xlabel("mean hidden-layer KL")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


# -- command line ----------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m models.studies.hardness",
                                description="Train MLPs and measure each layer's t-SNE hardness (KL).")
    p.add_argument("--dataset", default="digits")
    p.add_argument("--depths", type=int, nargs="+", default=[5])
    p.add_argument("--activations", nargs="+", default=list(ACTIVATIONS), choices=ACTIVATIONS)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--methods", nargs="+", default=["tsne"], choices=list(METHODS))
    p.add_argument("--perplexity", type=float, default=30.0)
    p.add_argument("--jobs", type=int, default=-1, help="parallel workers (-1: all cores)")
    p.add_argument("--data-dir", default="data")
    p.add_argument("--store-dir", default="runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = HardnessConfig(dataset=args.dataset, depths=args.depths, activations=args.activations, runs=args.runs,
                            epochs=args.epochs, per_class=args.per_class, methods=args.methods,
                            perplexity=args.perplexity, seed=args.seed, n_jobs=args.jobs, data_dir=args.data_dir,
                            device=args.device)

    def summary(run: Run):
        for name, acc in run.metrics["test_accuracy"].items():
            layers = [r for r in run.metrics["hardness"] if r["method"] == "tsne"
                      and f"{r['activation']}-d{r['depth']}-r{r['run']}" == name]
            yield f"{name}: test accuracy {acc:.3f}; KL " + " ".join(f"{r['layer']}={r['kl']:.3f}" for r in layers)

    return finish(lambda progress: run_study(config, RunStore(args.store_dir), progress=progress), summary)


if __name__ == "__main__":
    sys.exit(main())
