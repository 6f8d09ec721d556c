"""The deep neural map's engine (torch): pre-train the autoencoder, pre-train the SOM on its code,
train both jointly, and write the ``dnm`` run. Imported only when a run starts (see
:mod:`models.studies.dnm`, the study's face, for the config and the readers)."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import torch
from torch.nn import functional as F

from .. import datasets
from ..nets.autoencoders import as_images, dnm_autoencoder, image_shape_of
from ..nets.som import SOM
from ..progress import ProgressFn, report, scaled
from ..store import Run, RunStore
from ..training import batches, default_device, fit, seed_everything
from .base import with_split
from .dnm import ARRAYS, KIND, Config, gradient_energy, lattice_summary, prototype_errors, sharpness_ratios
from .mosaic import mosaic


def soft_assignment(z: torch.Tensor, prototypes: torch.Tensor, dof: float = 1.0) -> torch.Tensor:
    """Student-t similarity of each code to each prototype, rows summing to 1 (n × nodes)."""
    d2 = (z * z).sum(1, keepdim=True) - 2 * z @ prototypes.T + (prototypes * prototypes).sum(1)
    q = (1.0 + d2.clamp_min(0) / dof).pow(-(dof + 1) / 2)
    return q / q.sum(1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """The sharpened target p: square q, divide by each node's soft frequency, renormalise rows."""
    w = q * q / q.sum(0, keepdim=True)
    return w / w.sum(1, keepdim=True)


def resized(X: torch.Tensor, size: int | None) -> torch.Tensor:
    """``N × C × H × W`` images resized to ``size × size`` with torch's bilinear interpolation (antialiased
    when shrinking, so thin strokes survive), clipped to [0, 1]; unchanged when ``size`` is None or already so."""
    if size is None or tuple(X.shape[-2:]) == (size, size):
        return X
    shrink = size < max(X.shape[-2:])
    out = [
        F.interpolate(X[s : s + 1024], size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
        for s in range(0, X.shape[0], 1024)
    ]
    return torch.cat(out).clamp_(0, 1)


class Iterations:
    """``data`` (a callable giving one epoch of batches) as exactly ``n`` batches, running through as many
    reshuffled epochs as it takes: pre-training counted in iterations, as the paper counts it."""

    def __init__(self, data, n: int):
        self.data, self.n = data, int(n)

    def __len__(self) -> int:
        return self.n

    def __call__(self):
        done = 0
        while done < self.n:
            for batch in self.data():
                if done >= self.n:
                    return
                done += 1
                yield batch


def _as_numpy_images(X: torch.Tensor) -> np.ndarray:
    """``N × C × H × W`` floats → ``N × H × W`` (grey) or ``N × H × W × C`` numpy, as the run stores images."""
    out = X.permute(0, 2, 3, 1).cpu().numpy()
    return out[..., 0] if out.shape[-1] == 1 else out


def train(config: Config, ds: datasets.Dataset, *, progress: ProgressFn | None = None) -> dict:
    """Train a DNM on ``ds`` and return its parts (model, som, arrays, metrics, history)."""
    if ds.images is None:
        raise datasets.DatasetError(f"dataset {ds.name!r} has no images; a DNM needs image data")
    rows, cols = config.shape
    device = default_device(config.device)
    gen = seed_everything(config.seed)
    t0 = time.perf_counter()
    shape = image_shape_of(ds.image_shape)
    X = resized(as_images(torch.as_tensor(ds.features, dtype=torch.float32), shape), config.resize).to(device)
    shape = (shape[0], *X.shape[-2:])
    model = dnm_autoencoder(shape, code=config.code, architecture=config.architecture).to(device)

    # 1. the autoencoder alone
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)

    def recon_step(m, batch):
        (x,) = batch
        _, xh = m(x)
        return F.mse_loss(xh, x)

    data = batches(X, batch_size=config.batch_size, generator=gen)
    if config.pretrain_iterations is not None:
        if config.pretrain_iterations:
            fit(
                model,
                opt,
                recon_step,
                Iterations(data, config.pretrain_iterations),
                epochs=1,
                progress=scaled(progress, 0.0, 0.35),
                message="pre-training autoencoder",
            )
    elif config.pretrain_epochs:
        fit(
            model,
            opt,
            recon_step,
            data,
            epochs=config.pretrain_epochs,
            progress=scaled(progress, 0.0, 0.35),
            message="pre-training autoencoder",
        )

    def codes() -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            return torch.cat([model.encode(X[s : s + 1024]) for s in range(0, X.shape[0], 1024)])

    # 2. the SOM on the codes
    som = SOM(
        rows,
        cols,
        config.code,
        lattice=config.topology,
        sigma0=config.sigma0,
        eta0=config.eta0,
        alpha=config.alpha,
        seed=config.seed,
        device=device,
    )
    som.fit(
        codes(), iterations=config.som_iterations, batch_size=config.batch_size, progress=scaled(progress, 0.35, 0.45)
    )

    # 3. joint training: SOM update + KL(P‖Q) + γ·reconstruction + β·‖θ‖²
    total = max(1, config.epochs * len(data))
    s0, s1 = config.joint_sigma
    decay = total / math.log(max(s0 / s1, 1.0 + 1e-9))
    joint = SOM(
        rows,
        cols,
        config.code,
        lattice=config.topology,
        sigma0=s0,
        eta0=config.joint_eta,
        alpha=decay,
        seed=config.seed,
        device=device,
    )
    joint.prototypes = som.prototypes
    counter = [0]
    opt = torch.optim.Adam(model.parameters(), lr=config.joint_lr)

    def joint_step(m, batch):
        (x,) = batch
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
        history = fit(
            model,
            opt,
            joint_step,
            data,
            epochs=config.epochs,
            progress=scaled(progress, 0.45, 0.95),
            message="joint training",
        )
    som.prototypes = joint.prototypes

    # outputs for the lattice
    report(progress, 0.97, 1.0, "mapping samples")
    Z = codes()
    bmu = som.bmu(Z)
    nodes = lattice_summary(bmu, ds.labels, som.n_nodes, ds.n_classes)
    with torch.no_grad():
        decoded = torch.cat([model.decode(som.prototypes[s : s + 512]) for s in range(0, som.n_nodes, 512)])
    decoded = decoded.permute(0, 2, 3, 1).cpu().numpy()  # nodes × H × W × C
    decoded = decoded[..., 0] if shape[0] == 1 else decoded
    prototypes_img = (np.clip(decoded, 0, 1) * 255).round().astype(np.uint8)
    # prototype sharpness, measured on the prototypes as the run stores and shows them (uint8 / 255)
    images = _as_numpy_images(X)
    node_mse = prototype_errors(images, prototypes_img / 255.0, bmu)
    node_sharp = sharpness_ratios(images, prototypes_img / 255.0, bmu)
    with torch.no_grad():
        recon = float(
            sum(
                F.mse_loss(model(X[s : s + 1024])[1], X[s : s + 1024], reduction="sum")
                for s in range(0, X.shape[0], 1024)
            )
            / X.numel()
        )
    metrics = {
        "purity": float(np.nanmean(nodes["purity"])),
        "quantization_error": som.quantization_error(Z),
        "topographic_error": som.topographic_error(Z),
        "occupied_nodes": int((nodes["hits"] > 0).sum()),
        "recon_mse": recon,
        "prototype_mse": float(np.nanmean(node_mse)),
        "prototype_sharpness": float(np.nanmean(node_sharp)),
        "member_gradient_energy": float(gradient_energy(images).mean()),
        "joint_loss": history.last("loss") if history else float("nan"),
        "seconds": time.perf_counter() - t0,
    }
    arrays = {
        "prototype_images": prototypes_img,
        "prototypes": som.prototypes.cpu().numpy(),
        "hits": nodes["hits"].reshape(rows, cols),
        "majority": nodes["majority"].reshape(rows, cols),
        "purity": nodes["purity"].reshape(rows, cols),
        "prototype_mse": node_mse.reshape(rows, cols),
        "prototype_sharpness": node_sharp.reshape(rows, cols),
        "class_counts": nodes["class_counts"],
        "u_matrix": som.u_matrix(),
        "positions": som.positions.cpu().numpy(),
        "bmu": bmu,
        "labels": ds.labels,
        "index": ds.index if ds.index is not None else np.arange(ds.n),
    }
    report(progress, 1.0, 1.0, "done", purity=metrics["purity"])
    return {
        "model": model,
        "som": som,
        "arrays": arrays,
        "metrics": metrics,
        "history": history,
        "image_size": tuple(int(v) for v in X.shape[-2:]),
    }


def lattice_png(
    prototype_images: np.ndarray, rows: int, cols: int, *, min_width: int = 800, max_width: int = 2400
) -> bytes:
    """The lattice of decoded prototypes as one PNG (matplotlib Agg): node ``(r, c)`` at row ``r``, column
    ``c``, enlarged by a whole factor (nearest) to about ``min_width`` pixels, so its aspect is the lattice's."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import image as mpimg

    tiled = mosaic(prototype_images, rows, cols)
    scale = max(1, min(min_width // tiled.shape[1] + (tiled.shape[1] < min_width), max_width // tiled.shape[1]))
    big = np.repeat(np.repeat(tiled, scale, axis=0), scale, axis=1)
    buf = io.BytesIO()
    if big.ndim == 2:
        mpimg.imsave(buf, big, cmap="gray", vmin=0, vmax=255, format="png")
    else:
        mpimg.imsave(buf, big, format="png")
    return buf.getvalue()


def report_md(config: Config, metrics: dict, dataset: str, n: int, image_shape, image_size) -> str:
    """A short report: the run's metrics and where the study differs from the paper. Reference figures (on real
    MNIST and COIL-20) are in REPRODUCTION.md: printed here they would sit beside runs on any other data set."""
    rows, cols = config.shape
    fmt = lambda v, d=3: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"  # noqa: E731
    lines = [
        f"# Deep neural map · {dataset} ({n:,} images, {'×'.join(map(str, image_shape))} → "
        f"{'×'.join(map(str, image_size))} trained)",
        "",
        f"lattice {config.lattice} {config.topology} · architecture **{config.architecture}** · code "
        f"{config.code} · pre-training {config.pretraining} · SOM {config.som_iterations:,} iterations "
        f"(σ0 = {config.sigma0:g}, η0 = {config.eta0:g}, α = {config.alpha:g}) · {config.epochs} joint epochs "
        f"(γ = {config.gamma:g}, β = {config.beta:g}) · {metrics['seconds']:.0f} s",
        "",
        "| metric | this run | note |",
        "|---|---|---|",
        f"| purity (mean majority share of occupied nodes) | {fmt(metrics['purity'])} | |",
        f"| topographic error | {fmt(metrics['topographic_error'])} | |",
        f"| quantization error | {fmt(metrics['quantization_error'], 4)} | |",
        f"| occupied nodes | {metrics['occupied_nodes']} of {rows * cols} | |",
        f"| reconstruction MSE (autoencoder) | {fmt(metrics['recon_mse'], 4)} | |",
        f"| prototype MSE (members vs their node's decoded prototype) | {fmt(metrics['prototype_mse'], 4)} | |",
        f"| prototype sharpness (gradient energy, prototype / members) | {fmt(metrics['prototype_sharpness'], 2)} "
        f"| 1 = as sharp as the samples |",
        "",
        "Reference figures (what this study gave on real MNIST and COIL-20) are in the project's REPRODUCTION.md; "
        "the paper shows its maps as images (its lattice of prototypes is `lattice.png` here) rather than as "
        "numbers.",
        "",
        "## Where this study differs from the paper",
        "",
        "- **Optimiser**: Adam throughout (pre-training lr "
        f"{config.lr:g}, joint lr {config.joint_lr:g}); the joint rate is kept small so KL(P‖Q) refines rather "
        "than collapses the code.",
        "- **Pre-training** "
        + (
            f"is counted in iterations (batches of {config.batch_size}), as the paper counts it."
            if config.pretrain_iterations is not None
            else f"is counted in epochs ({config.pretrain_epochs}) by "
            "default, so small data sets see enough batches; `--pretrain-iterations 500` "
            "is the paper's schedule."
        ),
        "- **Architecture**: "
        + (
            "the paper's (5×5 convolutions 10–8–5 at full resolution, dense code, mirror decoder)."
            if config.architecture == "paper"
            else "`compact` halves images above 16 px at each convolution (stride 2), so the "
            "dense layers are 16–64× smaller and a run needs about half the CPU time; "
            "`--architecture paper` (the default) keeps full resolution as the paper does."
        ),
        "- **Joint SOM updates** follow their own decaying neighbourhood "
        f"(σ {config.joint_sigma[0]:g} → {config.joint_sigma[1]:g}, η {config.joint_eta:g}) after the paper's "
        "pre-training schedule, batch-wise (one tensor update per batch, equal to online updates to first order).",
        "- **Images** "
        + (
            f"are resized to {config.resize}×{config.resize} with torch's bilinear interpolation "
            "(antialiased when shrinking)."
            if config.resize
            else "are used at their stored size."
        ),
        "",
        "Figure: `lattice.png` (node (r, c) at row r, column c).",
    ]
    return "\n".join(lines) + "\n"


def run(config: Config, *, store: RunStore, data_dir=None, progress: ProgressFn | None = None) -> Run:
    """Load the dataset, train, and save a ``dnm`` run; return the stored run."""
    config = with_split(config, data_dir)  # the split trained on (train, or the one present) goes into the manifest
    ds = datasets.load(config.dataset, data_dir=data_dir, split=config.split, limit=config.limit, seed=config.seed)
    out = train(config, ds, progress=progress)
    with store.writer(KIND, dataset=config.dataset, config=config.record(), seed=config.seed) as w:
        w.metrics.update(out["metrics"])
        w.manifest["summary"] = (
            f"{config.lattice} {config.architecture} · purity {out['metrics']['purity']:.2f}"
            f" · prototype MSE {out['metrics']['prototype_mse']:.4f}"
        )
        w.add_arrays(ARRAYS, out["arrays"])
        w.add_weights("model", out["model"].state_dict())
        w.add_weights("som", out["som"].state_dict())
        if out["history"] is not None:
            w.add_file("history.json", json.dumps(out["history"].epochs, default=float))
        rows, cols = config.shape
        w.add_file("lattice.png", lattice_png(out["arrays"]["prototype_images"], rows, cols))
        w.add_file(
            "report.md", report_md(config, out["metrics"], config.dataset, ds.n, ds.image_shape, out["image_size"])
        )
    return store.load(w.id)
