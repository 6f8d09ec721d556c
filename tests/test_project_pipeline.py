"""The chained t-SNE on two worker processes: each layer starts from a snapshot of the previous one and lands
where the one-after-another chain lands; graphs the workers build reach the cache; Cancel and a worker's error
reach the caller with nothing stored and no process left behind; workers that cannot start fall back."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models.errors import UserError
from models.progress import Cancelled
from models.projections.knn_graph import knn_graph
from models.studies import project as face
from models.studies import project_engine as engine
from models.studies import project_pipeline as pipeline
from models.studies import project_tsne as one
from tests.projection_data import big_capture
from tests.test_project_schedule import _layers

ROOT = Path(__file__).resolve().parent.parent
FIRST = {"early_exaggeration_iter": 100, "n_iter": 250}
WARM = {"early_exaggeration_iter": 40, "n_iter": 250}


@pytest.fixture()
def short(monkeypatch):
    """Short schedules, the pipeline at any size: what is tested is the scheduling, not openTSNE's convergence."""
    monkeypatch.setattr(engine, "TSNE_FIRST", FIRST)
    monkeypatch.setitem(engine.WARM, "tsne", WARM)
    monkeypatch.setattr(pipeline, "PIPELINE_FROM", 0)
    monkeypatch.setattr(pipeline, "SNAPSHOT_AFTER", 60)


def _workers() -> list:
    """This module's worker processes still alive (not joblib's or anyone else's children)."""
    return [p for p in multiprocessing.active_children() if p.name.startswith("tsne-")]


def _chain(layers, **kw):
    def init(X):
        return one.tsne_init(X, None, 0)

    return pipeline.chain(
        layers,
        **{
            "first": FIRST,
            "warm": WARM,
            "perplexity": 30.0,
            "seed": 0,
            "n_jobs": 2,
            "samples": len(layers[0].load()),
            "first_init": init,
            "warm_init": lambda snap: one.tsne_init(None, snap, 0),
            **kw,
        },
    )


def test_pipelined_layers_land_where_the_sequential_chain_does(short):
    X1, X2 = _layers()
    X3 = np.tanh(X2 @ np.random.default_rng(2).normal(size=(16, 12)) / 4).astype(np.float32)
    arrays = [X1, X2, X3]
    asked, seen = [], []

    def graph(i: int, threads: int):
        asked.append(i)
        return knn_graph(arrays[i], 90, n_jobs=threads)

    out = _chain(
        [pipeline.Layer(f"l{i}", lambda X=X: X, lambda t, i=i: graph(i, t)) for i, X in enumerate(arrays)],
        progress=seen.append,
    )
    config = face.Config(run="test", n_jobs=2)
    previous, sequential = None, []
    for X in arrays:  # the same chain one layer after another, from the final maps
        chained = previous is not None
        Y, kl, _ = one.fit_tsne(
            knn_graph(X, 90),
            one.tsne_init(X, previous, 0),
            chained=chained,
            schedule=WARM if chained else FIRST,
            perplexity=config.perplexity,
            seed=0,
            n_jobs=2,
        )
        sequential.append(kl)
        previous = Y
    assert sorted(asked) == [0, 1, 2]  # each layer's graph asked for once
    for i, (X, (Y, kl, iterations, seconds)) in enumerate(zip(arrays, out)):
        assert Y.shape == (len(X), 2) and np.isfinite(Y).all() and seconds > 0
        assert kl <= 1.02 * sequential[i], (i, kl, sequential)
        assert iterations <= sum((FIRST if i == 0 else WARM).values())
    started = list(dict.fromkeys(p.message for p in seen if p.message.startswith("projecting l")))  # once each
    assert started == ["projecting l0 (1/3, tsne, 1,500 samples)"] + [
        f"projecting l{i} ({i + 1}/3, tsne, from l{i - 1}'s map, 1,500 samples)" for i in (1, 2)
    ]
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # one bar, forward only
    assert not _workers()


def test_the_study_pipelines_caches_its_graphs_and_cancel_leaves_nothing(tmp_path, short, monkeypatch):
    data, store, run = big_capture(tmp_path, n=1500)
    tsne = face.run(face.Config(run=run.id, method="tsne", n_jobs=2), store=store)
    record = tsne.manifest["projection"]
    assert set(record["iterations"]) == set(record["layers"]) and all(v > 0 for v in record["kl"].values())
    with monkeypatch.context() as m:
        m.setattr(engine, "knn_graph", lambda *a, **k: pytest.fail("UMAP rebuilt a graph t-SNE's chain cached"))
        umap_run = face.run(face.Config(run=run.id, method="umap", n_jobs=2), store=store)
    assert all(face.coords(umap_run, n).shape == (1500, 2) for n in face.layer_names(umap_run))
    before, seen = {r.id for r in store.list()}, []
    with pytest.raises(Cancelled):  # Cancel as the second layer's fit ticks: both workers are busy then
        face.run(
            face.Config(run=run.id, method="tsne", n_jobs=2, seed=5),
            store=store,
            progress=lambda p: seen.append(p.message) or "t-SNE output" in p.message or len(seen) > 400,
        )
    assert {r.id for r in store.list()} == before
    assert not _workers()


@pytest.mark.parametrize("how", ["raises", "crashes"])
def test_a_worker_error_names_the_layer_and_stops_the_chain(short, how):
    X1, X2 = _layers()
    idx, dist = knn_graph(X1, 90)
    if how == "raises":  # a graph of other samples than the start's: openTSNE refuses it with a ValueError
        bad, message = knn_graph(X2[:1000], 90), "t-SNE of layer 'b' failed: ValueError"
    else:  # neighbours that do not exist: openTSNE's unchecked loops kill the worker (SIGSEGV)
        bad, message = (np.where(idx > 5, 10**9, idx), dist), "worker projecting 'b' ended without a result"
    with pytest.raises(UserError, match=message):
        _chain([pipeline.Layer("a", lambda: X1, lambda t: (idx, dist)), pipeline.Layer("b", lambda: X2, lambda t: bad)])
    assert not _workers()


def test_workers_that_cannot_start_leave_the_chain_to_this_process(tmp_path, short, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(pipeline, "_Pool", refuse)
    data, store, run = big_capture(tmp_path, n=1500)
    with pytest.warns(RuntimeWarning, match="one after another"):
        tsne = face.run(face.Config(run=run.id, method="tsne", n_jobs=2), store=store)
    assert len(face.layer_names(tsne)) == 3 and all(v > 0 for v in tsne.manifest["projection"]["kl"].values())


JOB = """
import sys
from multiprocess import Process, Queue
from models.store import RunStore
from models.studies import capture, project, project_engine, project_pipeline
project_engine.TSNE_FIRST = {first!r}
project_engine.WARM["tsne"] = {warm!r}
project_pipeline.PIPELINE_FROM = 0
store = RunStore(sys.argv[1])
run = store.load(sys.argv[2])
step, out = capture.steps(run)[-1], Queue()

def job():
    out.put([xy.shape for _, xy in project.project_run(store, run, step, "tsne")])

if __name__ == "__main__":
    proc = Process(target=job)  # as Dash's DiskcacheManager starts a job: forked, from a process that ran no OpenMP
    proc.start()
    print(out.get(timeout=600))
    proc.join(60)
    print("exit", proc.exitcode, project.find(store, run, step, "tsne").manifest["projection"]["pipelined"])
"""


def test_a_job_process_forked_as_dash_forks_it_runs_the_pipeline(tmp_path):
    """The Project button's job runs in a process Dash's DiskcacheManager forks (``multiprocess``): the workers
    are spawned from there, and the run records that its layers were pipelined (the button grants the cores)."""
    data, store, run = big_capture(tmp_path, n=1500)
    script = tmp_path / "job.py"
    script.write_text(JOB.format(first=FIRST, warm=WARM))
    done = subprocess.run(
        [sys.executable, str(script), str(store.root), run.id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shapes, status = done.stdout.strip().splitlines()[-2:]
    assert shapes == str([(1500, 2)] * 3)
    assert status == f"exit 0 {face.cores() >= 2}"


ORPHAN = """
import time
from models.studies import project_pipeline

if __name__ == "__main__":
    pool = project_pipeline._Pool(2, 1)
    pool.wait_ready()
    print(" ".join(str(p.pid) for p in pool.procs), flush=True)
    time.sleep(600)
"""


def test_workers_end_when_their_job_is_killed(tmp_path):
    """A job's process killed outright (SIGKILL: Dash's terminate, the OOM killer) closes nothing: its workers
    notice their parent is gone and end, instead of waiting for work forever."""
    import signal

    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _compiled() -> int:
    """How many type signatures numba compiled for pynndescent's functions so far."""
    import sys as system

    from numba.core.registry import CPUDispatcher

    return sum(
        len(value.signatures)
        for name, module in list(system.modules.items())
        if name.startswith("pynndescent")
        for value in vars(module).values()
        if isinstance(value, CPUDispatcher)
    )


def test_a_read_only_layer_builds_its_graph_without_compiling_anew(tmp_path):
    """A capture's layers are memory-mapped, read-only: numba compiles every pynndescent function again for
    read-only arrays (20 s of a 20,000-sample projection's start); the graph is built from a writable copy."""
    X, _ = _layers(n=5000)
    writable = knn_graph(X, 15)
    before = _compiled()
    np.save(tmp_path / "layer.npy", X)
    mapped = np.load(tmp_path / "layer.npy", mmap_mode="r")
    assert not mapped.flags.writeable
    again = knn_graph(mapped, 15)
    assert _compiled() == before
    np.testing.assert_array_equal(again[0], writable[0])
