"""Job records: the truth about every long task, kept where every worker can reach it.

Dash's background callbacks run the work; this SQLite table (``<store>/.jobs.sqlite``, beside
the runs, so a Celery worker on another machine that reaches the store reaches it too) says
what exists: id, kind, title, owner session, status, progress, message, times, the process
running it and the run it produced. The page reads it to show a job list that survives a
reload and a second tab; Cancel writes a request the job's progress callback honours; a job
whose process died is marked ``interrupted`` at the next look (:meth:`JobRecords.reap`).

Statuses: ``running`` → ``done`` | ``failed`` | ``cancelled`` | ``interrupted``
(``cancelling`` while a cancel request waits for the job to stop).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

ACTIVE = ("running", "cancelling")
ENDED = ("done", "failed", "cancelled", "interrupted")
HEARTBEAT = 2.0  # seconds between a running job's signs of life
STALE = 30.0  # a job on another host silent this long is taken for dead
KILL_AFTER = 8.0  # a job that ignores a cancel request this long is killed (same host)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, owner TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '', created REAL NOT NULL, ended REAL, heartbeat REAL NOT NULL,
    cancel_requested REAL, pid INTEGER, host TEXT, run_id TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
"""


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    title: str
    owner: str
    config: dict
    status: str
    progress: float
    message: str
    created: float
    ended: float | None
    heartbeat: float
    cancel_requested: float | None
    pid: int | None
    host: str | None
    run_id: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        import psutil

        return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:  # psutil.NoSuchProcess between the two calls
        return False


class JobRecords:
    """The job table of one store. Every call opens its own connection (safe across threads and
    processes; SQLite serialises writers, WAL lets readers go on)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        from . import fork_guard  # no thread may sit inside SQLite while a job is forked

        with fork_guard.GUARD:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                yield db
            finally:
                db.close()

    # -- a job's own life ------------------------------------------------------
    def start(self, kind: str, title: str, owner: str, config: dict | None = None, *, pid: int | None = None) -> str:
        """Record a job that starts now in process ``pid`` (this one by default); returns its id."""
        job_id = f"job-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        now = time.time()
        with self._db() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, title, owner, config, status, created, heartbeat, pid, host) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (
                    job_id,
                    kind,
                    title,
                    owner or "",
                    json.dumps(config or {}, default=str),
                    now,
                    now,
                    pid if pid is not None else os.getpid(),
                    socket.gethostname(),
                ),
            )
        return job_id

    def report(self, job_id: str, fraction: float, message: str) -> bool:
        """Progress of a running job; returns True when a cancel was requested (the job stops)."""
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET progress = ?, message = ?, heartbeat = ? WHERE id = ? AND status IN "
                "('running', 'cancelling')",
                (float(fraction), message, time.time(), job_id),
            )
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def beat(self, job_id: str) -> bool:
        """A sign of life between progress reports; returns True when a cancel was requested."""
        with self._db() as db:
            db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time(), job_id))
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def finish(self, job_id: str, status: str, message: str = "", run_id: str | None = None) -> None:
        if status not in ENDED:
            raise ValueError(f"status must be one of {', '.join(ENDED)} (got {status!r})")
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET status = ?, message = ?, run_id = ?, ended = ?, "
                "progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END "
                "WHERE id = ? AND status IN ('running', 'cancelling')",
                (status, message, run_id, time.time(), status, job_id),
            )

    def discard(self, job_id: str) -> None:
        """Forget a job (a quick page-load job that ended well is not worth a line in the list)."""
        with self._db() as db:
            db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def forget_running(self, pid: int) -> None:
        """Forget the running job of process ``pid`` on this host: Dash is ending it because the same tab asked
        for a newer one of the same view (a dataset picked while its plot was computing), which says so itself."""
        with self._db() as db:
            db.execute(
                "DELETE FROM jobs WHERE pid = ? AND host = ? AND status IN ('running', 'cancelling')",
                (int(pid), socket.gethostname()),
            )

    # -- what a page does --------------------------------------------------------
    def request_cancel(self, job_id: str) -> bool:
        """Ask a running job to stop; True if it was running."""
        with self._db() as db:
            cur = db.execute(
                "UPDATE jobs SET cancel_requested = ?, status = 'cancelling' "
                "WHERE id = ? AND status IN ('running', 'cancelling')",
                (time.time(), job_id),
            )
        return cur.rowcount > 0

    def get(self, job_id: str) -> JobRecord | None:
        with self._db() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def recent(self, limit: int = 12) -> list[JobRecord]:
        """Running jobs first, then the latest ended ones."""
        with self._db() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM jobs ORDER BY status IN ('running', 'cancelling') DESC, created DESC LIMIT ?",
                (int(limit),),
            ).fetchall()
        return [_record(r) for r in rows]

    def reap(self, *, now: float | None = None) -> list[str]:
        """Mark jobs whose process died ``interrupted`` (or ``cancelled`` when a cancel was asked),
        and kill jobs on this host that ignored a cancel request; returns the ids it ended."""
        now = time.time() if now is None else now
        host = socket.gethostname()
        ended = []
        for job in [j for j in self.recent(limit=200) if j.active]:
            here = job.host == host
            dead = not _alive(job.pid) if here else now - job.heartbeat > STALE
            if not dead and here and job.cancel_requested and now - job.cancel_requested > KILL_AFTER:
                kill_tree(job.pid)
                dead = True
            if dead:
                status = "cancelled" if job.cancel_requested else "interrupted"
                message = "cancelled" if job.cancel_requested else "interrupted: its process ended without a result"
                self.finish(job.id, status, message)
                ended.append(job.id)
        return ended


def _record(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    data["config"] = json.loads(data.get("config") or "{}")
    return JobRecord(**data)


def kill_tree(pid: int | None) -> None:
    """End process ``pid`` and its children (the job and any workers it started)."""
    if not pid:
        return
    try:
        import psutil

        proc = psutil.Process(pid)
        for child in proc.children(recursive=True):
            child.kill()
        proc.kill()
    except Exception:  # already gone
        pass


class Heartbeat:
    """A daemon thread that keeps a job's record alive, notices a cancel request between
    progress reports (a long step that reports nothing can still be stopped), and ends the job
    when the process that started it (the app) is gone, so killing the app never leaves an
    orphan writing unseen. (Linux's PR_SET_PDEATHSIG cannot do this: it fires when the *thread*
    that started the job ends, and Flask starts jobs from short-lived request threads.)"""

    def __init__(self, records: JobRecords, job_id: str, every: float = HEARTBEAT):
        self.records, self.job_id, self.every = records, job_id, every
        self.parent = os.getppid()
        self.cancelled = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self.every)

    def _run(self) -> None:
        asked = None
        while not self._stop.wait(self.every):
            if os.getppid() != self.parent:  # re-parented: the app died
                self._end("interrupted", "interrupted: the app stopped")
            try:
                if self.records.beat(self.job_id):
                    self.cancelled.set()
                    asked = asked or time.monotonic()
            except sqlite3.Error:
                pass
            if asked and time.monotonic() - asked > KILL_AFTER:  # a long step that never reports
                self._end("cancelled", "cancelled")

    def _end(self, status: str, message: str) -> None:
        try:
            self.records.finish(self.job_id, status, message)
        finally:
            kill_tree(os.getpid())
