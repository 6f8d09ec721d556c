"""Convolutional autoencoders for the deep neural map and the sparse generative landscape.

Both take images as ``N × C × H × W`` floats in [0, 1] and end in a sigmoid, and
both size themselves from ``image_shape`` so the same class serves 8×8 digits,
28×28 MNIST-likes, 32×32×3 CIFAR/SVHN and 64×64 COIL.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .choices import DNM_ARCHITECTURES

__all__ = [
    "ConvAutoencoder",
    "SparseConvAutoencoder",
    "image_shape_of",
    "as_images",
    "DNM_ARCHITECTURES",
    "dnm_autoencoder",
]


def image_shape_of(shape: Sequence[int]) -> tuple[int, int, int]:
    """A dataset's image shape (H×W or H×W×C) as ``(C, H, W)``."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3 and shape[2] in (1, 3):
        return (shape[2], shape[0], shape[1])
    if len(shape) == 3 and shape[0] in (1, 3):
        return shape
    raise ValueError(f"image_shape must be H×W, H×W×C or C×H×W with 1 or 3 channels (got {shape})")


def as_images(features: torch.Tensor, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """Flat features (N × C·H·W, stored H·W·C for colour) → ``N × C × H × W``."""
    c, h, w = image_shape
    if c == 1:
        return features.reshape(-1, 1, h, w)
    return features.reshape(-1, h, w, c).permute(0, 3, 1, 2).contiguous()


def _conv_out(size: int, stride: int) -> int:
    return (size + 2 * 2 - 5) // stride + 1


class ConvAutoencoder(nn.Module):
    """Pesteie et al.'s DNM autoencoder: 5×5 convolutions (10 → 8 → 5 maps), a dense code, a mirror decoder.

    Small images (≤ 16 px) keep their size through the encoder ("same" padding);
    larger ones halve it at each convolution so the dense layer stays small.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 8, 8),
        code: int = 100,
        channels: Sequence[int] = (10, 8, 5),
        stride: int | None = None,
    ):
        super().__init__()
        c, h, w = image_shape_of(image_shape)
        if code < 1:
            raise ValueError(f"code must be ≥ 1 (got {code})")
        self.image_shape, self.code = (c, h, w), int(code)
        stride = stride or (1 if max(h, w) <= 16 else 2)
        sizes = [(h, w)]
        enc: list[nn.Module] = []
        prev = c
        for ch in channels:
            enc += [nn.Conv2d(prev, ch, 5, stride=stride, padding=2), nn.ReLU()]
            sizes.append((_conv_out(sizes[-1][0], stride), _conv_out(sizes[-1][1], stride)))
            prev = ch
        self.encoder_conv = nn.Sequential(*enc)
        self.inner = (prev, *sizes[-1])
        flat = prev * sizes[-1][0] * sizes[-1][1]
        self.to_code = nn.Linear(flat, code)
        self.from_code = nn.Linear(code, flat)
        dec: list[nn.Module] = []
        outs = list(channels[::-1][1:]) + [c]
        for i, ch in enumerate(outs):
            (hi, wi), (ho, wo) = sizes[-1 - i], sizes[-2 - i]
            pad = ((ho - ((hi - 1) * stride - 4 + 5)), (wo - ((wi - 1) * stride - 4 + 5)))
            dec.append(nn.ConvTranspose2d(prev, ch, 5, stride=stride, padding=2, output_padding=pad))
            if i < len(outs) - 1:
                dec.append(nn.ReLU())
            prev = ch
        self.decoder_conv = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.encoder_conv(x).flatten(1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.from_code(z)).reshape(-1, *self.inner)
        return torch.sigmoid(self.decoder_conv(h))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return z, self.decode(z)


class SparseConvAutoencoder(nn.Module):
    """Dolgikh's sparse generative autoencoder: conv–pool encoder, dense reductions to a small
    ReLU latent layer (20–25 units) whose activations carry an L1 penalty, mirror decoder, BCE.

    The penalty (applied by the study's loss, weight ``l1``) and, with ``top_k``, keeping only
    each image's ``top_k`` largest units make most images light only a handful of latent units, which is what
    gives the latent space its
    readable "landscape" of density clusters.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 8, 8),
        latent: int = 24,
        channels: Sequence[int] = (16, 32),
        hidden: int = 128,
        top_k: int | None = None,
    ):
        super().__init__()
        c, h, w = image_shape_of(image_shape)
        if latent < 3:
            raise ValueError(f"latent must be ≥ 3 for 3-unit slices (got {latent})")
        if top_k is not None and not 1 <= int(top_k) <= latent:
            raise ValueError(f"top_k must be between 1 and latent={latent} or None (got {top_k})")
        self.image_shape, self.latent = (c, h, w), int(latent)
        self.top_k = None if top_k is None else int(top_k)
        layers: list[nn.Module] = []
        prev, hh, ww = c, h, w
        for ch in channels:
            layers += [nn.Conv2d(prev, ch, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            prev, hh, ww = ch, hh // 2, ww // 2
        if hh < 1 or ww < 1:
            raise ValueError(f"image {h}×{w} is too small for {len(channels)} pooling stages")
        self.inner = (prev, hh, ww)
        flat = prev * hh * ww
        self.encoder = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, latent), nn.ReLU()
        )
        nn.init.constant_(self.encoder[-2].bias, 0.1)  # start every latent unit alive; L1 then prunes
        self.decoder_dense = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, flat), nn.ReLU())
        up: list[nn.Module] = []
        outs = list(channels[::-1][1:]) + [c]
        for i, ch in enumerate(outs):
            up += [nn.ConvTranspose2d(prev, ch, 2, stride=2)]
            if i < len(outs) - 1:
                up.append(nn.ReLU())
            prev = ch
        self.decoder_conv = nn.Sequential(*up)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The ReLU code; with ``top_k`` only each image's ``top_k`` largest units are kept (the rest are 0),
        so at most ``top_k`` units fire whatever the image size (gradients flow through the kept ones)."""
        z = self.encoder(x)
        if self.top_k is not None and self.top_k < self.latent:
            kth = z.topk(self.top_k, dim=1).values[:, -1:]
            z = z * (z >= kth)
        return z

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder_conv(self.decoder_dense(z).reshape(-1, *self.inner))
        if out.shape[-2:] != self.image_shape[1:]:
            out = F.interpolate(out, size=self.image_shape[1:], mode="bilinear", align_corners=False)
        return out

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return z, self.decode_logits(z)


# -- the deep neural map's two architectures ------------------------------------------------


def dnm_autoencoder(image_shape: Sequence[int], code: int = 100, architecture: str = "compact") -> ConvAutoencoder:
    """The DNM's autoencoder, ``architecture``:

    * ``"paper"`` — Pesteie et al.'s network as published: 5×5 convolutions with 10, 8 and 5 maps at the
      image's full resolution (stride 1, "same" padding), a dense code of ``code`` units (paper: 100), and a
      mirror decoder (dense, then 5×5 transposed convolutions 5 → 8 → 10 → channels, sigmoid). Its dense
      layers grow with the image (5·H·W → code: 3,920 inputs at 28×28, 20,480 at 64×64).
    * ``"compact"`` — the same layers, but images above 16 px are halved at each convolution (stride 2), so
      the dense layers are 16–64× smaller and an epoch is faster on a CPU; at ≤ 16 px both are the same.
    """
    if architecture not in DNM_ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(DNM_ARCHITECTURES)} (got {architecture!r})")
    return ConvAutoencoder(image_shape, code=code, channels=(10, 8, 5), stride=1 if architecture == "paper" else None)
