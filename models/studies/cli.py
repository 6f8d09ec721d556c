"""The tail every study's command line shares, so they all report, fail and finish the same way."""
from __future__ import annotations

import sys
from typing import Callable, Iterable

from ..datasets import DatasetError
from ..progress import Progress, ProgressFn, console
from ..store import Run


def finish(start: Callable[[ProgressFn], Run], summary: Callable[[Run], Iterable[str]]) -> int:
    """Run ``start(progress)`` with a text progress bar on stderr. On bad input print one
    ``error: …`` line (on a line of its own, not after a half-drawn bar) and return 2 — the
    store writes atomically, so nothing is kept; else print ``summary`` and the run folder last."""
    bar = console()
    open_line = [False]  # a bar below 100% leaves its line open

    def progress(p: Progress) -> None:
        open_line[0] = p.fraction < 1.0
        bar(p)

    try:
        run = start(progress)
    except (DatasetError, ValueError) as exc:
        print(("\n" if open_line[0] else "") + f"error: {exc}", file=sys.stderr)
        return 2
    for line in summary(run):
        print(line)
    print(run.path)
    return 0
