"""The peers side by side on one 70,000 × 64 embedding (issue 22): TensorBoard's projector and Embedding Atlas.

Why: LayerScope projects and draws every sample of every layer; a person could instead load one layer's vectors
into TensorBoard's Embedding Projector or Apple's Embedding Atlas. This states what each would show of the
same embedding (``bench.e2e``'s CNN, its 64-d penultimate layer, ``--samples`` images the benchmark makes).

- TensorBoard (not installed; its behaviour from its source): the projector loads at most 100,000 points
  (``LIMIT_NUM_POINTS``, tensorflow/tensorboard#773), then t-SNE runs in the browser on a shuffled 10,000 of
  them (``TSNE_SAMPLE_SIZE``, #3647: "For faster results, the data will be sampled down to 10,000 points"),
  UMAP on 5,000 (``UMAP_SAMPLE_SIZE``); the other points get no t-SNE/UMAP coordinates. One embedding at a
  time, no layers. Printed: how many of this embedding's samples each map would hold.
- Embedding Atlas (``pip install embedding-atlas`` into a SEPARATE venv, ``--atlas-venv``, default
  /work/venv-atlas; skipped cleanly when absent): its command line on a parquet of the vectors (it computes
  its own UMAP), timed from start to its server answering, then headless Chromium (Debian's, through
  Playwright) opens the page: time to the first canvas, whether WebGPU is there, console errors, and a
  screenshot (``--screenshot``) to look at.

    python -m bench.peers [--samples 70000] [--atlas-venv /work/venv-atlas] [--screenshot tests/artifacts/atlas.png]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

TENSORBOARD = {"load": 100_000, "tsne": 10_000, "umap": 5_000, "pca_fit": 50_000}


def embedding(samples: int, train_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(N × 64 float32 vectors, labels): bench.e2e's CNN trained the same way, its penultimate layer."""
    import torch

    from bench import e2e

    imgs, labels = e2e.images(samples)
    net = e2e.cnn()
    e2e.train(net, imgs[: int(0.85 * len(imgs))], labels, train_steps)
    net.eval()
    arrays = e2e.peer_capture(net, imgs)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    return arrays[e2e.LAYERS.index(e2e.EMBEDDING)], labels


def tensorboard_lines(n: int) -> list[str]:
    shown = min(n, TENSORBOARD["load"])
    return [
        f"TensorBoard projector on {n:,} × 64: loads {shown:,} (LIMIT_NUM_POINTS {TENSORBOARD['load']:,}); "
        f"t-SNE on {min(shown, TENSORBOARD['tsne']):,} ({100 * min(shown, TENSORBOARD['tsne']) / n:.0f} %), "
        f"UMAP on {min(shown, TENSORBOARD['umap']):,} ({100 * min(shown, TENSORBOARD['umap']) / n:.0f} %), "
        f"PCA fitted on {min(shown, TENSORBOARD['pca_fit']):,} and applied to all; the other "
        f"{shown - min(shown, TENSORBOARD['tsne']):,} samples have no t-SNE position; one layer at a time",
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def atlas(vectors: np.ndarray, labels: np.ndarray, venv: Path, screenshot: Path, timeout: float) -> list[str]:
    """Embedding Atlas's time to first view on ``vectors`` (its own UMAP), measured here; lines to print."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cli = venv / "bin" / "embedding-atlas"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "embedding.parquet"
        flat = pa.array(vectors.astype(np.float32).ravel())
        table = pa.table(
            {
                "id": np.arange(len(vectors)),
                "label": [str(c) for c in labels],
                "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
            }
        )
        pq.write_table(table, path)
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        log = open(Path(tmp) / "atlas.log", "w+")
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [str(cli), str(path), "--vector", "vector", "--host", "127.0.0.1", "--port", str(port), "--no-auto-port",
             "--umap-random-state", "0"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
        )  # fmt: skip
        try:
            t_server = None
            while time.perf_counter() - t0 < timeout and proc.poll() is None:
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        if r.status == 200:
                            t_server = time.perf_counter() - t0
                            break
                except OSError:
                    time.sleep(0.5)
            if t_server is None:
                log.seek(0)
                return [f"Embedding Atlas did not serve within {timeout:.0f} s; its log ends: {log.read()[-800:]!r}"]
            return [f"Embedding Atlas: server up (its UMAP of {len(vectors):,} × {vectors.shape[1]} done) in "
                    f"{t_server:.1f} s", *_view(url, t0, screenshot)]  # fmt: skip
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _view(url: str, t0: float, screenshot: Path) -> list[str]:
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        try:
            page.wait_for_selector("canvas", timeout=120_000)
            t_canvas = f"{time.perf_counter() - t0:.1f} s"
        except Exception:
            t_canvas = "never (no canvas in 120 s)"
        page.wait_for_timeout(8000)  # let it draw what it can
        gpu = page.evaluate(
            "async () => { if (!navigator.gpu) return 'no navigator.gpu';"
            " const a = await navigator.gpu.requestAdapter(); if (!a) return 'navigator.gpu but no adapter';"
            " return 'adapter; shader-f16 ' + a.features.has('shader-f16'); }"
        )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
        text = page.inner_text("body")[:300].replace("\n", " | ")
        browser.close()
    return [
        f"  page: first canvas {t_canvas} after start; WebGPU: {gpu}; screenshot {screenshot}",
        f"  page text: {text!r}",
        f"  console errors ({len(errors)}): {[e[:160] for e in errors[:4]]}",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=70_000)
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--atlas-venv", type=Path, default=Path("/work/venv-atlas"))
    parser.add_argument("--screenshot", type=Path, default=Path("tests/artifacts/atlas.png"))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for Embedding Atlas's server")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores; load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)  # fmt: skip
    for line in tensorboard_lines(args.samples):
        print(line, flush=True)
    if not (args.atlas_venv / "bin" / "embedding-atlas").is_file():
        print(f"Embedding Atlas: skipped (no {args.atlas_venv}/bin/embedding-atlas; python3 -m venv "
              f"{args.atlas_venv} && {args.atlas_venv}/bin/pip install embedding-atlas)")  # fmt: skip
        return 0
    version = subprocess.run([str(args.atlas_venv / "bin" / "embedding-atlas"), "--version"], capture_output=True,
                             text=True).stdout.strip()  # fmt: skip
    t0 = time.perf_counter()
    vectors, labels = embedding(args.samples, args.train_steps)
    print(f"embedding {vectors.shape[0]:,} × {vectors.shape[1]} made in {time.perf_counter() - t0:.0f} s "
          f"(not timed); Embedding Atlas {version}", flush=True)  # fmt: skip
    for line in atlas(vectors, labels, args.atlas_venv, args.screenshot, args.timeout):
        print(line, flush=True)
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
