"""Train a deep neural map (Pesteie et al.): a convolutional autoencoder and a SOM on its code, trained jointly.

1. pre-train the autoencoder on reconstruction;
2. pre-train the SOM on the codes (σ0·exp(−n/α), η0·exp(−n/α));
3. joint training, per batch: a SOM update on the batch's codes with a decaying
   neighbourhood, Student-t soft assignment ``q_ij`` of codes to prototypes, the
   sharpened target ``p_ij = (q_ij² / Σ_i q_ij) / Σ_j' (q_ij'² / Σ_i q_ij')``, and the loss
   KL(P‖Q) + γ·‖X − X̂‖² + β·‖θ‖² minimised by Adam, so the code itself moves to fit the map.

The run keeps what the Maps tab draws: every node's decoded prototype, majority class,
purity and hits, the U-matrix, and each sample's best-matching unit. This module is the
study's light face (config, readers, command line); the training is in ``dnm_engine``.

    python -m models.studies.dnm --dataset digits --epochs 20 --lattice 20x30
    python -m models.studies.dnm --dataset coil20 --architecture paper --pretrain-iterations 500 --resize 64

Each run also writes ``lattice.png`` (the decoded prototypes as a mosaic, the paper's figure) and
``report.md`` (the metrics, and where this study differs from the paper; reference figures: REPRODUCTION.md).
"""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from ..nets.choices import DNM_ARCHITECTURES as ARCHITECTURES
from ..nets.lattice import LATTICES, parse_lattice
from ..validation import check_choice, check_float, check_int
from .base import StudyConfig, check_kind, command_line, lazy_run, option, split_option

if typing.TYPE_CHECKING:  # pragma: no cover
    from ..store import Run

KIND = "dnm"
TITLE = "Deep neural map"
ARRAYS = "lattice"  # the name of the run's array group the Maps tab reads


@dataclass(frozen=True)
class Config(StudyConfig):
    """Everything that shapes a DNM run (stored as the run's config)."""

    lattice: str = option("20x30", "ROWSxCOLS of the map's nodes (paper: 20x30)")
    topology: str = option("rect", "lattice of the nodes: rect (8 neighbours) or hex (6)", choices=LATTICES)
    code: int = option(100, "units in the autoencoder's code, the space the SOM maps (paper: 100)")
    architecture: str = option(
        "paper",
        "autoencoder: 'paper' = 5x5 convs 10-8-5 at full resolution, dense code, mirror decoder "
        "(Pesteie et al.); 'compact' = the same layers halving images above 16 px at each conv. Default "
        "paper: on digits upscaled to 28x28 its map was purer (0.86 vs 0.75), more topographic and its "
        "prototypes sharper than compact's (BENCHMARKS.md, 'Deep neural maps: paper architecture'); compact "
        "has 35x fewer weights and needs about half the CPU time; the two are identical at <= 16 px",
        choices=ARCHITECTURES,
    )
    pretrain_epochs: int = option(
        30, "epochs of autoencoder pre-training on reconstruction alone (ignored when --pretrain-iterations is given)"
    )
    pretrain_iterations: int | None = option(
        None, "pre-train the autoencoder for this many batches instead of epochs (paper: 500)"
    )
    resize: int | None = option(
        None,
        "resize images to NxN (torch bilinear interpolation, antialiased when "
        "shrinking) before training; paper: COIL-20 at 64",
    )
    som_iterations: int = option(10_000, "samples the SOM is pre-trained on before joint training")
    epochs: int = option(20, "joint training epochs (SOM update + KL(P‖Q) + reconstruction)")
    batch_size: int = option(64, "samples per batch, in every phase")
    lr: float = option(3e-3, "Adam's learning rate in pre-training")
    joint_lr: float = option(
        1e-4, "Adam's learning rate in joint training: small, so KL(P‖Q) refines rather than collapses the code"
    )
    gamma: float = option(10.0, "weight γ of the reconstruction term in the joint loss")
    beta: float = option(1e-5, "weight β of the decay on the autoencoder's weights")
    sigma0: float = option(10.0, "SOM pre-training: neighbourhood width at the start (paper: 10)")
    eta0: float = option(0.3, "SOM pre-training: learning rate at the start (paper: 0.3)")
    alpha: float = option(2000.0, "SOM pre-training: decay constant of width and rate, in samples (paper: 2000)")
    joint_sigma: tuple[float, ...] = option(
        (2.0, 0.5), "neighbourhood width at the start and the end of joint training"
    )
    joint_eta: float = option(0.05, "SOM learning rate during joint training")
    limit: int | None = option(None, "train on at most this many samples (all when not given)")
    device: str | None = option(None, "torch device (cuda when available, else cpu)", record=False)
    split: str | None = split_option()

    def check(self) -> None:
        parse_lattice(self.lattice)
        check_choice("topology", self.topology, LATTICES)
        for name in ("code", "batch_size", "som_iterations"):
            check_int(name, getattr(self, name), low=1)
        for name in ("epochs", "pretrain_epochs"):
            check_int(name, getattr(self, name), low=0)
        for name in ("gamma", "beta"):
            check_float(name, getattr(self, name), low=0)
        for name in ("lr", "joint_lr", "sigma0", "eta0", "alpha", "joint_eta"):
            check_float(name, getattr(self, name), low=0, low_open=True)
        if len(self.joint_sigma) != 2:
            raise ValueError(f"joint_sigma must be two widths, start and end (got {list(self.joint_sigma)!r})")
        for width in self.joint_sigma:
            check_float("joint_sigma", width, low=0, low_open=True)
        if self.limit is not None:
            check_int("limit", self.limit, low=1)
        check_choice("architecture", self.architecture, ARCHITECTURES)
        if self.pretrain_iterations is not None:
            check_int("pretrain_iterations", self.pretrain_iterations, low=0)
        if self.resize is not None:
            check_int("resize", self.resize, low=4, high=512)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the lattice."""
        return parse_lattice(self.lattice)

    @property
    def pretraining(self) -> str:
        """How the autoencoder is pre-trained, in words: ``500 iterations`` or ``30 epochs``."""
        if self.pretrain_iterations is not None:
            return f"{self.pretrain_iterations} iterations"
        return f"{self.pretrain_epochs} epochs"


run = lazy_run(f"{__package__}.dnm_engine")


# -- pure pieces (numpy; the engine and the readers share them) ------------------------
def lattice_summary(bmu: np.ndarray, labels: np.ndarray, n_nodes: int, n_classes: int) -> dict[str, np.ndarray]:
    """Per node: hits, majority class (−1 when empty) and purity (majority share; NaN when empty)."""
    counts = np.zeros((n_nodes, n_classes), dtype=np.int64)
    np.add.at(counts, (bmu, labels), 1)
    hits = counts.sum(1)
    majority = np.where(hits > 0, counts.argmax(1), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        purity = np.where(hits > 0, counts.max(1) / np.maximum(hits, 1), np.nan)
    return {"hits": hits, "majority": majority, "purity": purity, "class_counts": counts}


def mean_purity(bmu: np.ndarray, labels: np.ndarray, n_nodes: int, n_classes: int) -> float:
    """Mean majority-class share over occupied nodes."""
    return float(np.nanmean(lattice_summary(bmu, labels, n_nodes, n_classes)["purity"]))


def prototype_errors(images: np.ndarray, prototypes: np.ndarray, bmu: np.ndarray) -> np.ndarray:
    """Per node: the mean squared error between the node's member samples and its decoded prototype
    (``images`` N × …, ``prototypes`` nodes × … on the same scale, ``bmu`` per sample); NaN for empty nodes.

    A blurry prototype (an average of its members) still scores well here, but one that does not look like
    its members — a map whose prototypes are shuffled, or decoded from the wrong code — does not."""
    n_nodes = prototypes.shape[0]
    X = images.reshape(images.shape[0], -1).astype(np.float64)
    P = prototypes.reshape(n_nodes, -1).astype(np.float64)
    per_sample = ((X - P[bmu]) ** 2).mean(1)
    sums = np.bincount(bmu, weights=per_sample, minlength=n_nodes)
    hits = np.bincount(bmu, minlength=n_nodes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hits > 0, sums / np.maximum(hits, 1), np.nan)


def gradient_energy(images: np.ndarray) -> np.ndarray:
    """Per image (N × H × W or N × H × W × C): the mean squared difference between neighbouring pixels,
    across and down — how much edge and texture an image carries (a blurred image has less)."""
    x = images.astype(np.float64)
    dx = np.diff(x, axis=2) ** 2
    dy = np.diff(x, axis=1) ** 2
    return dx.reshape(len(x), -1).mean(1) + dy.reshape(len(x), -1).mean(1)


def sharpness_ratios(images: np.ndarray, prototypes: np.ndarray, bmu: np.ndarray) -> np.ndarray:
    """Per node: the prototype's gradient energy over its members' mean gradient energy (NaN when empty).

    Independent of how far the prototype is from the members: 1 is as sharp as the samples, a blurred
    average of them is well below 1."""
    n_nodes = prototypes.shape[0]
    members = np.bincount(bmu, weights=gradient_energy(images), minlength=n_nodes)
    hits = np.bincount(bmu, minlength=n_nodes)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_members = members / np.maximum(hits, 1)
        return np.where((hits > 0) & (mean_members > 0), gradient_energy(prototypes) / mean_members, np.nan)


# -- readers of a dnm run ------------------------------------------------------------------
ArraysFn = Callable[["Run", str], dict]


def _read(run_: "Run", name: str) -> dict:
    return run_.arrays(name)


@dataclass(frozen=True)
class Node:
    """One lattice node: where it sits, its decoded prototype and the samples it won."""

    index: int
    row: int
    col: int
    prototype: np.ndarray = field(repr=False)  # uint8 image
    members: np.ndarray = field(repr=False)  # positions (in the run's sample order) whose BMU is this node
    majority: int  # class index, −1 when the node is empty
    purity: float  # majority share, NaN when empty


@dataclass(frozen=True)
class Lattice:
    """What a dnm run holds for the Maps tab, typed (arrays are shared: never modify them)."""

    prototype_images: np.ndarray  # nodes × H × W (× C), uint8
    hits: np.ndarray  # rows × cols
    majority: np.ndarray  # rows × cols, −1 where empty
    purity: np.ndarray  # rows × cols, NaN where empty
    u_matrix: np.ndarray  # rows × cols
    class_counts: np.ndarray  # nodes × classes
    bmu: np.ndarray  # per sample
    labels: np.ndarray  # per sample
    prototype_mse: np.ndarray | None = None  # rows × cols: members vs their decoded prototype, NaN where empty

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.hits.shape
        return int(rows), int(cols)

    @property
    def n_classes(self) -> int:
        return int(self.class_counts.shape[1])

    def overlay(self, name: str) -> np.ndarray | None:
        """The rows × cols values an overlay colours the nodes by (None for ``"none"``); empty
        nodes have no hit count (NaN), so they stay uncoloured."""
        if name == "hits":
            return np.where(self.hits > 0, self.hits, np.nan)
        return {
            "majority": self.majority,
            "purity": self.purity,
            "u_matrix": self.u_matrix,
            "prototype_mse": self.prototype_mse,
        }.get(name)

    def node(self, index: int) -> Node:
        rows, cols = self.shape
        index = check_int("node", int(index), low=0, high=rows * cols - 1)
        row, col = divmod(index, cols)
        return Node(
            index=index,
            row=row,
            col=col,
            prototype=self.prototype_images[index],
            members=node_members(self, index),
            majority=int(self.majority.ravel()[index]),
            purity=float(self.purity.ravel()[index]),
        )


def lattice(run_: "Run", *, arrays: ArraysFn = _read) -> Lattice:
    """The lattice of a dnm run; ``arrays(run, name)`` reads an array group (a view passes its
    memoised reader, e.g. ``dashboard.state.arrays``)."""
    a = arrays(check_kind(run_, KIND), ARRAYS)
    return Lattice(
        prototype_images=a["prototype_images"],
        hits=a["hits"],
        majority=a["majority"],
        purity=a["purity"],
        u_matrix=a["u_matrix"],
        class_counts=a["class_counts"],
        bmu=a["bmu"],
        labels=a["labels"],
        prototype_mse=a.get("prototype_mse"),
    )  # runs before it lack it


def node_members(lattice_: Lattice, node: int) -> np.ndarray:
    """Positions of the samples whose best-matching unit is ``node``."""
    return np.flatnonzero(lattice_.bmu == int(node))


def quality(run_: "Run") -> str:
    """The map's quality in one line: purity, quantization and topographic error, prototype sharpness."""
    m = check_kind(run_, KIND).metrics
    line = (
        f"purity {m.get('purity', float('nan')):.3f} · quantization error "
        f"{m.get('quantization_error', float('nan')):.4f} · topographic error "
        f"{m.get('topographic_error', float('nan')):.3f}"
    )
    if "prototype_mse" in m:  # runs made before it was measured have none
        line += f" · prototype MSE {m['prototype_mse']:.4f}"
    if "prototype_sharpness" in m:
        line += f" · sharpness {m['prototype_sharpness']:.2f}"
    return line


def summary(run_: "Run") -> Iterable[str]:
    """What the command line prints for a finished run."""
    return [f"{quality(run_)} · {run_.metrics['occupied_nodes']} nodes occupied"]


main = command_line(__name__)

if __name__ == "__main__":
    sys.exit(main())
