"""One layer's t-SNE for the projection study, shared by its in-process chain (:mod:`.project_engine`) and its
worker processes (:mod:`.project_pipeline`): openTSNE on the layer's shared k-NN graph, a chained layer stopped
on a KL plateau. Arguments and results pickle; nothing here imports the engine or the pipeline."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..progress import ProgressFn, report
from ..projections.knn_graph import tsne_affinities

TSNE_CALLBACK_EVERY = 25  # iterations between progress reports (and chances to cancel) inside a t-SNE layer
#: a chained layer (started from the previous layer's map, at most
#: :data:`models.projections.chain.WARM`'s iterations) stops once its KL fell by less than this fraction over
#: the last :data:`TSNE_PLATEAU_WINDOW` iterations, after at least :data:`TSNE_MIN_ITER` (bench/e2e.py and
#: BENCHMARKS.md: the KL this leaves against an independent run)
TSNE_PLATEAU = 0.005
TSNE_PLATEAU_WINDOW = 50
TSNE_MIN_ITER = 100


def plateaued(kls: list[float], iteration: int, *, every: int = TSNE_CALLBACK_EVERY) -> bool:
    """Whether a chained t-SNE layer may stop: ``kls`` are its KL values every ``every`` iterations (the last at
    ``iteration``, after early exaggeration); the last window lowered the KL by less than :data:`TSNE_PLATEAU`."""
    back = max(1, TSNE_PLATEAU_WINDOW // every)
    if iteration < TSNE_MIN_ITER or len(kls) <= back:
        return False
    before, now = kls[-1 - back], kls[-1]
    return before - now < TSNE_PLATEAU * abs(now)


def tsne_init(X: np.ndarray, previous: np.ndarray | None, seed: int) -> np.ndarray:
    """A layer's t-SNE start: the previous layer's map rescaled to σ 1e-4 (openTSNE's advice), else PCA of ``X``."""
    from openTSNE import initialization

    if previous is not None:
        return initialization.rescale(np.asarray(previous, dtype=np.float64))
    return initialization.pca(X, random_state=seed, verbose=False)


def fit_tsne(
    graph: tuple[np.ndarray, np.ndarray],
    init: np.ndarray,
    *,
    chained: bool,
    schedule: dict,
    perplexity: float,
    seed: int,
    n_jobs: int,
    progress: ProgressFn | None = None,
    snapshot: tuple[int, Callable[[np.ndarray], None]] | None = None,
) -> tuple[np.ndarray, float, int]:
    """openTSNE on a layer's shared graph from ``init`` with ``schedule`` (early exaggeration, then the main
    phase); a ``chained`` layer stops on a KL plateau (:func:`plateaued`). ``snapshot = (at, keep)`` hands
    ``keep`` a copy of the map once ``at`` iterations (both phases) are done: what the next layer of a pipelined
    chain starts from (:mod:`.project_pipeline`). Arguments and results pickle, so a worker process runs the same
    code as the in-process path. Returns the map, its KL and the iterations run (both phases)."""
    from openTSNE import TSNE

    exaggerated = schedule["early_exaggeration_iter"]
    total = exaggerated + schedule["n_iter"]
    calls, kls, stopped, done_at = [0], [], [False], [total]
    wanted = [snapshot]

    def tick(iteration, error, embedding):  # openTSNE counts each phase from 0; True stops the fit
        calls[0] += 1
        main = calls[0] > exaggerated // TSNE_CALLBACK_EVERY
        done = min(total, iteration + (exaggerated if main else 0))
        if wanted[0] is not None and done >= wanted[0][0]:
            wanted[0][1](np.array(embedding, dtype=np.float32))
            wanted[0] = None
        report(progress, done, total, f"t-SNE iteration {done}/{total}", kl=float(error))
        if not main:
            return False
        kls.append(float(error))
        stopped[0] = chained and plateaued(kls, iteration)
        done_at[0] = done
        return stopped[0]

    affinities = tsne_affinities(graph, perplexity, n_jobs=n_jobs)
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        random_state=seed,
        n_jobs=n_jobs,
        negative_gradient_method="auto",  # Barnes-Hut below 10,000 samples (FFT's grid costs more there), FFT above
        verbose=False,
        callbacks=tick,
        callbacks_every_iters=TSNE_CALLBACK_EVERY,
        **schedule,
    )
    emb = tsne.fit(affinities=affinities, initialization=init)
    if stopped[0]:  # an interrupted fit keeps the previous phase's KL: the last one seen is the map's
        return np.asarray(emb, dtype=np.float32), kls[-1], done_at[0]
    return np.asarray(emb, dtype=np.float32), float(emb.kl_divergence), total
