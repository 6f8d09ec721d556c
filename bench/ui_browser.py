"""Benchmark: the Layers tab in a real browser (headless Chromium through Playwright) with N samples × P panels.

Why: the server answers a hover or a selection in tens of milliseconds (``bench.ui``), but a person waits on
the browser — Plotly's selection objects, their serialisation, restyling every panel. This measures what a
person sees, on a synthetic store made in a temporary folder: a capture run of N clustered samples (64-d
vectors with 28×28 images) through a small MLP, P captured layers, and its projection run (PCA, so no t-SNE
wait; PCA of clustered vectors is clustered 2-D points). Timed in the page (``performance.now()``):

- first draw: the Layers tab clicked → every panel holds N points;
- hover: the pointer on a point → the sample card with its image shown (p50/p95);
- linked box selection: mouse release → the first frame painted with every panel highlighted (the mouseup's next
  paint from the Event Timing API, the software renderer's work included; a frame loop in the page checks
  ``assets/selection.js``'s overlay record, or a peer's ``selectedpoints``) (p50/p95), and the frames per second
  while the box follows the mouse (pointer moved at 60 Hz);
- page memory: the JS heap (CDP ``Performance.getMetrics`` JSHeapUsedSize) after the draw and at the end.

The peer, measured in the same run on the same store: the app as it was before the selection moved into the
browser (``--peer-ref``, a git commit extracted to a temporary folder: Plotly's ``selectedData`` → Dash →
the ``select`` callback → the store → ``link_selection`` patching ``selectedpoints`` lists). Printed as ratios
(peer / this tree); no absolute assert.

    python -m bench.ui_browser [--points 70000 --panels 6] [--hovers 30 --boxes 10] [--peer-ref ccfbfd3 | --no-peer]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
#: the last commit with the server-side selection path (Plotly selectedData → Dash → link_selection)
PEER_REF = "ccfbfd3"
GD = "document.querySelector('#layers-graph .js-plotly-plot')"

# every panel highlighted (n panels): this tree paints the box's samples on each panel's overlay canvas
# (assets/selection.js records it in gd._lsPainted); an older tree (a peer) sets every trace's selectedpoints
HIGHLIGHTED = f"""function (n) {{ const gd = {GD};
    if (!gd || !gd.data || gd.data.length !== n) return false;
    const p = gd._lsPainted;
    if (p) return p.counts.length === n && p.counts.every(c => c > 0);
    return gd.data.every(t => t.selectedpoints && t.selectedpoints.length > 0); }}"""
# the page's clocks: registered before the app's scripts, so these listeners run first. A release is highlighted on
# screen when the first frame painted after it holds every panel's highlight: the Event Timing API gives the mouseup's
# next paint (its presentation, the software renderer's work included: startTime + duration; only events over 16 ms
# are reported). A frame loop checks that the highlight was there by that frame (else: the first frame it is there,
# plus one more frame for it to be painted).
INIT_JS = (
    """
window.__ls = {lastMove: 0, release: 0, shown: 0, after: 0, painted: 0, panels: 0, frames: [], dragging: false};
window.__ls.highlighted = """
    + HIGHLIGHTED
    + """;
try {
  new PerformanceObserver((list) => {
    const s = window.__ls;
    for (const e of list.getEntries())
      if (e.name === 'mouseup' && Math.abs(e.startTime - s.release) < 1) s.painted = e.startTime + e.duration;
  }).observe({type: 'event', durationThreshold: 16});
} catch (e) {}
window.addEventListener('mousemove', () => { window.__ls.lastMove = performance.now(); }, true);
window.addEventListener('mousedown', () => {
  const s = window.__ls; s.frames = []; s.dragging = true;
  (function tick(t) { if (!s.dragging) return; s.frames.push(performance.now()); requestAnimationFrame(tick); })();
}, true);
window.addEventListener('mouseup', (e) => {
  const s = window.__ls, release = s.release = e.timeStamp; s.dragging = false;
  s.shown = s.after = s.painted = 0; s.first = true;
  if (!s.panels) return;
  (function watch() {
    if (s.release !== release) return;
    if (!s.highlighted(s.panels)) { s.first = false; requestAnimationFrame(watch); return; }
    s.shown = performance.now();
    requestAnimationFrame(() => { if (s.release === release) s.after = performance.now(); });
  })();
}, true);
"""
)
SHOWN_JS = "() => window.__ls.after > 0"
# release → on screen: the mouseup's next paint when the highlight was in the first frame and the event was timed
# (over 16 ms), else the frame after the first frame holding it
LINK_JS = """() => { const s = window.__ls;
    return (s.first && s.painted ? s.painted : s.after) - s.release; }"""
CLEARED_JS = f"""() => {{ const gd = {GD};
    if (!gd) return false;
    if (window.LayerScope && window.LayerScope.picked)
        return !gd._lsPainted && gd.data.every((t, k) => !window.LayerScope.picked(gd, k));
    return gd.data.every(t => !t.selectedpoints || t.selectedpoints.length === 0); }}"""
CARD_JS = """() => { const t = document.getElementById('layers-tooltip');
    const box = t && t.closest('.dcc-tooltip-bounding-box');
    const ok = box && getComputedStyle(box).display !== 'none' && t.querySelector('img.tooltip-img')
               && !box.querySelector("[data-dash-is-loading='true']");
    return ok ? performance.now() : false; }"""
HIDDEN_JS = """() => { const t = document.getElementById('layers-tooltip');
    const box = t && t.closest('.dcc-tooltip-bounding-box');
    return !box || getComputedStyle(box).display === 'none'; }"""
POINT_JS = f"""([k, i]) => {{ const gd = {GD}, t = gd._fullData[k], l = gd._fullLayout;
    const xa = l[t.xaxis.replace('x', 'xaxis')], ya = l[t.yaxis.replace('y', 'yaxis')];
    const r = gd.getBoundingClientRect();
    return {{x: r.left + xa._offset + xa.l2p(t.x[i]), y: r.top + ya._offset + ya.l2p(t.y[i])}}; }}"""
PANEL_JS = f"""(k) => {{ const gd = {GD}, t = gd._fullData[k], l = gd._fullLayout;
    const xa = l[t.xaxis.replace('x', 'xaxis')], ya = l[t.yaxis.replace('y', 'yaxis')];
    const r = gd.getBoundingClientRect();
    return {{left: r.left + xa._offset, top: r.top + ya._offset, width: xa._length, height: ya._length}}; }}"""


def make_store(root: Path, n: int, panels: int, seed: int = 0) -> str:
    """A capture run of ``n`` samples × ``panels`` layers and its PCA projection run in ``root``; its id."""
    import torch

    from layerscope import Capture
    from models.nets.mlp import MLP
    from models.studies import project as project_face

    rng = np.random.default_rng(seed)
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    classes = 10
    centres = rng.normal(0, 3, size=(classes, 64)).astype(np.float32)
    labels = rng.integers(0, classes, size=n)
    features = centres[labels] + rng.normal(0, 1, size=(n, 64)).astype(np.float32)
    templates = (rng.random((classes, 28, 28)) > 0.6).astype(np.float32) * 200
    noise = rng.integers(0, 55, size=(n, 28, 28), dtype=np.uint8)
    images = (templates[labels].astype(np.uint8) + noise).astype(np.uint8)
    np.savez(data / "clusters.npz", features=features, labels=labels.astype(np.int64), images=images)
    torch.manual_seed(seed)
    model = MLP(64, classes, depth=panels - 2, width=32, activation="relu").eval()
    with Capture(
        root / "runs",
        dataset="arrays:clusters.npz",
        data_dir=data,
        model=model,
        layers=model.layer_names,
        batch_size=4096,
    ) as cap:
        cap.add()
    run = cap.run
    if len(run.manifest["capture"]["layers"]) != panels:
        raise SystemExit(f"captured {len(run.manifest['capture']['layers'])} layers, wanted {panels}")
    project_face.run(project_face.Config(run=run.id, method="pca"), store=cap.store)
    return run.id


def peer_tree(ref: str, into: Path) -> Path:
    """The app at git commit ``ref`` (tracked files), extracted into ``into``."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into


@contextlib.contextmanager
def app(tree: Path, root: Path, tag: str):
    """``python app.py`` of ``tree`` on a free port over the store in ``root``; yields its URL."""
    from tests.browser import free_port, wait_until_serving

    port = free_port()
    log = open(root / f"app-{tag}.log", "w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        str(tree / "app.py"),
        "--port",
        str(port),
        "--data-dir",
        str(root / "data"),
        "--store-dir",
        str(root / "runs"),
        "--cache-dir",
        str(root / f"cache-{tag}"),
    ]
    proc = subprocess.Popen(cmd, cwd=tree, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, proc, 120, lambda: f"see {root / f'app-{tag}.log'}")
        yield url
    finally:
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        log.close()


def heap(cdp) -> float:
    """The page's used JS heap in MB (CDP Performance.getMetrics)."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics.get("JSHeapUsedSize", float("nan")) / 2**20


def measure(
    url: str,
    run_id: str,
    n: int,
    panels: int,
    hovers: int,
    boxes: int,
    seed: int,
    shots: Path | None,
    tag: str,
    wait_s: float = 120.0,
) -> dict:
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(seed)
    out: dict = {"hover": [], "link": [], "fps": [], "moves": [], "timeouts": 0}
    wait_ms = 1000 * wait_s
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(float(os.environ.get("BENCH_TIMEOUT_MS", 300_000)))
            page.add_init_script(INIT_JS)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(url)
            page.wait_for_selector("#dataset-picker option[value='arrays:clusters.npz']", state="attached")
            page.select_option("#dataset-picker", "arrays:clusters.npz")
            page.wait_for_function("document.querySelector('#run-info').innerText.includes('samples')")
            # the capture run (the projection run is newer, so the picker holds that one)
            page.evaluate("(id) => window.dash_clientside.set_props('run-picker', {value: id})", run_id)
            page.wait_for_function(f"document.querySelector('#run-info').innerText.includes('{run_id}')")
            page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')")
            started = time.monotonic()
            page.get_by_role("tab", name="Layers").click()
            page.wait_for_selector("#layers-method option[value='pca']", state="attached")
            page.select_option("#layers-method", "pca")
            page.wait_for_function(
                f"""([n, p]) => {{ const gd = {GD};
                return gd && gd._fullData && gd._fullData.length === p
                    && gd._fullData.every(t => t.x && t.x.length === n);
                }}""",
                arg=[n, panels],
                polling="raf",
            )
            out["draw"] = time.monotonic() - started
            page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')")
            page.wait_for_timeout(500)
            out["heap_drawn"] = heap(cdp)
            boxes_px = [page.evaluate(PANEL_JS, k) for k in range(panels)]

            for _ in range(hovers):  # the pointer onto a random point of a random panel
                k = int(rng.integers(panels))
                page.mouse.move(5, 5)
                page.wait_for_function(HIDDEN_JS, polling="raf")
                pos = page.evaluate(POINT_JS, [k, int(rng.integers(n))])
                page.mouse.move(pos["x"] - 20, pos["y"] - 20)
                page.mouse.move(pos["x"], pos["y"], steps=4)
                try:
                    shown = page.wait_for_function(CARD_JS, polling="raf", timeout=20_000).json_value()
                except Exception:
                    continue  # no point under the pointer (a gap between clusters): not a hover
                out["hover"].append(shown - page.evaluate("window.__ls.lastMove"))
            page.mouse.move(5, 5)

            page.evaluate("(n) => { window.__ls.panels = n; }", panels)
            for b in range(boxes):  # a box (about a tenth of a panel's side) in a random panel, the last one kept
                k = b % panels
                page.keyboard.press("Escape")
                page.wait_for_function(CLEARED_JS, polling="raf")
                box = boxes_px[k]
                half = 0.08 * min(box["width"], box["height"])
                for _ in range(100):  # centred on a random sample, away from the panel's edges
                    c = page.evaluate(POINT_JS, [k, int(rng.integers(n))])
                    cx, cy = c["x"], c["y"]
                    inner_x = box["left"] + 2 * half < cx < box["left"] + box["width"] - 2 * half
                    if inner_x and box["top"] + 2 * half < cy < box["top"] + box["height"] - 2 * half:
                        break
                page.mouse.move(cx - half, cy - half)
                page.mouse.down()
                steps, began = 30, time.monotonic()
                for s in range(1, steps + 1):  # the pointer at 60 Hz, as a hand drags
                    page.mouse.move(cx - half + 2 * half * s / steps, cy - half + 2 * half * s / steps)
                    time.sleep(max(0.0, began + s / 60 - time.monotonic()))
                dragged = time.monotonic() - began
                page.mouse.up()
                try:
                    page.wait_for_function(SHOWN_JS, polling="raf", timeout=wait_ms)
                    page.wait_for_timeout(1000)  # the mouseup's Event Timing entry comes after its paint
                    out["link"].append(page.evaluate(LINK_JS))
                except Exception:  # never highlighted within the wait: counted as the wait (a lower bound)
                    out["link"].append(float(wait_ms))
                    out["timeouts"] += 1
                frames = page.evaluate("window.__ls.frames")
                if len(frames) > 1:
                    out["fps"].append((len(frames) - 1) / ((frames[-1] - frames[0]) / 1000))
                out["moves"].append(steps / dragged)
            page.wait_for_function("!document.querySelector('[data-dash-is-loading=\"true\"]')")
            page.wait_for_timeout(500)
            out["heap_end"] = heap(cdp)
            out["parts"] = page.evaluate("(window.LayerScope && window.LayerScope.timings) || []")
            out["selected"] = page.locator("#selection-count").inner_text()
            if shots is not None:
                page.screenshot(path=str(shots / f"ui_browser_{tag}.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(Path(tempfile.gettempdir()) / f"ui_browser_failed_{tag}.png"), full_page=True)
            raise
        finally:
            browser.close()
    return out


def summary(r: dict) -> dict:
    def pct(xs, q):
        return float(np.percentile(xs, q)) if xs else float("nan")

    return {
        "draw_s": r["draw"],
        "hover_p50": pct(r["hover"], 50),
        "hover_p95": pct(r["hover"], 95),
        "link_p50": pct(r["link"], 50),
        "link_p95": pct(r["link"], 95),
        "drag_fps": pct(r["fps"], 50),
        "heap_drawn_mb": r["heap_drawn"],
        "heap_end_mb": r["heap_end"],
        "hovers": len(r["hover"]),
        "timeouts": r["timeouts"],
        "parts": {
            key: float(np.median([p[key] for p in r.get("parts", [])])) if r.get("parts") else float("nan")
            for key in ("hits", "drawn", "others", "store", "frame")
            if all(key in p for p in r.get("parts", []))
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ui_browser", description=__doc__.split("\n\n")[0])
    p.add_argument("--points", type=int, default=70_000)
    p.add_argument("--panels", type=int, default=6)
    p.add_argument("--hovers", type=int, default=30)
    p.add_argument("--boxes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--wait-s", type=float, default=120.0, help="longest wait for a box to be highlighted")
    p.add_argument("--peer-ref", default=PEER_REF, help="git commit of the server-side selection path (the peer)")
    p.add_argument("--no-peer", action="store_true", help="measure this tree only")
    p.add_argument("--peer-only", action="store_true", help="measure the peer only")
    p.add_argument("--screenshots", type=Path, default=None, help="folder for a screenshot of each app at the end")
    args = p.parse_args(argv)
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ui-browser-") as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        run_id = make_store(root, args.points, args.panels, args.seed)
        print(
            f"store: {args.points:,} samples × {args.panels} layers, capture + PCA projection in "
            f"{time.monotonic() - t0:.1f} s",
            flush=True,
        )
        trees = [] if args.peer_only else [("this tree", ROOT)]
        if not args.no_peer:
            trees.append((f"peer {args.peer_ref}", peer_tree(args.peer_ref, root / "peer")))
        results = {}
        for tag, tree in trees:
            with app(tree, root, tag.split()[0]) as url:
                r = measure(
                    url,
                    run_id,
                    args.points,
                    args.panels,
                    args.hovers,
                    args.boxes,
                    args.seed,
                    args.screenshots,
                    tag.split()[0],
                    args.wait_s,
                )
            results[tag] = summary(r)
            s = results[tag]
            never = f", {s['timeouts']} boxes never highlighted within {args.wait_s:.0f} s" if s["timeouts"] else ""
            print(
                f"{tag:>16}: first draw {s['draw_s']:6.1f} s · hover→card p50 {s['hover_p50']:6.0f} ms "
                f"p95 {s['hover_p95']:6.0f} ms ({s['hovers']} cards) · box release→all panels p50 "
                f"{s['link_p50']:6.0f} ms p95 {s['link_p95']:6.0f} ms · drag {s['drag_fps']:5.1f} frames/s · "
                f"JS heap {s['heap_drawn_mb']:.0f} MB drawn, {s['heap_end_mb']:.0f} MB at the end ({r['selected']}"
                f"{never})",
                flush=True,
            )
            if s["parts"]["hits"] == s["parts"]["hits"]:  # the page's own breakdown (this tree's fast path)
                print(
                    f"{'':>16}  in the page, median per box: hit set {s['parts']['hits']:.0f} ms, the graph drawn in "
                    f"{s['parts']['drawn']:.0f} ms, the other graphs {s['parts']['others']:.0f} ms"
                    + (
                        f", handed to Dash {s['parts']['store']:.0f} ms, the next frame began "
                        f"{s['parts']['frame']:.0f} ms after the handler started"
                        if "frame" in s["parts"]
                        else ""
                    ),
                    flush=True,
                )
    if len(results) == 2:
        new, old = results["this tree"], results[f"peer {args.peer_ref}"]
        print(
            f"ratios peer/this: hover p95 {old['hover_p95'] / new['hover_p95']:.2f}× · "
            f"link p95 {old['link_p95'] / new['link_p95']:.2f}× · "
            f"drag frames/s {new['drag_fps'] / old['drag_fps']:.2f}× "
            f"· first draw {old['draw_s'] / new['draw_s']:.2f}×"
        )
    load = os.getloadavg()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Chromium headless (software WebGL), "
        f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
