"""Which samples a GNE run trains on, and which it holds out (torch-free).

The engine's ``--heldout`` and :func:`.gne_points.place_heldout` follow the same rule, so a
placement made later from the dashboard matches the one the command line stored.
"""

from __future__ import annotations

import numpy as np

from .. import datasets
from ..errors import UserError
from .base import resolve_split
from .gne import Config

__all__ = ["load_data", "heldout_data"]


def load_data(config: Config, data_dir=None) -> datasets.Dataset:
    """The training samples a run with ``config`` uses (the same ones for its moved children)."""
    split = resolve_split(config.dataset, config.split, data_dir)  # runs stored before --split: train
    return datasets.load(config.dataset, data_dir=data_dir, split=split, limit=config.limit, seed=config.seed)


def heldout_data(config: Config, ds: datasets.Dataset, data_dir=None) -> tuple[datasets.Dataset, str]:
    """``config.heldout`` samples no network saw, and where they came from: the test split when it is
    present and not the one trained on, else (MNIST with only its test files) the trained split's samples
    left out by ``--limit``."""
    if config.split != "test" and "test" in _present(config.dataset, data_dir):
        test = datasets.load(config.dataset, data_dir=data_dir, split="test", limit=config.heldout, seed=config.seed)
        return test, "test samples"
    full = datasets.load(config.dataset, data_dir=data_dir, split=ds.split, seed=config.seed)
    used = ds.index if ds.index is not None else np.arange(ds.n)
    rest = np.setdiff1d(np.arange(full.n), used)
    if rest.size == 0:
        raise UserError(
            f"--heldout {config.heldout}: {config.dataset} has no test split apart from the "
            f"{ds.split} split trained on, and training used all of it; give --limit below {full.n}"
        )
    take = np.random.default_rng(config.seed).choice(rest, size=min(config.heldout, rest.size), replace=False)
    return full.subset(np.sort(take)), f"{ds.split}-split samples left out of training"


def _present(dataset: str, data_dir) -> list[str]:
    if ":" in dataset or dataset not in datasets.available():
        try:
            datasets.load(dataset, data_dir=data_dir, split="test", limit=1)
            return ["test"]
        except datasets.DatasetError:
            return []
    return datasets.present_splits(dataset, data_dir)
