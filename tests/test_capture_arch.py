"""Any architecture captured right: a ViT-like and a ResNet-like model in every format (ONNX from
both exporters, torch.export, TorchScript, the live module) give each block's own output pooled the
documented way; layers come back in network order; trees read as the model is built; a token model
over a token dataset honours the attention mask."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from models import datasets
from models.capture import ModelError, formats
from models.capture.adapt import plan_input
from models.capture.capture import probe
from models.capture.layers import default_layers
from models.store import RunStore
from models.studies import capture as face
from tests.arch_models import export_all, make

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread here, restored after

TOL = 1e-4
FORMATS = ("onnx", "onnx2", "pt2", "ts")


@pytest.fixture(scope="module")
def world(tmp_path_factory, one_torch_thread):  # torch on one thread while the module builds and captures
    root = tmp_path_factory.mktemp("arch")
    data, models_dir = root / "data", root / "data" / "models"
    models_dir.mkdir(parents=True)
    files = {kind: export_all(make(kind), kind, models_dir, kind) for kind in ("vit", "resnet", "text")}
    ds = datasets.load("digits", per_class=5, seed=0)
    big = torch.nn.functional.interpolate(
        torch.from_numpy(ds.images[:, None]).float(), size=(16, 16), mode="bilinear", align_corners=False
    )
    images = big[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    np.savez(data / "digits16.npz", images=images, labels=ds.labels)
    rng = np.random.default_rng(0)
    n, length = 30, 12
    lengths = rng.integers(4, length + 1, n)
    mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int64)
    ids = rng.integers(1, 50, (n, length)) * mask
    texts = np.array([" ".join(f"w{t}" for t in row[:k]) for row, k in zip(ids, lengths)])
    np.savez(data / "tokens.npz", input_ids=ids, attention_mask=mask, labels=np.arange(n) % 3, texts=texts)
    return {"data": data, "models": models_dir, "files": files, "store": RunStore(root / "runs")}


def hooked(module, args, names):
    got, mods = {}, dict(module.named_modules())
    handles = [mods[n].register_forward_hook(lambda m, i, o, n=n: got.__setitem__(n, o.detach())) for n in names]
    with torch.no_grad():
        got["output"] = module(*args)
    for h in handles:
        h.remove()
    return got


def capture(world, **fields):
    return face.run(face.Config(**fields), store=world["store"], data_dir=world["data"])


def spec(world, kind, fmt):
    if fmt == "module":
        return {"model": ("tests.arch_models:make_" + kind,), "allow_factory": True}
    return {"model": (world["files"][kind][fmt],)}


def images16(world):
    ds = datasets.load("arrays:digits16.npz", data_dir=world["data"], normalize=False)
    return ds, (torch.from_numpy(ds.images[:, None] / np.float32(255)),)


@pytest.mark.parametrize("fmt", FORMATS + ("module",))
def test_vit_and_resnet_blocks_equal_their_own_output_pooled(world, fmt):
    _, args = images16(world)
    vit = make("vit")
    # given out of order, captured in network order; blocks mean over tokens, the patch map over H×W
    run = capture(
        world,
        dataset="arrays:digits16.npz",
        layers=("blocks.3", "patch", "blocks.0"),
        pooling="mean, blocks.3=cls, patch=flatten",
        **spec(world, "vit", fmt),
    )
    assert [layer["name"] for layer in face.layers(run)] == ["patch", "blocks.0", "blocks.3", "output"]
    want = hooked(vit, args, ["patch", "blocks.0", "blocks.3"])
    expect = {
        "patch": want["patch"].flatten(1),
        "blocks.0": want["blocks.0"].mean(1),
        "blocks.3": want["blocks.3"][:, 0],
        "output": want["output"],
    }
    for name, value in expect.items():
        got = np.asarray(face.activations(run, name))
        assert got.shape == tuple(value.shape) and np.abs(got - value.numpy()).max() <= TOL, (fmt, name)
    layers = {layer["name"]: layer for layer in face.layers(run)}
    assert layers["blocks.0"]["layout"] == "sequence" and layers["blocks.0"]["reduce"] == "mean"
    assert layers["blocks.3"]["reduce"] == "cls" and layers["patch"]["layout"] == "map"
    assert layers["blocks.0"]["pooled"] == "17 tokens × 32 → 32 (mean over tokens)"

    resnet = make("resnet")
    run = capture(
        world,
        dataset="arrays:digits16.npz",
        layers=("layer2", "stem", "layer1"),
        pooling="max, layer1=mean",
        **spec(world, "resnet", fmt),
    )
    assert [layer["name"] for layer in face.layers(run)] == ["stem", "layer1", "layer2", "output"]
    want = hooked(resnet, args, ["stem", "layer1", "layer2"])
    expect = {
        "stem": want["stem"].amax((2, 3)),
        "layer1": want["layer1"].mean((2, 3)),
        "layer2": want["layer2"].amax((2, 3)),
        "output": want["output"],
    }
    for name, value in expect.items():
        got = np.asarray(face.activations(run, name))
        assert got.shape == tuple(value.shape) and np.abs(got - value.numpy()).max() <= TOL, (fmt, name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_ticks_hold_the_blocks_and_trees_read_as_the_model(world, fmt):
    ds = datasets.load("arrays:digits16.npz", data_dir=world["data"], limit=6, normalize=False)
    model = formats.load(world["files"]["vit"][fmt], model_dir=world["models"])
    tree = probe(model, ds, plan_input(ds, model.input_shape or (1, 16, 16), source=fmt, inputs=model.inputs))
    picks = default_layers(tree)
    assert {"patch", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "norm"} <= set(picks) and picks[-1] == "output"
    names = [layer.name for layer in tree]
    for i, layer in enumerate(tree):  # parents before children
        parent = layer.name.rpartition(".")[0]
        assert parent not in names or names.index(parent) < i, (fmt, layer.name)
    assert "InterpreterModule" not in {layer.type for layer in tree}
    assert not any(c in layer.name for layer in tree for c in "/:%"), [layer.name for layer in tree][:20]
    if fmt.startswith("onnx"):  # shape arithmetic and the CLS broadcast are not activations
        shape_ops = {"Shape", "Slice", "Unsqueeze", "Where", "Expand", "ConstantOfShape", "Equal", "Constant"}
        assert not [layer.name for layer in tree if layer.type in shape_ops]
        assert all(len(layer.shape) >= 1 for layer in tree)
    if fmt == "pt2":
        types = {layer.name: layer.type for layer in tree}
        assert types["blocks.0"] == "Block" and types["patch"] == "Conv2d" and types["blocks.0.mlp"] == "Sequential"


def test_resnet_default_ticks_open_its_stages(world):
    ds = datasets.load("arrays:digits16.npz", data_dir=world["data"], limit=6, normalize=False)
    model = formats.load(world["files"]["resnet"]["pt2"], model_dir=world["models"])
    tree = probe(model, ds, plan_input(ds, model.input_shape, source="resnet", inputs=model.inputs))
    assert default_layers(tree) == ["stem", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "pool", "output"]


def test_default_capture_of_a_vit_pools_its_blocks_over_tokens(world):
    _, args = images16(world)
    run = capture(world, dataset="arrays:digits16.npz", **spec(world, "vit", "onnx2"))
    names = [layer["name"] for layer in face.layers(run)]
    assert names[:5] == ["patch", "blocks.0", "blocks.1", "blocks.2", "blocks.3"]
    want = hooked(make("vit"), args, ["blocks.2"])
    assert np.abs(np.asarray(face.activations(run, "blocks.2")) - want["blocks.2"].mean(1).numpy()).max() <= TOL


@pytest.mark.parametrize("fmt", ("onnx", "onnx2", "pt2"))
def test_a_token_model_over_a_token_dataset_honours_the_mask(world, fmt):
    ds = datasets.load("arrays:tokens.npz", data_dir=world["data"], normalize=False)
    assert ds.tokens["input_ids"].shape == (30, 12) and ds.meta["texts"][0].startswith("w")
    assert ds.features.shape[0] == 30 and ds.features.dtype == np.float32
    run = capture(world, dataset="arrays:tokens.npz", layers=("blocks.1", "embed"), **spec(world, "text", fmt))
    ids, mask = (torch.from_numpy(ds.tokens[k]) for k in ("input_ids", "attention_mask"))
    want = hooked(make("text"), (ids, mask), ["blocks.1", "embed"])
    m = mask.float()[..., None]
    for name in ("blocks.1", "embed"):
        masked = (want[name] * m).sum(1) / m.sum(1)
        got = np.asarray(face.activations(run, name))
        assert np.abs(got - masked.numpy()).max() <= TOL, (fmt, name)
        assert np.abs(got - want[name].mean(1).numpy()).max() > 1e-3  # padding exists: a plain mean differs
    assert np.abs(np.asarray(face.activations(run, "output")) - want["output"].numpy()).max() <= TOL
    assert run.manifest["capture"]["input"]["feeds"] == {"input_ids": "input_ids", "attention_mask": "attention_mask"}


def test_a_token_model_given_images_says_it_needs_a_token_dataset(world):
    for fmt in ("onnx", "pt2"):
        with pytest.raises(ModelError, match="token dataset"):
            capture(world, dataset="digits", per_class=2, **spec(world, "text", fmt))


def test_pt2_loads_without_a_future_warning(world):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        formats.load(world["files"]["vit"]["pt2"], model_dir=world["models"])


def test_a_bad_pooling_is_refused_before_anything_runs(world):
    with pytest.raises(ValueError, match="pooling"):
        face.Config(model=("x.onnx",), pooling="blocks.1=median")
    with pytest.raises(ValueError, match="conv maps"):
        face.Config(model=("x.onnx",), pooling="cls")
    with pytest.raises(ModelError, match="token sequence"):
        capture(
            world,
            dataset="arrays:digits16.npz",
            layers=("blocks.0",),
            pooling="blocks.0=max",
            **spec(world, "vit", "pt2"),
        )


def test_default_ticks_are_thinned_evenly_and_keep_the_last_block():
    from models.capture.backends import Layer, assign_layouts

    tree = [Layer("embed", "Embedding", 1, (9, 8), True)]
    for i in range(20):
        tree += [Layer(f"blocks.{i}", "Block", 1, (9, 8), True), Layer(f"blocks.{i}.fc", "Linear", 2, (9, 8), True)]
    tree += [
        Layer("norm", "LayerNorm", 1, (9, 8), True),
        Layer("head", "Linear", 1, (3,), True, True),
        Layer("output", "output", 0, (3,), False, True),
    ]
    picks = default_layers(assign_layouts(tree))
    blocks = [p for p in picks if p.startswith("blocks.")]
    assert len(picks) - 2 <= 12 + 1 and picks[0] == "embed" and picks[-2:] == ["norm", "output"]
    assert "blocks.0" in blocks and "blocks.19" in blocks and len(blocks) >= 9
    gaps = np.diff([int(b.split(".")[1]) for b in blocks])
    assert gaps.max() - gaps.min() <= 1  # evenly spaced
    layouts = {layer.name: layer.layout for layer in assign_layouts(tree)}
    assert layouts["blocks.3"] == "sequence" and layouts["head"] == "vector"


def test_pooling_by_layout_with_a_mask_and_channels_last():
    from models.capture.adapt import reduce

    t = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    assert torch.allclose(reduce(t, "mean", "sequence", mask)[0], t[0, :2].mean(0))
    assert torch.allclose(reduce(t, "mean", "sequence", mask)[1], t[1].mean(0))
    assert torch.allclose(reduce(t, "cls", "sequence"), t[:, 0])
    assert torch.allclose(reduce(t, "mean", "map"), t.mean(2))  # C×L: over L
    hwc = torch.rand(2, 5, 5, 7)
    assert torch.allclose(reduce(hwc, "max", "map_last"), hwc.amax((1, 2)))
    from models.capture import pooling

    assert pooling.choose("blocks.1", "sequence", "max, blocks.1=cls") == "cls"
    assert pooling.choose("blocks.2", "sequence", "max") == "mean" and pooling.choose("c", "map", "max") == "max"
    assert pooling.choose("blocks.2", "sequence", {"sequences": "flatten"}) == "flatten"
    assert pooling.what_it_gives((17, 64), "sequence", "mean") == "17 tokens × 64 → 64 (mean over tokens)"


def test_the_model_tab_form_makes_a_pooling_spec():
    from dashboard.views.model import data

    assert (
        data.pooling_spec("max", "cls", "blocks.1=flatten, head=mean")
        == "max, sequences=cls, blocks.1=flatten, head=mean"
    )
    assert data.pooling_spec(None, "mean", "") == "mean"
    with pytest.raises(ValueError, match="pooling"):
        data.pooling_spec("mean", None, "blocks.1=median")
    cfg = data.capture_config(
        "digits",
        "m.onnx",
        None,
        "mean",
        "all",
        1,
        "train",
        False,
        "",
        "",
        True,
        "unit",
        "",
        "",
        "flatten",
        "blocks.0=cls",
    )
    assert cfg.pooling == "mean, sequences=flatten, blocks.0=cls"
    tree = {
        "layers": [
            {"name": "blocks.0", "type": "Block", "depth": 1, "shape": [17, 64], "layout": "sequence"},
            {"name": "output", "type": "output", "depth": 0, "shape": [10], "layout": "vector"},
        ]
    }
    labels = [o["label"] for o in data.tree_options(tree)]
    assert labels[0] == "blocks.0 · Block · 17 tokens × 64 → mean 64 · cls 64 · flatten 1088"
    assert labels[1] == "output · output · 10"
