"""The choices the nets' constructors accept, torch-free, so a study's config and ``--help`` offer
the same lists the nets check without importing torch.

Imports flow one way: ``studies`` → ``nets`` (this module included), never back; a net that
imported its study's face would pull the study layer into every ``state_dict`` load.
"""

from __future__ import annotations

__all__ = ["ACTIVATIONS", "MAX_DEPTH", "GENERATORS", "DNM_ARCHITECTURES"]

#: the MLP's hidden-layer activations, in the order the hardness study's seeds and figures use
ACTIVATIONS = ("logsig", "tanh", "softsign", "relu")
#: the deepest MLP (the hardness paper's)
MAX_DEPTH = 7
#: the GNE/VAE generator kinds ``nets.gne.make_generator`` builds (auto: deconvolutional for images ≥ 28×28)
GENERATORS = ("auto", "dense", "deconv")
#: the deep neural map's two autoencoders (``nets.autoencoders.dnm_autoencoder``)
DNM_ARCHITECTURES = ("compact", "paper")
