"""End to end, capture → projection → first draw, vs independent openTSNE / umap-learn per layer (issue 22).

Why: the issue's promise is that a person who captures 70,000 samples sees every one of them in every layer's
panel sooner than with the tools they would otherwise use. This measures that whole path in one process:

- data: ``--samples`` MNIST-sized images (28 × 28 uint8) the benchmark makes, ten classes of jittered stroke
  prototypes with a little of another class mixed in (no downloads); a small CNN is trained briefly on them
  (not timed) so its layers separate the classes the way a trained network's do;
- ours: the capture engine (:class:`models.capture.capture.CaptureWriter`, the capture study's writer: hooks,
  mean-pooling of conv maps, memory-mapped arrays) on 6 layers, then the projection study
  (``python -m models.studies.project``) with t-SNE and then UMAP — layers chained, each layer's k-NN graph
  built once and shared by both methods through the store's cache — then the first draw: the Layers tab's
  figure (:func:`dashboard.capture_panels.figure`) built from the runs and JSON-encoded as Dash sends it;
- peer: the same model through a plain ``torch.no_grad()`` loop with forward hooks (mean-pooled the same way),
  then openTSNE's ``TSNE().fit`` and umap-learn's ``UMAP().fit_transform`` on every layer with their defaults
  (each builds its own neighbours; ``n_jobs`` as ours). The peer draws nothing: its draw counts 0 s.

Order (``--order sandwich``, the default): the peer's capture and its even layers, then ours, then the peer's odd
layers, so that a drift in this shared machine's speed (±15 % within an hour, measured) falls on both sides alike;
a fixed small openTSNE fit (:func:`probe`) is timed at the start and after each block and its spread printed, so
a reader sees how equal the conditions were. ``--order sequential``: the peer's capture, ours, the peer's layers.

Prints seconds per stage, the speed ratio (target ≥ 1.5×), t-SNE's KL per layer for both (target: ours within
2 %), and k-NN preservation at k = 10 (:func:`models.projections.quality.knn_preservation`, 2,000 sampled
query points against all samples) of both sides' t-SNE and UMAP maps.

    python -m bench.e2e [--samples 70000] [--jobs 2] [--train-steps 200] [--order sandwich|sequential]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

LAYERS = ("2", "5", "8", "11", "13", "14")  # pool1 16, pool2 32, pool3 64 (mean-pooled), fc1 128, fc2 64, logits 10
EMBEDDING = "13"  # the 64-d penultimate layer (bench/peers.py projects it with the peers)


def strokes(seed: int = 0, classes: int = 10) -> np.ndarray:
    """Ten 28 × 28 float prototypes, each a random polyline drawn with a soft pen (digits-like)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    out = np.zeros((classes, 28, 28), dtype=np.float32)
    for c in range(classes):
        points = rng.uniform(6, 22, size=(4, 2))
        for a, b in zip(points[:-1], points[1:]):
            for t in np.linspace(0, 1, 24):
                y, x = a + t * (b - a)
                out[c] = np.maximum(out[c], np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 2.0))
    return out


def images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N × 28 × 28 images, int64 labels): a prototype shifted by up to 3 pixels, 25 % of another class's
    prototype mixed in, noise."""
    rng = np.random.default_rng(seed)
    protos = strokes(seed)
    labels = rng.integers(0, 10, n).astype(np.int64)
    other = rng.integers(0, 10, n)
    mix = rng.uniform(0.0, 0.35, n).astype(np.float32)[:, None, None]
    x = (1 - mix) * protos[labels] + mix * protos[other]
    shifts = rng.integers(-3, 4, size=(n, 2))
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            rows = np.flatnonzero((shifts[:, 0] == dy) & (shifts[:, 1] == dx))
            x[rows] = np.roll(x[rows], (dy, dx), axis=(1, 2))
    x = x * rng.uniform(0.7, 1.0, n).astype(np.float32)[:, None, None] + rng.normal(0, 0.15, x.shape).astype(np.float32)
    return (np.clip(x, 0, 1) * 255).astype(np.uint8), labels


def cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 0 1 2 → 14 × 14
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 3 4 5 → 7 × 7
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 6 7 8 → 3 × 3
        nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(),  # 9 10 11
        nn.Linear(128, 64), nn.ReLU(),  # 12 13
        nn.Linear(64, 10),  # 14
    )  # fmt: skip


def train(net: nn.Module, imgs: np.ndarray, labels: np.ndarray, steps: int, batch: int = 64) -> float:
    """A few hundred Adam steps (enough for the layers to mean something); returns the last 20 batches' accuracy."""
    rng = np.random.default_rng(1)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    net.train()
    hits = []
    for _ in range(steps):
        rows = rng.integers(0, len(imgs), batch)
        x = torch.from_numpy(imgs[rows]).float().div_(255).unsqueeze(1)
        y = torch.from_numpy(labels[rows])
        out = net(x)
        loss = nn.functional.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hits.append(float((out.argmax(1) == y).float().mean()))
    return float(np.mean(hits[-20:]))


# -- peer ------------------------------------------------------------------------------------------------------
def peer_capture(net: nn.Module, imgs: np.ndarray, batch: int = 256) -> list[np.ndarray]:
    """Forward hooks on the same layers in a plain no_grad loop, conv maps mean-pooled, kept in memory."""
    mods = dict(net.named_children())
    got: dict[str, list] = {name: [] for name in LAYERS}
    hooks = [
        mods[name].register_forward_hook(
            lambda _m, _i, out, name=name: got[name].append((out.mean((2, 3)) if out.ndim == 4 else out).numpy())
        )
        for name in LAYERS
    ]
    with torch.no_grad():
        for start in range(0, len(imgs), batch):
            net(torch.from_numpy(imgs[start : start + batch]).float().div_(255).unsqueeze(1))
    for h in hooks:
        h.remove()
    return [np.concatenate(got[name]).astype(np.float32) for name in LAYERS]


def peer_layers(arrays: list[np.ndarray], which: list[int], jobs: int) -> tuple[dict, dict]:
    """openTSNE's ``TSNE().fit`` then umap-learn's ``UMAP().fit_transform`` on the layers ``which``, defaults."""
    import umap
    from openTSNE import TSNE

    seconds, maps = {"tsne": 0.0, "umap": 0.0}, {"tsne": {}, "umap": {}, "kl": {}}
    for i in which:
        t1 = time.perf_counter()
        emb = TSNE(n_jobs=jobs, random_state=0, verbose=False).fit(arrays[i])
        seconds["tsne"] += time.perf_counter() - t1
        maps["tsne"][i], maps["kl"][i] = np.asarray(emb, dtype=np.float32), float(emb.kl_divergence)
        print(f"  peer t-SNE layer {LAYERS[i]}: {time.perf_counter() - t1:.1f} s, KL {maps['kl'][i]:.3f}", flush=True)
    for i in which:
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            maps["umap"][i] = umap.UMAP(random_state=0, n_jobs=jobs).fit_transform(arrays[i]).astype(np.float32)
        seconds["umap"] += time.perf_counter() - t1
        print(f"  peer UMAP layer {LAYERS[i]}: {time.perf_counter() - t1:.1f} s", flush=True)
    return seconds, maps


def probe(jobs: int = 1) -> float:
    """Seconds of a fixed small workload (openTSNE, FFT, 1 thread, 3,000 × 32): the machine's speed right now.

    Why: this machine is shared and its speed drifts by ±15 % within an hour; timing the same work before, between
    and after the halves says how far apart their conditions were.
    """
    from openTSNE import TSNE

    rng = np.random.default_rng(7)
    X = (rng.normal(size=(3000, 32)) + np.repeat(rng.normal(0, 4, size=(10, 32)), 300, axis=0)).astype(np.float32)
    best = float("inf")
    for _ in range(2):  # the faster of two: one fit of a few seconds is itself noisy
        t0 = time.perf_counter()
        TSNE(n_jobs=jobs, random_state=0, negative_gradient_method="fft", n_iter=150, verbose=False).fit(X)
        best = min(best, time.perf_counter() - t0)
    return best


# -- ours ------------------------------------------------------------------------------------------------------
def ours(net, imgs, labels, root: Path, jobs: int) -> tuple[dict, dict]:
    import plotly.io

    from dashboard import capture_panels
    from dashboard.config import AppConfig
    from models.capture import formats
    from models.capture.capture import CaptureWriter
    from models.datasets import Dataset
    from models.store import RunStore
    from models.studies import capture as capture_face
    from models.studies import project as project_face

    store = RunStore(root)
    n = len(imgs)
    ds = Dataset("synthetic-mnist", imgs.reshape(n, -1), labels, [str(c) for c in range(10)], images=imgs,
                 index=np.arange(n))  # fmt: skip
    seconds, maps = {}, {}
    t0 = time.perf_counter()
    backend = formats.load(net, device="cuda" if torch.cuda.is_available() else "cpu")
    with store.writer("capture", dataset=ds.name, config={}, seed=0) as writer:
        cap = CaptureWriter(writer, ds)
        cap.add_step(0, backend, list(LAYERS[:-1]), batch_size=256)  # the capture adds the output (logits, "14")
        cap.finish()
    source = store.load(writer.id)
    seconds["capture"] = time.perf_counter() - t0
    names = capture_face.layer_names(source)
    assert len(names) == len(LAYERS), names
    print(f"  ours capture {seconds['capture']:.1f} s", flush=True)
    for method in ("tsne", "umap"):
        t0 = time.perf_counter()
        run = project_face.run(
            project_face.Config(run=source.id, method=method, n_jobs=jobs), store=store, progress=_layer_printer(t0)
        )
        seconds[method] = time.perf_counter() - t0
        print(f"  ours {method}: {seconds[method]:.1f} s", flush=True)
        maps[method] = [project_face.coords(run, name) for name in names]
        if method == "tsne":
            maps["kl"] = [float(run.manifest["projection"]["kl"][name]) for name in names]
            maps["layer_seconds"] = run.manifest["projection"]["seconds"]
            maps["iterations"] = run.manifest["projection"].get("iterations")
    config = AppConfig(store_dir=root, data_dir=root / "data")
    t0 = time.perf_counter()
    fig, text = capture_panels.figure(config, source, 0, "tsne", "label")
    body = plotly.io.json.to_json_plotly(fig.to_plotly_json())
    seconds["draw"] = time.perf_counter() - t0
    maps["draw"] = (len(body), text, len(fig.data))
    maps["arrays"] = [np.asarray(capture_face.activations(source, name, 0)) for name in names]
    return seconds, maps


def _layer_printer(t0: float):
    """A progress callback that prints each layer's start (the study reports 'projecting NAME …')."""

    last = [""]

    def show(p) -> None:
        if p.message.startswith(("projecting", "k-NN graph")) and p.message != last[0]:  # repeated while waiting
            print(f"    {time.perf_counter() - t0:7.1f} s  {p.message}", flush=True)
        last[0] = p.message

    return show


def warm_up(jobs: int) -> None:
    """numba (pynndescent, umap-learn) compiles on first use: pay it on small arrays before either side runs."""
    import umap

    from models.projections.knn_graph import knn_graph
    from models.studies import project_engine
    from models.studies.project import Config

    X = np.random.default_rng(0).normal(size=(5000, 16)).astype(np.float32)
    knn_graph(X, 15, n_jobs=jobs)  # pynndescent (above EXACT_BELOW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        umap.UMAP(n_epochs=20, n_jobs=jobs).fit_transform(X[:800])  # the peer's path
    small = X[:800]
    graph = knn_graph(small, 90)
    config = Config(run="warm-up", n_jobs=jobs)
    first = project_engine._umap(small, graph, None, config)  # ours: precomputed graph, then a chained start
    project_engine._umap(small, graph, first, config)


def preservation(arrays, maps, k: int = 10, queries: int = 2000) -> list[float]:
    from models.projections.quality import knn_preservation

    return [knn_preservation(X, Y, k, queries=queries) for X, Y in zip(arrays, maps)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=70_000)
    parser.add_argument("--jobs", type=int, default=2, help="threads for torch, the k-NN graphs, openTSNE and UMAP")
    parser.add_argument("--train-steps", type=int, default=200, help="Adam steps the CNN trains for (not timed)")
    parser.add_argument("--skip-peer", action="store_true", help="ours only (profiling)")
    parser.add_argument(
        "--order",
        choices=("sandwich", "sequential"),
        default="sandwich",
        help="sandwich: the peer's even layers, ours, the peer's odd layers (a drift in the machine's speed falls on "
        "both sides alike); sequential: ours, then the peer",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.jobs)
    load = os.getloadavg()
    print(
        f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({'cuda' if torch.cuda.is_available() else 'cpu'}), {args.jobs} thread(s); load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {args.samples:,} images 28 × 28 × {len(LAYERS)} layers",
        flush=True,
    )
    imgs, labels = images(args.samples)
    net = cnn()
    t0 = time.perf_counter()
    acc = train(net, imgs[: max(1, int(0.85 * len(imgs)))], labels, args.train_steps)
    net.eval()
    print(f"CNN trained {args.train_steps} steps in {time.perf_counter() - t0:.0f} s (not timed): accuracy {acc:.3f}")
    warm_up(args.jobs)
    with torch.no_grad():  # torch's first pass at the capture's batch size (kernels, pools) is paid by neither side
        net(torch.from_numpy(imgs[:256]).float().div_(255).unsqueeze(1))
    probes = [("start", probe())]
    if args.skip_peer:
        first = second = []
    elif args.order == "sandwich":  # the peer's even layers before ours, its odd layers after: drift cancels
        first, second = list(range(0, len(LAYERS), 2)), list(range(1, len(LAYERS), 2))
    else:
        first, second = [], list(range(len(LAYERS)))
    s_peer, m_peer = {"capture": 0.0, "tsne": 0.0, "umap": 0.0, "draw": 0.0}, {"tsne": {}, "umap": {}, "kl": {}}
    if not args.skip_peer:
        t0 = time.perf_counter()
        m_peer["arrays"] = peer_capture(net, imgs)
        s_peer["capture"] = time.perf_counter() - t0
        print(f"  peer capture {s_peer['capture']:.1f} s", flush=True)

    def peer_half(which: list[int], label: str) -> None:
        if not which:
            return
        seconds, maps = peer_layers(m_peer["arrays"], which, args.jobs)
        for key in ("tsne", "umap"):
            s_peer[key] += seconds[key]
        for key in ("tsne", "umap", "kl"):
            m_peer[key].update(maps[key])
        probes.append((label, probe()))

    peer_half(first, "after the peer's first half")
    with tempfile.TemporaryDirectory() as tmp:
        s_ours, m_ours = ours(net, imgs, labels, Path(tmp), args.jobs)
        t_ours = sum(s_ours.values())
        print(f"ours done in {t_ours:.1f} s: " + "  ".join(f"{k} {v:.1f}" for k, v in s_ours.items()), flush=True)
        print(f"  t-SNE iterations per layer: {m_ours['iterations']}", flush=True)
        print(f"  per layer (graph + t-SNE): {m_ours['layer_seconds']}; first draw {m_ours['draw'][0] / 2**20:.1f} MiB "
              f"JSON, {m_ours['draw'][2]} traces, status {m_ours['draw'][1]!r}", flush=True)  # fmt: skip
    probes.append(("after ours", probe()))
    peer_half(second, "after the peer's second half" if first else "after the peer")
    spread = 100 * (max(p for _, p in probes) / min(p for _, p in probes) - 1)
    print("machine speed probe (same work, s): " + ", ".join(f"{k} {v:.2f}" for k, v in probes)
          + f" — spread {spread:.0f} %", flush=True)  # fmt: skip
    if args.skip_peer:
        return 0
    for key in ("tsne", "umap", "kl"):
        m_peer[key] = [m_peer[key][i] for i in range(len(LAYERS))]
    t_peer = sum(s_peer.values())
    print(f"peer done: {t_peer:.1f} s ({args.order})", flush=True)
    print("\n| stage | peer s | ours s | ratio |\n|---|---|---|---|")
    for stage in ("capture", "tsne", "umap", "draw"):
        p, o = s_peer[stage], s_ours[stage]
        print(f"| {stage} | {p:.1f} | {o:.1f} | {p / o:.2f}× |" if p else f"| {stage} | — | {o:.2f} | — |")
    print(f"| **total** | **{t_peer:.1f}** | **{t_ours:.1f}** | **{t_peer / t_ours:.2f}×** (target ≥ 1.5×) |")
    kp, ko = np.array(m_peer["kl"]), np.array(m_ours["kl"])
    diff = 100 * (ko - kp) / kp
    print(
        f"t-SNE KL per layer: peer {np.round(kp, 3).tolist()}  ours {np.round(ko, 3).tolist()}  "
        f"mean {diff.mean():+.2f} % (worst {diff.max():+.2f} %, target within 2 %)"
    )
    for method in ("tsne", "umap"):
        pp, po = preservation(m_peer["arrays"], m_peer[method]), preservation(m_ours["arrays"], m_ours[method])
        print(
            f"{method} k-NN preservation (k 10): peer {np.round(pp, 3).tolist()} (mean {np.mean(pp):.3f})  "
            f"ours {np.round(po, 3).tolist()} (mean {np.mean(po):.3f})"
        )
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
