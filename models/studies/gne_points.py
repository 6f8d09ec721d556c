"""What a person does with a trained GNE: embed new samples with the generator frozen
(:func:`embed_new`), move chosen points by hand and train on (:func:`move_points`, stored as a
new run by :func:`run_move`), place the held-out split (:func:`place_heldout`, cached by
:func:`heldout`). The dashboard's Latent plane tab calls these inside its jobs (torch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import datasets
from ..cache import ResultCache
from ..errors import UserError
from ..nets.gne import GNE, DenseGenerator
from ..nets.vae import VAE
from ..progress import ProgressFn, report, scaled
from ..store import Run, RunStore
from ..training import adam, batches, fit, seed_everything, to_tensor
from .base import check_kind
from .gne import KIND, Heldout, Moved, heldout_key
from .gne_data import heldout_data, load_data
from .gne_models import (
    config_of,
    device_of,
    encode,
    gne_step,
    grid_extent,
    grid_points,
    load_models,
    reconstruction_error,
)
from .gne_save import save

__all__ = ["NewPoints", "embed_new", "move_points", "load_models", "run_move", "place_heldout", "place", "heldout"]


# -- new points --------------------------------------------------------------
@dataclass
class NewPoints:
    """New samples placed on a frozen generator's plane."""

    embedding: np.ndarray  # M×d, the best points found
    error: np.ndarray  # M, reconstruction MSE at ``embedding``
    start: np.ndarray  # M×d, the starting guesses
    start_error: np.ndarray  # M, reconstruction MSE at the starting guesses
    seconds: float = 0.0


def embed_new(
    generator: DenseGenerator,
    X: np.ndarray,
    *,
    reference: np.ndarray | None = None,
    init: np.ndarray | None = None,
    steps: int = 200,
    lr: float = 0.02,
    guess_grid: int = 16,
    support_radius: float = 0.1,
    support_weight: float = 10.0,
    max_reference: int = 4096,
    progress: ProgressFn | None = None,
) -> NewPoints:
    """Embed unseen samples by optimising only their points, the generator frozen.

    All samples are optimised together (one tensor of M points, one Adam), each with
    its own loss so batch size does not change the step. The starting guess is
    ``init`` or, by default, the best decoding candidate among a ``guess_grid``² grid
    over ``reference``'s robust extent and (up to ``max_reference`` of) the reference
    points themselves — the training embedding — keeping only candidates within
    ``support_radius`` of a reference point. With a ``reference`` the loss adds
    ``support_weight`` · (distance to the nearest reference point − ``support_radius``)₊²:
    the generator was trained only within its noise (σ = 0.1) of the training points,
    and far from them it can decode a lucky match off the plane. The best point seen
    per sample (by that loss) is kept, so from the default guess the error never ends
    above the guess's.
    """
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0 (got {steps!r})")
    t0 = time.perf_counter()
    dev = device_of(generator)
    generator.eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    try:
        Xt = to_tensor(X, dev)
        support = None
        if reference is not None:
            ref = np.asarray(reference, np.float32)
            if len(ref) > max_reference:
                ref = ref[np.random.default_rng(0).choice(len(ref), max_reference, replace=False)]
            support = to_tensor(ref, dev)

        def off_support(z: torch.Tensor) -> torch.Tensor:
            if support is None:
                return torch.zeros(len(z), device=z.device)
            return torch.relu(torch.cdist(z, support).min(dim=1).values - support_radius) ** 2

        if init is not None:
            start = to_tensor(init, dev)
            if start.shape != (len(X), generator.latent_dim):
                raise ValueError(f"init must be {len(X)}×{generator.latent_dim} (got {tuple(start.shape)})")
        else:
            if support is None:
                raise ValueError("embed_new needs init (M×d starting points) or reference (the training embedding)")
            grid = to_tensor(grid_points(grid_extent(reference), guess_grid, generator.latent_dim), dev)
            cand = torch.cat([grid[off_support(grid) == 0], support])
            with torch.no_grad():
                dist = torch.cdist(Xt, generator(cand)) ** 2 / Xt.shape[1]
            start = cand[dist.argmin(dim=1)]

        def objective(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            err = torch.mean((generator(z) - Xt) ** 2, dim=1)
            return err, err + support_weight * off_support(z)

        with torch.no_grad():
            start_err, best_obj = objective(start)
        z = start.clone().requires_grad_(True)
        best, best_err = start.clone(), start_err.clone()
        opt = torch.optim.Adam([z], lr=lr)
        for i in range(steps + 1):
            opt.zero_grad(set_to_none=True)
            err, obj = objective(z)
            with torch.no_grad():
                better = obj < best_obj
                best = torch.where(better[:, None], z.detach(), best)
                best_err = torch.where(better, err.detach(), best_err)
                best_obj = torch.where(better, obj.detach(), best_obj)
            if i == steps:
                break
            obj.sum().backward()
            opt.step()
            if progress is not None and (i % 20 == 0 or i == steps - 1):
                report(progress, i + 1, steps, "placing new points", mse=float(best_err.mean()))
    finally:
        for p in generator.parameters():
            p.requires_grad_(True)
    return NewPoints(
        best.cpu().numpy(),
        best_err.cpu().numpy(),
        start.cpu().numpy(),
        start_err.cpu().numpy(),
        time.perf_counter() - t0,
    )


def move_points(
    model: GNE,
    X: np.ndarray,
    ids: Sequence[int],
    *,
    displacement: Sequence[float] | None = None,
    targets: np.ndarray | None = None,
    pin: bool = True,
    epochs: int = 5,
    batch_size: int = 1024,
    lr: float = 1e-3,
    embedding_lr: float | None = 1e-2,
    progress: ProgressFn | None = None,
    seed: int = 0,
) -> Moved:
    """Move samples ``ids`` (by ``displacement`` or to ``targets``) and train the whole GNE on for ``epochs``.

    With ``pin`` the moved points are frozen (restored after every optimiser step)
    while every other point and the generator adapt around them. ``model`` is changed
    in place.
    """
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    n = model.n_samples
    if ids.size == 0:
        raise UserError("ids must name at least one sample to move (got none)")
    if ids.min() < 0 or ids.max() >= n:
        raise UserError(f"ids must be sample indices in [0, {n}) (got {ids.min()}..{ids.max()})")
    if (displacement is None) == (targets is None):
        raise ValueError("give exactly one of displacement (a d-vector) or targets (len(ids)×d)")
    if epochs < 0:
        raise UserError(f"epochs must be ≥ 0 (got {epochs!r})")
    if len(X) != n:
        raise ValueError(f"X has {len(X)} samples but the GNE has {n} points")
    dev = model.embedding.device
    before = model.embedding.detach()[to_tensor(ids, dev, torch.long)].cpu().numpy()
    if displacement is not None:
        d = np.asarray(displacement, np.float32).ravel()
        if d.size != model.embedding.shape[1]:
            raise UserError(f"displacement must have {model.embedding.shape[1]} values (got {d.size})")
        tgt = before + d
    else:
        tgt = np.asarray(targets, np.float32)
        if tgt.shape != before.shape:
            raise UserError(f"targets must be {before.shape[0]}×{before.shape[1]} (got {tgt.shape})")
    idx_t = to_tensor(ids, dev, torch.long)
    tgt_t = to_tensor(tgt, dev)
    with torch.no_grad():
        model.embedding[idx_t] = tgt_t

    def hold(_step: int) -> None:
        if pin:
            with torch.no_grad():
                model.embedding[idx_t] = tgt_t

    gen = seed_everything(seed)
    data = batches(torch.arange(n, device=dev), to_tensor(X, dev), batch_size=batch_size, shuffle=True, generator=gen)
    opt = adam(
        [{"params": model.generator.parameters()}, {"params": [model.embedding], "lr": embedding_lr or lr}], lr=lr
    )
    history = fit(model, opt, gne_step, data, epochs=epochs, progress=progress, after_step=hold, message="training on")
    after = model.embedding.detach()[idx_t].cpu().numpy()
    return Moved(ids, before, tgt, after, bool(pin), history)


# -- runs ------------------------------------------------------------------------
def run_move(
    run: Run,
    ids: Sequence[int],
    *,
    store: RunStore,
    displacement: Sequence[float] | None = None,
    targets: np.ndarray | None = None,
    pin: bool = True,
    epochs: int = 5,
    data_dir=None,
    progress: ProgressFn | None = None,
) -> Run:
    """Move samples of a GNE run, train on, and store the result as a new run (``metrics.parent`` names the old one).

    The new run holds ``moved`` arrays (the face's ``moved(run)`` reads them): ``ids``,
    ``before``, ``targets``, ``after``.
    """
    check_kind(run, KIND)
    config = config_of(run)
    ds = load_data(config, data_dir)
    gne, vae = load_models(run)
    if len(ds.features) != gne.n_samples:
        raise UserError(f"the dataset {config.dataset} now has {ds.n} samples but run {run.id} has {gne.n_samples}")
    moved = move_points(
        gne,
        ds.features,
        ids,
        displacement=displacement,
        targets=targets,
        pin=pin,
        epochs=epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        embedding_lr=config.embedding_lr,
        progress=scaled(progress, 0, 0.9),
        seed=config.seed,
    )
    metrics = {k: run.metrics.get(k) for k in ("gne_seconds_per_epoch", "vae_seconds_per_epoch", "epochs", "device")}
    metrics.update({"parent": run.id, "moved": int(len(moved.ids)), "pinned": moved.pinned, "epochs_on": int(epochs)})
    saved = save(
        store,
        config,
        ds,
        gne,
        vae,
        metrics=metrics,
        extra_arrays={
            "moved": {"ids": moved.ids, "before": moved.before, "targets": moved.targets, "after": moved.after}
        },
    )
    report(progress, 1, 1, "saved", gne_mse=saved.metrics["gne_mse"])
    return saved


def place_heldout(
    run: Run, *, data_dir=None, limit: int | None = 200, steps: int = 200, progress: ProgressFn | None = None
) -> dict[str, np.ndarray]:
    """Place ``limit`` samples no network of ``run`` saw on its GNE plane (new-point embedding) and
    through its VAE encoder: test samples when the dataset has a test split apart from the one trained
    on, else (MNIST with only its test files) samples of the trained split left out by ``--limit`` — the
    command line's ``--heldout`` rule (``gne_data.heldout_data``).

    Returns the arrays of the face's :class:`~models.studies.gne.Heldout`: ``gne``,
    ``gne_error``, ``gne_start``, ``gne_start_error``, ``vae``, ``vae_error``, ``labels``,
    ``index`` (positions in ``split``) and ``split``.
    """
    import dataclasses

    check_kind(run, KIND)
    config = dataclasses.replace(config_of(run), heldout=int(limit or 200))
    ds, _source = heldout_data(config, load_data(config, data_dir), data_dir)
    gne, vae = load_models(run)
    out = place(gne, vae, ds, steps=steps, progress=progress)
    out["split"] = np.array(ds.split or "test")
    return out


def place(
    gne: GNE, vae: VAE, ds: datasets.Dataset, *, steps: int = 200, progress: ProgressFn | None = None
) -> dict[str, np.ndarray]:
    """:func:`place_heldout`'s work on models in memory (the engine's ``--heldout`` calls it before saving)."""
    placed = embed_new(
        gne.generator,
        ds.features,
        reference=gne.embedding.detach().cpu().numpy(),
        steps=steps,
        support_radius=max(gne.noise, 1e-3),
        progress=progress,
    )
    vae_emb = encode(vae, ds.features)
    return {
        "gne": placed.embedding,
        "gne_error": placed.error,
        "gne_start": placed.start,
        "gne_start_error": placed.start_error,
        "vae": vae_emb,
        "vae_error": reconstruction_error(vae.generator, vae_emb, ds.features),
        "labels": ds.labels,
        "index": ds.index if ds.index is not None else np.arange(ds.n),
    }


def heldout(run: Run, *, cache: ResultCache, limit: int, data_dir=None, progress: ProgressFn | None = None) -> Heldout:
    """:func:`place_heldout` of ``limit`` test samples, computed once per run and kept in ``cache``
    under the face's ``heldout_key`` (where ``cached_heldout`` finds it)."""
    arrays, _meta = cache.get_or_compute(
        heldout_key(run.id, limit), lambda: (place_heldout(run, data_dir=data_dir, limit=limit, progress=progress), {})
    )
    return Heldout.from_arrays(arrays)
