"""The errors a person can fix, apart from the bugs.

A :class:`UserError` is bad input a person can act on — a config value out of range, a missing or
corrupt file, a model that does not run, a run of the wrong kind — and its message says what and how.
The command lines print it as one ``error:`` line (exit 2) and a job shows its message; any other
exception is a bug in LayerScope and keeps its traceback (stderr, exit 1; the job's log).

The families derive from it where they live: ``DatasetError`` (models/datasets/dataset.py),
``ModelError`` (models/capture/errors.py), ``StoreError`` (models/store.py), ``ProjectionError``
(models/projections/checks.py); :class:`ConfigError` is what the checks of models/validation.py and
every study config raise. ``UserError`` is a ``ValueError``, so callers that catch ``ValueError`` still do.
"""

from __future__ import annotations

__all__ = ["UserError", "ConfigError", "TrainingDiverged"]


class UserError(ValueError):
    """Bad input a person can fix; the message names it and the fix."""


class ConfigError(UserError):
    """A setting (a config field, a form value) out of range: names it, the value and what was expected."""


class TrainingDiverged(UserError, FloatingPointError):
    """The loss became NaN or infinite: a setting (most often the learning rate) is too large."""
