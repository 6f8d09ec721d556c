"""LayerScope's showing half: the Dash app, its layout, figures and views.

Nothing here trains a network or runs a projection itself: views call ``models/``
from background callbacks and draw what comes back.
"""
