"""Token datasets: an arrays file (``.npz``) holding ``input_ids`` (N×T integers), ``labels``, and
optionally ``attention_mask`` (N×T, 1 = a real token, 0 = padding, as Hugging Face writes it) and
``texts`` (one string per sample, shown on hover instead of an image).

A text model captured over it receives the ids (and mask) by input name (:mod:`models.capture.adapt`).
Every other view needs vectors: a token dataset's ``features`` are a bag of tokens, each sample's
token frequencies (padding left out) over ``min(vocabulary, BAG_DIM)`` bins (id mod bins), so the
Data and Explore tabs show which samples share words, at a bounded cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import DatasetError

TOKEN_KEYS = ("input_ids", "attention_mask", "texts")
BAG_DIM = 512


def token_columns(cols: dict, n: int, path: Path) -> tuple[dict | None, np.ndarray | None]:
    """(``{"input_ids", "attention_mask"?}``, texts or None) of the columns read from ``path``;
    (None, texts) when it holds no ``input_ids``. Shapes and values are checked here."""
    texts = cols.get("texts")
    if texts is not None:
        texts = np.asarray(texts)
        if texts.ndim != 1 or texts.shape[0] != n or texts.dtype.kind not in "US":
            raise DatasetError(f"{path}: texts must be one string per sample ({n}), got {texts.dtype} {texts.shape}")
        texts = texts.astype(str)
    if "input_ids" not in cols:
        return None, texts
    ids = np.asarray(cols["input_ids"])
    if ids.ndim != 2 or ids.shape[0] != n or ids.shape[1] == 0 or ids.dtype.kind not in "iu":
        raise DatasetError(
            f"{path}: input_ids must be integers of shape N×T with N = {n} samples, got {ids.dtype} {ids.shape}"
        )
    if ids.size and ids.min() < 0:
        raise DatasetError(f"{path}: input_ids must be non-negative token ids, found {int(ids.min())}")
    tokens = {"input_ids": ids.astype(np.int64)}
    if "attention_mask" in cols:
        mask = np.asarray(cols["attention_mask"])
        if mask.shape != ids.shape or mask.dtype.kind not in "biuf" or not np.isin(mask, (0, 1)).all():
            raise DatasetError(
                f"{path}: attention_mask must be 0/1 of the same shape as input_ids {ids.shape}, "
                f"got {mask.dtype} {mask.shape}"
            )
        tokens["attention_mask"] = mask.astype(np.int64)
    return tokens, texts


def bag_of_tokens(tokens: dict) -> np.ndarray:
    """N × min(vocabulary, :data:`BAG_DIM`) float32 token frequencies (masked tokens left out)."""
    ids = tokens["input_ids"]
    mask = tokens.get("attention_mask")
    mask = np.ones_like(ids) if mask is None else mask
    bins = int(min(BAG_DIM, max(2, int(ids.max()) + 1 if ids.size else 2)))
    bag = np.zeros((ids.shape[0], bins), dtype=np.float32)
    rows = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    np.add.at(bag, (rows, (ids % bins).reshape(-1)), mask.reshape(-1).astype(np.float32))
    return bag / np.maximum(bag.sum(1, keepdims=True), 1.0)
