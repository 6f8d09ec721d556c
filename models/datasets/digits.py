"""scikit-learn's handwritten digits: built in, no files needed (always present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import Dataset, images_to_features
from .registry import Entry, register


def load_digits(data_dir: Path, split: str) -> Dataset:
    """1,797 8×8 digits with a fixed, stratified 80/20 train/test split."""
    from sklearn.datasets import load_digits as sklearn_digits

    raw = sklearn_digits()
    images = np.clip(raw.images * (255.0 / 16.0), 0, 255).round().astype(np.uint8)
    labels = raw.target.astype(np.int64)
    # a fixed, stratified 80/20 split so "test" means the same samples everywhere
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        test[rng.choice(members, size=len(members) // 5, replace=False)] = True
    keep = test if split == "test" else ~test
    return Dataset(
        name="digits",
        features=images_to_features(images[keep]),
        labels=labels[keep],
        class_names=[str(i) for i in range(10)],
        images=images[keep],
        source="sklearn.datasets.load_digits",
        split=split,
    )


register(
    Entry("digits", "scikit-learn's handwritten digits: 1,797 images of 8×8, built in, no files needed", load_digits)
)
