"""The projection study's chained t-SNE on two worker processes: layer i + 1 runs beside layer i.

Why: openTSNE's FFT negative gradient — most of a 20,000-sample layer's time — runs on one thread whatever
``n_jobs`` says (only the positive gradient and the affinities are parallel), so projecting one layer at a
time leaves a second core mostly idle. A chained layer waits on the previous one only for its *layout*: it
starts from the previous map rescaled to σ 1e-4 (:func:`.project_tsne.tsne_init`), and that layout is settled
once the previous layer is :data:`SNAPSHOT_AFTER` iterations past its early exaggeration. So layer i + 1 starts
from that snapshot on the other worker while layer i runs on. The k-NN graphs are built in the calling process
(numba compiles pynndescent once there) on a core no fit uses: the first while the workers start, the others
while a worker waits for its next start. The start is always the snapshot (never "the final map if it happens
to be done"), so the maps do not depend on timing.

Workers are spawned processes, not threads: openTSNE's gradient loops hold the GIL, and OpenMP's and numba's
thread pools do not survive a fork. Progress and Cancel stay in the calling process: workers send their ticks
and snapshots to a queue it reads, and a stop event set on Cancel makes a running fit return at its next tick.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import UserError
from ..progress import Cancelled, ProgressFn, report

SNAPSHOT_AFTER = 100  # main-phase iterations after which a layer's map is the next layer's start
PIPELINE_FROM = 10_000  # samples: below, openTSNE's Barnes-Hut runs (parallel) and layers take seconds
WORKERS = 2
START_S = 120.0  # a spawned worker imports numpy and the package: seconds, more on a loaded machine
ORPHAN_POLL_S = 1.0  # how often a worker checks that its parent still runs
POLL_S = 0.5  # how often the caller checks Cancel and the workers' health while no event comes


@dataclass
class Layer:
    """One layer to project: its name, how to read its activations and how to get its k-NN graph with a given
    number of threads (the caller's cache, else computed and cached). Both run in the caller: numba compiles
    pynndescent once there, not once per worker."""

    name: str
    load: Callable[[], np.ndarray]
    graph: Callable[[int], tuple[np.ndarray, np.ndarray]]


def usable(samples: int, n_jobs: int, layers: int) -> bool:
    """Whether a chain is worth two processes: two threads or more granted, two layers or more, FFT-sized."""
    return n_jobs >= WORKERS and layers >= 2 and samples >= PIPELINE_FROM


# -- the worker process ------------------------------------------------------------------------------------------
def _serve(inbox, events, stop, threads: int) -> None:
    """A worker's loop: take a fit from ``inbox`` (None ends it), put ("done" | "error" | "cancelled", ...) on
    ``events``, and the fit's ticks and snapshot on the way."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    threading.Thread(target=_orphaned, args=(os.getppid(),), daemon=True).start()
    events.put(("ready", -1, None, 0.0))
    while True:
        task = inbox.get()
        if task is None:
            return
        _, i, args = task
        t0 = time.perf_counter()
        try:
            out = _fit(i, args, events, stop, threads)
            events.put(("done", i, out, time.perf_counter() - t0))
        except Cancelled:
            events.put(("cancelled", i, None, 0.0))
        except Exception as exc:  # reported to the caller, which raises it as the job's error
            events.put(("error", i, f"{type(exc).__name__}: {exc}", 0.0))


def _orphaned(parent: int) -> None:
    """End this worker once its parent is gone (killed without closing the pool: a job's process killed, OOM):
    a worker never outlives the job that started it."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_S)
    os._exit(0)


def _fit(i: int, args: dict, events, stop, threads: int):
    from .project_tsne import fit_tsne

    def progress(p) -> bool:
        events.put(("tick", i, (p.done, p.total, p.metrics.get("kl")), 0.0))
        return stop.is_set()

    return fit_tsne(
        args["graph"],
        args["init"],
        chained=args["chained"],
        schedule=args["schedule"],
        perplexity=args["perplexity"],
        seed=args["seed"],
        n_jobs=threads,
        progress=progress,
        snapshot=(args["snapshot_at"], lambda Y: events.put(("snapshot", i, Y, 0.0))),
    )


# -- the caller --------------------------------------------------------------------------------------------------
class _Pool:
    """Two spawned workers, each with its own inbox (so the caller knows who is busy), one shared event queue."""

    def __init__(self, workers: int, threads: int):
        ctx = multiprocessing.get_context("spawn")
        self.events, self.stop = ctx.Queue(), ctx.Event()
        self.inboxes = [ctx.Queue() for _ in range(workers)]
        self.procs = [
            ctx.Process(target=_serve, args=(q, self.events, self.stop, threads), daemon=True, name=f"tsne-{w}")
            for w, q in enumerate(self.inboxes)
        ]
        for p in self.procs:
            p.start()

    def wait_ready(self) -> None:
        """Block until every worker runs its loop; a worker that died starting (an unguarded ``__main__`` re-run by
        spawn) or did not start in :data:`START_S` raises OSError (the caller then projects in its own process)."""
        ready, deadline = 0, time.monotonic() + START_S
        while ready < len(self.procs):  # a worker that cannot start (an unguarded __main__ re-run by spawn) dies first
            try:
                ready += self.events.get(timeout=POLL_S)[0] == "ready"
            except queue.Empty:
                if time.monotonic() > deadline or not all(p.is_alive() for p in self.procs):
                    self.close()
                    raise OSError("the t-SNE worker processes did not start") from None

    def close(self) -> None:
        self.stop.set()
        for q in self.inboxes:
            q.put(None)
        deadline = time.monotonic() + 2.0
        for p in self.procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():  # still in a fit between two ticks: end it
                p.terminate()
                p.join(2.0)
        for q in (*self.inboxes, self.events):
            q.cancel_join_thread()
            q.close()


def chain(
    layers: list[Layer],
    *,
    first: dict,
    warm: dict,
    perplexity: float,
    seed: int,
    n_jobs: int,
    samples: int,
    first_init: Callable[[np.ndarray], np.ndarray],
    warm_init: Callable[[np.ndarray], np.ndarray],
    progress: ProgressFn | None = None,
) -> list[tuple[np.ndarray, float, int, float]] | None:
    """(map, KL, iterations, seconds) per layer of a chained t-SNE, layer i + 1 started from layer i's map
    :data:`SNAPSHOT_AFTER` iterations after its early exaggeration (``first`` / ``warm``: openTSNE schedules of
    the first and the chained layers). ``first_init(X)`` and ``warm_init(snapshot)`` make the starts. The graphs
    are built here, the first while the workers start, the others while a worker waits. Returns None
    when the workers could not start (the caller then runs the chain in its own process)."""
    n, workers = len(layers), WORKERS
    per_worker = max(1, n_jobs // workers)
    try:
        pool = _Pool(workers, per_worker)
    except (OSError, AssertionError, ValueError) as exc:  # e.g. a daemonic job process may not have children
        return _refused(exc)
    graphs: list = [None] * n
    snaps: dict[int, np.ndarray] = {}
    results: dict[int, tuple] = {}
    seconds, fraction = [0.0] * n, [0.0] * n
    busy: dict[int, int] = {}  # worker → the layer it fits
    said = ["", {}]
    next_fit = 0

    def say(message: str | None = None, **metrics) -> None:
        if message is not None:
            said[:] = [message, metrics]
        report(progress, sum(fraction), n, said[0], **said[1])

    def build(j: int) -> None:
        say(f"k-NN graph of {layers[j].name} ({j + 1}/{n}, {samples:,} samples)")
        t0 = time.perf_counter()
        graphs[j] = layers[j].graph(max(1, n_jobs - per_worker * len(busy)))
        seconds[j] += time.perf_counter() - t0
        fraction[j] = 0.1

    def fit(w: int, i: int) -> None:
        chained = i > 0
        schedule = dict(warm if chained else first)
        init = warm_init(snaps.pop(i - 1)) if chained else first_init(layers[0].load())
        start = f", from {layers[i - 1].name}'s map" if chained else ""
        say(f"projecting {layers[i].name} ({i + 1}/{n}, tsne{start}, {samples:,} samples)")
        args = {
            "graph": graphs[i],
            "init": init,
            "chained": chained,
            "schedule": schedule,
            "perplexity": perplexity,
            "seed": seed,
            "snapshot_at": schedule["early_exaggeration_iter"] + SNAPSHOT_AFTER,
        }
        pool.inboxes[w].put(("tsne", i, args))
        graphs[i], busy[w] = None, i  # the worker's copy is the last use of the graph here (it is cached)

    def handle(events, timeout: float | None) -> bool:
        """Take one event (waiting up to ``timeout`` s; None: only one already there); False if none came."""
        try:
            event, i, out, took = events.get(timeout=timeout) if timeout else events.get_nowait()
        except queue.Empty:
            return False
        if event == "tick":
            done, total, kl = out
            fraction[i] = 0.1 + 0.9 * min(1.0, done / total)
            say(f"t-SNE {layers[i].name}: iteration {int(done)}/{int(total)}", kl=float(kl))
        elif event == "snapshot":
            snaps[i] = out
        elif event == "error":
            raise UserError(f"t-SNE of layer {layers[i].name!r} failed: {out}")
        elif event == "cancelled":
            raise Cancelled("cancelled")
        else:  # done
            busy.pop(next(w for w, j in busy.items() if j == i))
            Y, kl, iterations = out
            if next_fit == i + 1:  # a fit that ended before its snapshot (a short schedule) starts the next
                snaps.setdefault(i, Y)
            results[i], seconds[i], fraction[i] = (Y, kl, iterations), seconds[i] + took, 1.0
        return True

    try:
        build(0)  # while the workers start
        try:
            pool.wait_ready()
        except OSError as exc:
            pool = None
            return _refused(exc)
        while len(results) < n:
            while handle(pool.events, timeout=None):  # what the workers said while a graph was being built
                pass
            free = [w for w in range(workers) if w not in busy]
            if free and next_fit < n and (next_fit == 0 or next_fit - 1 in snaps):
                if graphs[next_fit] is None:
                    build(next_fit)
                fit(free[0], next_fit)
                next_fit += 1
                continue
            missing = [j for j in range(next_fit, n) if graphs[j] is None]
            if free and missing:  # on a core no fit uses: never more busy threads than granted
                build(missing[0])
                continue
            if not busy:
                raise RuntimeError(f"the t-SNE chain stalled with layers {sorted(results)} of {n} done")
            if not handle(pool.events, timeout=POLL_S):
                dead = [w for w in busy if not pool.procs[w].is_alive()]
                if dead:
                    code = pool.procs[dead[0]].exitcode
                    why = "killed: out of memory?" if code == -9 else f"exit code {code}"
                    name = layers[busy[dead[0]]].name
                    raise UserError(f"the worker projecting {name!r} ended without a result ({why})")
                say()  # the last message again: lets a Cancel through between ticks
        say(f"t-SNE of {n} layers done")
    finally:
        if pool is not None:
            pool.close()
    return [(*results[i], round(seconds[i], 3)) for i in range(n)]


def _refused(exc: Exception) -> None:
    warnings.warn(f"{exc}; projecting the layers one after another in this process", RuntimeWarning, stacklevel=3)
