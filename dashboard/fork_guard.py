"""Starting a job by ``fork`` while another thread is inside SQLite deadlocks the job.

``DiskcacheManager`` forks each background job from a Flask request thread. If, at that
instant, another request thread holds SQLite's internal mutex (the job panel's poll reads the
job records; Dash reads its diskcache, which is SQLite too), the child inherits the mutex
locked and hangs at its first SQLite call — a page-load plot that never comes, seen about
one time in three on a busy machine (py-spy: the job stuck in ``sqlite3.connect``).

So every SQLite use in the web process and every fork hold one lock, :data:`GUARD`; a forked
child gets a fresh one. Threads never sit inside SQLite while a job is being forked.
"""

from __future__ import annotations

import functools
import os
import threading

import dash

GUARD = threading.RLock()


def _fresh_guard_in_child() -> None:
    global GUARD
    GUARD = threading.RLock()


os.register_at_fork(after_in_child=_fresh_guard_in_child)


def guarded(fn):
    """Run ``fn`` holding :data:`GUARD` (looked up at call time: a child has its own)."""

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        with GUARD:
            return fn(*args, **kwargs)

    return inner


class GuardedDiskcacheManager(dash.DiskcacheManager):
    """Dash's ``DiskcacheManager`` whose forks and diskcache (SQLite) reads hold :data:`GUARD`."""

    def __init__(self, cache=None, *, on_terminate=None, **kwargs):
        super().__init__(cache, **kwargs)
        self._on_terminate = on_terminate

    call_job_fn = guarded(dash.DiskcacheManager.call_job_fn)

    @guarded
    def terminate_job(self, job):
        """Dash ends a job whose page asked for a newer one of the same callback (``oldJob``; also a finished job,
        after its result is read): ``on_terminate(pid)`` first, so its record does not read "interrupted"."""
        if job is not None and self._on_terminate is not None:
            self._on_terminate(int(job))
        return dash.DiskcacheManager.terminate_job(self, job)

    terminate_unhealthy_job = guarded(dash.DiskcacheManager.terminate_unhealthy_job)
    clear_cache_entry = guarded(dash.DiskcacheManager.clear_cache_entry)
    get_or_create_signing_secret = guarded(dash.DiskcacheManager.get_or_create_signing_secret)
    get_progress = guarded(dash.DiskcacheManager.get_progress)
    result_ready = guarded(dash.DiskcacheManager.result_ready)
    get_result = guarded(dash.DiskcacheManager.get_result)
    get_updated_props = guarded(dash.DiskcacheManager.get_updated_props)


# --- torch in the web process -------------------------------------------------------------------
# A job forked after the web process ran torch on more than one thread hangs at its first parallel
# torch op (libgomp's thread pool does not survive fork; measured: a matmul in the child never
# returns). The web process runs torch only for small things (the Latent plane decodes one point
# on hover), so it runs torch on one thread, which never starts the pool; each job gets the
# machine's threads back (:func:`job_threads`).

_JOB_THREADS: int | None = None


def torch_in_web_process():
    """Import torch for a small computation in the web process, on one thread (see above)."""
    global _JOB_THREADS
    import torch

    if _JOB_THREADS is None:
        _JOB_THREADS = torch.get_num_threads()
        torch.set_num_threads(1)
    return torch


def job_threads() -> None:
    """In a job: give torch back the threads the web process held back (no-op when it never did)."""
    if _JOB_THREADS is not None:
        import torch

        torch.set_num_threads(_JOB_THREADS)
