"""Thumbnails and image tiles for hover tooltips and grids, as PNG data URIs."""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import numpy as np
from PIL import Image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (or uint8) → uint8; a flat vector of a square size → a square."""
    img = np.asarray(image)
    if img.ndim == 1:
        side = int(round(np.sqrt(img.size)))
        if side * side == img.size:
            img = img.reshape(side, side)
        else:
            img = img.reshape(1, -1)
    if img.dtype != np.uint8:
        img = (np.clip(img.astype(np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return img


def png_bytes(image: np.ndarray, size: int | None = 96) -> bytes:
    """PNG of one image, scaled (nearest neighbour, so pixels stay crisp) to ``size`` on its long side."""
    img = Image.fromarray(to_uint8(image))
    if size and max(img.size) != size:
        scale = size / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def png_data_uri(image: np.ndarray, size: int | None = 96) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, size)).decode()


def tile(images: np.ndarray, rows: int, cols: int, pad: int = 1, fill: int = 255) -> np.ndarray:
    """Lay ``rows × cols`` images (uint8 or [0,1] floats) out as one uint8 image with ``pad`` pixels between."""
    imgs = [to_uint8(im) for im in images]
    if not imgs:
        raise ValueError("no images to tile")
    h, w = imgs[0].shape[:2]
    channels = imgs[0].shape[2:] if imgs[0].ndim == 3 else ()
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *channels), fill, dtype=np.uint8)
    for k, im in enumerate(imgs[: rows * cols]):
        r, c = divmod(k, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = im
    return out


def cell_mosaic(images: np.ndarray, rows: int, cols: int, gap: int = 2, fill: int = 70) -> np.ndarray:
    """``tile`` for a picture stretched over a grid of cells: every cell exactly ``h + gap`` pixels
    with the image centred, so cell (r, c) stays aligned with plot coordinates while a thin dark
    ``gap`` keeps neighbouring small images (8×8 digits) from reading as stripes."""
    out = tile(images, rows, cols, pad=gap, fill=fill)
    lo, hi = gap // 2, gap - gap // 2
    return out[lo : out.shape[0] - hi, lo : out.shape[1] - hi]


@lru_cache(maxsize=8192)
def _cached_uri(key: tuple, data: bytes, shape: tuple, dtype: str, size: int | None) -> str:
    return png_data_uri(np.frombuffer(data, dtype=dtype).reshape(shape), size)


def thumbnail(key: tuple, image: np.ndarray, size: int | None = 96) -> str:
    """``png_data_uri`` made once per ``key`` (e.g. ``(dataset, split, index)``) and reused."""
    arr = np.ascontiguousarray(image)
    return _cached_uri(key, arr.tobytes(), arr.shape, arr.dtype.str, size)
