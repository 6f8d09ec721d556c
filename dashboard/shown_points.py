"""How many samples the Layers tab shows for a capture run, said plainly, and its points sent as typed arrays.

Every panel draws every sample (a projection run holds them all); the status says so ("20,000 of 20,000
samples") and would name a subset ("10,000 of 70,000 samples") rather than hide one.
"""

from __future__ import annotations

import numpy as np


def count_text(shown: int, total: int) -> str:
    """``"20,000 of 20,000 samples"``: integers with thousands separators, never ``2e+04``."""
    return f"{int(shown):,} of {int(total):,} samples"


def typed_points(fig) -> None:
    """Keep every per-point array of ``fig``'s traces a numpy array, so Plotly sends it as a typed array
    (base64 ``bdata``) rather than a JSON list: coordinates, colours and ``customdata`` (hover events then
    carry ``pointIndex``, which the views read)."""
    for trace in fig.data:
        if trace.customdata is not None and not isinstance(trace.customdata, np.ndarray):
            custom = np.asarray(trace.customdata)
            # int32: Plotly keeps int64 as a list (JavaScript has no Int64Array); sample indices fit
            trace.customdata = None  # Plotly ignores setting a value equal to the current one: clear it first
            trace.customdata = custom.astype(np.int32) if custom.dtype.kind in "iu" else custom
