"""The MLP family of the hardness study: 1–7 fully connected hidden layers, one activation.

Hidden layers are named ``hidden1`` … ``hiddenL`` and the head ``logits`` so that
:func:`models.activations.capture` can hook them by name. The head returns logits
(train with ``CrossEntropyLoss``; softmax is applied by the loss / at read-out).

Why per-activation settings: a 7-layer logistic-sigmoid network with plain Glorot
initialisation and lr 0.1 sits on a plateau for many epochs (saturated units, a
non-zero-centred activation; Glorot & Bengio 2010). Scaling Glorot by the
activation's gain (4 for the logistic sigmoid, whose slope at 0 is 1/4) keeps the
signal and gradient variance roughly constant with depth, so all four activations
train at depth 7 with the same optimiser. ReLU gets He initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from .choices import ACTIVATIONS, MAX_DEPTH

#: initialisation gain and SGD learning rate per activation (momentum 0.9, batch 128)
SETTINGS: dict[str, dict] = {
    "logsig": {"init": "glorot", "gain": 4.0, "lr": 0.1, "centre": True},
    "tanh": {"init": "glorot", "gain": 5.0 / 3.0, "lr": 0.05},
    "softsign": {"init": "glorot", "gain": 2.0, "lr": 0.05},
    "relu": {"init": "he", "gain": 2.0**0.5, "lr": 0.05},
}


def activation_module(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)} (got {name!r})")
    return {"logsig": nn.Sigmoid, "tanh": nn.Tanh, "softsign": nn.Softsign, "relu": nn.ReLU}[name]()


class MLP(nn.Module):
    """``in_features`` → ``depth`` × (Linear(width) + activation) → Linear(n_classes) logits."""

    def __init__(self, in_features: int, n_classes: int, *, depth: int = 3, width: int = 100, activation: str = "relu"):
        super().__init__()
        if not (isinstance(depth, int) and 1 <= depth <= MAX_DEPTH):
            raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH} (got {depth!r})")
        if width < 1:
            raise ValueError(f"width must be at least 1 (got {width})")
        if in_features < 1 or n_classes < 2:
            raise ValueError(f"need in_features ≥ 1 and n_classes ≥ 2 (got {in_features}, {n_classes})")
        activation_module(activation)  # validates
        self.depth, self.width, self.activation = depth, width, activation
        sizes = [in_features] + [width] * depth
        for i in range(depth):
            self.add_module(
                f"hidden{i + 1}", nn.Sequential(nn.Linear(sizes[i], sizes[i + 1]), activation_module(activation))
            )
        self.logits = nn.Linear(width, n_classes)
        self.reset_parameters()

    @property
    def layer_names(self) -> list[str]:
        """Names of the representations after the input, in order (for hooks)."""
        return [f"hidden{i + 1}" for i in range(self.depth)] + ["logits"]

    def reset_parameters(self) -> None:
        setting = SETTINGS[self.activation]
        for name in self.layer_names[:-1]:
            linear = getattr(self, name)[0]
            if setting["init"] == "he":
                nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(linear.weight, gain=setting["gain"])
            nn.init.zeros_(linear.bias)
        nn.init.xavier_uniform_(self.logits.weight)
        nn.init.zeros_(self.logits.bias)
        if setting.get("centre"):
            # the logistic sigmoid outputs ~0.5 at init: subtract what that mean feeds
            # forward, so every next pre-activation starts centred at 0 (like tanh)
            with torch.no_grad():
                for name in self.layer_names[1:]:
                    layer = getattr(self, name)
                    linear = layer[0] if isinstance(layer, nn.Sequential) else layer
                    linear.bias.copy_(-0.5 * linear.weight.sum(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.layer_names[:-1]:
            x = getattr(self, name)(x)
        return self.logits(x)


def default_lr(activation: str) -> float:
    """The SGD learning rate that trains ``activation`` networks at every depth (see ``SETTINGS``)."""
    activation_module(activation)
    return SETTINGS[activation]["lr"]
