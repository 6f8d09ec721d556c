"""What reproducing the studies on real data needs: datasets with only some splits, hardness defaults that train fully,
every study flag documented, no warnings on stderr, .mat arrays, pixels kept as pixels, and a
hardness run's hidden layers as Explore sources."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from models import datasets
from models.studies import STUDIES, study
from tests.conftest import write_mnist_like

ROOT = Path(__file__).resolve().parents[1]


def write_test_split_only(folder: Path, n: int = 400, size: int = 28, seed: int = 0) -> Path:
    """An MNIST folder holding only the t10k (test) pair: class k is a bright square at a k-dependent place."""
    write_mnist_like(folder / "mnist", n_train=n, n_test=n, size=size, seed=seed, prefix=("t10k", "t10k"))
    return folder


# -- 1. a dataset with only some of its files ---------------------------------------------
def test_test_split_only_is_listed_with_its_split(data_dir, capsys):
    write_test_split_only(data_dir)
    assert datasets.present_splits("mnist", data_dir) == ["test"]
    assert datasets.is_present("mnist", data_dir)
    assert datasets.presence("fashion-mnist", data_dir) == "missing"
    assert datasets.default_split("mnist", data_dir) == "test"
    assert datasets.main(["--list", "--data-dir", str(data_dir)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert "test only" in lines["mnist"]
    assert "missing" in lines["fashion-mnist"] and "present" in lines["digits"]


def test_dataset_picker_offers_the_present_split(data_dir, tmp_path):
    from dashboard.config import AppConfig
    from dashboard.state import dataset_options

    write_test_split_only(data_dir)
    options = {
        o["value"]: o
        for o in dataset_options(
            AppConfig(data_dir=data_dir, store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")
        )
    }
    assert options["mnist"]["disabled"] is False and options["mnist"]["label"] == "mnist (test only)"
    assert options["digits"]["label"] == "digits" and not options["digits"]["disabled"]
    missing = options["fashion-mnist"]
    assert missing["disabled"] is True and "train-images-idx3-ubyte.gz" in missing["title"]  # the reason, on hover


def test_train_test_draws_a_seeded_stratified_holdout_from_the_only_split(data_dir):
    write_test_split_only(data_dir, n=300)
    train, test, note = datasets.train_test("mnist", data_dir=data_dir, holdout=0.2, seed=3)
    assert (train.n, test.n) == (240, 60) and "only the test split" in note and "seed 3" in note
    assert not set(train.index.tolist()) & set(test.index.tolist())  # disjoint
    assert np.bincount(test.labels).tolist() == [6] * 10  # stratified
    again = datasets.train_test("mnist", data_dir=data_dir, holdout=0.2, seed=3)[1]
    assert again.index.tolist() == test.index.tolist()  # seeded
    both = datasets.train_test("digits")
    assert both[2] == "train and test splits as given" and both[0].split == "train" and both[1].split == "test"


def test_hardness_and_explore_run_on_a_test_split_only_folder_without_warnings(data_dir, store_dir):
    """The command line end to end, in a fresh process with two workers: the test images are over
    joblib's 1 MB memmap threshold, so workers get read-only arrays (the old "not writable" warning)."""
    write_test_split_only(data_dir, n=400)
    cmd = [
        sys.executable,
        "-m",
        "models.studies.hardness",
        "--dataset",
        "mnist",
        "--data-dir",
        str(data_dir),
        "--store-dir",
        str(store_dir),
        "--depths",
        "1",
        "--activations",
        "relu",
        "tanh",
        "--runs",
        "1",
        "--epochs",
        "2",
        "--per-class",
        "8",
        "--perplexity",
        "5",
        "--tsne-iter",
        "50",
        "--jobs",
        "2",
    ]
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "default"}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = re.sub(r"\[[#.]+\][^\r\n]*", "", done.stderr)  # the progress bar
    assert "Warning" not in text and "worker stopped" not in text, text[-2000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "only the test split is present" in manifest["split"] and "holdout of 0.2" in manifest["split"]
    assert manifest["sample_split"] == "test"

    # a hidden layer of that run is an Explore source: labels and positions from its sample
    from models.store import RunStore
    from models.studies import explore

    store = RunStore(store_dir)
    ds = explore.load_source(f"run:{run_dir.name}/act-relu-d1-r0/hidden1", data_dir=data_dir, store=store)
    sample = store.load(run_dir.name).arrays("sample")
    assert ds.n == 80 and ds.labels.tolist() == sample["labels"].tolist()
    assert ds.images is not None and ds.images.shape == (80, 28, 28)
    assert ds.meta["predictions"].shape == (80,)
    assert (
        explore.main(
            [
                "--run",
                f"{run_dir.name}/act-relu-d1-r0/hidden1",
                "--method",
                "pca",
                "--k",
                "5",
                "--data-dir",
                str(data_dir),
                "--store-dir",
                str(store_dir),
            ]
        )
        == 0
    )


def test_explore_split_flag_and_the_present_split_by_default(data_dir, store_dir, capsys):
    from models.store import RunStore
    from models.studies import explore

    write_test_split_only(data_dir, n=120)
    assert explore.load_source("mnist", data_dir=data_dir).split == "test"  # the split that is there
    assert explore.load_source("digits", split="test").n == datasets.load("digits", split="test").n
    assert (
        explore.main(
            [
                "--dataset",
                "mnist",
                "--split",
                "test",
                "--method",
                "pca",
                "--k",
                "5",
                "--data-dir",
                str(data_dir),
                "--store-dir",
                str(store_dir),
            ]
        )
        == 0
    )
    assert RunStore(store_dir).list(kind="explore")[0].config["split"] == "test"
    assert (
        explore.main(
            ["--dataset", "mnist", "--split", "train", "--data-dir", str(data_dir), "--store-dir", str(store_dir)]
        )
        == 2
    )
    assert "missing train-images" in capsys.readouterr().err


# -- 2. hardness defaults train the networks fully ----------------------------------------
def test_hardness_defaults_follow_the_paper():
    from models.studies import hardness

    config = hardness.Config()
    assert config.patience is None and config.early_stopping is None  # early stopping off
    assert config.batch_size == 32 and config.epochs == 100 and config.width == 100
    assert hardness.Config(patience=0).early_stopping is None  # 0 means off too
    assert hardness.Config(patience=4).early_stopping == 4
    with pytest.raises(ValueError, match="patience"):
        hardness.Config(patience=-1)


#: a plateau: over the last PLATEAU_EPOCHS epochs the training loss moves by less than this share
#: of its first epoch's value, and it has fallen below TRAINED of it
PLATEAU_EPOCHS, PLATEAU_BOUND, TRAINED = 5, 0.02, 0.05


def test_hardness_defaults_train_to_a_training_loss_plateau_without_stopping_early(tmp_path):
    from models.store import RunStore
    from models.studies import hardness

    epochs = 15
    config = hardness.Config(
        dataset="digits",
        depths=(2,),
        activations=("logsig", "relu"),
        runs=1,
        epochs=epochs,
        per_class=10,
        perplexity=5,
        tsne_iter=50,
        n_jobs=1,
        device="cpu",
    )
    run = hardness.run(config, store=RunStore(tmp_path / "runs"))
    nets = hardness.networks(run)
    assert len(nets) == 2
    for net in nets:
        loss = np.array(net["train_loss"])
        assert not net["stopped_early"] and net["epochs"] == epochs == loss.size, net["name"]
        tail = loss[-PLATEAU_EPOCHS:]
        assert (tail.max() - tail.min()) / loss[0] < PLATEAU_BOUND, (net["name"], loss.round(4).tolist())
        assert loss[-1] / loss[0] < TRAINED, (net["name"], loss.round(4).tolist())
        assert net["test_accuracy"] > 0.9
    assert run.manifest["split"] == "train and test splits as given"


# -- 6. every flag documented; no warnings ----------------------------------------------
@pytest.mark.parametrize("kind", STUDIES)
def test_help_shows_a_description_and_default_for_every_flag(kind, capsys):
    face = importlib.import_module(f"models.studies.{kind}")  # STUDIES names modules (project writes projection runs)
    with pytest.raises(SystemExit):
        face.main(["--help"])
    text = capsys.readouterr().out
    # one block per option: from its flag to the next line that starts another flag
    blocks = re.split(r"\n(?=  -)", text.split("options:", 1)[1])
    flags = {}
    for block in blocks:
        m = re.match(r"\s*(?:-\w, )?(--[\w-]+)", block)
        if m:
            flags[m.group(1)] = " ".join(block.split())
    import dataclasses

    for f in dataclasses.fields(face.Config):
        if not f.metadata.get("cli", True):
            continue
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        assert flag in flags, (kind, flag)
        help_text = flags[flag]
        assert "(default:" in help_text, (kind, flag, help_text)
        described = help_text.split(" ", 1)[1] if " " in help_text else ""
        assert len(re.sub(r"\(default:.*?\)|[A-Z_]+|\{.*?\}|\.\.\.", "", described).split()) >= 3, (kind, flag)
    for flag in ("--data-dir", "--store-dir"):
        assert "(default:" in flags[flag]


def test_to_tensor_copies_read_only_arrays_without_a_warning():
    from models.training import to_tensor

    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    x.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = to_tensor(x)
    t[0, 0] = 99.0
    assert x[0, 0] == 0.0  # a copy: the read-only array is untouched


def test_hardness_workers_get_a_memory_bound_above_one_networks_tensors():
    """loky replaces a worker that grew 300 MB past its first task ("A worker stopped while some jobs
    were given to the executor"); one MNIST network's tensors take more, so the study widens it."""
    from joblib.externals.loky import process_executor

    from models.studies import hardness_engine

    before = process_executor._MAX_MEMORY_LEAK_SIZE
    try:
        hardness_engine._worker_init()
        assert process_executor._MAX_MEMORY_LEAK_SIZE >= hardness_engine.WORKER_MEMORY_SLACK >= 1 << 30
    finally:
        process_executor._MAX_MEMORY_LEAK_SIZE = before
    jobs, parallel = hardness_engine._parallel(2, 4)
    assert parallel._backend_kwargs.get("initializer") is hardness_engine._worker_init


# -- 6. .mat arrays files, pixels kept as pixels ------------------------------------------
def test_mat_files_read_as_arrays(data_dir):
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    fea = rng.random((60, 16))  # USPS style: fea N×D doubles, gnd N×1
    gnd = (np.arange(60) % 3 + 1).reshape(-1, 1).astype(np.float64)
    savemat(data_dir / "usps.mat", {"fea": fea, "gnd": gnd})
    ds = datasets.load("arrays:usps.mat", data_dir=data_dir, normalize=False)
    assert ds.features.shape == (60, 16) and np.allclose(ds.features, fea)
    assert ds.n_classes == 4 and ds.labels.tolist() == gnd.reshape(-1).astype(int).tolist()
    assert "arrays:usps.mat" in datasets.discover(data_dir)

    images = rng.integers(0, 256, size=(8, 8, 40), dtype=np.uint8)  # COIL style: H×W×N uint8 images
    savemat(data_dir / "coil.mat", {"X": images, "y": np.arange(40) % 2})
    coil = datasets.load("arrays:coil.mat", data_dir=data_dir)
    assert coil.images.shape == (40, 8, 8) and np.array_equal(coil.images[3], images[:, :, 3])
    assert np.allclose(coil.features, coil.images.reshape(40, -1) / 255.0)  # pixels/255, not min–max


def test_mat_files_refuse_non_numeric_and_respect_the_limits(data_dir, monkeypatch):
    from scipy.io import savemat

    cells = np.empty((2,), dtype=object)
    cells[0], cells[1] = np.zeros(3), np.ones(3)
    savemat(data_dir / "cells.mat", {"X": cells, "y": np.array([0, 1])})
    with pytest.raises(datasets.DatasetError, match="only numeric arrays"):
        datasets.load("arrays:cells.mat", data_dir=data_dir)
    savemat(data_dir / "other.mat", {"A": np.zeros((3, 3))})
    with pytest.raises(datasets.DatasetError, match="expected variables"):
        datasets.load("arrays:other.mat", data_dir=data_dir)
    savemat(data_dir / "big.mat", {"X": np.zeros((400, 50)), "y": np.arange(400) % 2})
    monkeypatch.setenv("LAYERSCOPE_MAX_ARRAY_BYTES", "10000")
    with pytest.raises(datasets.DatasetError, match="big.mat"):
        datasets.load("arrays:big.mat", data_dir=data_dir)
    (data_dir / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    monkeypatch.delenv("LAYERSCOPE_MAX_ARRAY_BYTES")
    with pytest.raises(datasets.DatasetError, match="junk.mat"):
        datasets.load("arrays:junk.mat", data_dir=data_dir)


def test_npz_with_images_keeps_features_as_pixels(data_dir):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 200, size=(30, 6, 6), dtype=np.uint8)  # no pixel reaches 255
    labels = np.arange(30) % 3
    np.savez(data_dir / "raw.npz", features=images.reshape(30, -1), labels=labels, images=images)
    np.savez(data_dir / "scaled.npz", features=images.reshape(30, -1) / 255.0, labels=labels, images=images)
    np.savez(data_dir / "only.npz", images=images, labels=labels)
    for name in ("raw", "scaled", "only"):
        ds = datasets.load(f"arrays:{name}.npz", data_dir=data_dir)
        assert np.allclose(ds.features, images.reshape(30, -1) / 255.0, atol=1e-6), name
    # vectors that are not the images' pixels are still scaled per feature
    np.savez(data_dir / "emb.npz", features=rng.random((30, 4)) * 7, labels=labels, images=images)
    emb = datasets.load("arrays:emb.npz", data_dir=data_dir)
    assert np.allclose(emb.features.max(0), 1.0) and np.allclose(emb.features.min(0), 0.0)


# -- 1. --split for the training studies: the present split by default, an absent one refused -----
SPLIT_RUNS = {
    "gne": ["--epochs", "1", "--limit", "120", "--batch-size", "60", "--grid-sizes", "3", "--heldout", "30"],
    "landscape": [
        "--models",
        "1",
        "--epochs",
        "1",
        "--limit",
        "120",
        "--count-slices",
        "5",
        "--min-members",
        "5",
        "--cluster-sample",
        "100",
        "--directions",
        "2",
        "--radii",
        "1",
    ],
    "dnm": ["--lattice", "3x4", "--epochs", "1", "--pretrain-epochs", "1", "--som-iterations", "100", "--limit", "120"],
}


@pytest.mark.parametrize("kind", sorted(SPLIT_RUNS))
def test_training_studies_use_the_present_split_and_record_it(kind, data_dir, store_dir, capsys):
    from models.store import RunStore

    write_test_split_only(data_dir, n=200)
    face = study(kind)
    common = ["--dataset", "mnist", "--data-dir", str(data_dir), "--store-dir", str(store_dir), "--device", "cpu"]
    assert face.main(common + SPLIT_RUNS[kind]) == 0, capsys.readouterr().err[-2000:]
    run = RunStore(store_dir).list(kind=kind)[0]
    assert run.manifest["config"]["split"] == "test"  # resolved: the split that is there
    assert face.Config.from_record(run.config).split == "test"
    if kind == "gne":  # held out = test samples not trained on
        assert run.metrics["heldout_n"] == 30 and "left out of training" in run.metrics["heldout_source"]
    capsys.readouterr()

    assert face.main(common + SPLIT_RUNS[kind] + ["--split", "train"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert "present splits: test" in err[0] and "train-images" in err[0], err
    assert len(RunStore(store_dir).list(kind=kind)) == 1  # nothing stored

    assert face.main(common + SPLIT_RUNS[kind] + ["--split", "test"]) == 0
    assert face.main(common + SPLIT_RUNS[kind] + ["--split", "validation"]) == 2
    assert "no split 'validation'" in capsys.readouterr().err


def test_split_defaults_to_train_when_it_is_there(store_dir):
    from models.store import RunStore
    from models.studies import dnm

    run = dnm.run(
        dnm.Config(
            dataset="digits", lattice="3x3", epochs=1, pretrain_epochs=1, som_iterations=50, limit=60, device="cpu"
        ),
        store=RunStore(store_dir),
    )
    assert run.config["split"] == "train"
    with pytest.raises(ValueError, match="split must name"):
        dnm.Config(split="")


# -- 2. hardness: report.md beside hardness.csv, depths told apart in the figure ----------------
def test_hardness_report_holds_the_numbers_of_its_csv(tmp_path):
    import csv
    import io

    from models.store import RunStore
    from models.studies import hardness

    config = hardness.Config(
        dataset="digits",
        depths=(1, 2),
        activations=("relu", "tanh"),
        runs=2,
        epochs=3,
        per_class=6,
        perplexity=5,
        tsne_iter=50,
        n_jobs=1,
        device="cpu",
    )
    run = hardness.run(config, store=RunStore(tmp_path / "runs"))
    report = run.file("report.md").read_text()
    rows = list(csv.DictReader(io.StringIO(run.file("hardness.csv").read_text())))
    assert "falls layer by layer" in report  # the paper's statement
    nets = hardness.networks(run)
    for act in config.activations:
        for depth in config.depths:
            line = next(l for l in report.splitlines() if l.startswith(f"| {act} | {depth} | "))
            for layer in hardness.layer_names(depth):
                kls = [
                    float(r["kl"])
                    for r in rows
                    if r["activation"] == act
                    and int(r["depth"]) == depth
                    and r["layer"] == layer
                    and r["method"] == "tsne"
                ]
                assert len(kls) == config.runs
                short = "in" if layer == "input" else ("out" if layer == "logits" else layer[6:])
                assert f"{short} {np.mean(kls):.3f} ± {np.std(kls):.3f}" in line, (layer, line)
            mine = [n for n in nets if n["activation"] == act and n["depth"] == depth]
            accs = [n["test_accuracy"] for n in mine]
            assert f"{np.mean(accs):.3f} ± {np.std(accs):.3f}" in line, line
            assert f"{np.mean([n['train_loss'][-1] for n in mine]):.3f}" in line, line
            assert line.rstrip(" |").endswith(str(config.epochs)), line
    png = run.file("hardness.png").read_bytes()
    assert png[:4] == b"\x89PNG"


def test_hardness_accuracy_scatter_marks_each_depth():
    import matplotlib

    matplotlib.use("Agg")
    from unittest import mock

    from models.studies import hardness_engine

    nets = [
        {"name": f"{a}-d{d}-r{r}", "activation": a, "depth": d, "run": r, "test_accuracy": 0.9}
        for a in ("relu", "tanh")
        for d in (1, 3)
        for r in (0, 1)
    ]
    rows = [
        {
            "activation": n["activation"],
            "depth": n["depth"],
            "run": n["run"],
            "layer": layer,
            "method": "tsne",
            "kl": 1.0 + i,
        }
        for n in nets
        for i, layer in enumerate(["input"] + [f"hidden{k}" for k in range(1, n["depth"] + 1)] + ["logits"])
    ]
    import matplotlib.axes

    seen = []
    real = matplotlib.axes.Axes.scatter

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("marker"))
        return real(self, *args, **kwargs)

    with mock.patch.object(matplotlib.axes.Axes, "scatter", spy):
        png = hardness_engine.hardness_png(rows, nets)
    assert png[:4] == b"\x89PNG"
    assert len(seen) == 4 and len(set(seen)) == 2  # one marker per depth


# -- 6. a normal run of GNE and landscape prints no warnings either ----------------------------
@pytest.mark.parametrize("kind", ["gne", "landscape"])
def test_gne_and_landscape_command_lines_print_no_warnings(kind, data_dir, store_dir):
    write_test_split_only(data_dir, n=200)
    cmd = [
        sys.executable,
        "-m",
        f"models.studies.{kind}",
        "--dataset",
        "mnist",
        "--data-dir",
        str(data_dir),
        "--store-dir",
        str(store_dir),
        "--device",
        "cpu",
        *SPLIT_RUNS[kind],
    ]
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "default"}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = re.sub(r"\[[#.]+\][^\r\n]*", "", done.stderr)  # the progress bar
    assert "Warning" not in text and "worker stopped" not in text, text[-2000:]
    assert Path(done.stdout.strip().splitlines()[-1]).is_dir()


def test_ui_heldout_placement_on_a_test_split_only_folder_uses_left_out_samples(data_dir, store_dir):
    """The Latent tab's "Place held-out samples" follows the command line's rule: with only MNIST's
    test files, the samples come from that split, never ones the networks trained on."""
    from models.store import RunStore
    from models.studies import gne
    from models.studies.gne_points import place_heldout

    write_test_split_only(data_dir, n=200, size=12)
    run = gne.run(
        gne.Config(dataset="mnist", epochs=2, limit=150, batch_size=64), store=RunStore(store_dir), data_dir=data_dir
    )
    assert run.config["split"] == "test"
    out = place_heldout(run, data_dir=data_dir, limit=30, steps=5)
    held = gne.Heldout.from_arrays(out)
    trained = set(gne.plane(run, "gne").index.tolist())
    assert held.split == "test" and len(held.index) == 30
    assert not trained & set(held.index.tolist())  # none of them was trained on
