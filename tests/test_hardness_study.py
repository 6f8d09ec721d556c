"""The MLP family, activation capture, and the hardness study (incl. the paper's central finding)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models import datasets
from models.activations import capture
from models.nets.mlp import ACTIVATIONS, MLP, default_lr
from models.progress import Cancelled
from models.store import RunStore
from models.studies import hardness
from models.studies.hardness import layer_table
from models.studies.hardness_engine import project_layer
from models.training import batches, fit, seed_everything, to_tensor
from tests import tiny_hardness

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread here, restored after


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_trains_at_depth_7(activation):
    """Deep logistic-sigmoid MLPs stall with naive init; ours train (accuracy far above 10% chance)."""
    train, test = datasets.load("digits", split="train"), datasets.load("digits", split="test")
    gen = seed_everything(0)
    model = MLP(train.dim, 10, depth=7, activation=activation)
    opt = torch.optim.SGD(model.parameters(), lr=default_lr(activation), momentum=0.9)
    loss = torch.nn.CrossEntropyLoss()
    fit(
        model,
        opt,
        lambda m, b: loss(m(b[0]), b[1]),
        batches(to_tensor(train.features), torch.as_tensor(train.labels), batch_size=128, generator=gen),
        epochs=10,
    )
    with torch.no_grad():
        acc = (model(to_tensor(test.features)).argmax(1).numpy() == test.labels).mean()
    assert acc > 0.75, f"{activation} depth 7: test accuracy {acc:.3f}"


def test_mlp_rejects_bad_shapes():
    with pytest.raises(ValueError, match="depth"):
        MLP(64, 10, depth=8)
    with pytest.raises(ValueError, match="activation"):
        MLP(64, 10, activation="gelu")


def test_capture_reads_named_modules_of_any_module():
    model = MLP(64, 10, depth=3, width=20, activation="tanh")
    X = np.random.default_rng(0).random((70, 64)).astype(np.float32)
    acts = capture(model, X, model.layer_names, batch_size=32)
    assert list(acts) == ["input", "hidden1", "hidden2", "hidden3", "logits"]
    assert acts["hidden2"].shape == (70, 20) and acts["logits"].shape == (70, 10)
    assert np.abs(acts["hidden1"]).max() <= 1.0  # after tanh
    with torch.no_grad():
        np.testing.assert_allclose(acts["logits"], model(torch.as_tensor(X)).numpy(), rtol=1e-5, atol=1e-5)
    # any module, caller-chosen names (here a conv net's inner block)
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 3))
    got = capture(conv, np.zeros((5, 1, 8, 8), np.float32), ["1", "3"], include_input=False)
    assert got["1"].shape == (5, 144) and got["3"].shape == (5, 3)
    with pytest.raises(ValueError, match="not modules"):
        capture(conv, np.zeros((5, 1, 8, 8), np.float32), ["nope"])


def test_layer_results_are_cached(tmp_path):
    X = np.random.default_rng(0).random((60, 5))
    labels = np.arange(60) % 3
    kw = dict(perplexity=10, seed=0, cache_root=str(tmp_path), key={"run": "r1", "network": "n", "layer": "l"})
    params = {"tsne": {"perplexity": 10, "n_iter": 250}, "pca": {}}
    first = project_layer(X, labels, ["tsne", "pca"], params, **kw)
    assert set(first) == {"tsne", "pca"} and first["tsne"]["kl"] > 0
    files = sorted((tmp_path / "r1").glob("*.npz"))
    assert len(files) == 2
    stamps = [f.stat().st_mtime_ns for f in files]
    second = project_layer(X, labels, ["tsne", "pca"], params, **kw)
    assert [f.stat().st_mtime_ns for f in files] == stamps  # read back, not recomputed
    np.testing.assert_array_equal(first["tsne"]["coords"], second["tsne"]["coords"])


def test_study_cancel_leaves_no_run(tmp_path):
    store = RunStore(tmp_path / "runs")
    config = hardness.Config(depths=[1], activations=["relu"], runs=1, epochs=50, per_class=10, perplexity=10, n_jobs=1)
    with pytest.raises(Cancelled):
        hardness.run(config, store=store, progress=lambda p: p.done > 0.1)
    assert store.list() == []
    with pytest.raises(ValueError, match="depths"):
        hardness.run(hardness.Config(depths=[9]), store=store)


def test_relu_hardness_falls_from_input_to_last_hidden_layer(tmp_path):
    """The paper's central finding on digits: 5-layer ReLU, 3 runs, fixed seed."""
    store = RunStore(tmp_path / "runs")
    config = hardness.Config(
        dataset="digits",
        depths=[5],
        activations=["relu"],
        runs=3,
        epochs=15,
        per_class=30,
        seed=0,
        n_jobs=2,
        tsne_iter=400,
    )
    run = hardness.run(config, store=store)
    layers, table = layer_table(run.metrics["hardness"], "relu", 5)
    assert layers == ["input", "hidden1", "hidden2", "hidden3", "hidden4", "hidden5", "logits"]
    mean = table.mean(0)
    assert (table[:, 5] < table[:, 0]).all(), table  # every run: last hidden easier than the input
    assert mean[5] < 0.8 * mean[0], mean  # clearly, not by noise
    assert np.corrcoef(np.arange(6), mean[:6])[0, 1] < -0.8, mean  # and it falls layer by layer
    # what a script reads back
    manifest = json.loads((run.path / "manifest.json").read_text())
    row = manifest["metrics"]["hardness"][0]
    assert {"activation", "depth", "run", "layer", "method", "kl", "trustworthiness", "knn_preservation"} <= set(row)
    assert len(manifest["metrics"]["test_accuracy"]) == 3
    assert min(manifest["metrics"]["test_accuracy"].values()) > 0.85
    assert run.arrays("act-relu-d5-r1")["hidden3"].shape == (300, 100)
    assert run.arrays("proj-relu-d5-r1")["tsne.hidden3"].shape == (300, 2)
    assert set(run.weights("net-relu-d5-r0")) >= {"hidden1.0.weight", "logits.weight"}
    assert run.file("hardness.csv").read_text().startswith("activation,depth,run,layer,method,kl")
    assert run.file("hardness.png").read_bytes()[:4] == b"\x89PNG"


def test_command_line_prints_the_run_folder_last(tmp_path):
    out = tiny_hardness.run(tmp_path / "runs")
    assert out.returncode == 0, out.stderr
    folder = out.stdout.strip().splitlines()[-1]
    assert (__import__("pathlib").Path(folder) / "manifest.json").is_file()
    assert "%" in out.stderr  # the progress bar
