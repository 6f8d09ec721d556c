"""The one error a model file, format or capture raises: a person's mistake, not a bug."""

from __future__ import annotations

from ..errors import UserError


class ModelError(UserError):
    """A model could not be found, loaded or fitted; the message names the file, the value and the fix."""
