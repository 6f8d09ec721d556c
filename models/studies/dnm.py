"""Deep neural maps (Pesteie et al.): a convolutional autoencoder and a SOM on its code, trained jointly.

1. pre-train the autoencoder on reconstruction;
2. pre-train the SOM on the codes (σ0·exp(−n/α), η0·exp(−n/α));
3. joint training, per batch: a SOM update on the batch's codes with a decaying
   neighbourhood, Student-t soft assignment ``q_ij`` of codes to prototypes, the
   sharpened target ``p_ij = (q_ij² / Σ_i q_ij) / Σ_j' (q_ij'² / Σ_i q_ij')``, and the loss
   KL(P‖Q) + γ·‖X − X̂‖² + β·‖θ‖² minimised by Adam, so the code itself moves to fit the map.

The run keeps what the Maps tab draws: every node's decoded prototype, majority class,
purity and hits, the U-matrix, and each sample's best-matching unit.

    python -m models.studies.dnm --dataset digits --epochs 20 --lattice 20x30
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass, field

import numpy as np

from models.studies.cli import finish
from ..progress import ProgressFn, report, scaled

KIND = "dnm"
TITLE = "Deep neural map"


@dataclass
class DNMConfig:
    """Everything that shapes a DNM run (stored as the run's config)."""

    dataset: str = "digits"
    lattice: str = "20x30"
    topology: str = "rect"
    code: int = 100
    pretrain_epochs: int = 30
    som_iterations: int = 10_000
    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3            # pre-training learning rate
    joint_lr: float = 1e-4      # joint training: small steps, so KL(P‖Q) refines rather than collapses the code
    gamma: float = 10.0         # weight of the reconstruction term
    beta: float = 1e-5          # weight decay on the autoencoder's weights
    sigma0: float = 10.0
    eta0: float = 0.3
    alpha: float = 2000.0
    joint_sigma: tuple[float, float] = (2.0, 0.5)   # neighbourhood width at the start / end of joint training
    joint_eta: float = 0.05
    limit: int | None = None
    seed: int = 0
    device: str | None = None
    summary: str = field(default="", repr=False)

    def validate(self) -> "DNMConfig":
        from ..nets.som import LATTICES, parse_lattice

        parse_lattice(self.lattice)
        if self.topology not in LATTICES:
            raise ValueError(f"topology must be one of {LATTICES} (got {self.topology!r})")
        for name in ("code", "batch_size", "som_iterations"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1 (got {getattr(self, name)!r})")
        for name in ("epochs", "pretrain_epochs"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be ≥ 0 (got {getattr(self, name)!r})")
        if self.gamma < 0 or self.beta < 0:
            raise ValueError(f"gamma and beta must be ≥ 0 (got {self.gamma}, {self.beta})")
        self.summary = f"{self.lattice} {self.topology} · {self.epochs} joint epochs"
        return self


# -- pure pieces -------------------------------------------------------------------
def soft_assignment(z, prototypes, dof: float = 1.0):
    """Student-t similarity of each code to each prototype, rows summing to 1 (n × nodes)."""
    d2 = (z * z).sum(1, keepdim=True) - 2 * z @ prototypes.T + (prototypes * prototypes).sum(1)
    q = (1.0 + d2.clamp_min(0) / dof).pow(-(dof + 1) / 2)
    return q / q.sum(1, keepdim=True)


def target_distribution(q):
    """The sharpened target p: square q, divide by each node's soft frequency, renormalise rows."""
    w = q * q / q.sum(0, keepdim=True)
    return w / w.sum(1, keepdim=True)


def lattice_summary(bmu: np.ndarray, labels: np.ndarray, n_nodes: int, n_classes: int) -> dict[str, np.ndarray]:
    """Per node: hits, majority class (−1 when empty) and purity (majority share; NaN when empty)."""
    counts = np.zeros((n_nodes, n_classes), dtype=np.int64)
    np.add.at(counts, (bmu, labels), 1)
    hits = counts.sum(1)
    majority = np.where(hits > 0, counts.argmax(1), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        purity = np.where(hits > 0, counts.max(1) / np.maximum(hits, 1), np.nan)
    return {"hits": hits, "majority": majority, "purity": purity, "class_counts": counts}


def mean_purity(bmu: np.ndarray, labels: np.ndarray, n_nodes: int, n_classes: int) -> float:
    """Mean majority-class share over occupied nodes."""
    return float(np.nanmean(lattice_summary(bmu, labels, n_nodes, n_classes)["purity"]))


# -- the study -----------------------------------------------------------------------
def train_dnm(cfg: DNMConfig, ds, *, progress: ProgressFn | None = None) -> dict:
    """Train a DNM on ``ds`` and return its parts (model, som, arrays, metrics)."""
    import torch
    from torch.nn import functional as F

    from ..nets.autoencoders import ConvAutoencoder, as_images, image_shape_of
    from ..nets.som import SOM, parse_lattice
    from ..training import batches, default_device, fit, seed_everything

    cfg.validate()
    if ds.images is None:
        raise ValueError(f"dataset {ds.name!r} has no images; a DNM needs image data")
    rows, cols = parse_lattice(cfg.lattice)
    device = default_device(cfg.device)
    gen = seed_everything(cfg.seed)
    shape = image_shape_of(ds.image_shape)
    X = as_images(torch.as_tensor(ds.features, dtype=torch.float32), shape).to(device)
    model = ConvAutoencoder(shape, code=cfg.code).to(device)

    # 1. the autoencoder alone
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def recon_step(m, batch):
        x, = batch
        _, xh = m(x)
        return F.mse_loss(xh, x)

    data = batches(X, batch_size=cfg.batch_size, generator=gen)
    if cfg.pretrain_epochs:
        fit(model, opt, recon_step, data, epochs=cfg.pretrain_epochs, progress=scaled(progress, 0.0, 0.35),
            message="pre-training autoencoder")

    def codes() -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            return torch.cat([model.encode(X[s:s + 1024]) for s in range(0, X.shape[0], 1024)])

    # 2. the SOM on the codes
    som = SOM(rows, cols, cfg.code, lattice=cfg.topology, sigma0=cfg.sigma0, eta0=cfg.eta0, alpha=cfg.alpha,
              seed=cfg.seed, device=device)
    som.fit(codes(), iterations=cfg.som_iterations, batch_size=cfg.batch_size, progress=scaled(progress, 0.35, 0.45))

    # 3. joint training: SOM update + KL(P‖Q) + γ·reconstruction + β·‖θ‖²
    total = max(1, cfg.epochs * len(data))
    s0, s1 = cfg.joint_sigma
    decay = total / math.log(max(s0 / s1, 1.0 + 1e-9))
    joint = SOM(rows, cols, cfg.code, lattice=cfg.topology, sigma0=s0, eta0=cfg.joint_eta, alpha=decay,
                seed=cfg.seed, device=device)
    joint.prototypes = som.prototypes
    counter = [0]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.joint_lr)

    def joint_step(m, batch):
        x, = batch
        z, xh = m(x)
        joint.step(z.detach(), n=counter[0])
        counter[0] += 1
        q = soft_assignment(z, joint.prototypes)
        p = target_distribution(q.detach())
        kl = (p * (torch.log(p + 1e-12) - torch.log(q + 1e-12))).sum(1).mean()
        rec = F.mse_loss(xh, x)
        l2 = sum((w * w).sum() for name, w in m.named_parameters() if name.endswith("weight"))
        return kl + cfg.gamma * rec + cfg.beta * l2, {"kl": kl.detach(), "recon": rec.detach()}

    history = None
    if cfg.epochs:
        history = fit(model, opt, joint_step, data, epochs=cfg.epochs, progress=scaled(progress, 0.45, 0.95),
                      message="joint training")
    som.prototypes = joint.prototypes

    # outputs for the lattice
    report(progress, 0.97, 1.0, "mapping samples")
    Z = codes()
    bmu = som.bmu(Z)
    summary = lattice_summary(bmu, ds.labels, som.n_nodes, ds.n_classes)
    with torch.no_grad():
        decoded = torch.cat([model.decode(som.prototypes[s:s + 512]) for s in range(0, som.n_nodes, 512)])
    decoded = decoded.permute(0, 2, 3, 1).cpu().numpy()                     # nodes × H × W × C
    decoded = decoded[..., 0] if shape[0] == 1 else decoded
    prototypes_img = (np.clip(decoded, 0, 1) * 255).round().astype(np.uint8)
    metrics = {
        "purity": float(np.nanmean(summary["purity"])),
        "quantization_error": som.quantization_error(Z),
        "topographic_error": som.topographic_error(Z),
        "occupied_nodes": int((summary["hits"] > 0).sum()),
        "recon_mse": float(F.mse_loss(model(X)[1], X).detach()) if X.shape[0] <= 20_000 else float("nan"),
        "joint_loss": history.last("loss") if history else float("nan"),
    }
    arrays = {
        "prototype_images": prototypes_img,
        "prototypes": som.prototypes.cpu().numpy(),
        "hits": summary["hits"].reshape(rows, cols),
        "majority": summary["majority"].reshape(rows, cols),
        "purity": summary["purity"].reshape(rows, cols),
        "class_counts": summary["class_counts"],
        "u_matrix": som.u_matrix(),
        "positions": som.positions.cpu().numpy(),
        "bmu": bmu,
        "labels": ds.labels,
        "index": ds.index if ds.index is not None else np.arange(ds.n),
    }
    report(progress, 1.0, 1.0, "done", purity=metrics["purity"])
    return {"model": model, "som": som, "arrays": arrays, "metrics": metrics, "history": history}


def run_dnm(cfg: DNMConfig, store, *, data_dir=None, progress: ProgressFn | None = None):
    """Load the dataset, train, and save a ``dnm`` run; return the stored :class:`~models.store.Run`."""
    from .. import datasets

    cfg.validate()
    ds = datasets.load(cfg.dataset, data_dir=data_dir, limit=cfg.limit, seed=cfg.seed)
    out = train_dnm(cfg, ds, progress=progress)
    with store.writer(KIND, dataset=cfg.dataset, config=asdict(cfg), seed=cfg.seed) as w:
        w.metrics.update(out["metrics"])
        w.manifest["summary"] = f"{cfg.lattice} · purity {out['metrics']['purity']:.2f}"
        w.add_arrays("lattice", out["arrays"])
        w.add_weights("model", out["model"].state_dict())
        w.add_weights("som", out["som"].state_dict())
        if out["history"] is not None:
            import json

            w.add_file("history.json", json.dumps(out["history"].epochs, default=float))
    return store.load(w.id)


def main(argv: list[str] | None = None) -> int:
    from ..store import RunStore

    ap = argparse.ArgumentParser(prog="python -m models.studies.dnm", description="Train a deep neural map.")
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--store-dir", default="runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lattice", default="20x30", help="ROWSxCOLS (default 20x30)")
    ap.add_argument("--topology", default="rect", choices=["rect", "hex"])
    ap.add_argument("--epochs", type=int, default=20, help="joint training epochs")
    ap.add_argument("--pretrain-epochs", type=int, default=30)
    ap.add_argument("--som-iterations", type=int, default=10_000)
    ap.add_argument("--code", type=int, default=100)
    ap.add_argument("--gamma", type=float, default=10.0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)
    cfg = DNMConfig(dataset=args.dataset, lattice=args.lattice, topology=args.topology, epochs=args.epochs,
                    pretrain_epochs=args.pretrain_epochs, som_iterations=args.som_iterations, code=args.code,
                    gamma=args.gamma, limit=args.limit, seed=args.seed, device=args.device)
    return finish(lambda progress: run_dnm(cfg, RunStore(args.store_dir), data_dir=args.data_dir, progress=progress),
                  lambda run: [f"purity {run.metrics['purity']:.3f} · quantization error "
                               f"{run.metrics['quantization_error']:.4f} · topographic error "
                               f"{run.metrics['topographic_error']:.3f} · {run.metrics['occupied_nodes']} nodes occupied"])


if __name__ == "__main__":
    sys.exit(main())
