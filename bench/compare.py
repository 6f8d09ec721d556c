"""Benchmark: all-pairs CKA (:func:`models.similarity.cka.cka_matrix`) against a plain NumPy Gram-matrix CKA.

Layers are written as float32 ``.npy`` files and read memory-mapped, as capture runs are. Each task runs
in a fresh child process (its peak RSS is its own): (1) all pairs of ``--layers`` layers × ``--samples``
samples, widths geometric from 64 to ``--max-width``, exact linear CKA and the debiased minibatch one;
(2) layer × step: ``--step-layers`` layers at ``--steps`` steps, each against itself at the last step;
(3) the ratio: ours and the peer on the same layers cut to ``--peer-samples`` samples, in one child, one
after the other. The peer is the reference recipe of Kornblith et al.'s notebook — for every layer the
n × n Gram ``X Xᵀ``, centred, in float64, each computed once and held; CKA = <K, L> / (‖K‖ ‖L‖) — which at
10,000 samples would hold twenty 800 MB Grams (16 GB), so the ratio is measured where it fits.
Targets (issue 20): (1) ≤ 30 s and ≤ 2 GiB peak; (2) ≤ 30 s. Uses torch on CUDA when one is present.

    python -m bench.compare [--samples 10000] [--layers 20] [--max-width 4096] [--steps 20] [--step-layers 6]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def widths(count: int, top: int) -> list[int]:
    return [round(float(w)) for w in np.geomspace(64, top, count)]


def write_layers(
    folder: Path, n: int, dims: list[int], seed: int, prefix: str = "layer", drift: float | None = None
) -> list[Path]:
    """Layers that share structure (ReLU maps of one latent, plus noise), written in row chunks.

    ``drift``: a training run instead — one width, each step's map the previous one plus ``drift`` × a
    random change (no noise: cheap to write, and the steps converge as training does)."""
    from numpy.lib.format import open_memmap

    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 32)).astype(np.float32)
    paths = []
    W = rng.normal(size=(32, dims[0])).astype(np.float32) / np.sqrt(32)
    for i, d in enumerate(dims):
        if drift is None:
            W = rng.normal(size=(32, d)).astype(np.float32) / np.sqrt(32)
        else:
            W = W + drift / (1 + i) * rng.normal(size=W.shape).astype(np.float32) / np.sqrt(32)
        path = folder / f"{prefix}-{i:03d}.npy"
        out = open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
        for start in range(0, n, 2000):
            block = latent[start : start + 2000] @ W
            if drift is None:
                block += rng.standard_normal(block.shape, dtype=np.float32)
            out[start : start + 2000] = np.maximum(block, 0)
        out.flush()
        del out
        paths.append(path)
    return paths


def _load(paths, rows=None):
    arrays = [np.load(p, mmap_mode="r") for p in paths]
    return arrays if rows is None else [np.ascontiguousarray(a[:rows]) for a in arrays]


def peer_cka_matrix(layers) -> np.ndarray:
    """Kornblith et al.'s reference recipe: each layer's centred Gram (float64) once, then every pair."""

    def gram_linear(x):
        return x @ x.T

    def center_gram(g):
        means = g.mean(0)
        means -= means.mean() / 2
        return g - means[:, None] - means[None, :]

    grams = [center_gram(gram_linear(np.asarray(x, dtype=np.float64))) for x in layers]
    norms = [np.linalg.norm(g) for g in grams]
    out = np.ones((len(grams), len(grams)))
    for i in range(len(grams)):
        for j in range(i + 1, len(grams)):
            out[i, j] = out[j, i] = np.sum(grams[i] * grams[j]) / (norms[i] * norms[j])
    return out


def peer_per_pair(layers) -> np.ndarray:
    """The same recipe as it is usually called, ``cka(gram_linear(x), gram_linear(y))`` per pair: no Gram kept."""
    out = np.ones((len(layers), len(layers)))
    for i in range(len(layers)):
        for j in range(i + 1, len(layers)):
            out[i, j] = out[j, i] = peer_cka_matrix([layers[i], layers[j]])[0, 1]
    return out


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """CPU seconds of this process, all threads: on a loaded machine, what the task itself needed."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _task(job: str, paths, options: dict, queue) -> None:
    from threadpoolctl import threadpool_limits

    from models.similarity.cka import cka_matrix

    if options.get("threads"):
        threadpool_limits(options["threads"])

    out = {}
    if job == "pairs":
        layers = _load(paths)
        t0, c0 = time.perf_counter(), _cpu()
        M = cka_matrix(layers, metric=options["metric"], device=options["device"])
        out = {"seconds": time.perf_counter() - t0, "cpu": _cpu() - c0, "peak_mib": _peak_mib(), "matrix": M}
    elif job == "steps":
        steps = options["steps"]
        by_layer = [paths[i * steps : (i + 1) * steps] for i in range(len(paths) // steps)]
        t0, c0 = time.perf_counter(), _cpu()
        rows = []
        for files in by_layer:
            arrays = _load(files)
            rows.append(cka_matrix([arrays[-1]], arrays, device=options["device"])[0])
        out = {
            "seconds": time.perf_counter() - t0,
            "cpu": _cpu() - c0,
            "peak_mib": _peak_mib(),
            "matrix": np.array(rows),
        }
    elif job == "ratio":
        layers = _load(paths, options["rows"])
        t0, c0 = time.perf_counter(), _cpu()
        ours = cka_matrix(layers, device=options["device"])
        t_ours, c_ours = time.perf_counter() - t0, _cpu() - c0
        t0, c0 = time.perf_counter(), _cpu()
        theirs = peer_cka_matrix(layers)
        t_peer, c_peer = time.perf_counter() - t0, _cpu() - c0
        t0, c0 = time.perf_counter(), _cpu()
        per_pair = peer_per_pair(layers)
        t_pair, c_pair = time.perf_counter() - t0, _cpu() - c0
        out = {
            "ours": t_ours,
            "peer": t_peer,
            "cpu_ours": c_ours,
            "cpu_peer": c_peer,
            "pair": t_pair,
            "cpu_pair": c_pair,
            "max_diff": float(max(np.abs(ours - theirs).max(), np.abs(ours - per_pair).max())),
            "peak_mib": _peak_mib(),
        }
    queue.put(out)


def run_child(job: str, paths, **options) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_task, args=(job, [str(p) for p in paths], options, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compare")
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--layers", type=int, default=20)
    p.add_argument("--max-width", type=int, default=4096)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--step-layers", type=int, default=6)
    p.add_argument("--step-max-width", type=int, default=1024)
    p.add_argument("--peer-samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=None, help="BLAS threads of tasks 1, 1b and 2 (default: all cores)")
    p.add_argument("--ratio-threads", type=int, nargs="+", default=[1, 2], help="BLAS threads of the ratio runs")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), or a torch device; cpu: NumPy")
    p.add_argument("--skip", nargs="*", default=[], choices=["pairs", "debiased", "steps", "ratio"])
    args = p.parse_args(argv)
    device = None if args.device == "cpu" else args.device
    dims = widths(args.layers, args.max_width)
    step_dims = widths(args.step_layers, args.step_max_width)
    print(
        f"machine: {platform.platform()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
        f"python {platform.python_version()} · numpy {np.__version__} · device {args.device} · "
        f"BLAS threads {args.threads or 'all'} · "
        f"load average before: {load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        paths = write_layers(folder, args.samples, dims, seed=0)
        print(
            f"layers: {args.layers} × {args.samples:,} samples, widths {dims[0]}…{dims[-1]} "
            f"(Σ {sum(dims):,}; {4 * args.samples * sum(dims) / 2**30:.2f} GiB float32 on disk), "
            f"written in {time.perf_counter() - t0:.1f} s"
        )
        if "pairs" not in args.skip:
            r = run_child("pairs", paths, metric="linear", device=device, threads=args.threads)
            print(
                f"(1) all pairs, exact linear CKA: {r['seconds']:.1f} s ({r['cpu']:.1f} CPU s), "
                f"peak RSS {r['peak_mib']:.0f} MiB "
                f"(targets ≤ 30 s, ≤ 2048 MiB) · load {load_average()}"
            )
        if "debiased" not in args.skip:
            r2 = run_child("pairs", paths, metric="linear-debiased", device=device, threads=args.threads)
            diff = (
                f", max |debiased − exact| {np.abs(r2['matrix'] - r['matrix']).max():.4f}"
                if "pairs" not in args.skip
                else ""
            )
            print(
                f"(1b) all pairs, debiased minibatch CKA (batches of 1,024): {r2['seconds']:.1f} s "
                f"({r2['cpu']:.1f} CPU s), "
                f"peak RSS {r2['peak_mib']:.0f} MiB{diff} · load {load_average()}"
            )
        if "ratio" not in args.skip:
            for threads in args.ratio_threads:
                r3 = run_child("ratio", paths, rows=args.peer_samples, device=device, threads=threads)
                print(
                    f"(3) ratio at {args.peer_samples:,} samples, same {args.layers} layers, {threads} thread(s): "
                    f"ours {r3['ours']:.2f} s ({r3['cpu_ours']:.1f} CPU s); plain NumPy Gram CKA, each Gram held: "
                    f"{r3['peer']:.2f} s ({r3['cpu_peer']:.1f} CPU s) → {r3['peer'] / r3['ours']:.1f}×; per pair: "
                    f"{r3['pair']:.2f} s ({r3['cpu_pair']:.1f} CPU s) → {r3['pair'] / r3['ours']:.1f}× "
                    f"(max |Δ| {r3['max_diff']:.1e}; the held Grams would take "
                    f"{args.layers * 8 * args.samples**2 / 2**30:.0f} GiB at {args.samples:,}) · load {load_average()}"
                )
        for path in paths:
            path.unlink()
        if "steps" not in args.skip:
            t0 = time.perf_counter()
            step_paths = []
            for i, d in enumerate(step_dims):
                step_paths += write_layers(
                    folder, args.samples, [d] * args.steps, seed=100 + i, prefix=f"s{i}", drift=0.5
                )
            r4 = run_child("steps", step_paths, steps=args.steps, device=device, threads=args.threads)
            print(
                f"(2) layer × step: {args.step_layers} layers (widths {step_dims}) × {args.steps} steps × "
                f"{args.samples:,} samples: {r4['seconds']:.1f} s ({r4['cpu']:.1f} CPU s), "
                f"peak RSS {r4['peak_mib']:.0f} MiB "
                f"(target ≤ 30 s; data written in {time.perf_counter() - t0:.0f} s) · load {load_average()}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
