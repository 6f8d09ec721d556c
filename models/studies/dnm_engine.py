"""The deep neural map's engine (torch): pre-train the autoencoder, pre-train the SOM on its code,
train both jointly, and write the ``dnm`` run. Imported only when a run starts (see
:mod:`models.studies.dnm`, the study's face, for the config and the readers)."""
from __future__ import annotations

import json
import math

import numpy as np
import torch
from torch.nn import functional as F

from .. import datasets
from ..nets.autoencoders import ConvAutoencoder, as_images, image_shape_of
from ..nets.som import SOM
from ..progress import ProgressFn, report, scaled
from ..store import Run, RunStore
from .base import with_split
from .dnm import ARRAYS, KIND, Config, lattice_summary
from ..training import batches, default_device, fit, seed_everything


def soft_assignment(z: torch.Tensor, prototypes: torch.Tensor, dof: float = 1.0) -> torch.Tensor:
    """Student-t similarity of each code to each prototype, rows summing to 1 (n × nodes)."""
    d2 = (z * z).sum(1, keepdim=True) - 2 * z @ prototypes.T + (prototypes * prototypes).sum(1)
    q = (1.0 + d2.clamp_min(0) / dof).pow(-(dof + 1) / 2)
    return q / q.sum(1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """The sharpened target p: square q, divide by each node's soft frequency, renormalise rows."""
    w = q * q / q.sum(0, keepdim=True)
    return w / w.sum(1, keepdim=True)


def train(config: Config, ds: datasets.Dataset, *, progress: ProgressFn | None = None) -> dict:
    """Train a DNM on ``ds`` and return its parts (model, som, arrays, metrics, history)."""
    if ds.images is None:
        raise ValueError(f"dataset {ds.name!r} has no images; a DNM needs image data")
    rows, cols = config.shape
    device = default_device(config.device)
    gen = seed_everything(config.seed)
    shape = image_shape_of(ds.image_shape)
    X = as_images(torch.as_tensor(ds.features, dtype=torch.float32), shape).to(device)
    model = ConvAutoencoder(shape, code=config.code).to(device)

    # 1. the autoencoder alone
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)

    def recon_step(m, batch):
        x, = batch
        _, xh = m(x)
        return F.mse_loss(xh, x)

    data = batches(X, batch_size=config.batch_size, generator=gen)
    if config.pretrain_epochs:
        fit(model, opt, recon_step, data, epochs=config.pretrain_epochs, progress=scaled(progress, 0.0, 0.35),
            message="pre-training autoencoder")

    def codes() -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            return torch.cat([model.encode(X[s:s + 1024]) for s in range(0, X.shape[0], 1024)])

    # 2. the SOM on the codes
    som = SOM(rows, cols, config.code, lattice=config.topology, sigma0=config.sigma0, eta0=config.eta0,
              alpha=config.alpha, seed=config.seed, device=device)
    som.fit(codes(), iterations=config.som_iterations, batch_size=config.batch_size,
            progress=scaled(progress, 0.35, 0.45))

    # 3. joint training: SOM update + KL(P‖Q) + γ·reconstruction + β·‖θ‖²
    total = max(1, config.epochs * len(data))
    s0, s1 = config.joint_sigma
    decay = total / math.log(max(s0 / s1, 1.0 + 1e-9))
    joint = SOM(rows, cols, config.code, lattice=config.topology, sigma0=s0, eta0=config.joint_eta, alpha=decay,
                seed=config.seed, device=device)
    joint.prototypes = som.prototypes
    counter = [0]
    opt = torch.optim.Adam(model.parameters(), lr=config.joint_lr)

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
        return kl + config.gamma * rec + config.beta * l2, {"kl": kl.detach(), "recon": rec.detach()}

    history = None
    if config.epochs:
        history = fit(model, opt, joint_step, data, epochs=config.epochs, progress=scaled(progress, 0.45, 0.95),
                      message="joint training")
    som.prototypes = joint.prototypes

    # outputs for the lattice
    report(progress, 0.97, 1.0, "mapping samples")
    Z = codes()
    bmu = som.bmu(Z)
    nodes = lattice_summary(bmu, ds.labels, som.n_nodes, ds.n_classes)
    with torch.no_grad():
        decoded = torch.cat([model.decode(som.prototypes[s:s + 512]) for s in range(0, som.n_nodes, 512)])
    decoded = decoded.permute(0, 2, 3, 1).cpu().numpy()                     # nodes × H × W × C
    decoded = decoded[..., 0] if shape[0] == 1 else decoded
    prototypes_img = (np.clip(decoded, 0, 1) * 255).round().astype(np.uint8)
    metrics = {
        "purity": float(np.nanmean(nodes["purity"])),
        "quantization_error": som.quantization_error(Z),
        "topographic_error": som.topographic_error(Z),
        "occupied_nodes": int((nodes["hits"] > 0).sum()),
        "recon_mse": float(F.mse_loss(model(X)[1], X).detach()) if X.shape[0] <= 20_000 else float("nan"),
        "joint_loss": history.last("loss") if history else float("nan"),
    }
    arrays = {
        "prototype_images": prototypes_img,
        "prototypes": som.prototypes.cpu().numpy(),
        "hits": nodes["hits"].reshape(rows, cols),
        "majority": nodes["majority"].reshape(rows, cols),
        "purity": nodes["purity"].reshape(rows, cols),
        "class_counts": nodes["class_counts"],
        "u_matrix": som.u_matrix(),
        "positions": som.positions.cpu().numpy(),
        "bmu": bmu,
        "labels": ds.labels,
        "index": ds.index if ds.index is not None else np.arange(ds.n),
    }
    report(progress, 1.0, 1.0, "done", purity=metrics["purity"])
    return {"model": model, "som": som, "arrays": arrays, "metrics": metrics, "history": history}


def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None) -> Run:
    """Load the dataset, train, and save a ``dnm`` run; return the stored run."""
    config = with_split(config, data_dir)  # the split trained on (train, or the one present) goes into the manifest
    ds = datasets.load(config.dataset, data_dir=data_dir, split=config.split, limit=config.limit, seed=config.seed)
    out = train(config, ds, progress=progress)
    with store.writer(KIND, dataset=config.dataset, config=config.record(), seed=config.seed) as w:
        w.metrics.update(out["metrics"])
        w.manifest["summary"] = f"{config.lattice} · purity {out['metrics']['purity']:.2f}"
        w.add_arrays(ARRAYS, out["arrays"])
        w.add_weights("model", out["model"].state_dict())
        w.add_weights("som", out["som"].state_dict())
        if out["history"] is not None:
            w.add_file("history.json", json.dumps(out["history"].epochs, default=float))
    return store.load(w.id)
