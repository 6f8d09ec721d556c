"""The Latent plane tab: a GNE and a VAE with the same decoder, side by side.

Each side shows its 2-D embedding (hover a point for its image), the images decoded on a k×k
grid of the plane and the nearest real sample of every grid point. On the GNE side a person
selects points (box or lasso), drags the red handle to move them, optionally pins them, and
trains on; the result is a new run showing the points before and after. Held-out samples (the
test split) are placed by new-point embedding (GNE) and by the encoder (VAE), drawn as crosses.

``layout`` holds the components, ``callbacks`` the wiring and the three jobs, ``figures`` the
pure figure and text functions, ``data`` the server-side reads (through ``state`` and the GNE
face's readers). All training and placing runs as jobs through ``models.studies.gne`` (its face:
no torch in the web process) and ``models.studies.gne_points``.
"""

from __future__ import annotations

from models.studies.gne import KIND

from .callbacks import register_callbacks
from .layout import LABEL, TAB_ID, layout

TRAINS = KIND

__all__ = ["TAB_ID", "LABEL", "TRAINS", "layout", "register_callbacks"]
