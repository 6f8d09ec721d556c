"""The geometry of a SOM's lattice, in numpy only, so a config can check ``"20x30"`` without torch.

``parse_lattice`` turns the ``ROWSxCOLS`` text of a config into its shape; ``lattice_positions``
places the nodes in the plane (rectangular or hexagonal), which the torch SOM uses for its
neighbourhood and the views could use to draw it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LATTICES", "parse_lattice", "lattice_positions"]

LATTICES = ("rect", "hex")


def parse_lattice(text: str) -> tuple[int, int]:
    """``"20x30"`` → ``(20, 30)``; a clear error otherwise."""
    try:
        rows, cols = (int(p) for p in str(text).lower().replace("×", "x").split("x"))
    except ValueError:
        raise ValueError(f"lattice must look like ROWSxCOLS, e.g. 20x30 (got {text!r})") from None
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise ValueError(f"lattice must have at least 2 nodes (got {text!r})")
    return rows, cols


def lattice_positions(rows: int, cols: int, lattice: str = "rect") -> np.ndarray:
    """Planar positions of the ``rows × cols`` nodes, node ``k`` at row ``k // cols``.

    On a hexagonal lattice odd rows shift by half a node and rows sit √3/2 apart,
    so every inner node has six neighbours at distance exactly 1.
    """
    if lattice not in LATTICES:
        raise ValueError(f"lattice must be one of {LATTICES} (got {lattice!r})")
    r, c = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64), indexing="ij")
    if lattice == "hex":
        c = c + 0.5 * (r % 2)
        r = r * (math.sqrt(3) / 2)
    return np.stack([r.ravel(), c.ravel()], axis=1)
