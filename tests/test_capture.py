"""Capturing a person's own model: every format gives the activations a direct forward pass with
hooks gives; pickles, misfits and paths leaving the models folder are refused with a message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from models import datasets
from models.capture import ModelError, formats
from models.capture.layers import default_layers
from models.nets.mlp import MLP
from models.store import RunStore
from models.studies import capture as face

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-4


class SmallCNN(nn.Module):
    def __init__(self, size: int = 8, n_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(8 * (size // 2) ** 2, 16)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(16, n_classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.flatten(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(x)))


def small_cnn() -> nn.Module:
    """The factory the state_dict test names as ``tests.test_capture:small_cnn``."""
    return SmallCNN()


def make_cnn(size: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return SmallCNN(size).eval()


def make_mlp(in_features: int = 64) -> nn.Module:
    torch.manual_seed(1)
    return MLP(in_features, 10, depth=2, width=20, activation="relu").eval()


def save_formats(module: nn.Module, example: torch.Tensor, folder: Path, name: str) -> dict[str, str]:
    """``module`` as ONNX, .pt2, TorchScript and a state_dict; returns {format: file name}."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"onnx": f"{name}.onnx", "pt2": f"{name}.pt2", "ts": f"{name}.ts", "state": f"{name}.pt"}
    torch.onnx.export(
        module,
        (example,),
        str(folder / files["onnx"]),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        dynamo=False,
    )
    program = torch.export.export(module, (example,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}})
    torch.export.save(program, str(folder / files["pt2"]))
    try:
        scripted = torch.jit.script(module)
    except RuntimeError:  # LayerScope's MLP loops over getattr: trace it instead
        scripted = torch.jit.trace(module, example)
    scripted.save(str(folder / files["ts"]))
    torch.save(module.state_dict(), folder / files["state"])
    return files


def hooked(module: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, np.ndarray]:
    got = {}
    mods = dict(module.named_modules())
    handles = [mods[n].register_forward_hook(lambda m, i, o, n=n: got.__setitem__(n, o.detach())) for n in names]
    with torch.no_grad():
        got["output"] = module(x)
    for h in handles:
        h.remove()
    return {k: v.flatten(1).numpy() for k, v in got.items()}


@pytest.fixture()
def dirs(tmp_path):
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    return data, data / "models", RunStore(tmp_path / "runs")


def capture(store, data, **fields):
    return face.run(face.Config(**fields), store=store, data_dir=data)


CNN_LAYERS = ["conv1", "pool1", "fc1"]
MLP_LAYERS = ["hidden1", "hidden2"]


@pytest.mark.parametrize("fmt", ["onnx", "pt2", "ts", "state"])
def test_every_format_captures_what_hooks_see(dirs, fmt):
    data, models_dir, store = dirs
    ds = datasets.load("digits", per_class=6, seed=0)
    cnn, mlp = make_cnn(), make_mlp()
    cnn_files = save_formats(cnn, torch.zeros(2, 1, 8, 8), models_dir, "cnn")
    mlp_files = save_formats(mlp, torch.zeros(2, 64), models_dir, "mlp")
    (models_dir / "mlp.pt.json").write_text(
        json.dumps(
            {
                "architecture": "mlp",
                "args": {"in_features": 64, "n_classes": 10, "depth": 2, "width": 20, "activation": "relu"},
            }
        )
    )
    cnn_spec = (
        {"model": ("tests.test_capture:small_cnn",), "weights": cnn_files["state"], "allow_factory": True}
        if fmt == "state"
        else {"model": (cnn_files[fmt],)}
    )
    cases = [
        (cnn, cnn_spec, CNN_LAYERS, torch.from_numpy(ds.images[:, None] / np.float32(255))),
        (mlp, {"model": (mlp_files[fmt],)}, MLP_LAYERS, torch.from_numpy(ds.features)),
    ]
    for module, spec, names, x in cases:
        run = capture(store, data, dataset="digits", per_class=6, layers=tuple(names), pooling="flatten", **spec)
        want = hooked(module, x, names)
        assert face.steps(run) == [0]
        assert [layer["name"] for layer in face.layers(run)] == names + ["output"]
        for name in names + ["output"]:
            got = np.asarray(face.activations(run, name))
            assert got.shape == want[name].shape, (fmt, name)
            assert np.abs(got - want[name]).max() <= TOL, (fmt, name)
        s = face.sample(run)
        assert np.array_equal(s["labels"], ds.labels) and np.array_equal(s["index"], ds.index)
        assert np.array_equal(s["predictions"], want["output"].argmax(1))
        assert np.allclose(s["scores"].sum(1), 1, atol=1e-5)


def test_layer_tree_and_default_selection(dirs):
    data, models_dir, _ = dirs
    files = save_formats(make_cnn(), torch.zeros(2, 1, 8, 8), models_dir, "cnn")
    ds = datasets.load("digits", limit=4)
    from models.capture.adapt import plan_input
    from models.capture.capture import probe

    for fmt in ("onnx", "pt2", "ts"):
        model = formats.load(files[fmt], model_dir=models_dir)
        tree = probe(model, ds, plan_input(ds, model.input_shape, source=files[fmt]))
        shapes = {layer.name: layer.shape for layer in tree}
        assert shapes["conv1"] == (4, 8, 8) and shapes["pool1"] == (4, 4, 4) and shapes["output"] == (10,), fmt
        assert default_layers(tree)[-1] == "output"
        assert {"relu1", "relu2", "relu3"} <= set(default_layers(tree)), fmt  # each block ends at its activation
    model = formats.load(files["pt2"], model_dir=models_dir)
    assert default_layers(probe(model, ds, plan_input(ds, None, source="x"))) == ["relu1", "relu2", "relu3", "output"]
    assert model.input_shape == (None, 8, 8) or model.input_shape == (1, 8, 8)


def test_mean_pooling_and_float16(dirs):
    data, models_dir, store = dirs
    cnn = make_cnn()
    files = save_formats(cnn, torch.zeros(2, 1, 8, 8), models_dir, "cnn")
    run = capture(store, data, model=(files["onnx"],), layers=("conv1", "relu3"), per_class=5, float16=True)
    ds = datasets.load("digits", per_class=5)
    x = torch.from_numpy(ds.images[:, None] / np.float32(255))
    mods = dict(cnn.named_modules())
    got = {}
    h = mods["conv1"].register_forward_hook(lambda m, i, o: got.__setitem__("conv1", o))
    with torch.no_grad():
        cnn(x)
    h.remove()
    conv = face.activations(run, "conv1")
    assert conv.dtype == np.float16 and conv.shape == (ds.n, 4)
    assert np.abs(conv.astype(np.float32) - got["conv1"].mean((2, 3)).numpy()).max() < 2e-3
    assert face.layers(run)[0]["reduce"] == "mean" and face.layers(run)[1]["reduce"] == "none"
    assert run.manifest["capture"]["dtype"] == "float16"


class Trap:
    """Unpickling this creates the file it names: proof that the loader ran code from the file."""

    def __init__(self, flag):
        self.flag = str(flag)

    def __reduce__(self):
        return (Path.touch, (Path(self.flag),))


def test_a_pickled_whole_model_is_refused_and_nothing_in_it_runs(dirs, tmp_path):
    data, models_dir, store = dirs
    flag = tmp_path / "ran.flag"
    model = make_mlp()
    model.trap = Trap(flag)
    torch.save(model, models_dir / "whole.pt")
    torch.load(models_dir / "whole.pt", weights_only=False)  # the trap is live: plain unpickling springs it
    assert flag.exists()
    flag.unlink()
    for spec in ("whole.pt",):
        with pytest.raises(ModelError, match="torch.export") as err:
            formats.load(spec, model_dir=models_dir)
        assert "whole.pt" in str(err.value) and "TorchScript" not in str(err.value) or "jit.script" in str(err.value)
    with pytest.raises(ModelError, match="pickled"):
        capture(store, data, model=("whole.pt",))
    assert not flag.exists()
    assert store.list() == []


def test_a_model_that_does_not_fit_the_dataset_names_both_shapes(dirs):
    data, models_dir, store = dirs
    files = save_formats(make_mlp(50), torch.zeros(2, 50), models_dir, "mlp50")
    for fmt in ("onnx", "pt2"):
        with pytest.raises(ModelError) as err:
            capture(store, data, model=(files[fmt],), per_class=3)
        message = str(err.value)
        assert "8×8" in message and "64 features" in message and "50" in message, message
    with pytest.raises(ModelError) as err:  # no signature: the shape is found failing in the forward pass
        capture(store, data, model=(files["ts"],), per_class=3)
    assert "8×8" in str(err.value) and "input-shape" in str(err.value)
    assert store.list() == []


def test_paths_and_links_leaving_the_models_folder_are_refused(dirs, tmp_path):
    data, models_dir, store = dirs
    outside = tmp_path / "outside"
    files = save_formats(make_cnn(), torch.zeros(2, 1, 8, 8), outside, "cnn")
    (models_dir / "link.onnx").symlink_to(outside / files["onnx"])
    (models_dir / "sub").symlink_to(outside, target_is_directory=True)
    for spec in ("../outside/cnn.onnx", str(outside / "cnn.onnx"), "link.onnx", "sub/cnn.onnx"):
        with pytest.raises(ModelError, match="models folder"):
            formats.load(spec, model_dir=models_dir)
    assert formats.available(models_dir) == []
    with pytest.raises(ModelError, match="only"):  # factories are for the command line and Python
        formats.load("tests.test_capture:small_cnn", model_dir=models_dir)
    with pytest.raises(ModelError, match="sidecar"):
        torch.save(make_mlp().state_dict(), models_dir / "bare.pt")
        formats.load("bare.pt", model_dir=models_dir)


def test_python_api_writes_several_steps_the_readers_read(tmp_path):
    import layerscope

    net = make_cnn()
    with layerscope.Capture(
        tmp_path / "runs", dataset="digits", model=net, layers=["conv2", "fc1"], per_class=4, data_dir=tmp_path
    ) as cap:
        for epoch in range(3):
            with torch.no_grad():
                net.fc1.weight.mul_(1.5)
            net.train()
            cap.add(step=epoch * 10)
            assert net.training  # its mode is restored
    run = layerscope.load_run(tmp_path / "runs")
    assert run.id == cap.run_id and layerscope.steps(run) == [0, 10, 20]
    a, b = (np.asarray(layerscope.activations(run, "fc1", step=s)) for s in (0, 20))
    assert a.shape == b.shape == (40, 16) and not np.allclose(a, b)
    assert np.allclose(layerscope.activations(run, "conv2", step=0), layerscope.activations(run, "conv2"))
    assert layerscope.sample(run, step=10)["predictions"].shape == (40,)
    with pytest.raises(ValueError, match="no step 5"):
        layerscope.activations(run, "fc1", step=5)


def test_python_api_with_arrays_and_a_failing_script_leaves_nothing(tmp_path):
    import layerscope

    x = np.random.default_rng(0).random((30, 64), dtype=np.float32)
    y = np.arange(30) % 3
    with pytest.raises(RuntimeError):
        with layerscope.Capture(tmp_path / "runs", dataset=(x, y), model=make_mlp()) as cap:
            cap.add()
            raise RuntimeError("training crashed")
    assert RunStore(tmp_path / "runs").list() == []
    with layerscope.Capture(tmp_path / "runs", dataset=(x, y), model=make_mlp()) as cap:
        cap.add()
    assert [l["name"] for l in layerscope.layers(cap.run)] == ["hidden1", "hidden2", "output"]


def _cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "models.studies.capture", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_command_line_captures_digits_and_refuses_a_bad_model(dirs, tmp_path):
    data, models_dir, _ = dirs
    save_formats(make_cnn(), torch.zeros(2, 1, 8, 8), models_dir, "my_cnn")
    out = _cli(
        "--model",
        "my_cnn.onnx",
        "--dataset",
        "digits",
        "--per-class",
        "5",
        "--data-dir",
        str(data),
        "--store-dir",
        str(tmp_path / "runs"),
    )
    assert out.returncode == 0, out.stderr
    assert "step 0: my_cnn.onnx (onnx" in out.stdout and "relu1" in out.stdout
    run = RunStore(tmp_path / "runs").list(kind="capture")[0]
    assert face.activations(run, "relu3").shape == (50, 16)
    (models_dir / "broken.onnx").write_bytes(b"not onnx")
    for bad in ("broken.onnx", "missing.onnx", "../x.onnx"):
        out = _cli("--model", bad, "--data-dir", str(data), "--store-dir", str(tmp_path / "runs"))
        errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
        assert out.returncode == 2 and len(errors) == 1 and bad.split("/")[-1] in errors[0], out.stderr
    assert len(RunStore(tmp_path / "runs").list()) == 1


def test_real_size_digits_upscaled_to_28_through_a_cnn(dirs):
    data, models_dir, store = dirs
    ds = datasets.load("digits")
    big = torch.nn.functional.interpolate(
        torch.from_numpy(ds.images[:, None]).float(), size=(28, 28), mode="bilinear", align_corners=False
    )
    images = big[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    np.savez(
        data / "digits28.npz",
        features=images.reshape(len(images), -1) / np.float32(255),
        labels=ds.labels,
        images=images,
    )
    cnn = make_cnn(28)
    files = save_formats(cnn, torch.zeros(2, 1, 28, 28), models_dir, "cnn28")
    for fmt in ("onnx", "pt2"):
        run = capture(
            store, data, dataset="arrays:digits28.npz", model=(files[fmt],), batch_size=500, layers=("conv2", "fc1")
        )
        train = datasets.load("arrays:digits28.npz", data_dir=data, normalize=False)
        x = torch.from_numpy(train.images[:, None] / np.float32(255))
        want = hooked(cnn, x, ["fc1"])
        got = face.activations(run, "fc1")
        assert got.shape == (train.n, 16) and train.n > 1000 and np.abs(np.asarray(got) - want["fc1"]).max() <= TOL
        assert face.activations(run, "conv2").shape == (train.n, 8)
        assert run.manifest["capture"]["input"]["shape"] == [1, 28, 28]
    # the 8×8 digits themselves are resized to the model's 28×28 input
    run = capture(store, data, dataset="digits", model=(files["onnx"],), per_class=3)
    assert run.manifest["capture"]["input"]["resize"] == [[8, 8], [28, 28]]


def test_layerscope_command_dispatches_to_studies_and_prints_a_layer_tree(dirs):
    data, models_dir, _ = dirs
    save_formats(make_cnn(), torch.zeros(2, 1, 8, 8), models_dir, "cnn")
    out = subprocess.run(
        [sys.executable, "-m", "layerscope", "layers", "cnn.onnx", "--data-dir", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "* " in out.stdout and "conv1" in out.stdout and "4×8×8" in out.stdout
    out = subprocess.run(
        [sys.executable, "-m", "layerscope", "capture", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "--model-dir" in out.stdout
