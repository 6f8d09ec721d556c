"""The compare study: its run (the contract the Compare tab reads), its command line and refusals, the API,
and two results of the papers on data the tests make (seeds of one CNN correspond layer for layer; in an
MLP hardness network the probe accuracy rises with depth while the hardness falls)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import layerscope
from layerscope import Capture
from models import datasets
from models.similarity.cka import linear_cka
from models.similarity.movers import movers as movers_of
from models.store import RunStore
from models.studies import compare, hardness

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread here, restored after

ROOT = Path(__file__).resolve().parent.parent


def mlp(seed: int, widths=(32, 16)) -> nn.Module:
    torch.manual_seed(seed)
    layers, last = [], 64
    for w in widths:
        layers += [nn.Linear(last, w), nn.ReLU()]
        last = w
    return nn.Sequential(*layers, nn.Linear(last, 10)).eval()


def make_capture(root, seeds=(0, 1, 2), layers=("0", "2", "4"), per_class=12, seed=0, widths=(32, 16)):
    """A capture run of digits: one step per seed (a different network each: the steps differ)."""
    with Capture(
        root, dataset="digits", model=mlp(seeds[0], widths), layers=list(layers), per_class=per_class, seed=seed
    ) as cap:
        for step, s in enumerate(seeds):
            cap.add(step, model=mlp(s, widths))
    return cap.run


@pytest.fixture(scope="module")
def runs(tmp_path_factory, one_torch_thread):  # torch on one thread for the module, restored after it
    root = tmp_path_factory.mktemp("compare") / "runs"
    a = make_capture(root)
    b = make_capture(root, seeds=(5,), layers=("0", "2"), widths=(24, 8))
    other = make_capture(root, seeds=(5,), layers=("0",), seed=1)  # same size, other samples
    fewer = make_capture(root, seeds=(5,), layers=("0",), per_class=10)  # fewer samples
    return {"root": root, "a": a, "b": b, "other": other, "fewer": fewer}


def cli(*args, store):
    return subprocess.run(
        [sys.executable, "-m", "models.studies.compare", "--store-dir", str(store), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def folders(root) -> set[str]:
    return {p.name for p in Path(root).iterdir()}


def test_command_line_compares_one_capture_run_layer_by_layer_and_over_steps(runs):
    a = runs["a"]
    out = cli("--runs", a.id, store=runs["root"])
    assert out.returncode == 0, out.stderr
    folder = Path(out.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "compare" and manifest["dataset"] == "digits"
    config = manifest["config"]
    assert config["runs"] == [a.id] and config["steps"] == [0, 1, 2] and config["metric"] == "linear"
    assert config["layers"] == ["0", "2", "4", "output"]
    m = manifest["metrics"]
    layers = ["0", "2", "4", "output"]
    assert {k: m["cka"][k] for k in ("layers_a", "layers_b", "metric", "run_a", "run_b", "step_a", "step_b")} == {
        "layers_a": layers,
        "layers_b": layers,
        "metric": "linear",
        "run_a": a.id,
        "run_b": None,
        "step_a": 2,
        "step_b": 2,
    }
    M = np.array(m["cka"]["matrix"])
    acts = {layer: np.asarray(layerscope.activations(a, layer, 2)) for layer in layers}
    for i, la in enumerate(layers):  # the numbers are the maths' numbers on the captured arrays
        for j, lb in enumerate(layers):
            assert M[i, j] == pytest.approx(linear_cka(acts[la], acts[lb]), abs=1e-6)
    steps = m["cka_steps"]
    assert steps["layers"] == layers and steps["steps"] == [0, 1, 2]
    S = np.array(steps["matrix"])
    assert S.shape == (4, 3) and np.allclose(S[:, -1], 1) and (S[:, :2] < 0.999).all()
    assert S[0, 0] == pytest.approx(linear_cka(layerscope.activations(a, "0", 0), acts["0"]), abs=1e-6)
    assert set(m["probe"]) == set(m["knn"]) == set(layers)
    assert all(0 <= v <= 1 for v in (*m["probe"].values(), *m["knn"].values()))
    assert set(m["probe_steps"]) == set(m["knn_steps"]) == {"0", "1", "2"}
    assert m["probe_steps"]["2"] == m["probe"]
    assert "hardness" not in m
    # movers: the last layer at the first step against it at the last step
    mv = m["movers"]
    assert mv["from"]["step"] == 0 and mv["to"]["step"] == 2 and mv["from"]["layer"] == mv["to"]["layer"] == "output"
    assert mv["file"] == "movers.npz" and mv["k"] == 10
    with np.load(folder / "movers.npz") as z:
        assert z["index"].dtype == np.int64 and z["kept"].dtype == np.float32
        assert np.array_equal(z["index"], layerscope.sample(a)["index"])
        assert np.array_equal(z["labels"], layerscope.sample(a)["labels"])
        index, kept = compare.movers_between(runs["root"], mv["from"], mv["to"], k=10)
        assert np.array_equal(index, z["index"]) and np.array_equal(kept, z["kept"])
        assert np.allclose(kept, movers_of(layerscope.activations(a, "output", 0), acts["output"], 10))
    report = (folder / "report.md").read_text()
    assert "Most similar layer" in report and "| 0 |" in report
    assert (folder / "cka.png").read_bytes()[:4] == b"\x89PNG"
    assert "CKA" in out.stdout and out.stdout.strip().splitlines()[-1] == str(folder)


@pytest.mark.parametrize(
    "args,message",
    [
        (["--layers", "nope"], "has no layer 'nope'"),
        (["--steps", "0", "7"], "has no step 7"),
        (["--metric", "cca"], "invalid choice"),
    ],
)
def test_command_line_refuses_unknown_layers_steps_and_metrics(runs, args, message):
    before = folders(runs["root"])
    out = cli("--runs", runs["a"].id, *args, store=runs["root"])
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert folders(runs["root"]) == before


def test_command_line_refuses_what_is_not_a_capture_or_hardness_run(runs):
    done = cli("--runs", runs["a"].id, "--no-probes", store=runs["root"])
    compare_run = Path(done.stdout.strip().splitlines()[-1]).name
    before = folders(runs["root"])
    for ref, message in [
        (compare_run, "is a compare run"),
        ("no-such-run", "no run 'no-such-run'"),
        (f"{runs['a'].id}:relu-d1-r0", "has no networks"),
    ]:
        out = cli("--runs", ref, store=runs["root"])
        assert out.returncode == 2, out.stderr
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and message in last, out.stderr
    out = cli("--runs", runs["a"].id, runs["b"].id, runs["a"].id, store=runs["root"])
    assert out.returncode == 2 and "one or two runs" in out.stderr
    assert folders(runs["root"]) == before


@pytest.mark.parametrize("other,detail", [("other", "sample indices differ"), ("fewer", "samples")])
def test_two_captures_of_different_samples_are_refused(runs, other, detail):
    before = folders(runs["root"])
    out = cli("--runs", runs["a"].id, runs[other].id, store=runs["root"])
    assert out.returncode == 2 and "hold different samples" in out.stderr and detail in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert folders(runs["root"]) == before
    with pytest.raises(ValueError, match="different samples"):
        layerscope.compare(runs["a"], runs[other])


def test_two_runs_from_the_api_and_the_command_line_give_the_same_numbers(runs):
    a, b = runs["a"], runs["b"]
    result = layerscope.compare(a, b, steps=[0, 2], layers=["0", "2"])
    assert result.layers_a == ["0", "2"] and result.layers_b == ["0", "2"]  # --layers applies to B when it has them
    assert result.run_a == a.id and result.run_b == b.id and result.step_a == 2 and result.step_b == 0
    assert result.cka.shape == (2, 2) and result.steps == [0, 2] and result.cka_steps.shape == (2, 2)
    assert set(result.probe) == {"0", "2", "B:0", "B:2"} and set(result.knn) == set(result.probe)
    assert result.movers_from["layer"] == "2" and result.movers_to == {
        "run": b.id,
        "step": 0,
        "layer": "2",
        "network": None,
    }
    want = linear_cka(layerscope.activations(a, "0", 2), layerscope.activations(b, "2", 0))
    assert result.cka[0, 1] == pytest.approx(want, abs=1e-6)
    out = cli("--runs", a.id, b.id, "--steps", "0", "2", "--layers", "0", "2", store=runs["root"])
    assert out.returncode == 0, out.stderr
    run = RunStore(runs["root"]).load(Path(out.stdout.strip().splitlines()[-1]).name)
    again = compare.Result.of(run)
    assert np.array_equal(again.cka, result.cka) and again.probe == result.probe and again.knn == result.knn
    assert np.array_equal(again.cka_steps, result.cka_steps) and np.array_equal(again.movers_kept, result.movers_kept)
    assert run.config["runs"] == [a.id, b.id] and run.config["layers"] == ["0", "2"]
    assert [x for x, _, _ in result.most_similar()] == ["0", "2"]


def test_readers_the_compare_tab_calls(runs):
    a = runs["a"]
    store = RunStore(runs["root"])
    X = compare.layer_vectors(store, a.id, 1, "2")
    assert np.array_equal(X, layerscope.activations(a, "2", 1)) and X.shape[1] == 16
    assert np.array_equal(compare.sample_index(runs["root"], a.id), layerscope.sample(a)["index"])
    with pytest.raises(ValueError, match="has no step 9"):
        compare.layer_vectors(store, a.id, 9, "2")
    index, kept = compare.movers_between(
        store, {"run": a.id, "step": 2, "layer": "0"}, {"run": runs["b"].id, "step": 0, "layer": "0"}, k=5
    )
    assert index.shape == kept.shape == (120,) and kept.dtype == np.float32 and 0 < kept.mean() < 1
    with pytest.raises(ValueError, match="different samples"):
        compare.movers_between(
            store, {"run": a.id, "step": 2, "layer": "0"}, {"run": runs["other"].id, "step": 0, "layer": "0"}
        )
    assert compare.comparable_runs(store, a.id) == [runs["b"].id]


# -- the papers' results, on data the tests make ----------------------------------------------------
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.act1 = nn.Conv2d(1, 16, 3, padding=1), nn.ReLU()
        self.conv2, self.act2 = nn.Conv2d(16, 16, 3, padding=1), nn.ReLU()
        self.conv3, self.act3 = nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU()
        self.conv4, self.act4 = nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()
        self.flat, self.fc, self.act5, self.out = nn.Flatten(), nn.Linear(32 * 16, 64), nn.ReLU(), nn.Linear(64, 10)

    def forward(self, x):
        x = self.act2(self.conv2(self.act1(self.conv1(x))))
        x = self.act4(self.conv4(self.act3(self.conv3(x))))
        return self.out(self.act5(self.fc(self.flat(x))))


def train_cnn(seed: int, ds, epochs: int = 5) -> nn.Module:
    torch.manual_seed(seed)
    x = torch.from_numpy(ds.images[:, None] / np.float32(255))
    y = torch.from_numpy(ds.labels.astype(np.int64))
    net, gen = CNN(), torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    return net.eval()


def test_cka_finds_the_same_layer_in_a_cnn_trained_from_another_seed(tmp_path):
    """Kornblith et al. 2019 (their Figure 4): across two initialisations of one architecture, the layer of
    the other network most similar to each layer is, for most layers, that same layer."""
    ds = datasets.load("digits")
    layers = ["act1", "act2", "act3", "act4", "act5"]
    ids = []
    for seed in (0, 1):
        with Capture(tmp_path, dataset="digits", model=train_cnn(seed, ds), layers=layers, pooling="flatten") as cap:
            cap.add(0)
        ids.append(cap.run_id)
    result = layerscope.compare(ids[0], ids[1], root=tmp_path, probes=False)
    pairs = result.most_similar()
    matched = sum(a == b for a, b, _ in pairs)
    assert matched >= 0.65 * len(pairs), pairs
    assert np.all(np.diag(result.cka) > 0.75), result.cka


def test_in_an_mlp_hardness_network_probe_accuracy_rises_with_depth_while_hardness_falls(tmp_path):
    store = RunStore(tmp_path / "runs")
    config = hardness.Config(
        dataset="digits",
        depths=[3],
        activations=["relu"],
        runs=1,
        epochs=15,
        per_class=30,
        seed=0,
        n_jobs=1,
        tsne_iter=400,
    )
    source = hardness.run(config, store=store)
    run = compare.run(compare.Config(runs=(f"{source.id}:relu-d3-r0",)), store=store)
    probe, kl = compare.probe(run), compare.hardness(run)
    depth = ["input", "hidden1", "hidden2", "hidden3"]
    assert list(kl) == depth + ["logits"] and list(probe) == depth + ["logits"]
    p = np.array([probe[layer] for layer in depth])
    h = np.array([kl[layer] for layer in depth])
    assert p[-1] > p[0] + 0.02 and np.corrcoef(np.arange(4), p)[0, 1] > 0.8, p
    assert h[-1] < 0.6 * h[0] and np.corrcoef(np.arange(4), h)[0, 1] < -0.8, h
    info = compare.cka(run)
    assert info["run_a"] == source.id and info["network_a"] == "relu-d3-r0" and info["step_a"] == 0
    assert run.config["runs"] == [f"{source.id}:relu-d3-r0"]


def test_stored_movers_on_a_subsample_are_found_again_by_movers_between(runs):
    store = RunStore(runs["root"])
    run = compare.run(compare.Config(runs=(runs["a"].id,), steps=(2,), probe_samples=50, k=5, seed=3), store=store)
    stored = compare.movers(run)
    assert stored["from"]["layer"] == "0" and stored["to"]["layer"] == "output"  # one step: first vs last layer
    assert stored["index"].shape == (50,) and "cka_steps" not in run.metrics and "probe_steps" not in run.metrics
    index, kept = compare.movers_between(store, stored["from"], stored["to"], k=5, max_samples=50, seed=3)
    assert np.array_equal(index, stored["index"]) and np.array_equal(kept, stored["kept"])
    assert set(stored["index"]) <= set(layerscope.sample(runs["a"])["index"])
