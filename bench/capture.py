"""Capture throughput vs a plain ``torch.no_grad()`` forward loop, and peak memory while capturing.

1. Throughput: a CNN on 1×28×28 inputs (``--samples`` synthetic MNIST-sized images) through
   (a) a plain loop of ``model(x)`` under ``torch.no_grad()`` over the same batches, and
   (b) the capture engine (input adaptation, hooks on 3 layers, pooling, memory-mapped writes)
   from the same model as a live ``nn.Module``, a ``torch.export`` ``.pt2``, TorchScript and
   ONNX (onnxruntime, also against a plain onnxruntime loop). Prints samples/s and the ratio
   (target ≥ 0.9× for the torch formats).
2. Memory: an MLP 784 → 512 → 512 → 512 → 10 captured on ``--samples`` samples × 3 layers of
   width 512 (float32); prints the peak resident memory above what the process held before
   (target < 1 GiB at 60,000 samples: the arrays stream to disk).
3. Projection: ``--samples`` (default 10,000 for this part) × 6 layers of a made-up network
   projected with openTSNE (FFT gradient above 3,000 samples) as a chain, each layer started from
   the previous layer's map (:func:`models.projections.chain.project_layers`), vs independent
   runs per layer. Prints the speed ratio (target ≥ 1.5×), the KL difference (target within 2 %)
   and the adjacent-panel Procrustes disparity of both (target: lower for the chain).

    python -m bench.capture [--samples 60000] [--batch 512] [--part all|capture|projection]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch
from torch import nn

from models.capture import formats
from models.capture.capture import CaptureWriter
from models.datasets import Dataset
from models.store import RunStore


def cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    ).eval()


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(784, 512),
        nn.ReLU(),
        nn.Linear(512, 512),
        nn.ReLU(),
        nn.Linear(512, 512),
        nn.ReLU(),
        nn.Linear(512, 10),
    ).eval()


def synthetic(n: int, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return Dataset(
        "synthetic",
        images.reshape(n, -1).astype(np.float32) / 255,
        np.arange(n) % 10,
        [str(c) for c in range(10)],
        images=images,
        index=np.arange(n),
    )


def plain_loop(model, ds: Dataset, batch: int, device: str) -> float:
    model.to(device)
    t0 = time.perf_counter()
    with torch.no_grad():
        for start in range(0, ds.n, batch):
            x = torch.from_numpy(ds.images[start : start + batch]).to(device).float().div_(255).unsqueeze(1)
            model(x).cpu()
    return time.perf_counter() - t0


def plain_onnx(path: Path, ds: Dataset, batch: int) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    t0 = time.perf_counter()
    for start in range(0, ds.n, batch):
        session.run(None, {name: (ds.images[start : start + batch, None] / np.float32(255))})
    return time.perf_counter() - t0


def capture_seconds(
    spec, ds: Dataset, layers, batch: int, root: Path, model_dir: Path, device: str, float16: bool = False
) -> float:
    store = RunStore(root)
    backend = formats.load(spec, model_dir=model_dir, device=device)
    t0 = time.perf_counter()
    with store.writer("capture", dataset=ds.name, config={}, seed=0) as writer:
        cap = CaptureWriter(writer, ds, float16=float16)
        cap.add_step(0, backend, layers, batch_size=batch)
        cap.finish()
    return time.perf_counter() - t0


def peak_rss_during(fn) -> tuple[float, int]:
    """(seconds, peak resident bytes above the start) of ``fn()``, sampled every 10 ms."""
    proc = psutil.Process()
    start = proc.memory_info().rss
    peak = [start]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        seconds = fn()
    finally:
        done.set()
        thread.join()
    return seconds, peak[0] - start


def layered(n: int, n_layers: int = 6, dim: int = 64, seed: int = 0, classes: int = 10) -> list[np.ndarray]:
    """Layers of a made-up network: each a rotated, squashed copy of the previous, classes drawn apart
    (tests/test_chain.py uses it too)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, dim))
    x = centres[labels] * 0.8 + rng.normal(size=(n, dim))
    out = []
    for _ in range(n_layers):
        w = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
        x = np.tanh(x @ w + 0.4 * (centres[labels] @ w)) + 0.1 * rng.normal(size=(n, dim))
        out.append(x.astype(np.float32))
    return out


def projection_bench(samples: int, n_layers: int = 6, jobs: int = 1) -> None:
    from models.projections.chain import adjacent_disparity, project_layers

    arrays = layered(samples, n_layers)
    print(
        f"projection: {samples:,} samples × {n_layers} layers, t-SNE "
        f"({'openTSNE FFT' if samples > 3000 else 'exact kernel'}), {jobs} thread(s)"
    )
    results = {}
    for init in ("independent", "previous"):
        t0 = time.perf_counter()
        maps = project_layers(arrays, "tsne", init=init, seed=0, n_jobs=jobs)
        results[init] = (
            time.perf_counter() - t0,
            np.array([m.extra["kl_divergence"] for m in maps]),
            adjacent_disparity([m.coords for m in maps]),
        )
        seconds, kl, disparity = results[init]
        print(
            f"  {init:<11} {seconds:7.1f}s  KL per layer {np.round(kl, 3).tolist()}  "
            f"adjacent disparity mean {np.mean(disparity):.3f} {np.round(disparity, 3).tolist()}"
        )
    (t_ind, kl_ind, d_ind), (t_chain, kl_chain, d_chain) = results["independent"], results["previous"]
    kl_diff = 100 * (kl_chain.mean() - kl_ind.mean()) / kl_ind.mean()
    worst = 100 * np.max((kl_chain - kl_ind) / kl_ind)
    print(
        f"  previous-layer init: {t_ind / t_chain:.2f}× faster (target ≥ 1.5×), mean KL {kl_diff:+.2f} % "
        f"(worst layer {worst:+.2f} %, target within 2 %), disparity {np.mean(d_chain):.3f} vs "
        f"{np.mean(d_ind):.3f} (target lower)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    parser.add_argument("--part", default="all", choices=("all", "capture", "projection"))
    parser.add_argument(
        "--projection-samples",
        type=int,
        default=None,
        help="samples of the projection part (default: --samples, at most 10,000)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="threads for openTSNE")
    args = parser.parse_args(argv)
    if args.part == "projection":
        projection_bench(args.projection_samples or min(args.samples, 10_000), jobs=args.jobs)
        return 0
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, threads {torch.get_num_threads()}, device {device}; {args.samples:,} samples, "
        f"batch {args.batch}"
    )
    ds = synthetic(args.samples)
    net = cnn()
    layers = ["3", "7", "8"]  # conv2, fc1, its ReLU (Sequential children are named by position)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = tmp / "models"
        models.mkdir()
        example = torch.zeros(2, 1, 28, 28)
        torch.onnx.export(
            net, (example,), str(models / "cnn.onnx"), input_names=["x"], dynamic_axes={"x": {0: "b"}}, dynamo=False
        )
        torch.export.save(
            torch.export.export(net, (example,), dynamic_shapes={"input": {0: torch.export.Dim("b")}}),
            str(models / "cnn.pt2"),
        )
        torch.jit.script(net).save(str(models / "cnn.ts"))
        plain_loop(net, synthetic(min(2000, args.samples)), args.batch, device)  # warm-up
        base = plain_loop(net, ds, args.batch, device)
        print(f"plain torch.no_grad loop: {args.samples / base:,.0f} samples/s")
        for label, spec in (("nn.Module", net), (".pt2 (torch.export)", "cnn.pt2"), ("TorchScript", "cnn.ts")):
            seconds = capture_seconds(spec, ds, layers, args.batch, tmp / "runs", models, device)
            print(
                f"capture {label:<20} {args.samples / seconds:>10,.0f} samples/s  ratio {base / seconds:.2f}× "
                "(target ≥ 0.9×)"
            )
        onnx_layers = ["3", "7", "8"]
        seconds = capture_seconds("cnn.onnx", ds, onnx_layers, args.batch, tmp / "runs", models, "cpu")
        plain = plain_onnx(models / "cnn.onnx", ds, args.batch)
        print(
            f"capture ONNX (onnxruntime) {args.samples / seconds:>10,.0f} samples/s  ratio {base / seconds:.2f}× "
            f"vs torch loop, {plain / seconds:.2f}× vs a plain onnxruntime loop"
        )
        wide = mlp()
        flat = Dataset("synthetic", ds.features, ds.labels, ds.class_names, index=ds.index)
        seconds, peak = peak_rss_during(
            lambda: capture_seconds(wide, flat, ["1", "3", "5"], args.batch, tmp / "runs", models, device)
        )
        print(
            f"memory: {args.samples:,} samples × 3 layers × 512 float32 "
            f"({args.samples * 3 * 512 * 4 / 2**20:,.0f} MiB of activations) captured in {seconds:.1f}s, "
            f"peak resident +{peak / 2**20:,.0f} MiB above the start (target < 1 GiB)"
        )
    if args.part == "all":
        projection_bench(args.projection_samples or min(args.samples, 10_000), jobs=args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
