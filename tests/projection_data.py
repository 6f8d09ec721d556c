"""A capture of many samples for the projection tests: clustered 64-d vectors (an arrays file the test
writes) through a small MLP, captured by the capture study."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.store import RunStore
from models.studies import capture as capture_face


def clustered(n: int, dims: int = 64, classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` vectors around ``classes`` centres (float32) and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(classes, dims)).astype(np.float32)
    labels = rng.integers(0, classes, size=n)
    return (centres[labels] + rng.normal(0, 1, size=(n, dims)).astype(np.float32)), labels.astype(np.int64)


def big_capture(root: Path, n: int = 20_000, dims: int = 64):
    """(data dir, store, capture run): ``n`` samples of ``arrays:clusters.npz`` through an ONNX MLP (two hidden
    layers)."""
    import torch

    from tests.test_capture import make_mlp

    data = root / "data"
    (data / "models").mkdir(parents=True, exist_ok=True)
    features, labels = clustered(n, dims)
    np.savez(data / "clusters.npz", features=features, labels=labels)
    torch.onnx.export(
        make_mlp(dims),
        (torch.zeros(2, dims),),
        str(data / "models" / "mlp.onnx"),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        dynamo=False,
    )
    store = RunStore(root / "runs")
    run = capture_face.run(
        capture_face.Config(
            dataset="arrays:clusters.npz", model=("mlp.onnx",), batch_size=2048, layers=("hidden1", "hidden2")
        ),
        store=store,
        data_dir=data,
    )
    return data, store, run
