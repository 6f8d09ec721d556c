"""Train MLPs and measure each layer's t-SNE hardness (KL), after Kuzma & Farkaš.

For every (activation, depth, run) an MLP is trained on the dataset's train split for the full
``epochs`` (early stopping only with ``--patience``); when the dataset has only one split (MNIST's
test files alone), train and test are drawn from it with a seeded, stratified holdout, and the
run's manifest says so (``split``). A balanced, seeded sample of the test split (the same for every network) is
passed through it
and every representation is kept — ``input`` (layer 0), ``hidden1`` … ``hiddenL``,
``logits``. Each representation is projected with the configured methods; its *hardness* is
the exact KL(P‖Q) of its t-SNE embedding (:func:`models.projections.hardness`), reported
beside trustworthiness, continuity, k-NN preservation and k-NN accuracy in 2-D.

Everything goes into ONE run of kind ``hardness``:

- arrays ``sample``: ``index`` (sample positions in the test split), ``labels``, ``input``
- arrays ``act-<net>``: one key per layer (n × units) plus ``predictions``
- arrays ``proj-<net>`` (and ``proj-input``): ``<method>.<layer>`` → n × 2 coordinates
- weights ``net-<net>``; files ``hardness.csv`` and ``hardness.png``
- ``metrics.hardness``: rows with :data:`CSV_COLUMNS`; ``metrics.test_accuracy``:
  {net: accuracy}; ``metrics.networks``: one record per network.

``<net>`` is :func:`network_name`. This module is the study's light face (config, command
line, readers of its runs: no torch); the training and projecting live in
:mod:`models.studies.hardness_engine`, imported only when a run starts.

Command line::

    python -m models.studies.hardness --dataset digits --depths 3 --activations relu tanh --runs 2 --epochs 20
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..nets.choices import ACTIVATIONS, MAX_DEPTH  # the paper's activations and depth; torch-free
from ..projections import METHODS
from ..validation import check_choices, check_float, check_int
from .base import StudyConfig, check_kind, command_line, lazy_run, option

if typing.TYPE_CHECKING:  # pragma: no cover
    from ..store import Run

KIND = "hardness"
TITLE = "Layer hardness (MLP grid)"
#: one row of ``metrics.hardness`` and of ``hardness.csv``
CSV_COLUMNS = (
    "activation",
    "depth",
    "run",
    "layer",
    "method",
    "kl",
    "trustworthiness",
    "continuity",
    "knn_preservation",
    "knn_accuracy",
    "seconds",
)
SCORES = CSV_COLUMNS[5:]


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    """What to train and how to measure it (defaults follow the paper; tests shrink them).

    ``methods`` always starts with ``tsne``: a layer's hardness *is* its t-SNE's KL, so the
    study cannot run without it; the config holds it from the start instead of adding it later.
    """

    depths: tuple[int, ...] = option(
        (5,), f"hidden-layer counts to train, each from 1 to {MAX_DEPTH} (the paper's figures use 5)"
    )
    activations: tuple[str, ...] = option(
        ACTIVATIONS, "hidden-layer activations to train (the paper's four)", choices=ACTIVATIONS
    )
    runs: int = option(5, "independently seeded networks per (activation, depth): the spread of the bars")
    epochs: int = option(100, "training epochs; the paper trains every network for 100 epochs of SGD with momentum")
    per_class: int = option(
        100, "test samples per class in the balanced sample every layer is projected on (the paper: 100)"
    )
    methods: tuple[str, ...] = option(
        ("tsne",), "projections of every layer (tsne is always included: it gives the hardness)", choices=tuple(METHODS)
    )
    width: int = option(100, "units per hidden layer (the paper: 100)")
    batch_size: int = option(
        32,
        "SGD mini-batch size; 32 is the reference whose deep-layer KL matched an "
        "independent one within ±6 per cent (128 trains too little per epoch)",
    )
    momentum: float = option(0.9, "SGD momentum (the paper trains with momentum; 0.9 is the usual value)")
    lr: float | None = option(
        None,
        "SGD learning rate (none: models.nets.mlp's rate for the activation, tuned "
        "so each activation trains, logistic sigmoid included)",
    )
    patience: int | None = option(
        None,
        "stop after this many epochs without a better validation loss; unset or "
        "0: off, so every network trains fully as in the paper (stopping early "
        "left deep-layer KL 30-90 per cent high)",
    )
    val_fraction: float = option(
        0.1,
        "share of the train split held out to report the validation loss (and stop early with --patience), in (0, 0.5)",
    )
    split_holdout: float = option(
        0.2,
        "when the dataset has only one split (e.g. MNIST's test files alone): the "
        "seeded, stratified share of it used as the test split",
        flag="--holdout",
    )
    perplexity: float = option(30.0, "t-SNE perplexity, also the P of every layer's KL (the paper: 30)")
    tsne_iter: int = option(
        750, "t-SNE steps after openTSNE's 250 exaggerated ones (1,000 in all, as sklearn and the paper run)"
    )
    n_jobs: int = option(-1, "parallel workers (-1: all cores)", flag="--jobs", record=False)
    device: str | None = option(None, "torch device, e.g. cpu or cuda (none: cuda when available)", record=False)

    def __post_init__(self) -> None:
        # normalise before the base class freezes and checks: tsne first, each method once
        methods = (self.methods,) if isinstance(self.methods, str) else self.methods
        if isinstance(methods, Iterable):
            object.__setattr__(self, "methods", tuple(dict.fromkeys(("tsne", *methods))))
        super().__post_init__()

    def check(self) -> None:
        if not self.depths:
            raise ValueError(f"depths must name at least one depth from 1 to {MAX_DEPTH} (got [])")
        for depth in self.depths:
            check_int("depths", depth, 1, MAX_DEPTH)
        check_choices("activations", self.activations, ACTIVATIONS)
        check_choices("methods", self.methods, METHODS)
        for name, low in (
            ("runs", 1),
            ("epochs", 1),
            ("per_class", 2),
            ("width", 1),
            ("batch_size", 1),
            ("tsne_iter", 1),
        ):
            check_int(name, getattr(self, name), low)
        if self.patience is not None:
            check_int("patience (none or 0: off)", self.patience, 0)
        check_float("split_holdout (--holdout)", self.split_holdout, 0, 0.5, low_open=True, high_open=True)
        check_float("val_fraction", self.val_fraction, 0, 0.5, low_open=True, high_open=True)
        check_float("momentum", self.momentum, 0, 1, high_open=True)
        check_float("perplexity", self.perplexity, 0, low_open=True)
        if self.lr is not None:
            check_float("lr", self.lr, 0, low_open=True)
        if self.n_jobs != -1:
            check_int("n_jobs (--jobs; -1 for all cores)", self.n_jobs, 1)

    @property
    def label(self) -> str:
        """One line naming the grid, e.g. ``relu/tanh · depth 3 · 2 runs`` (the run picker shows it)."""
        return (
            f"{'/'.join(self.activations)} · depth {'/'.join(map(str, self.depths))} · "
            f"{self.runs} run{'s' * (self.runs > 1)}"
        )

    @property
    def early_stopping(self) -> int | None:
        """The patience when early stopping is on, else ``None`` (the default: networks train fully)."""
        return self.patience or None

    def grid(self) -> list[tuple[str, int, int]]:
        """(activation, depth, run) of every network of the grid, in the order the run lists them."""
        return [(a, d, r) for a in self.activations for d in self.depths for r in range(self.runs)]


run = lazy_run(f"{__package__}.hardness_engine")


# -- names and seeds of the grid --------------------------------------------------------
def network_name(activation: str, depth: int, run: int) -> str:
    """``<activation>-d<depth>-r<run>``: how a run names one network (its arrays, weights, rows)."""
    return f"{activation}-d{int(depth)}-r{int(run)}"


def network_seed(seed: int, activation: str, depth: int, run: int) -> int:
    """The seed of one network of the grid (its initialisation, data order and validation split).

    Derived from the study's ``seed`` and the network's place in the grid through
    :class:`numpy.random.SeedSequence`, which hashes the tuple into independent, well-mixed
    streams: every (activation, depth, run) gets its own, the same on every machine, and adding
    a depth or a run never changes the networks already there.
    """
    entropy = (int(seed), ACTIVATIONS.index(activation), int(depth), int(run))
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint32)[0])


def layer_names(depth: int) -> list[str]:
    """The representations of a depth-``depth`` MLP, input first."""
    return ["input"] + [f"hidden{i + 1}" for i in range(int(depth))] + ["logits"]


def sample_tag(config: Mapping) -> str:
    """Names the study's sample (per class, seed, dataset) inside every cache key."""
    return f"{config['per_class']}pc-s{config['seed']}-{config['dataset']}-test"


# -- reading a run back (views, scripts, the command line) ---------------------------------
def networks(run: "Run") -> list[dict]:
    """One record per network: name, activation, depth, run, seed, lr, test_accuracy, epochs, layers."""
    return list(check_kind(run, KIND).metrics.get("networks", []))


def network_record(run: "Run", network: str) -> dict:
    for net in networks(run):
        if net["name"] == network:
            return net
    raise ValueError(f"network must be one of {[n['name'] for n in networks(run)]} (got {network!r})")


def layer_activations(run: "Run", network: str, layer: str) -> np.ndarray:
    """The sample's activations at ``layer`` of ``network`` (``input`` is shared by all networks)."""
    if layer == "input":
        return run.arrays("sample")["input"]
    acts = run.arrays(f"act-{network}")
    if layer not in acts:
        raise ValueError(f"layer must be one of {network_record(run, network)['layers']} (got {layer!r})")
    return acts[layer]


def layer_kls(run: "Run", network: str, method: str = "tsne") -> dict[str, float]:
    """``{layer: KL}`` of one network under ``method``, input first."""
    return {
        r["layer"]: r["kl"]
        for r in check_kind(run, KIND).metrics.get("hardness", [])
        if r["method"] == method and network_name(r["activation"], r["depth"], r["run"]) == network
    }


def layer_table(
    rows: Sequence[dict], activation: str, depth: int, method: str = "tsne"
) -> tuple[list[str], np.ndarray]:
    """Layer names and a runs × layers array of KL for one (activation, depth) (NaN where missing)."""
    layers = layer_names(depth)
    mine = [r for r in rows if r["activation"] == activation and r["depth"] == depth and r["method"] == method]
    runs = sorted({r["run"] for r in mine})
    table = np.full((len(runs), len(layers)), np.nan)
    for r in mine:
        table[runs.index(r["run"]), layers.index(r["layer"])] = np.nan if r["kl"] is None else r["kl"]
    return layers, table


def kl_tables(
    rows: Sequence[dict], depth: int, method: str = "tsne", activations: Sequence[str] = ACTIVATIONS
) -> list[tuple[str, list[str], np.ndarray]]:
    """``[(activation, layers, runs × layers KL), …]`` at ``depth``, for each activation with results."""
    tables = [(a, *layer_table(rows, a, depth, method)) for a in activations]
    return [t for t in tables if t[2].size]


def accuracy_points(rows: Sequence[dict], nets: Sequence[dict], method: str = "tsne") -> list[dict]:
    """Per network: its mean hidden-layer KL beside its test accuracy (networks without a KL left out)."""
    points = []
    for net in nets:
        kls = [
            r["kl"]
            for r in rows
            if r["method"] == method
            and r["activation"] == net["activation"]
            and r["depth"] == net["depth"]
            and r["run"] == net["run"]
            and r["layer"].startswith("hidden")
        ]
        if kls:
            points.append(
                {
                    "name": net["name"],
                    "activation": net["activation"],
                    "kl": float(np.mean(kls)),
                    "test_accuracy": net["test_accuracy"],
                }
            )
    return points


def summary(run: "Run") -> Iterable[str]:
    """The command line's report: each network's test accuracy and per-layer KL."""
    for net in networks(run):
        kls = layer_kls(run, net["name"])
        yield (
            f"{net['name']}: test accuracy {net['test_accuracy']:.3f}; KL "
            + " ".join(f"{layer}={kl:.3f}" for layer, kl in kls.items())
        )


# the spec name, not __name__: under ``python -m`` this module runs as __main__, and the engine must see
# the same Config class as the command line that made the config
main = command_line(__spec__.name)

if __name__ == "__main__":
    sys.exit(main())
