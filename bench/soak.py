"""Soak: hovers, selections and job-panel polls from 10 threads against a running app while a
training job runs; prints errors (must be 0) and p50/p95 latency, against the same requests
sent with no job running (the peer, measured in the same run).

Everything goes to 127.0.0.1 only, in a bounded number of requests and seconds. Requests are
built from the app's own ``/_dash-dependencies``, so they are the exact callbacks a page calls:
the Data tab's hover (image thumbnail), the Layers tab's linked selection (a ``Patch`` over
every panel), and the job panel's poll (reads the job records).

    python -m bench.soak [--threads 10] [--requests 1500] [--seconds 120]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

HOVER = "data-scatter.hoverData"
SELECT = "layers-graph.selectedData"
POLL = "job-poll.n_intervals"
TRAIN = "layers-train.n_clicks"


def dependencies(url: str) -> list[dict]:
    with urllib.request.urlopen(url + "_dash-dependencies", timeout=30) as r:
        return json.load(r)


def find(deps: list[dict], trigger: str) -> dict:
    for dep in deps:
        if any(f"{i['id']}.{i['property']}" == trigger for i in dep["inputs"]):
            return dep
    raise LookupError(f"no callback is triggered by {trigger}")


def payload(dep: dict, values: dict, trigger: str) -> dict:
    """The JSON body a page posts for ``dep`` when ``trigger`` changes (unknown props: None)."""

    def outputs():
        out = []
        for part in dep["output"].strip(".").split("..."):
            ident, _, prop = part.rpartition(".")
            out.append({"id": ident, "property": prop.split("@")[0]})
        return out

    def fill(items):
        return [
            {"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")} for i in items
        ]

    outs = outputs()
    return {
        "output": dep["output"],
        "outputs": outs if len(outs) > 1 else outs[0],
        "inputs": fill(dep["inputs"]),
        "state": fill(dep["state"]),
        "changedPropIds": [trigger],
    }


def post(url: str, body: dict, timeout: float = 30.0) -> tuple[int, float]:
    data = json.dumps(body).encode()
    req = urllib.request.Request(
        url + "_dash-update-component", data=data, headers={"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = -1
    return status, time.perf_counter() - start


def requests_for(url: str, n_points: int, run_id: str | None, session: str) -> list[tuple[str, dict]]:
    deps = dependencies(url)
    hover, poll = find(deps, HOVER), find(deps, POLL)
    select = find(deps, SELECT) if run_id else None
    rng = random.Random(0)
    bodies = []
    for k in range(3000):
        i = rng.randrange(n_points)
        point = {
            "curveNumber": 0,
            "pointNumber": i,
            "pointIndex": i,
            "customdata": i,
            "bbox": {"x0": 100, "x1": 104, "y0": 100, "y1": 104},
        }
        which = k % 3
        if which == 0:
            bodies.append(
                ("hover", payload(hover, {HOVER: {"points": [point]}, "dataset-picker.value": "digits"}, HOVER))
            )
        elif which == 1 and select is not None:
            picked = rng.sample(range(200), 40)  # positions in the run's sample (20 per class)
            values = {
                SELECT: {"points": [{"curveNumber": 0, "pointNumber": j, "pointIndex": j} for j in picked]},
                "run-picker.value": run_id,
                "dataset-picker.value": "digits",
                "layers-graph.figure": {"data": [{}] * 4},
            }
            bodies.append(("select", payload(select, values, SELECT)))
        else:
            bodies.append(("poll", payload(poll, {POLL: k, "session-id.data": session}, POLL)))
    return bodies


def soak(url: str, bodies: list[tuple[str, dict]], threads: int, total: int, seconds: float) -> dict:
    """Send ``total`` requests from ``threads`` threads (stop at ``seconds``); latencies per kind."""
    lock = threading.Lock()
    results: dict[str, list[float]] = {}
    errors: list[tuple[str, int]] = []
    counter = iter(range(total))
    deadline = time.monotonic() + seconds

    def worker():
        while time.monotonic() < deadline:
            with lock:
                k = next(counter, None)
            if k is None:
                return
            kind, body = bodies[k % len(bodies)]
            status, dt = post(url, body)
            with lock:
                if status != 200:
                    errors.append((kind, status))
                results.setdefault(kind, []).append(dt)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"latency": results, "errors": errors}


def summary(label: str, res: dict) -> str:
    parts = []
    for kind, lat in sorted(res["latency"].items()):
        a = np.array(lat) * 1000
        parts.append(f"{kind}: n={len(a)} p50 {np.percentile(a, 50):.1f} ms p95 {np.percentile(a, 95):.1f} ms")
    return f"{label}: errors {len(res['errors'])}; " + "; ".join(parts)


def train_run(store_dir: Path) -> str:
    """A small hardness run for the Layers selection callback to work on."""
    from models.store import RunStore
    from models.studies import study

    face = study("hardness")
    config = face.Config(dataset="digits", depths=(2,), activations=("relu",), runs=1, epochs=5, per_class=20, n_jobs=1)
    return face.run(config, store=RunStore(store_dir)).id


def start_job(url: str, session: str) -> None:
    """Start a long Layers training as a page would (the background job runs on its own)."""
    dep = find(dependencies(url), TRAIN)
    values = {
        TRAIN: 1,
        "dataset-picker.value": "digits",
        "layers-depth.value": 3,
        "layers-runs.value": 3,
        "layers-epochs.value": 400,
        "layers-per-class.value": 50,
        "layers-activation.value": "relu",
        "store-version.data": 0,
        "session-id.data": session,
    }
    post(url, payload(dep, values, TRAIN))


def main(argv: list[str] | None = None) -> int:
    from tests.browser import running_app

    p = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--threads", type=int, default=10, help="concurrent clients")
    p.add_argument("--requests", type=int, default=1500, help="requests per phase (bounded)")
    p.add_argument("--seconds", type=float, default=120.0, help="time limit per phase")
    args = p.parse_args(argv)
    from dashboard.job_records import JobRecords

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_id = train_run(tmp / "runs")
        with running_app(tmp) as url:
            session = "soak-session"
            from models import datasets

            bodies = requests_for(url, datasets.load("digits").n, run_id, session)
            post(url, bodies[0][1])  # warm-up: the dataset and its thumbnails' first load
            idle = soak(url, bodies, args.threads, args.requests, args.seconds)
            start_job(url, session)
            records = JobRecords(tmp / "runs" / ".jobs.sqlite")
            deadline = time.monotonic() + 60
            while not any(j.active for j in records.recent()) and time.monotonic() < deadline:
                time.sleep(0.2)
            running = any(j.active for j in records.recent())
            busy = soak(url, bodies, args.threads, args.requests, args.seconds)
            still = any(j.active for j in records.recent())
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}"
    )
    print(summary("no job (peer)", idle))
    print(summary(f"while training (job running: {running} at start, {still} at end)", busy))
    for kind in sorted(busy["latency"]):
        a, b = np.percentile(busy["latency"][kind], 95), np.percentile(idle["latency"].get(kind, [np.nan]), 95)
        print(f"{kind}: p95 with a job / without = {a / b:.2f}×")
    return 1 if busy["errors"] or idle["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
