"""Projections to 2-D behind one call, the hardness score, and quality metrics.

``project(X, method, seed=0, **params)`` returns a :class:`Projection` (:mod:`.methods` holds
the method registry ``METHODS`` and the scikit-learn / openTSNE / UMAP wrappers). Hardness
(:func:`hardness`, :mod:`.affinity`) is the exact KL(P‖Q) of a 2-D embedding, the cost t-SNE
minimises. Quality metrics (:func:`quality`, :mod:`.quality`): trustworthiness, continuity,
k-NN preservation, and k-NN accuracy in 2-D. :func:`procrustes_align` (:mod:`.align`) lines
consecutive layers' panels up.
"""

from __future__ import annotations

from .affinity import (
    MACHINE_EPSILON,
    conditional_affinities,
    hardness,
    joint_affinities,
    kl_divergence,
    squared_distances,
    student_affinities,
)
from .align import procrustes_align
from .checks import ProjectionError
from .methods import LIMITS, METHODS, Projection, project
from .quality import knn_accuracy, knn_preservation, quality

__all__ = [
    "LIMITS",
    "MACHINE_EPSILON",
    "METHODS",
    "Projection",
    "ProjectionError",
    "conditional_affinities",
    "hardness",
    "joint_affinities",
    "kl_divergence",
    "knn_accuracy",
    "knn_preservation",
    "procrustes_align",
    "project",
    "quality",
    "squared_distances",
    "student_affinities",
]
