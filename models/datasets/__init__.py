"""The datasets: a registry of built-ins, the data a person brings, one :class:`Dataset` shape.

Every loader returns a :class:`Dataset` and every failure raises :class:`DatasetError` with a
message that names the file and what is wrong, so the command line and the dashboard can show
it as is. Validation happens once, at the boundary; everything downstream trusts a ``Dataset``.

Names: the registry's built-in names (``digits``, ``mnist``, …) plus names for data a person
brings, found in the data directory: ``arrays:<file>`` for ``.npz``/``.npy``/parquet/CSV vectors
and ``folder:<dir>`` for an image folder with one sub-folder per class. :func:`discover` lists
those, :func:`is_present` and :func:`missing_message` say whether a built-in's files are there
and what to do if not, :func:`download` fetches the datasets :func:`downloadable` lists (MNIST,
Fashion-MNIST, KMNIST) with checksums, and ``python -m models.datasets`` does all of this from a
shell.

Layout: :mod:`.dataset` (``Dataset``, validation, sampling), :mod:`.registry` (each dataset's
description, ``load``, ``discover``), one module per format (:mod:`.digits`, :mod:`.idx`,
:mod:`.svhn`, :mod:`.images`, :mod:`.cifar`, :mod:`.arrays`), :mod:`.download` and the command
line in ``__main__.py``. A new format is one module that calls ``register(Entry(...))`` (or
``register_kind`` for data a person brings) and one import line below.
"""

from __future__ import annotations

from typing import Sequence

from .dataset import (
    DEFAULT_DATA_DIR,
    Dataset,
    DatasetError,
    balanced_indices,
    images_to_features,
    normalize_features,
    safe_path,
    sample,
    validate,
)
from .registry import (
    Download,
    Entry,
    UserKind,
    available,
    default_split,
    describe,
    discover,
    is_present,
    load,
    missing_message,
    presence,
    present_splits,
    register,
    register_kind,
    train_test,
)

# the format modules register their entries on import, in the order the picker lists them
from . import digits, idx, svhn, images, cifar, arrays  # noqa: E402,F401  (isort: skip)
from .arrays import ARRAY_SUFFIXES
from .cifar import safe_unpickle
from .download import download, downloadable
from .idx import read_idx
from .images import IMAGE_SUFFIXES


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``__main__.py``), imported on call: ``python -m models.datasets`` runs that
    file as ``__main__``, and importing it here at load time would make runpy warn on stderr."""
    from .__main__ import main as command_line

    return command_line(argv)


__all__ = [
    "ARRAY_SUFFIXES",
    "DEFAULT_DATA_DIR",
    "Dataset",
    "DatasetError",
    "Download",
    "Entry",
    "IMAGE_SUFFIXES",
    "UserKind",
    "available",
    "default_split",
    "present_splits",
    "presence",
    "train_test",
    "balanced_indices",
    "describe",
    "discover",
    "download",
    "downloadable",
    "images_to_features",
    "is_present",
    "load",
    "main",
    "missing_message",
    "normalize_features",
    "read_idx",
    "register",
    "register_kind",
    "safe_path",
    "safe_unpickle",
    "sample",
    "validate",
]
