"""The "Your model" tab: pick a model file from the models folder, see its layer tree (one
forward pass on a few samples, in a job), tick layers, adjust how the dataset is fitted to the
model's input, and capture (a job running :mod:`models.studies.capture`). The new run opens in
Layers; the capture face (:mod:`models.studies.capture`) and :mod:`dashboard.capture_panels` are what
Layers and Hardness read of it."""

from __future__ import annotations

from .callbacks import register_callbacks
from .layout import layout

TAB_ID = "model"
LABEL = "Your model"
TRAINS = "capture"

__all__ = ["LABEL", "TAB_ID", "TRAINS", "layout", "register_callbacks"]
