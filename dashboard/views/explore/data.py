"""What the Explore tab shows, read on the server: the run (through ``dashboard.state``, read
once per process), the vectors it was computed from, and the pure selections over them
(filters, colours, the CSV of a selection, similar samples)."""

from __future__ import annotations

import io
import threading
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from models import datasets
from models.datasets import Dataset
from models.neighbors import QUERY_INDEX_FROM, CosineIndex, similar_to, unit_rows
from models.store import Run, RunStore
from models.studies import capture
from models.studies import explore as study

from ... import state
from ...config import AppConfig

MAX_FILES = 200  # arrays files listed in the picker
MAX_RUNS = 20  # runs whose activations are listed
RUN_KEYS = ("labels", "predictions", "scores", "index")  # arrays beside the activations, not vectors
HIDDEN_META = {"predictions", "scores", "image_paths", "missing_images", "warnings", "skipped"}


# -- sources -----------------------------------------------------------------------------
#: the Vectors choice "the dataset in the picker" (not "": dbc.Select shows "" as its blank placeholder)
DATASET = "@dataset"


def source_options(config: AppConfig) -> list[dict]:
    """The dataset in the picker, then every arrays file found in the data directory, then runs' activations."""
    options = [{"label": "dataset in the picker (its pixels)", "value": DATASET}]
    found = [name for name in datasets.discover(config.data_dir) if name.startswith("arrays:")]
    options += [{"label": f"arrays: {name[len('arrays:') :]}", "value": name} for name in found[:MAX_FILES]]
    return options + run_activation_options(config)


def run_activation_options(config: AppConfig, max_runs: int = MAX_RUNS) -> list[dict]:
    """Layer activations stored in runs: any array of a run's ``.npz`` that sits next to ``labels``.

    Only the archive's member names are read (not the arrays), so listing stays instant.
    """
    options = []
    for run in config.store.list()[:max_runs]:
        if run.kind == study.KIND:
            continue
        if run.kind == capture.KIND:
            options += capture_options(run)
            continue
        try:
            sample = _headers(run.path / "sample.npz").get("labels")  # a hardness run's layers take its sample's labels
        except datasets.DatasetError:
            sample = None  # named below, with the archive itself
        for npz in sorted(run.path.glob("*.npz")):
            try:
                keys = embedding_keys(npz, sample)
            except datasets.DatasetError as exc:  # a corrupt archive is named, not left out in silence
                options.append(
                    {
                        "label": f"run {run.kind} · {run.id[-6:]} · unreadable: {exc}",
                        "value": f"unreadable:{run.id}/{npz.stem}",
                        "disabled": True,
                    }
                )
                continue
            options += [
                {
                    "label": f"run {run.kind} · {run.id[-6:]} · {npz.stem}/{key}",
                    "value": f"run:{run.id}/{npz.stem}/{key}",
                }
                for key in keys
            ]
    return options


def _headers(npz: Path) -> dict:
    """The ``.npy`` headers of an archive's members (their data unread); {} when there is no archive,
    a ``DatasetError`` naming it when it is unreadable (corrupt, truncated, not a zip)."""
    from models.datasets.npy import read_header

    if not npz.is_file():
        return {}
    try:
        with zipfile.ZipFile(npz) as zf:
            headers = {}
            for name in zf.namelist():
                if name.endswith(".npy"):
                    with zf.open(name) as fh:
                        headers[name[:-4]] = read_header(fh, f"{npz.name}:{name}")
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise datasets.DatasetError(f"{npz.name}: corrupt .npz ({exc})") from None
    return headers


def embedding_keys(npz: Path, sample_labels=None) -> list[str]:
    """The members of a run's ``.npz`` that are embeddings of its samples: numeric, one row per label
    (its own ``labels``, else the run's sample's), two or more columns — never per-sample scalars
    (``gne_error``) or lattice arrays (``u_matrix``). Only headers are read: listing stays instant."""
    headers = _headers(npz)
    labels = headers.get("labels", sample_labels)
    if labels is None or len(labels.shape) != 1 or npz.stem == "sample":
        return []
    n = labels.shape[0]
    return [
        key
        for key, h in headers.items()
        if key not in RUN_KEYS and len(h.shape) == 2 and h.shape[0] == n and h.shape[1] >= 2 and h.dtype.kind in "fiu"
    ]


def capture_options(run: Run) -> list[dict]:
    """Every captured layer of a capture run (each step when it holds several), as embeddings."""
    try:
        steps, layers = capture.steps(run), capture.layers(run)
    except (KeyError, ValueError):
        return []
    return [
        {
            "label": f"run capture · {run.id[-6:]} · {layer['name']}" + (f" · step {step}" if len(steps) > 1 else ""),
            "value": study.capture_source(run.id, step, layer["name"]),
        }
        for step in reversed(steps)
        for layer in layers
    ]


# -- an explore run and its vectors --------------------------------------------------------
@dataclass(frozen=True)
class Shown:
    """An explore run with what the tab needs of it: its arrays (shared memo: never modify) and dataset."""

    run: Run
    arrays: dict
    dataset: Dataset

    @property
    def names(self) -> list[str]:
        return self.dataset.class_names

    @property
    def n(self) -> int:
        return len(self.arrays["labels"])

    @cached_property
    def clusters(self) -> list[study.ErrorCluster]:
        return study.clusters(self.run)

    @cached_property
    def summary(self) -> study.InputSummary:
        return study.input_summary(self.run)

    space: str = ""  # the shared selection's space its samples live in, e.g. "mnist:test" (see :func:`space_of`)

    @cached_property
    def ids(self) -> np.ndarray:
        """Each position's dataset index (what the tab numbers samples by, "#921", and selects by, like
        Layers and Data): the vectors' own index (a capture's sample), else the run's ``index``."""
        index = self.dataset.index
        if index is not None and len(index) == self.n:
            return np.asarray(index, dtype=np.int64)
        return np.asarray(self.arrays["index"], dtype=np.int64)

    def valid(self, selection) -> list[int]:
        """The selection's positions that exist in this run (a store may carry a stale one)."""
        return [int(i) for i in (selection or []) if 0 <= int(i) < self.n]

    def positions_of(self, ids) -> list[int]:
        """Positions of the samples with dataset index ``ids`` (the shared selection's ids)."""
        if not len(ids or []):
            return []
        return np.flatnonzero(np.isin(self.ids, np.asarray(list(ids), dtype=np.int64))).tolist()

    def ids_at(self, positions) -> list[int]:
        """Dataset indices of ``positions`` (what the shared selection holds)."""
        return [int(self.ids[int(p)]) for p in positions if 0 <= int(p) < self.n]


def shown(config: AppConfig, run_id: str) -> Shown:
    """The explore run ``run_id`` (raises ``StoreError``/``DatasetError`` with a message to show)."""
    run = state.run(config, run_id)
    ds = run_dataset(config, run)
    return Shown(run=run, arrays=state.arrays(run, study.ARRAYS), dataset=ds, space=space_of(config, run, ds))


def space_of(config: AppConfig, run: Run, ds: Dataset) -> str:
    """The selection space of an explore run's samples: the dataset split they come from ("digits:train",
    a capture's "mnist:test", a hardness run's sample "digits:test"), so one selection reaches every tab."""
    source = study.source(run)
    if source.startswith("run:"):
        try:
            found = state.run(config, source[len("run:") :].split("/")[0])
        except Exception:  # the source run was deleted: its samples match nothing
            return f"explore:{run.id}"
        return f"{found.manifest.get('dataset')}:{ds.split}"
    return f"{source}:{ds.split}"


@lru_cache(maxsize=4)
def _source_dataset(data_dir: str, store_root: str, source: str) -> Dataset:
    return study.load_source(source, data_dir=data_dir, store=RunStore(store_root))


def run_dataset(config: AppConfig, run: Run) -> Dataset:
    """The vectors an explore run was computed from: your arrays or a run's activations as
    given (cosine geometry), a dataset by name through the shared ``state.dataset``."""
    source = study.source(run)
    if source.startswith(("run:", "arrays:")):
        return _source_dataset(str(config.data_dir), str(config.store_dir), source)
    return state.dataset(config, source, run.config.get("split") or "train")


_UNIT: dict[tuple, np.ndarray] = {}


def unit_for(ds: Dataset) -> np.ndarray:
    """The dataset's unit-length vectors, made once per dataset (the last one only) for similar-sample queries."""
    key = (ds.name, ds.split, ds.n, ds.dim)
    if key not in _UNIT:
        _UNIT.clear()
        _UNIT[key] = unit_rows(ds.features)
    return _UNIT[key]


_INDEX: dict[tuple, object] = {}
_INDEX_LOCK = threading.Lock()


def index_for(ds: Dataset, *, wait: bool = False) -> CosineIndex | None:
    """A cosine index (:class:`CosineIndex`, faiss IVF-Flat) over the dataset's unit rows, for datasets of
    ``QUERY_INDEX_FROM`` rows or more (the last one only). Built once in a background thread (tens of seconds at
    10⁵ × 512), so the first clicks are answered exactly meanwhile; ``None`` until it is ready (``wait=True``
    blocks until it is)."""
    if ds.n < QUERY_INDEX_FROM:
        return None
    key = (ds.name, ds.split, ds.n, ds.dim)
    with _INDEX_LOCK:
        entry = _INDEX.get(key)
        if entry is None:
            _INDEX.clear()
            entry = _INDEX[key] = {"index": None, "done": threading.Event()}
            unit = unit_for(ds)

            def build():
                try:
                    entry["index"] = CosineIndex(unit)
                finally:
                    entry["done"].set()

            threading.Thread(target=build, name="explore-similar-index", daemon=True).start()
    if wait:
        entry["done"].wait()
    return entry["index"]


def similar(ds: Dataset, sel: list[int], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` samples nearest the selection's mean direction (cosine, original space), selection left out."""
    # exact cosine over unit rows below QUERY_INDEX_FROM samples (a few ms); above, the index once built
    # (recall@15 ≥ 0.95 in under a millisecond, bench/similar.py), exact until then
    return similar_to(unit_for(ds), ds.features[sel], k, exclude=np.asarray(sel), index=index_for(ds))


# -- the ranked lists ------------------------------------------------------------------------
# what each list sorts by, then breaks ties by (its header says so)
RANKINGS = {
    "mistake": (
        "mistake_score",
        "Sorted by mistake score (how strongly the nearest neighbours, and the model when it "
        "gave scores, disagree with the label), ties broken by distance to the label's class centre "
        "(farther first).",
    ),
    "outlier": (
        "outlier_score",
        "Sorted by outlier score (cosine distance to the k-th nearest neighbour, original "
        "space), ties broken by the mean distance to all k neighbours (farther first).",
    ),
}
_ORDER: dict[tuple, np.ndarray] = {}


def ranking(shown: "Shown", what: str) -> np.ndarray:
    """Every sample position of the run, in the order of the ``what`` list ("mistake" or "outlier"); made once
    per run."""
    from models.studies.explore_scores import centre_distance, ranked_order

    key = (shown.run.id, what)
    if key not in _ORDER:
        a = shown.arrays
        if what == "mistake":
            second = centre_distance(unit_for(shown.dataset), a["labels"])
        elif what == "outlier":
            second = np.asarray(a["distances"], dtype=np.float64).mean(axis=1)
        else:
            raise ValueError(f"list must be mistake or outlier (got {what!r})")
        if len(_ORDER) > 8:
            _ORDER.clear()
        _ORDER[key] = ranked_order(a[RANKINGS[what][0]], second)
    return _ORDER[key]


# -- pure selections ------------------------------------------------------------------------
def filter_mask(labels: np.ndarray, preds: np.ndarray, label: str | None, pred: str | None) -> np.ndarray:
    """Which samples pass "label = …" and "predicted …" (``all``, ``right``, ``wrong``, ``=k``, ``!=k``)."""
    mask = np.ones(len(labels), dtype=bool)
    if label not in (None, "", "all"):
        mask &= labels == int(label)
    if pred in (None, "", "all"):
        return mask
    if pred == "right":
        return mask & (preds == labels)
    if pred == "wrong":
        return mask & (preds != labels)
    if pred.startswith("!="):
        return mask & (preds != int(pred[2:]))
    if pred.startswith("="):
        return mask & (preds == int(pred[1:]))
    raise ValueError(f"prediction filter must be all, right, wrong, =k or !=k (got {pred!r})")


def meta_columns(ds: Dataset) -> dict[str, np.ndarray]:
    """Per-sample metadata columns a person can colour by."""
    return {
        k: np.asarray(v)
        for k, v in ds.meta.items()
        if k not in HIDDEN_META and isinstance(v, np.ndarray) and v.shape == (ds.n,)
    }


def color_values(a: dict, ds: Dataset, color: str) -> tuple[np.ndarray, str, list[str], str]:
    """(values per sample, marker kind, category names, title) for the colour choice."""
    names = ds.class_names
    if color == "prediction":
        return a["predictions"], "classes", names, "prediction"
    if color == "agreement":
        return (a["predictions"] != a["labels"]).astype(int), "agreement", [], "agreement"
    if color in ("mistake_score", "outlier_score"):
        return a[color], "continuous", [], color.replace("_", " ")
    if color.startswith("meta:"):
        col = meta_columns(ds).get(color[len("meta:") :])
        if col is not None:
            if np.issubdtype(col.dtype, np.number):
                return col.astype(float), "continuous", [], color[len("meta:") :]
            cats, codes = np.unique(col.astype(str), return_inverse=True)
            return codes, "categories", cats.tolist(), color[len("meta:") :]
    return a["labels"], "classes", names, "label"


def selection_csv(sel: np.ndarray, arrays: dict, names: list[str], ds: Dataset) -> str:
    """CSV rows for ``sel``: index, labels, prediction, suggested label, scores (and image path)."""
    import pandas as pd

    labels, preds = arrays["labels"], arrays["predictions"]
    frame = pd.DataFrame(
        {
            "index": arrays["index"][sel] if "index" in arrays else sel,
            "label": [names[c] for c in labels[sel]],
            "prediction": [names[c] for c in preds[sel]],
            "suggested_label": [names[c] for c in arrays["suggested"][sel]],
            "mistake_score": np.round(arrays["mistake_score"][sel], 4),
            "outlier_score": np.round(arrays["outlier_score"][sel], 4),
        }
    )
    if "image_paths" in ds.meta:
        frame["image_path"] = np.asarray(ds.meta["image_paths"])[sel]
    frame = frame.sort_values("mistake_score", ascending=False)
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue()
