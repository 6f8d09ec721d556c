"""LayerScope's computing half: datasets, networks, training, projections, studies, the run store.

Nothing here imports Dash or Plotly, and importing this package does not import torch:
the web process stays light and torch is touched only inside jobs.
"""

# what ``from models import *`` loads: the light modules only (``training`` and ``nets`` import torch; a job
# imports them by name)
__all__ = ["datasets", "store", "progress", "projections", "studies", "errors"]
