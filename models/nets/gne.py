"""Generative neural embeddings (Yerebakan & Hermosillo): an auto-decoder.

Every sample owns a learned point in a low-dimensional plane (an embedding table
N×d); a generator maps a point to the sample. There is no encoder: training moves
the points and the generator together, so the plane is whatever layout makes the
data easiest to decode. Gaussian noise on the points during training (σ = 0.1)
makes nearby points decode to similar samples, which is what makes the plane smooth.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .choices import GENERATORS

__all__ = ["ResidualBlock", "DenseGenerator", "DeconvGenerator", "make_generator", "GNE", "GENERATORS"]


class ResidualBlock(nn.Module):
    """Dense-ReLU then Dense-linear, added back to the input (the paper's block)."""

    def __init__(self, width: int):
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.outer = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.outer(torch.relu(self.inner(h)))


class DenseGenerator(nn.Module):
    """Point → dense tanh expansion to ``width`` → ``blocks`` residual blocks → sigmoid of ``output_dim``."""

    def __init__(self, latent_dim: int, output_dim: int, *, width: int = 64, blocks: int = 4):
        super().__init__()
        self.latent_dim, self.output_dim = latent_dim, output_dim
        self.expand = nn.Linear(latent_dim, width)
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)])
        self.out = nn.Linear(width, output_dim)

    def trunk(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(torch.tanh(self.expand(z)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.trunk(z)))


class DeconvGenerator(DenseGenerator):
    """The dense trunk, then dense → reshape → two stride-2 transposed convolutions → sigmoid image.

    For images of 28×28 and larger, where a dense output layer ignores that
    neighbouring pixels are alike. Output is flattened H·W·C like ``Dataset.features``.
    """

    def __init__(
        self,
        latent_dim: int,
        output_dim: int,
        *,
        image_shape: tuple[int, ...],
        width: int = 64,
        blocks: int = 4,
        channels: int = 32,
    ):
        super().__init__(latent_dim, output_dim, width=width, blocks=blocks)
        h, w = int(image_shape[0]), int(image_shape[1])
        c = int(image_shape[2]) if len(image_shape) == 3 else 1
        if h * w * c != output_dim:
            raise ValueError(f"image_shape {tuple(image_shape)} does not match output_dim {output_dim}")
        self.h, self.w, self.c = h, w, c
        self.h0, self.w0 = math.ceil(h / 4), math.ceil(w / 4)
        self.channels = channels
        self.out = nn.Linear(width, 2 * channels * self.h0 * self.w0)
        self.deconv = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, c, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.out(self.trunk(z)).view(-1, 2 * self.channels, self.h0, self.w0)
        x = self.deconv(x)[:, :, : self.h, : self.w]  # crop when H or W is not a multiple of 4
        return torch.sigmoid(x.permute(0, 2, 3, 1).reshape(x.shape[0], -1))


def make_generator(
    latent_dim: int,
    output_dim: int,
    *,
    kind: str = "auto",
    image_shape: tuple[int, ...] | None = None,
    width: int = 64,
    blocks: int = 4,
) -> DenseGenerator:
    """The generator ``kind`` asks for; ``auto`` is deconvolutional for images ≥ 28×28, else dense."""
    if kind not in GENERATORS:
        raise ValueError(f"generator must be one of {', '.join(GENERATORS)} (got {kind!r})")
    big_image = image_shape is not None and min(image_shape[:2]) >= 28
    if kind == "deconv" and image_shape is None:
        raise ValueError("generator='deconv' needs image data (got vectors without image_shape)")
    if kind == "deconv" or (kind == "auto" and big_image):
        return DeconvGenerator(latent_dim, output_dim, image_shape=tuple(image_shape), width=width, blocks=blocks)
    return DenseGenerator(latent_dim, output_dim, width=width, blocks=blocks)


class GNE(nn.Module):
    """An embedding table (one learned point per sample) and a generator decoding points to samples."""

    def __init__(self, n_samples: int, generator: DenseGenerator, *, noise: float = 0.1, init_scale: float = 0.05):
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(n_samples, generator.latent_dim).uniform_(-init_scale, init_scale))
        self.generator = generator
        self.noise = float(noise)

    @property
    def n_samples(self) -> int:
        return int(self.embedding.shape[0])

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Decode the points of samples ``idx``, jittered by Gaussian noise while training."""
        z = self.embedding[idx]
        if self.training and self.noise > 0:
            z = z + self.noise * torch.randn_like(z)
        return self.generator(z)
