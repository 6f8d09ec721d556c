"""Benchmark: server-side time of the Layers tab's hover and linked-selection callbacks
with 70,000 points × 8 panels, p50/p95, against rebuilding the whole figure (the peer).

Each timing covers the callback's work plus JSON-encoding its output (what Dash sends):
- hover: the tooltip card for a random point (thumbnail PNG, label, prediction);
- linked selection: a box selection of ~2–8k points in one panel turned into a ``Patch``
  setting ``selectedpoints`` on all 8 panels;
- peer: rebuilding the 8-panel figure with the selection (what a naive callback does).
Targets: p95 < 100 ms (hover), < 300 ms (linked selection).

    python -m bench.ui [--points 70000] [--panels 8] [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def encode(obj) -> str:
    import plotly

    return json.dumps(
        obj.to_plotly_json() if hasattr(obj, "to_plotly_json") else obj, cls=plotly.utils.PlotlyJSONEncoder
    )


def percentiles(times: list[float]) -> str:
    t = 1000 * np.asarray(times)
    return f"p50 {np.percentile(t, 50):7.1f} ms  p95 {np.percentile(t, 95):7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    from dashboard import figures
    from dashboard.hardness_samples import point_card
    from dashboard.views.layers import selection_patch

    p = argparse.ArgumentParser(prog="python -m bench.ui")
    p.add_argument("--points", type=int, default=70_000)
    p.add_argument("--panels", type=int, default=8)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    n = args.points
    labels = rng.integers(0, 10, n)
    preds = np.where(rng.random(n) < 0.9, labels, rng.integers(0, 10, n))
    index = np.arange(n)
    imgs = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
    names = [str(c) for c in range(10)]
    panels = [(f"layer{k}", rng.normal(size=(n, 2)).astype(np.float32)) for k in range(args.panels)]
    print(
        f"machine: {platform.platform()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
        f"python {platform.python_version()} · {n:,} points × {args.panels} panels"
    )

    hover = []
    for _ in range(args.repeats * 3):
        pos = int(rng.integers(n))
        t0 = time.perf_counter()
        encode(point_card(imgs, names, index, labels, preds, pos, layer="layer3", key=("bench",)))
        hover.append(time.perf_counter() - t0)

    select, rebuild = [], []
    for r in range(args.repeats):
        coords = panels[r % args.panels][1]
        cx, cy = rng.normal(size=2) * 0.5
        inside = np.flatnonzero((np.abs(coords[:, 0] - cx) < 0.3) & (np.abs(coords[:, 1] - cy) < 0.3))
        payload = json.dumps(
            {
                "points": [
                    {
                        "curveNumber": r % args.panels,
                        "pointIndex": int(i),
                        "pointNumber": int(i),
                        "customdata": int(i),
                        "x": float(coords[i, 0]),
                        "y": float(coords[i, 1]),
                    }
                    for i in inside
                ]
            }
        )
        t0 = time.perf_counter()
        encode(selection_patch(json.loads(payload), args.panels))
        select.append(time.perf_counter() - t0)
        if r < max(3, args.repeats // 6):  # the peer is slow: fewer repeats
            t0 = time.perf_counter()
            fig = figures.layers_figure(
                panels, labels, names, predictions=preds, index=index, selected=sorted(int(i) for i in inside)
            )
            encode(fig)
            rebuild.append(time.perf_counter() - t0)
    print(f"hover card                 {percentiles(hover)}   (target p95 < 100 ms)")
    print(f"linked selection (Patch)   {percentiles(select)}   (target p95 < 300 ms; ~{len(inside):,} points picked)")
    print(f"peer: rebuild the figure   {percentiles(rebuild)}")
    print(f"ratio rebuild / Patch at p50: {np.median(rebuild) / np.median(select):.1f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
