"""Issue 21, item 4 (and the capture command line of item 1): every label tells the truth — the split a
dataset has, the split and size a hardness grid embeds, the split an accuracy was measured on, a work
estimate scaled by this machine's measured speed, the model a run came from, and "an explore run"."""

from __future__ import annotations

import pytest

from dashboard import calibration, state
from dashboard.config import AppConfig
from dashboard.figures import hardness_accuracy_figure
from dashboard.jobs import reporter, time_left
from dashboard.tab_run import note
from dashboard.views import hardness as view
from models import datasets
from models.progress import Progress
from models.store import Run
from tests.test_reproduce_cli import write_test_split_only


def _config(tmp_path, data_dir) -> AppConfig:
    return AppConfig(data_dir=data_dir, store_dir=tmp_path / "runs", cache_dir=tmp_path / "cache")


def _run(kind: str, dataset: str, config: dict | None = None, **manifest) -> Run:
    return Run(
        f"{kind}-x",
        None,
        {"kind": kind, "dataset": dataset, "config": config or {}, "created": "2026-12-06T21:10:05.123", **manifest},
    )


def test_a_test_only_dataset_is_described_by_the_split_it_has(data_dir):
    write_test_split_only(data_dir, n=120)
    ds = datasets.load("mnist", data_dir=data_dir, split=datasets.default_split("mnist", data_dir))
    assert state.dataset_line(ds) == "120 test samples · 28×28 · 10 classes"
    digits = datasets.load("digits")
    assert state.dataset_line(digits).startswith(f"{digits.n:,} training samples · 8×8")


@pytest.mark.parametrize("name", ["mnist", "digits"])
def test_the_hardness_promise_names_the_real_split_and_sample_size(tmp_path, data_dir, name):
    write_test_split_only(data_dir, n=300)
    plan = view.grid_plan(_config(tmp_path, data_dir), name)
    train, test, _ = datasets.train_test(name, data_dir=data_dir)  # what the study itself trains and embeds
    per_class = 50
    real = len(datasets.balanced_indices(test.labels, per_class))
    assert plan.n_train == train.n and view.sample_size(plan, per_class) == real
    text = view.promise(4, ["relu", "tanh"], [2], 2, 3, per_class, plan, 42.0, None)
    # MNIST with only its test files: the sample is held out of that split; digits has its own test split
    words = {"mnist": "samples held out of the test split", "digits": "test samples"}[name]
    assert f"on {real:,} {words}" in text, text
    assert f"{train.n:,} training samples" in text
    assert real < per_class * 10  # the old promise ("500 test samples") was false for both


def test_a_dataset_with_both_splits_promises_test_samples(tmp_path, data_dir):
    from tests.conftest import write_mnist_like

    write_mnist_like(data_dir / "mnist", n_train=200, n_test=40)
    plan = view.grid_plan(_config(tmp_path, data_dir), "mnist")
    assert (plan.n_train, view.sample_size(plan, 50)) == (200, 40)
    assert "on 40 test samples" in view.promise(1, ["relu"], [1], 1, 1, 50, plan, 5.0, None)


def test_the_estimate_is_calibrated_by_what_this_machine_measured(tmp_path, data_dir):
    plan = view.grid_plan(_config(tmp_path, data_dir), "digits")
    before = view.promise(1, ["relu"], [1], 1, 1, 50, plan, 100.0, calibration.factor(tmp_path, "grid"))
    assert "not yet measured on this machine" in before and "≈ 2 min" in before
    calibration.record(tmp_path, "grid", measured=270.0, estimated=100.0)  # this machine: 2.7× slower
    calibration.record(tmp_path, "grid", measured=250.0, estimated=100.0)
    calibration.record(tmp_path, "grid", measured=290.0, estimated=100.0)
    assert calibration.factor(tmp_path, "grid") == pytest.approx(2.7)
    after = view.promise(1, ["relu"], [1], 1, 1, 50, plan, 100.0, calibration.factor(tmp_path, "grid"))
    assert "≈ 4 min on this machine" in after and "calibrated" in after, after
    calibration.record(tmp_path, "grid", measured=0.0, estimated=100.0)  # nonsense is not kept
    (tmp_path / ".calibration.json").write_text("{not json")
    assert calibration.factor(tmp_path, "grid") is None  # a broken file: back to "not yet measured"


def test_a_running_job_says_the_time_left_measured_on_itself(monkeypatch):
    assert time_left(1.0, 0.5) == ""  # too early to tell
    assert time_left(30.0, 0.02) == ""  # too little done to tell
    assert time_left(60.0, 0.25) == "~3 min left"
    assert time_left(10.0, 0.5) == "~10 s left"
    assert time_left(60.0, 1.0) == ""
    import dashboard.jobs as jobs

    clock = iter([0.0, 20.0])
    sent: list[tuple] = []
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    forward = reporter(sent.append, "grid", every=0.0)
    forward(Progress(0, 10, "training"))
    forward(Progress(2, 10, "training"))
    assert sent[-1][2] == "grid: training · ~80 s left", sent  # 20 s for 20 %: 80 s to go


def test_the_accuracy_chart_names_the_split_it_was_measured_on():
    fig = hardness_accuracy_figure(
        [{"activation": "capture", "name": "step 0", "kl": 0.5, "test_accuracy": 0.9}], split="train"
    )
    assert fig.layout.yaxis.title.text == "train accuracy" and "train accuracy" in fig.layout.title.text
    both = _run("hardness", "mnist", split="train and test splits as given", sample_split="test")
    held = _run(
        "hardness", "digits", split="only the train split is present: train/test drawn from it …", sample_split="train"
    )
    assert view.accuracy_split(both) == "test" and view.accuracy_split(held) == "held-out"


def test_runs_are_labelled_with_their_model():
    one = _run("capture", "arrays:usps.npz", {"model": ["my_cnn.onnx"]})
    other = _run("capture", "arrays:usps.npz", {"model": ["sub/resnet.pt2", "sub/resnet-2.pt2"]})
    assert state.run_label(one) == "capture · my_cnn.onnx · arrays:usps.npz · 2026-12-06 21:10"
    assert state.run_label(other).startswith("capture · resnet.pt2 +1 · arrays:usps.npz")
    assert state.run_label(_run("hardness", "digits")) == "hardness · digits · 2026-12-06 21:10"


def test_an_explore_run_takes_an():
    picked, shown = _run("explore", "digits"), _run("hardness", "digits")
    shown = Run("other", None, shown.manifest)
    assert (
        note(("hardness",), picked, shown, "digits")
        == "the Run picker holds an explore run, which this tab cannot draw"
    )
    hardness = _run("hardness", "digits")
    assert note(("explore",), hardness, picked, "digits").startswith("the Run picker holds a hardness")
    assert state.article("umap") == "an umap" and state.article("dnm") == "a dnm"


def test_capture_on_a_test_only_dataset_uses_the_split_present(tmp_path, data_dir):
    """``python -m models.studies.capture --dataset mnist`` on MNIST's test files alone, like every study."""
    import torch

    from models.store import RunStore
    from models.studies import capture as face
    from tests.test_capture import make_cnn

    write_test_split_only(data_dir, n=60)
    (data_dir / "models").mkdir()
    torch.onnx.export(
        make_cnn(),
        (torch.zeros(2, 1, 8, 8),),
        str(data_dir / "models" / "my_cnn.onnx"),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "b"}, "y": {0: "b"}},
        dynamo=False,
    )
    code = face.main(
        [
            "--model",
            "my_cnn.onnx",
            "--dataset",
            "mnist",
            "--per-class",
            "3",
            "--data-dir",
            str(data_dir),
            "--store-dir",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 0
    run = RunStore(tmp_path / "runs").list(kind="capture")[0]
    assert face.split(run) == "test" and run.config["split"] == "test"  # the manifest names the split captured
    assert len(face.sample(run)["labels"]) == 30
    with pytest.raises(datasets.DatasetError, match="present splits: test"):
        face.run(
            face.Config(dataset="mnist", model=("my_cnn.onnx",), split="train"),
            store=RunStore(tmp_path / "r2"),
            data_dir=data_dir,
        )
