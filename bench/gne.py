"""GNE against its VAE baseline: seconds per epoch and final reconstruction MSE.

Both networks share the generator class and the fit loop, train on the same data
for the same epochs in this one process, so the ratio measures what differs: an
encoder plus a KL term (VAE) against a lookup of learned points (GNE). Then the
absolute GNE speed on 60,000 MNIST-sized vectors (synthetic; timing only), target
≤ 0.5 s per epoch on a 2-core CPU.

    python -m bench.gne [--epochs 100] [--batch-size 128] [--synthetic-epochs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np
import torch

from models import datasets
from models.studies import gne as study
from models.studies import gne_engine as engine


def machine() -> str:
    dev = engine.resolve_device(None)
    load = f" · load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.platform()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores "
        f"({torch.get_num_threads()} torch threads) · torch {torch.__version__} · device {dev}{load}"
    )


def compare(X: np.ndarray, config: study.Config, label: str) -> dict:
    vae, vh = engine.train_vae(X, config)
    gne, gh = engine.train_gne(X, config)
    out = {
        "label": label,
        "gne_s": gh.seconds_per_epoch,
        "vae_s": vh.seconds_per_epoch,
        "gne_mse": float(engine.reconstruction_error(gne.generator, gne.embedding.detach(), X).mean()),
        "vae_mse": float(engine.reconstruction_error(vae.generator, engine.encode(vae, X), X).mean()),
    }
    print(
        f"{label}: GNE {out['gne_s']:.4f} s/epoch, VAE {out['vae_s']:.4f} s/epoch → VAE/GNE time ratio "
        f"{out['vae_s'] / out['gne_s']:.2f}×; final MSE GNE {out['gne_mse']:.4f}, VAE {out['vae_mse']:.4f}",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gne", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--synthetic-epochs", type=int, default=3)
    p.add_argument("--synthetic-n", type=int, default=60_000)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine(), flush=True)

    rng = np.random.default_rng(0)
    S = rng.random((args.synthetic_n, 784), dtype=np.float32)
    synth = study.Config(epochs=args.synthetic_epochs, batch_size=1024)
    out = compare(
        S, synth, f"synthetic {args.synthetic_n}×784, {args.synthetic_epochs} epochs, batch 1024, dense generator"
    )
    verdict = "meets" if out["gne_s"] <= 0.5 else "misses"
    print(
        f"GNE on {args.synthetic_n:,}×784: {out['gne_s']:.3f} s/epoch ({verdict} the ≤ 0.5 s/epoch target)", flush=True
    )
    conv = study.Config(epochs=max(1, args.synthetic_epochs - 1), batch_size=1024, generator="deconv")
    gne, gh = engine.train_gne(S, conv, image_shape=(28, 28))
    print(
        f"GNE deconvolutional generator on {args.synthetic_n:,}×28×28: {gh.seconds_per_epoch:.3f} s/epoch", flush=True
    )
    del S, gne

    X = datasets.load("digits").features
    base = study.Config(epochs=args.epochs, batch_size=args.batch_size)
    compare(
        X,
        base,
        f"digits {len(X)}×{X.shape[1]}, {args.epochs} epochs, batch {args.batch_size}, "
        f"embedding lr {base.embedding_lr}",
    )
    compare(
        X,
        study.Config(epochs=args.epochs, batch_size=args.batch_size, embedding_lr=None),
        f"digits, same, embedding lr = lr = {base.lr} (paper)",
    )
    print(machine(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
