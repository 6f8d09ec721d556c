"""A self-organizing map in torch, trained a batch at a time.

Every sample of a batch finds its best-matching unit (BMU) in one matrix product,
and the Gaussian neighbourhood update of all prototypes is one tensor operation,
so the map trains at the speed of a few BLAS calls per batch instead of a Python
loop per sample (MiniSom's way). The schedule follows Pesteie et al.:
σ(n) = σ0·exp(−n/α), η(n) = η0·exp(−n/α), with ``n`` counted in samples seen so a
batch of ``B`` samples advances the schedule as ``B`` online steps would.

A batch step is the first-order sum of ``B`` online updates made from the same
prototypes, moved towards the neighbourhood-weighted batch mean and clipped so no
prototype overshoots it: with ``B = 1`` it is exactly the online rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .lattice import LATTICES, lattice_positions, parse_lattice

# the lattice geometry lives in numpy-only .lattice (configs check a lattice without torch)
__all__ = ["SOM", "lattice_positions", "parse_lattice", "LATTICES"]


@dataclass
class SOM:
    """A ``rows × cols`` map of ``dim``-dimensional prototypes.

    Parameters
    ----------
    sigma0, eta0, alpha
        Neighbourhood width and learning rate at ``n = 0`` and their decay constant
        (paper: 10, 0.3, 2000).
    lattice
        ``"rect"`` (8 neighbours, diagonal included) or ``"hex"`` (6 neighbours).
    """

    rows: int = 20
    cols: int = 30
    dim: int = 100
    lattice: str = "rect"
    sigma0: float = 10.0
    eta0: float = 0.3
    alpha: float = 2000.0
    seed: int = 0
    device: str | torch.device = "cpu"

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "dim"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer (got {value!r})")
        if self.rows * self.cols < 2:
            raise ValueError(f"a SOM needs at least 2 nodes (got {self.rows}x{self.cols})")
        for name in ("sigma0", "eta0", "alpha"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)!r})")
        self.device = torch.device(self.device)
        pos = lattice_positions(self.rows, self.cols, self.lattice)
        self.positions = torch.as_tensor(pos, dtype=torch.float32, device=self.device)
        self.lattice_d2 = torch.cdist(self.positions, self.positions).pow(2)
        reach = 1.0 + 1e-6 if self.lattice == "hex" else math.sqrt(2) + 1e-6
        self.adjacent = (self.lattice_d2 <= reach**2) & ~torch.eye(self.n_nodes, dtype=torch.bool, device=self.device)
        gen = torch.Generator().manual_seed(int(self.seed))
        self.prototypes = torch.rand(self.n_nodes, self.dim, generator=gen).to(self.device)
        self.n_seen = 0

    # -- lattice --------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self.rows * self.cols)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.rows), int(self.cols)

    def sigma(self, n: float) -> float:
        return float(self.sigma0 * math.exp(-n / self.alpha))

    def eta(self, n: float) -> float:
        return float(self.eta0 * math.exp(-n / self.alpha))

    # -- initialisation ---------------------------------------------------------
    def init_from(self, X: torch.Tensor | np.ndarray, method: str = "sample") -> "SOM":
        """Start from data: random samples (``"sample"``) or the plane of the first two PCs (``"pca"``)."""
        X = self._as_tensor(X)
        gen = torch.Generator().manual_seed(int(self.seed))
        if method == "sample":
            idx = torch.randint(0, X.shape[0], (self.n_nodes,), generator=gen).to(X.device)
            self.prototypes = X[idx].clone()
        elif method == "pca":
            mean = X.mean(0)
            _, s, v = torch.linalg.svd(X - mean, full_matrices=False)
            scale = s[:2] / math.sqrt(max(1, X.shape[0] - 1))
            pos = self.positions - self.positions.mean(0)
            pos = pos / pos.abs().amax(0).clamp_min(1e-9)
            self.prototypes = mean + 2 * (pos * scale) @ v[:2]
        else:
            raise ValueError(f"method must be 'sample' or 'pca' (got {method!r})")
        return self

    # -- mapping ------------------------------------------------------------------
    def _as_tensor(self, X) -> torch.Tensor:
        X = torch.as_tensor(X, dtype=torch.float32, device=self.device)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"X must be n×{self.dim} (got shape {tuple(X.shape)})")
        return X

    def distances(self, X: torch.Tensor, prototypes: torch.Tensor | None = None) -> torch.Tensor:
        """Squared Euclidean distances n × nodes, as one matrix product."""
        W = self.prototypes if prototypes is None else prototypes
        d2 = (X * X).sum(1, keepdim=True) - 2 * X @ W.T + (W * W).sum(1)
        return d2.clamp_min_(0)

    def bmu(self, X, batch_size: int = 8192) -> np.ndarray:
        """The best-matching unit of every row of ``X`` (node index, row-major)."""
        X = self._as_tensor(X)
        out = [self.distances(X[s : s + batch_size]).argmin(1) for s in range(0, X.shape[0], batch_size)]
        return torch.cat(out).cpu().numpy()

    def step(self, X: torch.Tensor, n: float | None = None) -> None:
        """One batch update at schedule position ``n`` (default: samples seen so far)."""
        n = self.n_seen if n is None else n
        sigma, eta = self.sigma(n), self.eta(n)
        with torch.no_grad():
            X = X.detach()
            W = self.prototypes
            winners = self.distances(X, W).argmin(1)
            h = torch.exp(-self.lattice_d2[winners] / (2 * sigma * sigma))  # B × K
            mass = h.sum(0)  # K
            target = (h.T @ X) / mass.clamp_min(1e-12)[:, None]  # K × D
            rate = (eta * mass).clamp_max(1.0)[:, None]
            self.prototypes = W + rate * (target - W)
        self.n_seen += int(X.shape[0])

    def fit(
        self, X, iterations: int = 10_000, batch_size: int = 64, *, progress=None, init: str | None = "sample"
    ) -> "SOM":
        """Train on ``iterations`` samples drawn at random from ``X``, ``batch_size`` at a time."""
        from ..progress import report

        if iterations < 1 or batch_size < 1:
            raise ValueError(f"iterations and batch_size must be ≥ 1 (got {iterations}, {batch_size})")
        X = self._as_tensor(X)
        if init:
            self.init_from(X, init)
        gen = torch.Generator().manual_seed(int(self.seed) + 1)
        order = torch.randint(0, X.shape[0], (iterations,), generator=gen).to(X.device)
        steps = -(-iterations // batch_size)
        for i, start in enumerate(range(0, iterations, batch_size)):
            self.step(X[order[start : start + batch_size]])
            if progress is not None and (i % 50 == 0 or i == steps - 1):
                report(progress, i + 1, steps, "SOM", sigma=self.sigma(self.n_seen))
        return self

    # -- quality ------------------------------------------------------------------
    def quantization_error(self, X) -> float:
        """Mean distance from each sample to its BMU's prototype."""
        X = self._as_tensor(X)
        return float(self.distances(X).min(1).values.sqrt().mean())

    def topographic_error(self, X) -> float:
        """Share of samples whose two best units are not lattice neighbours."""
        X = self._as_tensor(X)
        two = self.distances(X).topk(2, dim=1, largest=False).indices
        return float((~self.adjacent[two[:, 0], two[:, 1]]).float().mean())

    def hits(self, X) -> np.ndarray:
        """How many samples each node wins (rows × cols)."""
        return np.bincount(self.bmu(X), minlength=self.n_nodes).reshape(self.shape)

    def u_matrix(self) -> np.ndarray:
        """Mean distance of each prototype to its lattice neighbours' (rows × cols)."""
        W = self.prototypes
        d = torch.cdist(W, W)
        adj = self.adjacent.float()
        u = (d * adj).sum(1) / adj.sum(1).clamp_min(1)
        return u.reshape(self.shape).cpu().numpy()

    # -- persistence ----------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"prototypes": self.prototypes.detach().cpu(), "n_seen": torch.tensor(self.n_seen)}

    def load_state_dict(self, state: dict) -> "SOM":
        protos = torch.as_tensor(state["prototypes"], dtype=torch.float32)
        if tuple(protos.shape) != (self.n_nodes, self.dim):
            raise ValueError(f"prototypes must be {self.n_nodes}×{self.dim} (got {tuple(protos.shape)})")
        self.prototypes = protos.to(self.device)
        self.n_seen = int(state.get("n_seen", 0))
        return self
