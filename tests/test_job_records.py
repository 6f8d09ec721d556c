"""Job records: the truth the job panel reads — lifecycle, cancel requests, dead processes reaped."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from dashboard import job_records
from dashboard.job_panel import ACTIVE_POLL_MS, HIDDEN, IDLE_POLL_MS, cancel_targets, list_signature, panel_state
from dashboard.job_records import Heartbeat, JobRecords


@pytest.fixture
def records(tmp_path) -> JobRecords:
    return JobRecords(tmp_path / ".jobs.sqlite")


def test_a_job_runs_reports_and_ends_with_its_run(records):
    job = records.start("layers.train", "hardness study", "tab-a", {"values": [1, "digits"]})
    assert records.get(job).status == "running" and records.get(job).pid == os.getpid()
    assert records.report(job, 0.4, "training") is False
    rec = records.get(job)
    assert rec.progress == pytest.approx(0.4) and rec.message == "training" and rec.active
    records.finish(job, "done", "trained", run_id="hardness-20260101-000000-abcdef")
    rec = records.get(job)
    assert (rec.status, rec.progress, rec.run_id, rec.active) == ("done", 1.0, "hardness-20260101-000000-abcdef", False)
    records.finish(job, "failed", "late")  # an ended job stays as it ended
    assert records.get(job).status == "done"
    with pytest.raises(ValueError, match="status must be one of"):
        records.finish(job, "exploded")


def test_cancel_is_a_request_the_next_report_sees(records):
    job = records.start("k", "t", "tab-a")
    assert records.request_cancel(job) is True
    assert records.get(job).status == "cancelling"
    assert records.report(job, 0.5, "still going") is True
    records.finish(job, "cancelled", "cancelled")
    assert records.get(job).status == "cancelled"
    assert records.request_cancel(job) is False  # nothing to cancel any more


def _sleeper():
    time.sleep(60)


def test_a_job_whose_process_died_is_interrupted_and_one_alive_is_left(records):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = records.start("k", "alive", "tab-a", pid=proc.pid)
        dead_proc = subprocess.Popen([sys.executable, "-c", "pass"])
        dead_proc.wait()
        dead = records.start("k", "dead", "tab-b", pid=dead_proc.pid)
        assert records.reap() == [dead]
        assert records.get(dead).status == "interrupted" and "interrupted" in records.get(dead).message
        assert records.get(alive).status == "running"
    finally:
        proc.kill()
        proc.wait()


def test_a_job_that_ignores_cancel_is_killed_and_marked_cancelled(records, monkeypatch):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        job = records.start("k", "stubborn", "tab-a", pid=proc.pid)
        records.request_cancel(job)
        assert records.reap() == []  # still within its grace period
        assert records.reap(now=time.time() + job_records.KILL_AFTER + 1) == [job]
        assert proc.wait(timeout=10) != 0
        assert records.get(job).status == "cancelled"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_heartbeat_keeps_the_record_alive_and_sees_a_cancel(records):
    job = records.start("k", "t", "tab-a")
    before = records.get(job).heartbeat
    with Heartbeat(records, job, every=0.05) as beat:
        time.sleep(0.2)
        assert records.get(job).heartbeat > before
        records.request_cancel(job)
        assert beat.cancelled.wait(2.0)


def test_panel_follows_this_tabs_running_job_and_lists_every_tab(records):
    mine = records.start("k", "train A", "tab-a")
    records.report(mine, 0.25, "epoch 3")
    other = records.start("k", "train B", "tab-b")
    value, label, message, cancel_disabled, rows, interval, animated, shown = panel_state(
        records.recent(), "tab-a", time.time()
    )
    assert (value, label, cancel_disabled, animated) == (25, "25%", False, True) and "epoch 3" in message
    assert len(rows) == 2 and interval == ACTIVE_POLL_MS and shown == {}  # its bar and Cancel show
    value, _, _, cancel_disabled, _, _, _, shown = panel_state(records.recent(), "tab-c", time.time())
    assert (value, cancel_disabled, shown) == (0, True, HIDDEN)  # a tab with no job of its own: no bar, no Cancel
    records.finish(mine, "cancelled", "train A: cancelled")
    records.finish(other, "done", "train B: done")
    value, _, message, cancel_disabled, _, interval, _, shown = panel_state(records.recent(), "tab-a", time.time())
    assert (value, message, cancel_disabled, interval, shown) == (0, "train A: cancelled", True, IDLE_POLL_MS, HIDDEN)


def test_a_cancel_click_merged_with_the_redrawn_rows_still_cancels(records):
    """While the poll redraws the job list, Dash merges the panel's Cancel click with the new rows' buttons
    (n_clicks None) into one call: the click must not be lost behind a row's empty trigger (a reloaded tab's
    Cancel did nothing in CI); a row's own click cancels only its job; nothing clicked cancels nothing."""
    mine = records.start("k", "train A", "tab-a")
    other = records.start("k", "train B", "tab-b")
    jobs = records.recent()

    def row(job: str, clicks: int | None) -> dict:
        return {"prop_id": f'{{"job":"{job}","type":"job-row-cancel"}}.n_clicks', "value": clicks}

    panel = {"prop_id": "job-cancel.n_clicks", "value": 1}
    assert cancel_targets([row(mine, None), row(other, None), panel], jobs, "tab-a") == [mine]
    assert cancel_targets([row(other, 1)], jobs, "tab-a") == [other]
    assert cancel_targets([row(mine, None), row(other, None)], jobs, "tab-a") == []
    records.finish(mine, "done", "train A: done")
    assert cancel_targets([panel], records.recent(), "tab-a") == []  # its job already ended


def test_the_list_is_redrawn_only_when_what_it_shows_changes(records):
    """An ended job's row reads the same from one poll to the next, so the list (and its buttons) is not
    replaced every second; a new job, a status or a progress change redraws it."""
    done = records.start("k", "train A", "tab-a")
    records.finish(done, "done", "train A: done", "run-1")
    now = time.time()
    first = list_signature(records.recent(), "tab-a", now)
    assert list_signature(records.recent(), "tab-a", now + 1) == first
    assert list_signature(records.recent(), "tab-a", now + 30) == first
    running = records.start("k", "train B", "tab-a")
    second = list_signature(records.recent(), "tab-a", now + 31)
    assert second != first
    records.report(running, 0.5, "epoch 5")
    assert list_signature(records.recent(), "tab-a", now + 31) != second
    rows = panel_state(records.recent(), "tab-a", now)[4]
    assert [r.key for r in rows] == [running, done]  # keyed rows: React updates each in place


def test_a_discarded_job_leaves_the_list(records):
    job = records.start("data.show_dataset", "PCA of digits", "tab-a")
    records.discard(job)
    assert records.get(job) is None and records.recent() == []


def _read_records(path, out):
    out.put(len(JobRecords(path).recent()))


def test_jobs_forked_while_other_threads_read_the_records_never_hang(tmp_path):
    """The web process polls the records from request threads while it forks jobs; a job forked
    while a thread was inside SQLite used to hang at its first query (fork_guard)."""
    import threading

    import multiprocess

    from dashboard import fork_guard

    path = tmp_path / ".jobs.sqlite"
    records = JobRecords(path)
    records.start("k", "t", "tab")
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            records.recent()

    threads = [threading.Thread(target=poll) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        out = multiprocess.Queue()
        for _ in range(25):
            with fork_guard.GUARD:  # what GuardedDiskcacheManager.call_job_fn holds
                child = multiprocess.Process(target=_read_records, args=(path, out))
                child.start()
            child.join(timeout=20)
            assert not child.is_alive(), "a forked job hung in SQLite"
            assert out.get(timeout=5) == 1
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_a_job_dash_replaces_leaves_no_interrupted_line(tmp_path, records):
    """Dash ends a running job when its tab asks for a newer one of the same view (``oldJob``): the record goes,
    the process goes; a finished job's record (Dash also "terminates" it after reading its result) stays."""
    import diskcache

    from dashboard.fork_guard import GuardedDiskcacheManager

    manager = GuardedDiskcacheManager(diskcache.Cache(str(tmp_path / "cache")), on_terminate=records.forget_running)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        replaced = records.start("data.show_dataset", "PCA of digits", "tab-a", pid=proc.pid)
        done = records.start("k", "finished", "tab-a", pid=proc.pid)
        records.finish(done, "done", "ok")
        other = records.start("k", "another process", "tab-a", pid=proc.pid + 1_000_000)
        manager.terminate_job(proc.pid)
        proc.wait(timeout=10)  # ended long before its 60 s (Dash's psutil reaped it: there is no code to read)
        assert records.get(replaced) is None
        assert records.get(done).status == "done" and records.get(other).status == "running"
        assert records.reap() == [other]  # pid + 1e6 is no process: interrupted, as before
    finally:
        if proc.poll() is None:
            proc.kill()
