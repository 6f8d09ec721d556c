"""Compare representations: how alike two layers, two checkpoints or two models are, and what each layer knows.

Reads capture runs (and hardness runs: one network's layers) and writes one run of kind ``compare``:

- ``metrics.cka``: CKA of A's layers × B's layers (two runs on the same samples), else A's layers ×
  A's layers at one step (default: the last), with the layers in network order;
- ``metrics.cka_steps``: each layer at every step against itself at the last step (A with > 1 step);
- ``metrics.probe`` / ``metrics.knn``: linear-probe and k-NN accuracy per layer (B's layers as
  ``"B:" + layer``), ``probe_steps`` / ``knn_steps`` per step, ``hardness`` (t-SNE KL) when the
  source is a hardness run;
- ``metrics.movers`` and ``movers.npz``: per sample, the share of its k nearest neighbours kept
  between two representations; ``report.md`` and ``cka.png`` beside the manifest.

A run is named ``RUN`` or, for a hardness run, ``RUN:NETWORK`` (default: its first network). Two
runs must hold the same samples (dataset, split and ``sample.npz`` index), else the study refuses.
This is the face (config, readers, no torch); :mod:`models.studies.compare_engine` does the work.

    python -m models.studies.compare --runs capture-A capture-B --metric linear
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Iterable, Mapping

import numpy as np

from ..errors import UserError
from ..similarity.cka import METRICS
from ..store import RunStore, StoreError
from ..validation import check_choice, check_int
from .base import StudyConfig, check_kind, command_line, lazy_run, option

if typing.TYPE_CHECKING:  # pragma: no cover
    from ..store import Run

KIND = "compare"
TITLE = "Compare representations (CKA, probes, movers)"
SOURCE_KINDS = ("capture", "hardness")
DEVICES = ("auto", "cpu", "cuda")
B_PREFIX = "B:"  # B's layers in metrics.probe / knn / hardness


@dataclasses.dataclass(frozen=True)
class Config(StudyConfig):
    dataset: str = option("digits", "set from the compared runs (the dataset their samples come from)", cli=False)
    runs: tuple[str, ...] | None = option(
        None, "one or two run ids (capture, or hardness as RUN:NETWORK); none: the newest capture run"
    )
    steps: tuple[int, ...] | None = option(
        None, "steps of the first run to compare (none: all); the main comparison uses the last of them"
    )
    step_b: int | None = option(None, "step of the second run (none: its last)")
    layers: tuple[str, ...] | None = option(None, "layers of the first run (none: all, in network order)")
    layers_b: tuple[str, ...] | None = option(
        None, "layers of the second run (none: --layers when it has them all, else all of its layers)"
    )
    metric: str = option(
        "linear",
        "CKA: linear (exact), linear-debiased (minibatch, unbiased HSIC) or rbf (Gaussian kernel, median bandwidth)",
        choices=METRICS,
    )
    k: int = option(10, "neighbours per sample for k-NN accuracy and the movers")
    folds: int = option(5, "stratified folds of the linear probe (fixed by --seed)")
    probes: bool = option(True, "score every layer with a linear probe and k-NN accuracy")
    max_samples: int | None = option(None, "compare at most this many samples (a seeded subsample; none: all)")
    probe_samples: int = option(5000, "probes, k-NN accuracy and movers on at most this many samples (seeded)")
    batch_size: int = option(1024, "minibatch size of linear-debiased CKA")
    rbf_samples: int = option(2000, "RBF CKA on at most this many samples (its kernels are n × n)")
    device: str = option("auto", "where CKA runs: auto (CUDA when present), cpu or cuda", choices=DEVICES, record=False)

    def check(self) -> None:
        if self.runs is not None and (
            not 1 <= len(self.runs) <= 2 or not all(isinstance(r, str) and r for r in self.runs)
        ):
            raise UserError(f"runs must name one or two runs (got {list(self.runs)})")
        if self.steps is not None:
            if not self.steps:
                raise UserError("steps must name at least one step (got [])")
            for s in self.steps:
                check_int("steps", s, low=None)
        if self.step_b is not None:
            check_int("step_b", self.step_b, low=None)
        for name in ("layers", "layers_b"):
            value = getattr(self, name)
            if value is not None and (not value or not all(isinstance(v, str) and v for v in value)):
                raise UserError(f"{name} must name at least one layer (got {list(value)})")
        check_choice("metric", self.metric, METRICS)
        check_choice("device", self.device, DEVICES)
        check_int("k", self.k, low=1)
        check_int("folds", self.folds, low=2)
        check_int("probe_samples", self.probe_samples, low=10)
        check_int("batch_size", self.batch_size, low=4)
        check_int("rbf_samples", self.rbf_samples, low=4)
        if self.max_samples is not None:
            check_int("max_samples", self.max_samples, low=4)


run = lazy_run(f"{__package__}.compare_engine")


# -- the runs compared: a capture run, or one network of a hardness run --------------------------
@dataclasses.dataclass(frozen=True)
class Source:
    """One side of a comparison: a capture run, or one network of a hardness run."""

    run: Run
    network: str | None = None

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def ref(self) -> str:
        """How a config names it: ``RUN`` or ``RUN:NETWORK``."""
        return self.id if self.network is None else f"{self.id}:{self.network}"

    @property
    def kind(self) -> str:
        return self.run.kind

    @property
    def dataset(self) -> str:
        return str(self.run.manifest.get("dataset", ""))

    @property
    def split(self) -> str:
        if self.kind == "capture":
            return str(self.run.manifest["capture"].get("split", "train"))
        return str(self.run.manifest.get("sample_split", "test"))

    def layers(self) -> list[str]:
        """Layer names in network order (input first for hardness networks, output last)."""
        if self.kind == "capture":
            from . import capture

            return [layer["name"] for layer in capture.layers(self.run)]
        from . import hardness

        return list(hardness.network_record(self.run, self.network)["layers"])

    def steps(self) -> list[int]:
        if self.kind == "capture":
            from . import capture

            return capture.steps(self.run)
        return [0]  # a hardness network is one trained model

    def vectors(self, layer: str, step: int | None = None) -> np.ndarray:
        """``layer``'s vectors at ``step`` (default: the last), samples × dims (may be a read-only memmap)."""
        if layer not in self.layers():
            raise UserError(f"run {self.ref} has no layer {layer!r}; it has {self.layers()}")
        if step is not None and step not in self.steps():
            raise UserError(f"run {self.ref} has no step {step}; it has {self.steps()}")
        if self.kind == "capture":
            from . import capture

            return capture.activations(self.run, layer, step)
        from . import hardness

        return np.asarray(hardness.layer_activations(self.run, self.network, layer))

    def sample(self) -> dict[str, np.ndarray]:
        """``index`` (positions in the dataset split) and ``labels``."""
        arrays = self.run.arrays("sample")
        return {"index": np.asarray(arrays["index"], dtype=np.int64), "labels": np.asarray(arrays["labels"])}

    def hardness(self) -> dict[str, float] | None:
        """``{layer: t-SNE KL}`` of a hardness network; None for a capture run."""
        if self.kind != "hardness":
            return None
        from . import hardness

        return {k: v for k, v in hardness.layer_kls(self.run, self.network).items() if v is not None}


def open_source(store: RunStore, ref: str, network: str | None = None) -> Source:
    """The run ``ref`` names (``RUN`` or ``RUN:NETWORK``), checked to be a capture or hardness run."""
    if not isinstance(ref, str) or not ref:
        raise UserError(f"a run must be named by its id (got {ref!r})")
    run_id, _, net = ref.partition(":")
    network = network or net or None
    try:
        run = store.load(run_id)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    if run.kind not in SOURCE_KINDS:
        raise UserError(f"run {run_id} is a {run.kind or 'unknown'} run; compare reads capture or hardness runs")
    if run.kind == "capture":
        if network is not None:
            raise UserError(f"run {run_id} is a capture run: it has no networks (got {ref!r})")
        return Source(run)
    from . import hardness

    names = [n["name"] for n in hardness.networks(run)]
    if not names:
        raise UserError(f"hardness run {run_id} holds no networks")
    if network is None:
        network = names[0]
    if network not in names:
        raise UserError(f"hardness run {run_id} has no network {network!r}; it has {names}")
    return Source(run, network)


def same_samples(a: Source, b: Source) -> None:
    """Refuse (ValueError) unless ``a`` and ``b`` hold the same samples in the same order."""
    if (a.dataset, a.split) != (b.dataset, b.split):
        raise UserError(
            f"runs {a.ref} and {b.ref} hold different samples: {a.dataset} ({a.split}) vs "
            f"{b.dataset} ({b.split}); capture both on the same samples"
        )
    ia, ib = a.sample()["index"], b.sample()["index"]
    if ia.shape != ib.shape or not np.array_equal(ia, ib):
        detail = (
            f"{ia.size:,} vs {ib.size:,} samples"
            if ia.shape != ib.shape
            else f"{int(np.sum(ia != ib)):,} of {ia.size:,} sample indices differ"
        )
        raise UserError(
            f"runs {a.ref} and {b.ref} hold different samples ({detail}); capture both with the "
            "same --dataset, --split, --per-class, --limit and --seed"
        )


# -- readers for the Compare tab and scripts ------------------------------------------------------
def _store_of(store) -> RunStore:
    return store if isinstance(store, RunStore) else RunStore(store)


def layer_vectors(store, run_id: str, step: int | None, layer: str, network: str | None = None) -> np.ndarray:
    """``layer`` of run ``run_id`` (``RUN`` or ``RUN:NETWORK``) at ``step`` (None: the last), samples × dims."""
    return open_source(_store_of(store), run_id, network).vectors(layer, step)


def sample_index(store, run_id: str) -> np.ndarray:
    """Dataset indices (int64) of the samples of run ``run_id``: row i of every layer is sample index[i]."""
    return open_source(_store_of(store), run_id).sample()["index"]


def sample_rows(n: int, limit: int | None, seed: int, salt: int = 1) -> np.ndarray | None:
    """A sorted, seeded subsample of ``limit`` of ``n`` rows (None: all). The study draws its probe and
    movers rows with ``salt`` 1, so :func:`movers_between` with the run's ``probe_samples`` and ``seed``
    finds the stored movers again."""
    if limit is None or n <= limit:
        return None
    return np.sort(np.random.default_rng([seed, salt]).choice(n, limit, replace=False))


def movers_between(
    store, ref_a: Mapping, ref_b: Mapping, k: int = 10, max_samples: int | None = 5000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(index, kept)`` for any two layers: ``ref`` = ``{"run": id, "step": s, "layer": name}`` (plus
    ``"network"`` for a hardness run); ``kept[i]`` is the share of sample ``index[i]``'s k nearest
    neighbours in A that are still among its k nearest in B. On at most ``max_samples`` samples (seeded,
    as the study draws them; exact k-NN costs n²)."""
    from ..similarity.movers import movers

    store = _store_of(store)
    a = open_source(store, ref_a["run"], ref_a.get("network"))
    b = open_source(store, ref_b["run"], ref_b.get("network"))
    if a.ref != b.ref:
        same_samples(a, b)
    X, Y = a.vectors(ref_a["layer"], ref_a.get("step")), b.vectors(ref_b["layer"], ref_b.get("step"))
    index = a.sample()["index"]
    rows = sample_rows(len(index), max_samples, seed)
    if rows is not None:
        X, Y, index = np.asarray(X[rows]), np.asarray(Y[rows]), index[rows]
    k = check_int("k", k, low=1)
    return index, movers(X, Y, min(k, len(index) - 1))


def comparable_runs(store, ref: str) -> list[str]:
    """Refs (``RUN``, or ``RUN:NETWORK`` for each hardness network) of the other runs in ``store`` that hold
    the same samples as ``ref``, newest first: what a second-run picker offers."""
    store = _store_of(store)
    a = open_source(store, ref)
    out = []
    for run in store.list():
        if run.kind not in SOURCE_KINDS:
            continue
        try:
            b = open_source(store, run.id)
            same_samples(a, b)
        except (ValueError, StoreError, KeyError, OSError):
            continue
        if run.kind == "hardness":
            from . import hardness

            out += [f"{run.id}:{net['name']}" for net in hardness.networks(run) if f"{run.id}:{net['name']}" != a.ref]
        elif run.id != a.id:
            out.append(run.id)
    return out


def cka(run: Run) -> dict:
    """``metrics.cka``: ``layers_a``, ``layers_b``, ``matrix`` (list of rows), ``metric``, runs and steps."""
    return dict(check_kind(run, KIND).metrics["cka"])


def cka_matrix(run: Run) -> np.ndarray:
    """The main CKA matrix as an array (A's layers × B's layers)."""
    return np.array(cka(run)["matrix"], dtype=float)


def cka_steps(run: Run) -> dict | None:
    """``metrics.cka_steps`` (``layers``, ``steps``, ``matrix`` rows = layers), None with one step."""
    value = check_kind(run, KIND).metrics.get("cka_steps")
    return dict(value) if value else None


def probe(run: Run) -> dict[str, float]:
    """Linear-probe accuracy per layer (B's layers as ``"B:" + layer``)."""
    return dict(check_kind(run, KIND).metrics.get("probe", {}))


def knn(run: Run) -> dict[str, float]:
    """Leave-one-out k-NN accuracy per layer (B's layers as ``"B:" + layer``)."""
    return dict(check_kind(run, KIND).metrics.get("knn", {}))


def probe_steps(run: Run) -> dict[str, dict[str, float]]:
    """``{str(step): {layer: accuracy}}`` of run A's steps (empty with one step)."""
    return dict(check_kind(run, KIND).metrics.get("probe_steps", {}))


def knn_steps(run: Run) -> dict[str, dict[str, float]]:
    return dict(check_kind(run, KIND).metrics.get("knn_steps", {}))


def hardness(run: Run) -> dict[str, float]:
    """``{layer: t-SNE KL}`` when the compared run is a hardness network, else empty."""
    return dict(check_kind(run, KIND).metrics.get("hardness", {}))


def movers(run: Run) -> dict:
    """The stored movers: ``from``/``to`` refs, ``k``, and the arrays ``index``, ``kept``, ``labels``."""
    info = dict(check_kind(run, KIND).metrics["movers"])
    arrays = run.arrays("movers")
    return {**info, "index": arrays["index"], "kept": arrays["kept"], "labels": arrays["labels"]}


def correspondence(run: Run) -> list[tuple[str, str, float]]:
    """For each of A's layers, B's most similar layer and its CKA (on A × A, the most similar other layer)."""
    info = cka(run)
    return most_similar(
        info["layers_a"],
        info["layers_b"],
        np.array(info["matrix"], dtype=float),
        exclude_self=info.get("run_b") is None,
    )


def most_similar(
    layers_a: list[str], layers_b: list[str], matrix: np.ndarray, exclude_self: bool = False
) -> list[tuple[str, str, float]]:
    """``(a, best b, CKA)`` per row; ``exclude_self`` skips the diagonal (a layer is most like itself)."""
    M = np.array(matrix, dtype=float)
    if exclude_self and M.shape[0] == M.shape[1] and M.shape[1] > 1:
        np.fill_diagonal(M, -np.inf)
    out = []
    for i, a in enumerate(layers_a):
        j = int(np.nanargmax(M[i]))
        out.append((a, layers_b[j], float(M[i, j])))
    return out


@dataclasses.dataclass(frozen=True)
class Result:
    """A compare run's numbers, typed: what ``layerscope.compare`` returns (``Result.of(run)``)."""

    run: Run
    metric: str
    layers_a: list[str]
    layers_b: list[str]
    cka: np.ndarray  # len(layers_a) × len(layers_b)
    run_a: str
    run_b: str | None
    step_a: int
    step_b: int
    steps: list[int]  # run A's steps (cka_steps columns)
    cka_steps: np.ndarray | None  # layers_a × steps, each layer vs itself at the last step
    probe: dict[str, float]
    knn: dict[str, float]
    probe_steps: dict[str, dict[str, float]]
    knn_steps: dict[str, dict[str, float]]
    hardness: dict[str, float]
    movers_from: dict
    movers_to: dict
    movers_index: np.ndarray
    movers_kept: np.ndarray

    @classmethod
    def of(cls, run: Run) -> Result:
        info, steps, moved = cka(run), cka_steps(run), movers(run)
        return cls(
            run=run,
            metric=info["metric"],
            layers_a=list(info["layers_a"]),
            layers_b=list(info["layers_b"]),
            cka=np.array(info["matrix"], dtype=float),
            run_a=info["run_a"],
            run_b=info["run_b"],
            step_a=info["step_a"],
            step_b=info["step_b"],
            steps=list(steps["steps"]) if steps else [info["step_a"]],
            cka_steps=np.array(steps["matrix"], dtype=float) if steps else None,
            probe=probe(run),
            knn=knn(run),
            probe_steps=probe_steps(run),
            knn_steps=knn_steps(run),
            hardness=hardness(run),
            movers_from=moved["from"],
            movers_to=moved["to"],
            movers_index=moved["index"],
            movers_kept=moved["kept"],
        )

    @property
    def run_id(self) -> str:
        return self.run.id

    def most_similar(self) -> list[tuple[str, str, float]]:
        """For each of A's layers, the most similar layer of B (of A, itself left out, with one run)."""
        return most_similar(self.layers_a, self.layers_b, self.cka, exclude_self=self.run_b is None)


def summary(run: Run) -> Iterable[str]:
    """The command line's report: the correspondence, and each layer's probe and k-NN accuracy."""
    info = cka(run)
    other = f" vs {info['run_b']} (step {info['step_b']})" if info.get("run_b") else ""
    yield f"{info['metric']} CKA of {info['run_a']} (step {info['step_a']}){other}"
    arrow = "→" if info.get("run_b") else "~"
    for a, b, value in correspondence(run):
        yield f"  {a:<24} {arrow} {b:<24} {value:.3f}"
    probes, knns = probe(run), knn(run)
    for layer, acc in probes.items():
        yield f"  probe {layer:<24} {acc:.3f}   k-NN {knns.get(layer, float('nan')):.3f}"
    moved = check_kind(run, KIND).metrics.get("movers")
    if moved:
        yield (
            f"movers: {moved['from']['layer']} → {moved['to']['layer']}, mean share of {moved['k']} neighbours "
            f"kept {moved.get('mean_kept', float('nan')):.3f}"
        )


main = command_line(__spec__.name)

if __name__ == "__main__":
    sys.exit(main())
