"""Train a GNE and a VAE with the same decoder; store both as one run.

A GNE run trains, on one dataset, a VAE (encoder → 2-D Gaussian → generator) and a GNE (a
learned 2-D point per sample → the same generator class), optionally starting GNE from the
VAE's means and decoder. It stores both embeddings, both networks, the decoded latent grid
of each plane at several sizes and the nearest real sample of every grid point, plus the
figures a script compares: ``gne_mse``, ``vae_mse``, ``gne_seconds_per_epoch``,
``vae_seconds_per_epoch``.

This is the study's light face (no torch): its constants, :class:`Config`, ``run`` and the
typed readers of its runs the dashboard uses (:func:`plane`, :func:`latent_grid`,
:func:`metrics`, :func:`moved`, :func:`heldout_key`, :func:`cached_heldout`). Training and
the stored grids are in :mod:`models.studies.gne_engine`; what a person does with a trained
GNE (embed new samples, move points and train on, place the held-out split) is in
:mod:`models.studies.gne_points`.

Command line: ``python -m models.studies.gne --dataset digits --epochs 100``.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np

from ..nets.choices import GENERATORS  # make_generator's kinds, torch-free
from ..validation import check_choice, check_float, check_int
from .base import StudyConfig, check_kind, command_line, lazy_run, option, split_option

if typing.TYPE_CHECKING:  # pragma: no cover
    from ..cache import ResultCache
    from ..store import Run

KIND = "gne"
TITLE = "Generative neural embedding vs VAE"
GRID_SIZES = (5, 8, 10, 12, 15, 20)
INITS = ("random", "vae")
SIDES = ("gne", "vae")
# bump when place_heldout changes what it computes, so cached placements are not reused
HELDOUT_VERSION = 1

__all__ = [
    "KIND",
    "TITLE",
    "GRID_SIZES",
    "INITS",
    "GENERATORS",
    "SIDES",
    "HELDOUT_VERSION",
    "Config",
    "run",
    "summary",
    "main",
    "Plane",
    "Grid",
    "Metrics",
    "Moved",
    "Heldout",
    "plane",
    "latent_grid",
    "grid_sizes",
    "image_shape",
    "metrics",
    "moved",
    "heldout_key",
    "cached_heldout",
    "knn_accuracy",
    "collapsed",
    "collapse_warning",
    "COLLAPSE_SHARE",
    "PAPER",
    "check_side",
]
# what the paper claims (qualitative: no data set's numbers), printed beside ours in report.md
PAPER = {
    "speed": "GNE 1.85–2.2× faster per epoch (dense generator)",
    "vae_knn": "spread (Figure 2)",
    "mse": "GNE ≤ VAE",
}


@dataclass(frozen=True)
class Config(StudyConfig):
    """Everything that shapes a GNE/VAE run (defaults from the paper: NW 64, 4 blocks, Adam 1e-3, batch 1024).

    ``embedding_lr`` is the Adam rate of GNE's points (``None`` or 0: the same as ``lr``). Each
    point gets a gradient only when its sample is in the batch, once per epoch, so at 1e-3 the
    points travel about 0.005 per epoch and sit inside the σ = 0.1 noise for dozens of epochs;
    at 1e-2 they spread out early (digits, 30 epochs, batch 128: GNE mse 0.065 at 1e-3, 0.041
    at 1e-2, VAE 0.062). See BENCHMARKS.md.
    """

    epochs: int = option(100, "epochs for each of GNE and VAE")
    latent_dim: int = option(2, "dimensions of the latent plane (the grids span its first two)")
    width: int = option(64, "NW: units of the generator's (and encoder's) residual blocks")
    blocks: int = option(4, "residual blocks in the generator")
    noise: float = option(0.1, "σ of the Gaussian noise on GNE points in training (makes the plane smooth)")
    lr: float = option(1e-3, "Adam learning rate of the networks")
    embedding_lr: float | None = option(
        1e-2, "Adam learning rate of GNE's points (0: the same as --lr; 1e-2 spreads them out in the first epochs)"
    )
    batch_size: int = option(1024, "samples per training step")
    kl_weight: float = option(
        1e-3,
        "weight of the VAE's KL term against its (per-value) reconstruction MSE: at "
        "1e-2 the VAE plane collapses to a thin curve on MNIST (2-D 10-NN 0.32–0.39), "
        "at 1e-3 it spreads (0.73) like the paper's Figure 2 — a fair opponent",
    )
    generator: str = option(
        "auto",
        "generator network; auto: deconvolutional for images ≥ 28×28, where GNE "
        "and VAE then take the same time per epoch (1.00× on MNIST) — the paper's "
        "1.85–2.2× GNE speed-up needs --generator dense",
        choices=GENERATORS,
    )
    heldout: int = option(
        0,
        "after training, place this many test-split samples on both planes (GNE: new "
        "points, generator frozen; VAE: its encoder) and store their 10-NN accuracy "
        "against the training plane (0: skip)",
    )
    init: str = option("random", "GNE's starting points (vae: the VAE's means, and its decoder)", choices=INITS)
    split: str | None = split_option()
    limit: int | None = option(None, "use at most this many training samples (None: all)")
    device: str | None = option(None, "cpu, cuda or cuda:N (None: cuda when available)", record=False)
    grid_sizes: tuple[int, ...] = option(GRID_SIZES, "k of each k×k decoded grid stored with the run")

    def check(self) -> None:
        for name in ("epochs", "latent_dim", "width", "batch_size"):
            check_int(name, getattr(self, name), low=1)
        check_int("blocks", self.blocks, low=0)
        check_float("lr", self.lr, low=0, low_open=True)
        if self.embedding_lr is not None:
            check_float("embedding_lr", self.embedding_lr, low=0)
        check_float("noise", self.noise, low=0)
        check_float("kl_weight", self.kl_weight, low=0)
        check_choice("generator", self.generator, GENERATORS)
        check_choice("init", self.init, INITS)
        if self.limit is not None:
            check_int("limit", self.limit, low=2)
        check_int("heldout", self.heldout, low=0)
        if not self.grid_sizes:
            raise ValueError(f"grid_sizes must name at least one grid size (got {self.grid_sizes!r})")
        for k in self.grid_sizes:
            check_int("grid_sizes", k, low=1)
        # CUDA being there is the engine's to check (it needs torch); the spelling is checked here
        device = self.device
        if device is not None and not (
            device == "cpu" or device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())
        ):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or None (got {device!r})")


run = lazy_run(f"{__package__}.gne_engine")


# a plane has collapsed when its 2-D 10-NN accuracy is below this share of the better plane's, or below
# twice chance (the VAE at --kl-weight 1e-2 on MNIST: 0.32–0.39 against GNE's 0.70)
COLLAPSE_SHARE = 0.6


def knn_accuracy(
    coords: np.ndarray,
    labels: np.ndarray,
    k: int = 10,
    *,
    query: np.ndarray | None = None,
    query_labels: np.ndarray | None = None,
) -> float:
    """10-NN accuracy on a plane: leave-one-out over ``coords``, or of ``query`` points (e.g. held-out
    samples placed on the plane) voted by their ``k`` nearest ``coords``."""
    from sklearn.neighbors import KNeighborsClassifier

    coords, labels = np.asarray(coords, np.float64), np.asarray(labels)
    if query is None:
        knn = KNeighborsClassifier(n_neighbors=min(k + 1, len(coords))).fit(coords, labels)
        idx = knn.kneighbors(coords, return_distance=False)[:, 1:]  # the point itself left out
        votes = labels[idx]
        pred = np.array([np.bincount(v).argmax() for v in votes])
        return float((pred == labels).mean())
    knn = KNeighborsClassifier(n_neighbors=min(k, len(coords))).fit(coords, labels)
    return float((knn.predict(np.asarray(query, np.float64)) == np.asarray(query_labels)).mean())


def collapsed(run_: "Run", side: str) -> bool:
    """Whether ``side``'s plane collapsed (its 10-NN accuracy below :data:`COLLAPSE_SHARE` of the better
    plane's, or below twice chance); False for a run that did not measure it."""
    m = check_kind(run_, KIND).metrics
    side = check_side(side)
    mine, other = m.get(f"{side}_knn"), m.get(f"{SIDES[1 - SIDES.index(side)]}_knn")
    if mine is None or other is None:
        return False
    chance = 1.0 / max(2, int(m.get("n_classes", 10)))
    return bool(mine < COLLAPSE_SHARE * max(mine, other) or mine < 2 * chance)


def collapse_warning(run_: "Run") -> str:
    """One line naming the collapsed planes ("" when none)."""
    m = run_.metrics
    bad = [s for s in SIDES if collapsed(run_, s)]
    return "".join(
        f"⚠ {s.upper()} plane collapsed (2-D 10-NN {m[f'{s}_knn']:.2f} vs "
        f"{m[f'{SIDES[1 - SIDES.index(s)]}_knn']:.2f}); "
        for s in bad
    ).rstrip("; ")


def summary(run_: "Run") -> Iterable[str]:
    m = metrics(run_)
    raw = run_.metrics
    yield (
        f"GNE mse {m.gne_mse:.5f} ({m.gne_seconds_per_epoch:.3f} s/epoch) · VAE mse {m.vae_mse:.5f} "
        f"({m.vae_seconds_per_epoch:.3f} s/epoch) on {m.device} · generator {m.generator}"
    )
    if "gne_knn" in raw:
        yield f"2-D 10-NN accuracy: GNE {raw['gne_knn']:.3f} · VAE {raw['vae_knn']:.3f}"
    if "heldout_gne_knn" in raw:
        yield (
            f"held-out ({raw['heldout_n']} {raw.get('heldout_source', 'test samples')}) 10-NN accuracy "
            f"against the training plane: GNE {raw['heldout_gne_knn']:.3f} · VAE {raw['heldout_vae_knn']:.3f}"
        )
    warning = collapse_warning(run_)
    if warning:
        yield warning


main = command_line(__spec__.name)  # not __name__: under -m that is "__main__"


# -- readers of a gne run -------------------------------------------------------------
ArraysFn = Callable[["Run", str], Mapping[str, np.ndarray]]


def _read(run_: "Run", name: str) -> Mapping[str, np.ndarray]:
    return run_.arrays(name)


def check_side(side: str) -> str:
    """``side`` if it is one of :data:`SIDES` ("gne", "vae")."""
    return check_choice("side", side, SIDES)


@dataclass(frozen=True)
class Plane:
    """One side's embedding of the run's training samples (row i is the run's sample i)."""

    coords: np.ndarray  # N×d points on the plane
    error: np.ndarray  # N reconstruction MSE of decoding each point
    labels: np.ndarray  # N class labels
    index: np.ndarray  # N positions in the dataset's train split


def plane(run_: "Run", side: str, *, read: ArraysFn = _read) -> Plane:
    """The ``side`` ("gne" or "vae") embedding of ``run_``; ``read`` loads arrays (e.g. a memoised reader)."""
    emb = read(check_kind(run_, KIND), "embeddings")
    side = check_side(side)
    return Plane(emb[side], emb[f"{side}_error"], emb["labels"], emb["index"])


@dataclass(frozen=True)
class Grid:
    """The images decoded on a k×k grid of one side's plane (row 0 at the top) and, per cell,
    the run's sample embedded nearest to it."""

    k: int
    images: np.ndarray  # k×k×D uint8
    neighbours: np.ndarray  # k×k positions in the run's samples (rows of Plane)
    extent: np.ndarray  # [[x0, x1], [y0, y1]] the grid spans


def grid_sizes(run_: "Run") -> tuple[int, ...]:
    """The grid sizes stored with ``run_``."""
    return tuple(int(k) for k in check_kind(run_, KIND).config.get("grid_sizes", GRID_SIZES))


def image_shape(run_: "Run") -> tuple[int, ...] | None:
    """The shape of one sample as an image, or None for a dataset of plain vectors."""
    shape = check_kind(run_, KIND).config.get("image_shape")
    return tuple(shape) if shape else None


def latent_grid(run_: "Run", side: str, k: int, *, read: ArraysFn = _read) -> Grid | None:
    """The stored k×k grid of ``side``, or None when the run did not store that size."""
    grids = read(check_kind(run_, KIND), "grids")
    side, k = check_side(side), int(k)
    if f"{side}_images_{k}" not in grids:
        return None
    return Grid(k, grids[f"{side}_images_{k}"], grids[f"{side}_neighbours_{k}"], grids[f"{side}_extent"])


@dataclass(frozen=True)
class Metrics:
    """What a run measured (NaN where an older run did not store it)."""

    gne_mse: float
    vae_mse: float
    gne_seconds_per_epoch: float
    vae_seconds_per_epoch: float
    epochs: int | None
    batch_size: int | None
    device: str
    parent: str | None = None  # a run made by moving points: the run it was moved from
    pinned: bool = False
    epochs_on: int | None = None
    generator: str = "?"  # the generator the run actually used (dense or deconv)


def metrics(run_: "Run") -> Metrics:
    m, cfg = check_kind(run_, KIND).metrics, run_.config
    nan = float("nan")

    def number(key: str) -> float:
        value = m.get(key)
        return nan if value is None else float(value)

    return Metrics(
        number("gne_mse"),
        number("vae_mse"),
        number("gne_seconds_per_epoch"),
        number("vae_seconds_per_epoch"),
        cfg.get("epochs"),
        cfg.get("batch_size"),
        str(m.get("device", "?")),
        m.get("parent"),
        bool(m.get("pinned", False)),
        m.get("epochs_on"),
        str(m.get("generator", cfg.get("generator_used", "?"))),
    )


@dataclass
class Moved:
    """Points moved by hand and trained on (what ``gne_points.move_points`` returns and a moved run stores)."""

    ids: np.ndarray  # the moved samples (positions in the run's samples)
    before: np.ndarray  # their points before the move
    targets: np.ndarray  # where they were put
    after: np.ndarray  # their points after training on
    pinned: bool
    history: object = None

    @property
    def shift(self) -> float:
        """Mean distance the points were moved."""
        return float(np.linalg.norm(self.targets - self.before, axis=1).mean())

    @property
    def drift(self) -> float:
        """Mean distance they ended from where they were put (0 when pinned)."""
        return float(np.linalg.norm(self.after - self.targets, axis=1).mean())


def moved(run_: "Run", *, read: ArraysFn = _read) -> Moved | None:
    """The points moved to make ``run_``, or None when it was trained, not moved."""
    if "moved.npz" not in check_kind(run_, KIND).manifest.get("files", []):
        return None
    mv = read(run_, "moved")
    return Moved(mv["ids"], mv["before"], mv["targets"], mv["after"], bool(run_.metrics.get("pinned", False)))


@dataclass(frozen=True)
class Heldout:
    """The test split placed on both planes: GNE by new-point embedding, VAE through its encoder."""

    gne: np.ndarray  # M×d
    gne_error: np.ndarray  # M reconstruction MSE at the placed points
    gne_start: np.ndarray  # M×d the starting guesses
    gne_start_error: np.ndarray  # M MSE at the starting guesses
    vae: np.ndarray  # M×d encoder means
    vae_error: np.ndarray
    labels: np.ndarray
    index: np.ndarray  # positions in ``split``
    split: str = "test"  # where they came from (the trained split, when it is the only one)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "Heldout":
        values = {f.name: arrays[f.name] for f in dataclasses.fields(cls) if f.name in arrays}
        if "split" in values:  # stored as a 0-d string array; placements cached before it: "test"
            values["split"] = str(values["split"])
        return cls(**values)

    def coords(self, side: str) -> np.ndarray:
        return getattr(self, check_side(side))


def heldout_key(run_id: str, limit: int) -> dict:
    """The result-cache key of ``run_id``'s held-out placement of ``limit`` test samples."""
    return {"run": run_id, "what": "gne-heldout", "limit": int(limit), "version": HELDOUT_VERSION}


def cached_heldout(cache: "ResultCache", run_id: str, limit: int) -> Heldout | None:
    """The placement ``gne_points.heldout`` cached for ``run_id``, or None when not computed yet."""
    found = cache.get(heldout_key(run_id, limit))
    return Heldout.from_arrays(found[0]) if found else None


if __name__ == "__main__":
    sys.exit(main())
