"""A tiny progress/cancel protocol shared by every long computation.

Modelled on openTSNE's callbacks: the worker calls ``report`` every so often; the
callback receives a :class:`Progress` and may return ``True`` to ask the worker to
stop, which ``report`` turns into :class:`Cancelled`. The command line prints a bar,
the dashboard forwards the fraction to a progress bar, tests use it to cancel.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Progress:
    """Where a job stands: ``done`` out of ``total`` units, a message, live metrics."""

    done: float
    total: float
    message: str = ""
    metrics: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.done / self.total))


ProgressFn = Callable[[Progress], bool | None]


class Cancelled(Exception):
    """Raised inside a job when its progress callback asked it to stop."""


def report(progress: ProgressFn | None, done: float, total: float, message: str = "", **metrics) -> None:
    """Send progress to ``progress`` (if any); raise :class:`Cancelled` if it asks to stop."""
    if progress is None:
        return
    if progress(Progress(float(done), float(total), message, dict(metrics))):
        raise Cancelled(message or "cancelled")


def scaled(progress: ProgressFn | None, start: float, stop: float) -> ProgressFn | None:
    """Map a sub-task's progress onto the fraction ``[start, stop]`` of its parent's.

    Lets a study hand each stage its own callback while one bar moves 0 → 1.
    """
    if progress is None:
        return None

    def inner(p: Progress) -> bool | None:
        frac = start + (stop - start) * p.fraction
        return progress(Progress(frac, 1.0, p.message, p.metrics))

    return inner


def console(stream=None, width: int = 30, every: float = 0.2) -> ProgressFn:
    """A progress callback that draws a text bar on ``stream`` (for command lines; default: the
    ``sys.stderr`` of the moment it is made, not of import time, so redirections are honoured)."""
    stream = sys.stderr if stream is None else stream
    last = [0.0]

    def draw(p: Progress) -> None:
        now = time.monotonic()
        if p.fraction < 1.0 and now - last[0] < every:
            return None
        last[0] = now
        filled = int(round(width * p.fraction))
        metrics = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.metrics.items())
        stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {100 * p.fraction:5.1f}% {p.message} {metrics}"[:160].ljust(
                100
            )
        )
        if p.fraction >= 1.0:
            stream.write("\n")
        stream.flush()
        return None

    return draw
