"""The registry: every built-in dataset and every kind of data a person brings, each described once.

A built-in :class:`Entry` says everything about itself in one place: its loader, the files it
needs per split (``missing``), the splits it has, where its folder is, the hint shown when its
files are not there (its homepage, or the command that downloads them) and its download spec.
A :class:`UserKind` (``arrays:``, ``folder:``) says how to load a path and how to recognise one,
so :func:`discover` asks the kinds instead of knowing their suffixes.

Format modules (:mod:`.idx`, :mod:`.svhn`, …) register themselves when the package imports them;
:func:`load`, :func:`is_present`, :func:`missing_message` and :func:`discover` read only this table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, NamedTuple

import numpy as np

from .dataset import DEFAULT_DATA_DIR, Dataset, DatasetError, normalize_features, safe_path, sample, validate
from .limits import check_name

#: at most this many names from :func:`discover` (a data directory full of files stays usable)
DISCOVER_LIMIT = 200
#: how deep :func:`discover` looks for arrays files below the data directory
DISCOVER_DEPTH = 6


class Download(NamedTuple):
    """Where a dataset's files come from: a base ``url`` and, per file name, (size in bytes or
    ``None``, SHA-256, MD5 or ``None``); both hashes are verified when given."""

    url: str
    files: Mapping[str, tuple[int | None, str, str | None]]


def _nothing_missing(data_dir: Path, split: str) -> list[str]:
    return []


@dataclass(frozen=True)
class Entry:
    """A built-in dataset, described by itself.

    ``loader(data_dir, split)`` reads it; ``missing(data_dir, split)`` lists the files of that
    split that are not there (names for the message); ``files`` are all its files (for messages
    and the UI); ``alt_folder`` another folder inside its own that may hold them (an unpacked
    archive's); ``fetch_hint`` how to get the files (the download command), else ``homepage``.
    """

    name: str
    description: str
    loader: Callable[[Path, str], Dataset]
    missing: Callable[[Path, str], list[str]] = _nothing_missing
    files: tuple[str, ...] = ()
    splits: tuple[str, ...] = ("train", "test")
    homepage: str = ""
    fetch_hint: str = ""
    alt_folder: str = ""
    download: Download | None = None

    def folder_hint(self, data_dir: Path) -> str:
        folder = str(Path(data_dir) / self.name) + os.sep
        return f"{folder} (or {folder}{self.alt_folder}{os.sep})" if self.alt_folder else folder

    def hint(self) -> str:
        """What to do once the files are known to be missing (appended to the message)."""
        if self.fetch_hint:
            return self.fetch_hint
        return f"; download them from {self.homepage}" if self.homepage else ""


@dataclass(frozen=True)
class UserKind:
    """Data a person brings, named ``<prefix>:<path in the data directory>``.

    ``loader(path, *, data_dir, split)`` reads it; ``recognises(path)`` says whether a file or
    folder holds one (for :func:`discover`); ``is_folder`` whether the path is a folder.
    ``anywhere``: found in sub-folders too, not only at the top of the data directory.
    """

    prefix: str
    loader: Callable[..., Dataset]
    recognises: Callable[[Path], bool]
    is_folder: bool = False
    anywhere: bool = False


REGISTRY: dict[str, Entry] = {}
USER_KINDS: dict[str, UserKind] = {}


def register(entry: Entry) -> Entry:
    """Add a built-in dataset (the format modules call this when imported)."""
    REGISTRY[entry.name] = entry
    return entry


def register_kind(kind: UserKind) -> UserKind:
    USER_KINDS[kind.prefix] = kind
    return kind


def available() -> list[str]:
    """Names of the built-in datasets (those needing files may still be missing)."""
    return list(REGISTRY)


def describe(name: str) -> Entry:
    if name not in REGISTRY:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def builtin_folders() -> set[str]:
    """The folders of the data directory that belong to built-ins (never a person's own data)."""
    return {name for name, entry in REGISTRY.items() if entry.files}


def _data_dir(data_dir: str | os.PathLike | None) -> Path:
    return Path(data_dir if data_dir is not None else DEFAULT_DATA_DIR)


def load(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
    limit: int | None = None,
    per_class: int | None = None,
    seed: int = 0,
    normalize: bool = True,
) -> Dataset:
    """Load dataset ``name`` (a registry name, ``arrays:<file>`` or ``folder:<dir>``).

    ``split`` picks train or test, ``per_class`` draws a balanced sample of that many
    per class with ``seed``, ``limit`` caps the number of samples, and ``normalize``
    scales non-image vectors to [0, 1] (image features are always in [0, 1]).
    """
    data_dir = _data_dir(data_dir)
    check_name(name)
    if ":" in name:
        prefix, _, rel = name.partition(":")
        if prefix not in USER_KINDS:
            raise DatasetError(f"unknown dataset kind {prefix!r} in {name!r}; use arrays:<file> or folder:<dir>")
        ds = USER_KINDS[prefix].loader(safe_path(data_dir, rel), data_dir=data_dir, split=split)
    else:
        entry = describe(name)
        if split not in entry.splits:
            raise DatasetError(f"{name} has no split {split!r}; choose one of {', '.join(entry.splits)}")
        ds = entry.loader(data_dir, split)
    ds = validate(ds)
    # image features are pixels already in [0, 1]; vectors a person brings are scaled
    # even when images ride along with them (thumbnails only)
    if normalize and (ds.images is None or name.startswith("arrays:")) and not ds.meta.get("pixel_features"):
        ds = replace(ds, features=normalize_features(ds.features, inplace=True))  # validate's copy: ours
    return sample(ds, limit=limit, per_class=per_class, seed=seed)


def missing_message(name: str, data_dir: str | os.PathLike, split: str = "train") -> str:
    """What a person should do when a built-in dataset's files are not there.

    Names the missing files, the folder they belong in and, where the module can
    fetch them, the command that does it.
    """
    entry = describe(name)
    data_dir = Path(data_dir)
    missing = entry.missing(data_dir, split if split in entry.splits else entry.splits[0])
    files = ", ".join(missing) if missing else ", ".join(Path(f).name for f in entry.files)
    return f"{name}: missing {files} in {entry.folder_hint(data_dir)}; put the standard files there{entry.hint()}"


def require_files(name: str, data_dir: Path, split: str) -> None:
    """Raise the :func:`missing_message` when ``name``'s files for ``split`` are not all there."""
    if describe(name).missing(data_dir, split):
        raise DatasetError(missing_message(name, data_dir, split))


def present_splits(name: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """The splits of built-in ``name`` whose files are all in the data directory, in the entry's order
    (``["test"]`` for a folder holding only MNIST's ``t10k-*`` files; ``[]`` when none is there)."""
    data_dir = _data_dir(data_dir)
    check_name(name)
    entry = describe(name)
    return [split for split in entry.splits if not entry.missing(data_dir, split)]


def presence(name: str, data_dir: str | os.PathLike | None = None) -> str:
    """One word or phrase for listings: ``present`` (every split), ``test only`` / ``train only``
    (some splits: the present ones named), or ``missing``."""
    splits = present_splits(name, data_dir)
    if not splits:
        return "missing"
    if len(splits) == len(describe(name).splits):
        return "present"
    return f"{'+'.join(splits)} only"


def default_split(name: str, data_dir: str | os.PathLike | None = None, wanted: str = "train") -> str:
    """``wanted`` when ``name`` has it (or is not a built-in), else the first split that is present,
    so a study asked for the default split of a dataset with only its test files uses those."""
    if ":" in name or name not in REGISTRY:
        return wanted
    splits = present_splits(name, data_dir)
    return wanted if wanted in splits or not splits else splits[0]


def is_present(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether ``name`` can be loaded from the data directory: at least one of its splits is there
    (:func:`present_splits` says which).

    ``digits`` ships with scikit-learn and is always present; ``arrays:``/``folder:``
    names are present when their file or folder exists inside the data directory.
    """
    data_dir = _data_dir(data_dir)
    check_name(name)
    if ":" in name:
        prefix, _, rel = name.partition(":")
        path = safe_path(data_dir, rel)
        kind = USER_KINDS.get(prefix)
        return path.is_dir() if kind is not None and kind.is_folder else path.is_file()
    return bool(present_splits(name, data_dir))


def train_test(
    name: str, *, data_dir: str | os.PathLike | None = None, holdout: float = 0.2, seed: int = 0
) -> tuple[Dataset, Dataset, str]:
    """The train and test splits of ``name`` and a note saying where they came from.

    Both splits when both are present; when only one is (MNIST with only its ``t10k-*`` files, an
    arrays file without a split column), a seeded, class-stratified ``holdout`` share of that split
    becomes the test set and the rest the train set, and the note says so (studies put it in the
    run's manifest).
    """
    data_dir = _data_dir(data_dir)
    loaded: dict[str, Dataset] = {}
    if ":" not in name:
        splits = present_splits(name, data_dir)
        if not splits:
            require_files(name, data_dir, describe(name).splits[0])
        loaded = {split: load(name, data_dir=data_dir, split=split) for split in splits if split in ("train", "test")}
    else:  # data a person brings: a file without a split column is all "train"
        loaded["train"] = load(name, data_dir=data_dir, split="train")
        try:
            loaded["test"] = load(name, data_dir=data_dir, split="test")
        except DatasetError:
            pass
    if "train" in loaded and "test" in loaded:
        return loaded["train"], loaded["test"], "train and test splits as given"
    if not loaded:
        raise DatasetError(f"{name}: neither a train nor a test split is present")
    only, full = next(iter(loaded.items()))
    rng = np.random.default_rng(seed)
    test_idx = []
    for c in np.unique(full.labels):
        members = np.flatnonzero(full.labels == c)
        take = max(1, int(round(holdout * members.size))) if members.size > 1 else 0
        test_idx.append(rng.choice(members, size=take, replace=False))
    test_idx = np.sort(np.concatenate(test_idx))
    train_idx = np.setdiff1d(np.arange(full.n), test_idx)
    note = (
        f"only the {only} split is present: train/test drawn from it with a seeded, stratified "
        f"holdout of {holdout:g} (seed {seed}): {train_idx.size} train, {test_idx.size} test"
    )
    return full.subset(train_idx), full.subset(test_idx), note


def discover(data_dir: str | os.PathLike | None = None, *, limit: int = DISCOVER_LIMIT) -> list[str]:
    """Names of the datasets a person put in the data directory, ready for :func:`load`.

    The one search the dataset picker and the Explore tab share: ``arrays:<path>`` for
    ``.npz``/``.npy``/parquet/CSV files anywhere below the data directory (not the labels files
    beside an ``.npy``) and ``folder:<dir>`` for top-level folders with at least two
    sub-folders of images. Hidden entries and the built-ins' folders are skipped; at most
    ``limit`` names, in path order.
    """
    root = _data_dir(data_dir)
    if not root.is_dir():
        return []
    skip = builtin_folders()
    found: list[str] = []

    def walk(folder: Path, depth: int) -> None:
        for path in sorted(folder.iterdir()):
            if len(found) >= limit:
                return
            if path.name.startswith(".") or (depth == 0 and path.name in skip):
                continue
            for kind in USER_KINDS.values():
                if (depth == 0 or kind.anywhere) and kind.recognises(path):
                    found.append(f"{kind.prefix}:{path.relative_to(root).as_posix()}")
                    break
            # a linked folder could lead back up; a person's data sits in plain folders
            if path.is_dir() and not path.is_symlink() and depth + 1 < DISCOVER_DEPTH:
                walk(path, depth + 1)

    walk(root, 0)
    return found
