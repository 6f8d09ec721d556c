"""Train sparse autoencoders and map their generative landscapes (Dolgikh).

A convolutional autoencoder with a small ReLU latent layer and an L1 penalty on its
activations lights only a few latent units per image. Looking at the latent space
three units at a time (a *slice*), the images that use the slice (their slice sum is
at least ``f`` × the slice's largest) form density clusters; MeanShift finds them,
each centre is decoded to an image (the *landscape*: slices × clusters), samples on
spheres of growing radius around a centre are decoded too (is the landscape
continuous?), and independently trained models are compared in a consistency table.

This module is the study's light face (config, readers, command line); the training is in
``landscape_engine`` and the slice and cluster arithmetic in ``landscape_clusters``.

    python -m models.studies.landscape --dataset digits --models 3
"""

from __future__ import annotations

import sys
import typing
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from ..validation import check_float, check_int
from .base import StudyConfig, check_kind, command_line, lazy_run, option, split_option

if typing.TYPE_CHECKING:  # pragma: no cover
    from ..store import Run

KIND = "landscape"
TITLE = "Sparse landscape"
# the consistency table's columns, in order: the CLI's table and the Landscape tab both show these
TABLE_COLUMNS = (
    "model",
    "seed",
    "kept",
    "loss",
    "size",
    "recognition",
    "completeness",
    "highest",
    "lowest",
    "median_active_units",
)
MAX_MODELS = 10
SPARSITY = ("topk", "l1")
# what Dolgikh reports on MNIST, printed beside ours in a run's report.md
PAPER = {
    "size": "396–485",
    "recognition": "≥ 0.97",
    "median_active_units": "2–4",
    "loss": "0.12–0.14",
    "kept": "~70 % of models",
}


@dataclass(frozen=True)
class Config(StudyConfig):
    """Everything that shapes a landscape run (stored as the run's config)."""

    models: int = option(3, f"independently trained autoencoders to compare (1 to {MAX_MODELS}; seeds seed, seed+1, …)")
    latent: int = option(24, "units in the sparse latent layer (3 to 64; paper: 20–25)")
    sparsity: str = option(
        "topk",
        "how the code is kept sparse: topk keeps each image's --top-k largest latent "
        "units (holds at any image size: an L1 weight tuned on 8×8 digits left 15 "
        "units firing on 28×28 MNIST) plus the L1 penalty; l1: the penalty alone",
        choices=SPARSITY,
    )
    top_k: int = option(3, "latent units kept per image with --sparsity topk (paper: 2–4 fire)")
    l1: float = option(
        0.1,
        "L1 weight on latent activations per 64 input values: multiplied by C·H·W/64, so "
        "the penalty keeps its weight against the summed BCE at any image size (with topk, "
        "0.1 gives a median of 3 units on 8×8 digits and on 28×28 upscaled digits; 1.0 "
        "leaves 1)",
    )
    epochs: int = option(40, "training epochs of each autoencoder")
    batch_size: int = option(32, "samples per batch")
    lr: float = option(5e-3, "Adam's learning rate")
    significance: float = option(0.25, "f: a sample uses a slice when its slice sum is ≥ f × the slice's largest")
    active_fraction: float = option(0.1, "a unit is active in an image when ≥ this × the image's largest unit")
    max_slices: int = option(8, "slices to map (those with most significant samples)")
    max_clusters: int = option(6, "clusters kept per slice (the largest)")
    min_members: int = option(20, "a slice needs this many significant samples to be clustered")
    margin: float = option(
        0.02,
        "clusters holding ≥ this share of the data count towards the landscape's size (the paper's population margin)",
    )
    count_slices: int = option(
        120,
        "slices (3 of the 10 most used units) whose MeanShift clusters count towards "
        "size, recognition and completeness (C(10,3) = 120: all of them)",
    )
    cluster_sample: int = option(
        2000,
        "MeanShift fits on at most this many of a slice's significant samples; "
        "all of them are then assigned to the nearest centre",
    )
    keep_within: float = option(
        0.1,
        "a model is kept (successful) when its final per-pixel BCE is within this "
        "share of the best model's, as the paper keeps models by loss",
    )
    confidence: float = option(0.6, "kNN vote share at which a decoded centre counts as recognised")
    radii: tuple[float, ...] = option(
        (0.5, 1.0, 2.0), "radii of the continuity spheres, in units of the slice's bandwidth"
    )
    directions: int = option(8, "points decoded on each continuity sphere")
    split: str | None = split_option()
    limit: int | None = option(None, "train on at most this many samples (all when not given)")
    device: str | None = option(None, "torch device (cuda when available, else cpu)", record=False)

    def check(self) -> None:
        check_int("models", self.models, low=1, high=MAX_MODELS)
        check_int("latent", self.latent, low=3, high=64)
        check_float("l1", self.l1, low=0)
        if self.sparsity not in SPARSITY:
            raise ValueError(f"sparsity must be one of {', '.join(SPARSITY)} (got {self.sparsity!r})")
        check_int("top_k", self.top_k, low=1, high=self.latent)
        check_float("keep_within", self.keep_within, low=0)
        check_float("significance", self.significance, low=0, high=1, low_open=True, high_open=True)
        for name in (
            "epochs",
            "batch_size",
            "max_slices",
            "max_clusters",
            "min_members",
            "directions",
            "count_slices",
            "cluster_sample",
        ):
            check_int(name, getattr(self, name), low=1)
        check_float("lr", self.lr, low=0, low_open=True)
        check_float("active_fraction", self.active_fraction, low=0, high=1, low_open=True)
        check_float("margin", self.margin, low=0, high=1, high_open=True)
        check_float("confidence", self.confidence, low=0, high=1)
        if not self.radii:
            raise ValueError("radii must hold at least one radius (got [])")
        for radius in self.radii:
            check_float("radii", radius, low=0, low_open=True)
        if self.limit is not None:
            check_int("limit", self.limit, low=1)


run = lazy_run(f"{__package__}.landscape_engine")


# -- readers of a landscape run --------------------------------------------------------------
ArraysFn = Callable[["Run", str], dict]


def _read(run_: "Run", name: str) -> dict:
    return run_.arrays(name)


def group(model: int) -> str:
    """The name of model ``model``'s array group (and weights) in a run (models count from 1)."""
    return f"model{int(model)}"


@dataclass(frozen=True)
class Landscape:
    """One model's landscape, typed (S slices × C clusters; arrays are shared: never modify them)."""

    slices: np.ndarray  # S × 3 latent unit indices
    centres: np.ndarray  # S × C × 3
    sizes: np.ndarray  # S × C samples per cluster, ordered by size (0: no cluster)
    images: np.ndarray  # S × C × H × W (× ch) decoded centres, uint8
    spheres: np.ndarray  # S × C × radii × directions × H × W (× ch), uint8
    classes: np.ndarray  # S × C class index the kNN gives a decoded centre (−1: no cluster)
    confidence: np.ndarray  # S × C its vote share
    radii: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(slices, clusters)."""
        S, C = self.sizes.shape
        return int(S), int(C)

    @property
    def empty(self) -> bool:
        """No slice had enough significant samples to be clustered."""
        S, C = self.shape
        return S == 0 or C == 0 or self.images.size == 0

    def slice_label(self, s: int) -> str:
        return "(" + ",".join(map(str, self.slices[s].tolist())) + ")"

    def continuity(self, s: int, c: int) -> np.ndarray:
        """Images for the continuity strip of cluster ``(s, c)``: one row per radius, the centre first
        then the decoded points on that sphere — ``radii × (directions + 1)`` images."""
        sph = self.spheres[s, c]  # radii × directions × H × W
        R = sph.shape[0]
        centre = np.repeat(self.images[s, c][None], R, axis=0)[:, None]
        return np.concatenate([centre, sph], axis=1)


def landscape(run_: "Run", model: int = 1, *, arrays: ArraysFn = _read) -> Landscape:
    """Model ``model``'s landscape in a landscape run; ``arrays(run, name)`` reads an array group
    (a view passes its memoised reader, e.g. ``dashboard.state.arrays``)."""
    check_int("model", int(model), low=1, high=max(1, len(table(run_))))
    g = arrays(run_, group(model))
    return Landscape(
        slices=g["slices"],
        centres=g["centres"],
        sizes=g["sizes"],
        images=g["images"],
        spheres=g["spheres"],
        classes=g["classes"],
        confidence=g["confidence"],
        radii=g["radii"],
    )


def table(run_: "Run") -> list[dict]:
    """The consistency table: one row per model, with (at least) :data:`TABLE_COLUMNS`."""
    return list(check_kind(run_, KIND).metrics.get("landscape", []))


def model_numbers(run_: "Run") -> list[int]:
    """The model numbers a run holds (1, 2, …)."""
    return [int(row["model"]) for row in table(run_)]


def format_table(rows: list[dict], width: int = 12) -> str:
    """The consistency table as text, one padded column per :data:`TABLE_COLUMNS` entry."""
    lines = ["  ".join(f"{c:>{width}}" for c in TABLE_COLUMNS)]
    lines += ["  ".join(f"{str(r.get(c, '')):>{width}}" for c in TABLE_COLUMNS) for r in rows]
    return "\n".join(lines)


def kept(run_: "Run") -> list[int]:
    """The model numbers kept as successful (by final loss); older runs kept every model."""
    return [int(r["model"]) for r in table(run_) if r.get("kept", True)]


def summary(run_: "Run") -> Iterable[str]:
    """What the command line prints for a finished run."""
    m = run_.metrics
    rows = table(run_)
    lines = [
        format_table(rows),
        f"kept {len(kept(run_))} of {len(rows)} models by loss · median active units "
        f"{m['median_active_units']:g} (paper: {PAPER['median_active_units']})",
    ]
    if "size" in m:
        lines.append(
            f"kept models: landscape size {m['size']:g} (paper: {PAPER['size']}) · recognition "
            f"{m['recognition']:.3f} (paper: {PAPER['recognition']})"
        )
    return lines


main = command_line(__name__)

if __name__ == "__main__":
    sys.exit(main())
