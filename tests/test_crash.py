"""A study command line killed at any point leaves only whole runs: every listed run loads, and
the next command line removes what the killed one left (temp folder, cached results)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from models.store import RunStore
from tests import tiny_hardness


def _every_listed_run_loads(store: RunStore) -> int:
    runs = store.list()
    for run in runs:
        for part in run.manifest["files"]:
            if part.endswith(".npz"):
                assert run.arrays(part[:-4])  # whole, readable arrays
    return len(runs)


def test_sigkill_of_a_study_at_several_points_leaves_only_whole_runs(tmp_path):
    store_dir = tmp_path / "runs"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for delay in (1.0, 3.0, 5.0, 7.0):
        proc = subprocess.Popen(
            tiny_hardness.command(store_dir),
            cwd=tiny_hardness.ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _every_listed_run_loads(RunStore(store_dir))
    done = tiny_hardness.run(store_dir, env=env)
    assert done.returncode == 0, done.stderr
    store = RunStore(store_dir)
    assert _every_listed_run_loads(store) >= 1
    assert not [p for p in store.root.iterdir() if p.name.startswith(".tmp-")], "a killed run's temp folder stayed"
    landed = {r.id for r in store.list()}
    cache = store.root / ".cache"
    stray = (
        [p.name for p in cache.iterdir() if p.name.startswith("hardness-") and p.name not in landed]
        if cache.exists()
        else []
    )
    assert not stray, f"results cached for runs that never landed: {stray}"
