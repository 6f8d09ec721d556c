"""Checks made once at a boundary (a config, a projection call), with messages that name the
parameter, the value received and what was expected, as scikit-learn's do.

Every check raises :class:`~models.errors.ConfigError` (a ``ValueError``; or the ``error`` class given) and returns
the value
in its canonical type, so a caller writes ``k = check_int("k", k, low=2)`` and trusts ``k`` after.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ConfigError


def check_int(
    name: str, value: Any, low: int | None = 1, high: int | None = None, *, error: type[ValueError] = ConfigError
) -> int:
    """``value`` as an ``int`` in ``[low, high]``; bools and non-integral numbers are refused."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    if low is not None and high is not None:
        span = f"an integer from {low} to {high}"
    elif low is not None:
        span = f"an integer ≥ {low}"
    else:
        span = f"an integer ≤ {high}" if high is not None else "an integer"
    raise error(f"{name} must be {span} (got {value!r})")


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    error: type[ValueError] = ConfigError,
) -> float:
    """``value`` as a finite ``float`` in the interval given (closed unless ``*_open``)."""
    ok = (
        isinstance(value, (int, float, np.number))
        and not isinstance(value, (bool, np.bool_))
        and math.isfinite(float(value))
    )
    if ok:
        v = float(value)
        above = low is None or (v > low if low_open else v >= low)
        below = high is None or (v < high if high_open else v <= high)
        if above and below:
            return v
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    if low is not None and high is not None:
        span = f"a number in {left}{low}, {high}{right}"
    elif low is not None:
        span = f"a number {'>' if low_open else '≥'} {low}"
    elif high is not None:
        span = f"a number {'<' if high_open else '≤'} {high}"
    else:
        span = "a finite number"
    raise error(f"{name} must be {span} (got {value!r})")


def check_choice(name: str, value: Any, choices: Iterable[Any], *, error: type[ValueError] = ConfigError) -> Any:
    """``value`` if it is one of ``choices``."""
    choices = list(choices)
    if value in choices:
        return value
    raise error(f"{name} must be one of {', '.join(map(str, choices))} (got {value!r})")


def check_choices(
    name: str, values: Sequence[Any], choices: Iterable[Any], *, error: type[ValueError] = ConfigError
) -> tuple:
    """A non-empty tuple of ``values``, each one of ``choices``."""
    choices = list(choices)
    values = tuple(values) if not isinstance(values, str) else (values,)
    bad = [v for v in values if v not in choices]
    if not values or bad:
        raise error(f"{name} must be among {', '.join(map(str, choices))} (got {list(values)!r})")
    return values
