"""Our batched torch SOM vs MiniSom on the same data, lattice, schedule and sample count.

Both see ``iterations`` samples under the same exponential schedule
(σ0·exp(−n/α), η0·exp(−n/α)); MiniSom updates one sample at a time, ours a batch
at a time. Prints seconds, the time ratio and both quantization errors.

    python -m bench.som [--iterations 10000] [--lattice 20x30] [--batch 64]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
import torch


def minisom_fit(
    X: np.ndarray, rows: int, cols: int, iterations: int, sigma0: float, eta0: float, alpha: float, seed: int = 0
):
    from minisom import MiniSom

    som = MiniSom(
        rows,
        cols,
        X.shape[1],
        sigma=sigma0,
        learning_rate=eta0,
        random_seed=seed,
        decay_function=lambda x, t, _T: x * math.exp(-t / alpha),
    )
    som._sigma_decay_function = lambda s, t, _T: s * math.exp(-t / alpha)  # same schedule as ours
    som.random_weights_init(X)
    t0 = time.perf_counter()
    som.train(X, iterations, random_order=True)
    return time.perf_counter() - t0, float(som.quantization_error(X)), float(som.topographic_error(X))


def ours_fit(
    X: np.ndarray,
    rows: int,
    cols: int,
    iterations: int,
    sigma0: float,
    eta0: float,
    alpha: float,
    batch: int,
    seed: int = 0,
):
    from models.nets.som import SOM
    from models.training import default_device

    som = SOM(rows, cols, X.shape[1], sigma0=sigma0, eta0=eta0, alpha=alpha, seed=seed, device=default_device())
    Xt = torch.as_tensor(X, device=som.device)
    som.fit(Xt, iterations=batch, batch_size=batch)  # warm-up (allocations, BLAS threads)
    som = SOM(rows, cols, X.shape[1], sigma0=sigma0, eta0=eta0, alpha=alpha, seed=seed, device=default_device())
    t0 = time.perf_counter()
    som.fit(Xt, iterations=iterations, batch_size=batch)
    if som.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, som.quantization_error(Xt), som.topographic_error(Xt)


def datasets_for_bench(seed: int = 0) -> dict[str, np.ndarray]:
    from models import datasets

    digits = datasets.load("digits").features.astype(np.float32)
    rng = np.random.default_rng(seed)
    # 10,000 × 100 "codes": a mixture of 10 Gaussian clusters, like an autoencoder's code layer
    centres = rng.normal(0, 1, size=(10, 100))
    codes = (centres[rng.integers(0, 10, 10_000)] + 0.5 * rng.normal(size=(10_000, 100))).astype(np.float32)
    return {"digits features (1,442×64)": digits, "codes (10,000×100)": codes}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=10_000)
    ap.add_argument("--lattice", default="20x30")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--sigma0", type=float, default=10.0)
    ap.add_argument("--eta0", type=float, default=0.3)
    ap.add_argument("--alpha", type=float, default=2000.0)
    args = ap.parse_args(argv)
    from models.nets.lattice import parse_lattice
    from models.training import default_device

    rows, cols = parse_lattice(args.lattice)
    print(
        f"machine: {platform.platform()} · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} cores · torch {torch.__version__} on {default_device()} · threads {torch.get_num_threads()}"
    )
    print(
        f"lattice {rows}x{cols}, {args.iterations} samples, σ0={args.sigma0} η0={args.eta0} α={args.alpha}, "
        f"our batch {args.batch}"
    )
    for name, X in datasets_for_bench().items():
        t_m, qe_m, te_m = minisom_fit(X, rows, cols, args.iterations, args.sigma0, args.eta0, args.alpha)
        t_o, qe_o, te_o = ours_fit(X, rows, cols, args.iterations, args.sigma0, args.eta0, args.alpha, args.batch)
        print(
            f"{name}: MiniSom {t_m:.3f} s QE {qe_m:.4f} TE {te_m:.3f} | ours {t_o:.3f} s QE {qe_o:.4f} "
            f"TE {te_o:.3f} | speed-up ×{t_m / t_o:.1f}, QE ours/MiniSom {qe_o / qe_m:.3f}"
        )


if __name__ == "__main__":
    main()
