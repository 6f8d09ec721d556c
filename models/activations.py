"""Activations of named modules, captured with forward hooks.

Works for any ``torch.nn.Module``: the caller names the modules to read (e.g.
``["hidden1", "hidden2", "logits"]`` for :class:`models.nets.mlp.MLP`, or
``["layer4", "fc"]`` for a network a person loads), so nothing here assumes an
architecture. The input itself is returned as layer ``"input"`` when asked.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def capture(
    model,
    X: np.ndarray,
    names: Sequence[str],
    *,
    include_input: bool = True,
    batch_size: int = 1024,
    device: str | None = None,
) -> dict[str, np.ndarray]:
    """Run ``X`` through ``model`` and return ``{name: activations (n × features, float32)}``.

    Outputs of each named module are flattened per sample (so convolutional maps
    become vectors). The dict keeps the order: ``input`` (if asked), then ``names``.
    """
    import torch

    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(
            f"names {missing} are not modules of {type(model).__name__}; choose from {[n for n in modules if n][:20]}"
        )
    chunks: dict[str, list[np.ndarray]] = {n: [] for n in names}

    def hook_for(name):
        def hook(_module, _inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            chunks[name].append(out.detach().flatten(1).float().cpu().numpy())

        return hook

    handles = [modules[n].register_forward_hook(hook_for(n)) for n in names]
    dev = torch.device(device) if device else next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                model(torch.as_tensor(np.asarray(X[start : start + batch_size]), dtype=torch.float32, device=dev))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    out: dict[str, np.ndarray] = {}
    if include_input:
        out["input"] = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    for n in names:
        out[n] = np.concatenate(chunks[n]) if chunks[n] else np.zeros((0, 0), np.float32)
    return out
