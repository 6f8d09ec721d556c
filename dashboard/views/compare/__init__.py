"""The Compare tab (issue 20): how alike two layers, two checkpoints or two models are, what each layer
knows, and which samples changed most between two layers.

``layout`` (the form, heatmaps, curves, movers list) · ``callbacks`` (the Compare job, drawing, a click on
a cell → Layers and the movers job, "Select these") · ``data`` (sources, the form → the study's config, a
compare run's numbers; no Dash) · ``figures`` (pure: heatmaps and curves). The numbers come from
:mod:`models.studies.compare`; this tab only starts that study and draws its runs.
"""

from __future__ import annotations

from .callbacks import register_callbacks
from .data import KIND
from .layout import LABEL, TAB_ID, layout

TRAINS = KIND  # "New run… → Compare representations" opens this tab
KINDS = (KIND,)  # the run bar lists compare runs

__all__ = ["TAB_ID", "LABEL", "TRAINS", "KIND", "KINDS", "layout", "register_callbacks"]
