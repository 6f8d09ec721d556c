"""Image mosaics for the PNG figures studies write beside their runs (lattice, landscape)."""

from __future__ import annotations

import numpy as np


def mosaic(images: np.ndarray, rows: int, cols: int, pad: int = 1) -> np.ndarray:
    """``rows·cols`` uint8 images (N×H×W or N×H×W×3) tiled row by row, ``pad`` grey pixels between."""
    h, w = images.shape[1:3]
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]), 96, np.uint8)
    for i, im in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = im
    return out
