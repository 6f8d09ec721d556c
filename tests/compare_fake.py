"""Test helper: a compare run saved straight through ``RunStore`` in the shape of the compare study's
contract (``manifest["metrics"]``: cka, cka_steps, probe/knn(+_steps), hardness, movers + movers.npz),
so the Compare tab's view tests do not depend on the study's engine.

The numbers are honest but plain: linear CKA straight from its formula, a nearest-centroid "probe",
and k-NN sets kept — enough for a view to draw; the study's own tests check the real maths.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.store import RunStore
from models.studies import capture as face


def capture_run(
    root: Path, *, seed: int = 0, steps: tuple[int, ...] = (0, 10), per_class: int = 6, layers=("conv2", "fc1")
):
    """A small CNN captured on digits at several steps through the Python API (a real capture run)."""
    import torch

    import layerscope
    from tests.test_capture import make_cnn

    torch.manual_seed(seed)
    net = make_cnn()
    if seed:
        for p in net.parameters():
            torch.nn.init.normal_(p, std=0.3)
    with layerscope.Capture(
        root / "runs", dataset="digits", model=net, layers=list(layers), per_class=per_class, data_dir=root / "data"
    ) as cap:
        for step in steps:
            with torch.no_grad():  # training, roughly: every weight moves a little
                for p in net.parameters():
                    p.add_(0.15 * torch.randn_like(p))
            cap.add(step=step)
    return RunStore(root / "runs").load(cap.run_id)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    x = np.asarray(x, float) - np.mean(x, 0)
    y = np.asarray(y, float) - np.mean(y, 0)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def kept_share(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    def knn(v):
        v = np.asarray(v, float)
        d = ((v[:, None] - v[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        return np.argsort(d, 1)[:, :k]

    a, b = knn(x), knn(y)
    return np.array([len(set(r) & set(s)) / k for r, s in zip(a, b)])


def centroid_accuracy(x: np.ndarray, labels: np.ndarray) -> float:
    x = np.asarray(x, float)
    centres = np.stack([x[labels == c].mean(0) for c in np.unique(labels)])
    pred = np.unique(labels)[((x[:, None] - centres[None]) ** 2).sum(-1).argmin(1)]
    return float(np.mean(pred == labels))


def nearest_accuracy(x: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out 1-NN accuracy."""
    x = np.asarray(x, float)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(labels[d.argmin(1)] == labels))


def compare_run(store: RunStore, run_a, run_b=None, *, k: int = 5, movers: bool = True, over_steps: bool = True) -> str:
    """A compare run of ``run_a`` (× ``run_b``) in the contract's shape; returns its id."""
    names_a = [layer["name"] for layer in face.layers(run_a)]
    steps = face.steps(run_a)
    last = steps[-1]
    labels = np.asarray(face.sample(run_a)["labels"])
    acts_a = {n: np.asarray(face.activations(run_a, n, last)) for n in names_a}
    if run_b is not None:
        names_b = [layer["name"] for layer in face.layers(run_b)]
        acts_b = {n: np.asarray(face.activations(run_b, n, face.steps(run_b)[-1])) for n in names_b}
    else:
        names_b, acts_b = names_a, acts_a
    matrix = [[linear_cka(acts_a[a], acts_b[b]) for b in names_b] for a in names_a]
    metrics = {
        "cka": {
            "layers_a": names_a,
            "layers_b": names_b,
            "matrix": matrix,
            "metric": "linear",
            "run_a": run_a.id,
            "run_b": None if run_b is None else run_b.id,
            "step_a": last,
            "step_b": last if run_b is None else face.steps(run_b)[-1],
        },
        "probe": {n: centroid_accuracy(acts_a[n], labels) for n in names_a},
        "knn": {n: nearest_accuracy(acts_a[n], labels) for n in names_a},
    }
    if run_b is not None:
        metrics["probe"].update({f"B:{n}": centroid_accuracy(acts_b[n], labels) for n in names_b})
    if over_steps and len(steps) > 1:
        metrics["cka_steps"] = {
            "layers": names_a,
            "steps": steps,
            "matrix": [[linear_cka(face.activations(run_a, n, s), acts_a[n]) for s in steps] for n in names_a],
        }
        metrics["probe_steps"] = {
            str(s): {n: centroid_accuracy(face.activations(run_a, n, s), labels) for n in names_a} for s in steps
        }
    arrays = {}
    if movers:
        first, second = names_a[0], names_a[-1]
        kept = kept_share(acts_a[first], acts_a[second], k)
        metrics["movers"] = {
            "from": {"run": run_a.id, "step": last, "layer": first},
            "to": {"run": run_a.id, "step": last, "layer": second},
            "k": k,
            "file": "movers.npz",
        }
        arrays["movers"] = {"index": np.asarray(face.sample(run_a)["index"]), "kept": kept, "labels": labels}
    return store.save(
        "compare",
        dataset=run_a.manifest.get("dataset"),
        config={"runs": [run_a.id] + ([run_b.id] if run_b is not None else [])},
        seed=0,
        metrics=metrics,
        arrays=arrays,
    )
