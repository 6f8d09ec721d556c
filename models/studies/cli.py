"""The tail every study's command line shares, so they all report, fail and finish the same way."""

from __future__ import annotations

import sys
import traceback
from typing import Callable, Iterable

from ..errors import UserError
from ..progress import Progress, ProgressFn, console
from ..store import Run


def finish(start: Callable[[ProgressFn], Run], summary: Callable[[Run], Iterable[str]]) -> int:
    """Run ``start(progress)`` with a text progress bar on stderr, then print ``summary`` and the run folder last.

    Bad input (a :class:`~models.errors.UserError`: a dataset, model or setting a person can fix)
    prints one ``error: …`` line (on a line of its own, not after a half-drawn bar) and returns 2; any
    other exception is a bug: its traceback goes to stderr and the return is 1. Either way the store
    writes atomically, so nothing is kept."""
    bar = console()
    open_line = [False]  # a bar below 100% leaves its line open

    def progress(p: Progress) -> None:
        open_line[0] = p.fraction < 1.0
        bar(p)

    try:
        run = start(progress)
    except UserError as exc:
        print(("\n" if open_line[0] else "") + f"error: {exc}", file=sys.stderr)
        return 2
    except Exception:
        if open_line[0]:
            print(file=sys.stderr)
        traceback.print_exc()
        return 1
    for line in summary(run):
        print(line)
    print(run.path)
    return 0
