"""The Explore tab: bring your own embeddings and look for label mistakes, outliers and
error clusters on a 2-D map; click a point (or lasso a group) to see its most similar
samples; export a selection as CSV for relabelling.

``layout`` (the controls, the map, the side lists) · ``callbacks`` (compute job, run choice,
drawing, selection, hover, export) · ``data`` (the run and its dataset read through
``dashboard.state``; filters, colours, CSV) · ``figures`` (pure: the map and the side lists).
"""

from __future__ import annotations

from .callbacks import register_callbacks
from .layout import LABEL, TAB_ID, layout

TRAINS = "explore"
SHOWN = "explore-run"  # the store holding the run the tab draws (the bar above the tabs follows it)

__all__ = ["TAB_ID", "LABEL", "TRAINS", "SHOWN", "layout", "register_callbacks"]
