"""Numbers as people read them in the UI."""

from __future__ import annotations


def metric_text(value: float | int) -> str:
    """A run metric: counts as integers with separators (``20,000``, never ``2e+04``), other values to 4 digits."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:.4g}"
