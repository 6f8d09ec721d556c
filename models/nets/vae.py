"""The VAE baseline for GNE: an encoder to a 2-D Gaussian and the *same* generator class.

Sharing the decoder class makes the comparison about the one thing that differs —
an amortised encoder plus a KL term versus free per-sample points.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .gne import DenseGenerator

__all__ = ["Encoder", "VAE", "elbo_loss"]


class Encoder(nn.Module):
    """Sample → two ReLU layers of ``width`` → mean and log-variance of a ``latent_dim`` Gaussian."""

    def __init__(self, input_dim: int, latent_dim: int = 2, *, width: int = 64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(input_dim, 4 * width), nn.ReLU(), nn.Linear(4 * width, width), nn.ReLU())
        self.mean = nn.Linear(width, latent_dim)
        self.log_var = nn.Linear(width, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean(h), self.log_var(h).clamp(-10.0, 10.0)


class VAE(nn.Module):
    def __init__(self, encoder: Encoder, generator: DenseGenerator):
        super().__init__()
        self.encoder, self.generator = encoder, generator

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction (sampled while training, from the mean in eval), mean, log-variance."""
        mean, log_var = self.encoder(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean) if self.training else mean
        return self.generator(z), mean, log_var


def elbo_loss(
    x: torch.Tensor, recon: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor, kl_weight: float = 1e-2
) -> tuple[torch.Tensor, dict]:
    """MSE reconstruction + ``kl_weight`` × KL(q(z|x) ‖ N(0, I)) per sample; returns (loss, metrics)."""
    mse = F.mse_loss(recon, x)
    kl = torch.mean(-0.5 * torch.sum(1 + log_var - mean**2 - log_var.exp(), dim=1))
    return mse + kl_weight * kl, {"mse": mse.detach(), "kl": kl.detach()}
