"""Comparing representations of the same samples (NumPy; torch only when a GPU is asked for).

``cka``: linear, debiased-minibatch and RBF CKA, one pair or all pairs; ``probes``: linear-probe and
k-NN accuracy per layer; ``movers``: per sample, the share of its neighbours two representations keep.
"""

from .cka import METRICS, cka_matrix, linear_cka, minibatch_cka, rbf_cka
from .movers import kept_share, movers
from .probes import knn_accuracy, probe_accuracy

__all__ = [
    "METRICS",
    "cka_matrix",
    "kept_share",
    "knn_accuracy",
    "linear_cka",
    "minibatch_cka",
    "movers",
    "probe_accuracy",
    "rbf_cka",
]
