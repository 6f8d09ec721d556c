"""A model file is inspected before any deserialiser touches it: nothing in it runs, nothing outside
the models folder is read, nothing past the limits is allocated (issue 18).

Every tampered file is built here from a tiny real export. A trap (a pickle whose ``__reduce__``
creates a marker file) proves nothing ran; where torch itself would spring it, the test shows that
first. Peak memory of the bomb and the oversized sidecar is read in a child process (``VmHWM``).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from models.capture import ModelError, formats, model_formats
from models.datasets import upload

ROOT = Path(__file__).resolve().parent.parent
SECRET = "TOKEN-d41d8cd98f00b204"
PEAK_LIMIT_KIB = 700 * 1024  # far below the 1 GiB the bomb and the sidecar ask for


class Trap:
    """Unpickling this creates the file it names: proof that a loader ran code from the file."""

    def __init__(self, flag):
        self.flag = str(flag)

    def __reduce__(self):
        return (Path.touch, (Path(self.flag),))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.fc2 = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


@pytest.fixture()
def models_dir(tmp_path):
    folder = tmp_path / "data" / "models"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture()
def flag(tmp_path):
    return tmp_path / "ran.flag"


def export_pt2(path: Path) -> Path:
    torch.manual_seed(0)
    program = torch.export.export(Tiny().eval(), (torch.zeros(2, 4),))
    torch.export.save(program, str(path))
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path: Path, content: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in content.items():
            zf.writestr(name, data)
    return path


def tampered(src: Path, dst: Path, change) -> Path:
    """``dst``: ``src`` with ``change(members, prefix)`` applied to its members."""
    content = members(src)
    prefix = next(iter(content)).split("/", 1)[0] + "/"
    change(content, prefix)
    return write_zip(dst, content)


def trap_pickle(flag: Path) -> bytes:
    buf = io.BytesIO()
    torch.save(Trap(flag), buf)
    return buf.getvalue()


def springs(path: Path) -> None:
    """Load ``path`` with plain ``torch.export.load``: the trap is live (torch may fail afterwards)."""
    try:
        torch.export.load(str(path))
    except Exception:
        pass


def refused(spec: str, models_dir: Path, *fragments: str) -> str:
    with pytest.raises(ModelError) as err:
        formats.load(spec, model_dir=models_dir)
    message = str(err.value)
    assert spec in message or spec[:60] in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --- .pt2 ----------------------------------------------------------------------------------------------


def test_a_valid_export_loads_and_runs_from_the_checked_copy(models_dir):
    export_pt2(models_dir / "tiny.pt2")
    model = formats.load("tiny.pt2", model_dir=models_dir)
    torch.manual_seed(0)
    want = Tiny().eval()
    x = torch.randn(2, 4)
    got = model.forward(x, ["fc1"])
    assert torch.allclose(got["output"], want(x), atol=1e-6)
    assert torch.allclose(got["fc1"], want.fc1(x), atol=1e-6)


def test_pt2_sample_inputs_that_are_a_pickle_are_never_read(models_dir, flag):
    src = export_pt2(models_dir / "clean.pt2")
    evil = tampered(
        src, models_dir / "evil.pt2", lambda c, p: c.__setitem__(p + "data/sample_inputs/model.pt", trap_pickle(flag))
    )
    springs(evil)  # torch itself: weights_only=True fails, then weights_only=False runs it
    assert flag.exists()
    flag.unlink()
    model = formats.load("evil.pt2", model_dir=models_dir)
    assert model.forward(torch.zeros(2, 4), [])["output"].shape == (2, 2)
    assert not flag.exists()


def _pickled_weight(flag):
    def change(content, prefix):
        config_name = prefix + "data/weights/model_weights_config.json"
        config = json.loads(content[config_name])
        config["config"]["fc1.weight"]["use_pickle"] = True
        content[config_name] = json.dumps(config).encode()
        content[prefix + "data/weights/" + config["config"]["fc1.weight"]["path_name"]] = trap_pickle(flag)

    return change


def test_pt2_pickled_weight_is_refused_before_torch_reads_it(models_dir, flag):
    evil = tampered(export_pt2(models_dir / "clean.pt2"), models_dir / "evil.pt2", _pickled_weight(flag))
    springs(evil)  # the trap runs before torch notices it is not a tensor
    assert flag.exists()
    flag.unlink()
    refused("evil.pt2", models_dir, "fc1.weight", "pickle")
    assert not flag.exists()


def test_pt2_opaque_object_constant_is_refused(models_dir, flag):
    def change(content, prefix):
        config_name = prefix + "data/constants/model_constants_config.json"
        config = json.loads(content[config_name])
        config["config"]["evil"] = {
            "path_name": "opaque_obj_0",
            "is_param": False,
            "use_pickle": True,
            "tensor_meta": None,
        }
        content[config_name] = json.dumps(config).encode()
        content[prefix + "data/constants/opaque_obj_0"] = pickle.dumps(Trap(flag))

    evil = tampered(export_pt2(models_dir / "clean.pt2"), models_dir / "evil.pt2", change)
    springs(evil)  # pickle.loads runs the trap
    assert flag.exists()
    flag.unlink()
    refused("evil.pt2", models_dir, "opaque")
    assert not flag.exists()


def test_pt2_constant_config_naming_an_object_is_refused_even_without_the_member(models_dir):
    def change(content, prefix):
        config_name = prefix + "data/constants/model_constants_config.json"
        config = {
            "config": {
                "obj": {"path_name": "custom_obj_0", "is_param": False, "use_pickle": False, "tensor_meta": None}
            }
        }
        content[config_name] = json.dumps(config).encode()

    tampered(export_pt2(models_dir / "clean.pt2"), models_dir / "evil.pt2", change)
    refused("evil.pt2", models_dir, "'obj'", "not a plain tensor")


@pytest.mark.parametrize(
    "member, words",
    [
        ("data/aotinductor/model/model.so", "AOTInductor"),
        ("data/aotinductor/model/weights_config.json", "AOTInductor"),
        ("data/weights/model.pt", "legacy pickled weights"),
        ("data/constants/model.pt", "legacy pickled weights"),
        ("extra/libevil.so", "shared library"),
        ("data/executorch/model.pte", "not part of a plain torch.export program"),
    ],
)
def test_pt2_members_torch_would_run_or_unpickle_are_refused(models_dir, flag, member, words):
    tampered(
        export_pt2(models_dir / "clean.pt2"),
        models_dir / "evil.pt2",
        lambda c, p: c.__setitem__(p + member, trap_pickle(flag)),
    )
    refused("evil.pt2", models_dir, words, member)
    assert not flag.exists()


def _program_change(edit):
    def change(content, prefix):
        name = prefix + "models/model.json"
        program = json.loads(content[name])
        edit(program)
        content[name] = json.dumps(program).encode()

    return change


def test_pt2_graph_calling_a_python_function_or_a_file_operator_is_refused(models_dir, flag):
    src = export_pt2(models_dir / "clean.pt2")
    for i, target in enumerate(
        [
            "torch.os.system",
            "torch.ops.aten.from_file.default",
            "builtins.exec",
            "torch.ops.aten.__class__.default",
            "#evil.op",
        ]
    ):

        def edit(program, target=target):
            program["graph_module"]["graph"]["nodes"][0]["target"] = target

        tampered(src, models_dir / f"evil{i}.pt2", _program_change(edit))
        refused(f"evil{i}.pt2", models_dir, "not an ATen operator", target[:20])


def test_pt2_signature_that_imports_a_module_is_refused(models_dir):
    src = export_pt2(models_dir / "clean.pt2")
    enum_context = json.dumps([{"__enum__": True, "fqn": "antigravity:x", "name": "y"}])
    spec = json.dumps([1, {"type": "builtins.tuple", "context": enum_context, "children_spec": []}])
    default_dict = json.dumps([1, {"type": "collections.defaultdict", "context": "{}", "children_spec": []}])
    for i, bad in enumerate([spec, default_dict]):

        def edit(program, bad=bad):
            program["graph_module"]["module_call_graph"][0]["signature"]["in_spec"] = bad

        tampered(src, models_dir / f"evil{i}.pt2", _program_change(edit))
        refused(f"evil{i}.pt2", models_dir, "import")
    assert "antigravity" not in sys.modules


def test_pt2_symbolic_size_that_is_python_code_is_refused(models_dir, flag):
    """torch hands ``expr_str`` to ``sympy.sympify``, which evaluates it: a dynamic batch is written
    ``Symbol('s0', ...)``; one that is a call to Python is refused before torch sees it."""
    program = torch.export.export(
        Tiny().eval(), (torch.zeros(2, 4),), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}
    )
    torch.export.save(program, str(models_dir / "dynamic.pt2"))
    assert formats.load("dynamic.pt2", model_dir=models_dir).forward(torch.zeros(5, 4), [])["output"].shape == (5, 2)
    raw = members(models_dir / "dynamic.pt2")
    name = next(n for n in raw if n.endswith("models/model.json"))
    text = raw[name].decode()
    assert "expr_str" in text
    evil_expr = f"__import__('pathlib').Path({str(flag)!r}).touch() or s0"

    def change(content, prefix):
        program = json.loads(content[name])
        stack = [program]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if "expr_str" in item:
                    item["expr_str"] = evil_expr
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        content[name] = json.dumps(program).encode()

    tampered(models_dir / "dynamic.pt2", models_dir / "evil.pt2", change)
    springs(models_dir / "evil.pt2")  # plain torch.export.load evaluates it
    assert flag.exists()
    flag.unlink()
    refused("evil.pt2", models_dir, "symbolic size", "Python code")
    assert not flag.exists()


def test_pt2_guard_code_is_never_executed(models_dir, flag):
    def edit(program):
        program["guards_code"] = [f"__import__('pathlib').Path({str(flag)!r}).touch() is None"]

    tampered(export_pt2(models_dir / "clean.pt2"), models_dir / "guarded.pt2", _program_change(edit))
    model = formats.load("guarded.pt2", model_dir=models_dir)
    model.forward(torch.zeros(2, 4), ["fc1"])
    assert not flag.exists()


def test_pt2_weight_claiming_more_than_its_record_is_refused(models_dir):
    def change(content, prefix):
        config_name = prefix + "data/weights/model_weights_config.json"
        config = json.loads(content[config_name])
        meta = config["config"]["fc1.weight"]["tensor_meta"]
        meta["sizes"] = [{"as_int": 1 << 20}, {"as_int": 1 << 20}]
        meta["strides"] = [{"as_int": 1 << 20}, {"as_int": 1}]
        content[config_name] = json.dumps(config).encode()
        content[prefix + "data/weights/" + config["config"]["fc1.weight"]["path_name"]] = b""  # torch.zeros(size)

    tampered(export_pt2(models_dir / "clean.pt2"), models_dir / "huge.pt2", change)
    refused("huge.pt2", models_dir, "its weights", "over the limit")


_CHILD = r"""
import json, sys
spec, model_dir = sys.argv[1], sys.argv[2]
from models.capture import ModelError, formats
try:
    formats.load(spec, model_dir=model_dir)
    out = {"error": None}
except ModelError as exc:
    out = {"error": "ModelError", "message": str(exc)}
except BaseException as exc:
    out = {"error": type(exc).__name__, "message": str(exc)}
with open("/proc/self/status") as fh:
    out["peak_kib"] = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(json.dumps(out))
"""


def load_in_child(spec: str, models_dir: Path) -> dict:
    """Load ``spec`` in a fresh interpreter; its outcome and peak resident memory (KiB)."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, spec, str(models_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_pt2_zip_bomb_is_refused_from_its_directory_in_bounded_memory(models_dir):
    content = members(export_pt2(models_dir / "clean.pt2"))
    prefix = next(iter(content)).split("/", 1)[0] + "/"
    bomb = models_dir / "bomb.pt2"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_STORED) as zf:
        for name, data in content.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo(prefix + "data/weights/weight_9")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w", force_zip64=True) as fh:
            block = bytes(1 << 20)
            for _ in range(1024):  # 1 GiB of zeros, about 1 MB on disk
                fh.write(block)
    assert bomb.stat().st_size < 4 << 20
    out = load_in_child("bomb.pt2", models_dir)
    assert out["error"] == "ModelError" and "zip bomb" in out["message"] and "bomb.pt2" in out["message"], out
    assert out["peak_kib"] < PEAK_LIMIT_KIB, f"peak {out['peak_kib'] / 1024:.0f} MiB"


def test_pt2_member_inflating_past_its_declared_size_is_stopped(models_dir):
    """A member whose directory entry lies (declares 64 bytes, inflates to 64 MiB) is read no further."""
    import struct

    content = members(export_pt2(models_dir / "clean.pt2"))
    liar = models_dir / "liar.pt2"
    with zipfile.ZipFile(liar, "w", zipfile.ZIP_STORED) as zf:
        for name, data in content.items():
            if name.endswith("data/weights/weight_0"):
                zf.writestr(zipfile.ZipInfo(name), bytes(64 << 20), compress_type=zipfile.ZIP_DEFLATED)
            else:
                zf.writestr(name, data)
    raw = bytearray(liar.read_bytes())
    with zipfile.ZipFile(liar) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("data/weights/weight_0"))
    declared = 4 * 3 * 4  # fc1.weight: 3 × 4 float32
    struct.pack_into("<I", raw, info.header_offset + 22, declared)  # the local header's uncompressed size
    central = raw.index(b"PK\x01\x02")
    while raw[central + 46 : central + 46 + len(info.filename)] != info.filename.encode():
        central = raw.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", raw, central + 24, declared)  # and the central directory's
    liar.write_bytes(bytes(raw))
    message = refused("liar.pt2", models_dir, "weight_0")
    assert "inflates past" in message or "damaged" in message, message


def test_model_size_limit_is_read_from_the_environment(models_dir, monkeypatch):
    export_pt2(models_dir / "tiny.pt2")
    pad = numpy_helper.from_array(np.ones(256, np.float32), "pad")  # unused: only makes the file bigger
    onnx.save(_onnx_model([helper.make_node("Identity", ["x"], ["y"])], inits=[pad]), str(models_dir / "id.onnx"))
    assert (models_dir / "id.onnx").stat().st_size > 100
    monkeypatch.setenv("LAYERSCOPE_MAX_MODEL_BYTES", "100")
    refused("tiny.pt2", models_dir, "LAYERSCOPE_MAX_MODEL_BYTES")
    refused("id.onnx", models_dir, "LAYERSCOPE_MAX_MODEL_BYTES")
    monkeypatch.delenv("LAYERSCOPE_MAX_MODEL_BYTES")
    assert formats.load("id.onnx", model_dir=models_dir).input_name == "x"


# --- ONNX ----------------------------------------------------------------------------------------------


def _external(tensor: TensorProto, location: str, length: int | None = None) -> TensorProto:
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    entries = {"location": location, "offset": "0"}
    if length is not None:
        entries["length"] = str(length)
    for key, value in entries.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _onnx_model(nodes, inits=(), sparse=(), inputs=True) -> onnx.ModelProto:
    x = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", len(SECRET) // 4])] if inputs else []
    graph = helper.make_graph(
        nodes,
        "g",
        x,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=list(inits),
        sparse_initializer=list(sparse),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture()
def secret_cwd(tmp_path, monkeypatch):
    """A private file beside the working directory (outside the models folder), and that directory as cwd."""
    (tmp_path / "private.txt").write_text(SECRET)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "private.txt"


def _no_secret(message: str, run_dirs=()):
    assert SECRET not in message
    for folder in run_dirs:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), path


def test_onnx_sparse_initializer_with_external_data_in_the_working_directory_is_refused(models_dir, secret_cwd):
    n = len(SECRET) // 4
    values = _external(numpy_helper.from_array(np.zeros(n, np.float32), "w"), "private.txt", len(SECRET))
    sparse = helper.make_sparse_tensor(values, numpy_helper.from_array(np.arange(n, dtype=np.int64), "w_idx"), [n])
    model = _onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], sparse=[sparse])
    onnx.save(model, str(models_dir / "sparse.onnx"))
    message = refused("sparse.onnx", models_dir, "sparse initializer 'w'", "private.txt", "models folder")
    _no_secret(message)


def test_onnx_dense_initializer_pointing_up_a_folder_is_refused(models_dir, secret_cwd):
    (models_dir.parent / "secret.txt").write_text(SECRET)
    w = _external(numpy_helper.from_array(np.zeros(len(SECRET) // 4, np.float32), "w"), "../secret.txt")
    onnx.save(_onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[w]), str(models_dir / "up.onnx"))
    _no_secret(refused("up.onnx", models_dir, "initializer 'w'", "../secret.txt"))


def test_onnx_external_data_through_a_link_or_an_absolute_path_is_refused(models_dir, secret_cwd):
    (models_dir / "link.bin").symlink_to(secret_cwd)
    for name, location in (("link.onnx", "link.bin"), ("abs.onnx", str(secret_cwd))):
        w = _external(numpy_helper.from_array(np.zeros(len(SECRET) // 4, np.float32), "w"), location)
        onnx.save(_onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[w]), str(models_dir / name))
        _no_secret(refused(name, models_dir, "models folder"))


def test_onnx_attribute_tensor_with_external_data_is_refused(models_dir, secret_cwd):
    value = _external(numpy_helper.from_array(np.zeros(len(SECRET) // 4, np.float32), "c"), "private.txt")
    nodes = [
        helper.make_node("Constant", [], ["c"], value=value, name="const"),
        helper.make_node("Add", ["x", "c"], ["y"]),
    ]
    onnx.save(_onnx_model(nodes), str(models_dir / "attr.onnx"))
    _no_secret(refused("attr.onnx", models_dir, "attribute 'value' of node 'const'", "private.txt"))


def test_onnx_external_data_past_the_end_of_its_file_is_refused(models_dir):
    (models_dir / "w.bin").write_bytes(bytes(8))
    w = _external(numpy_helper.from_array(np.zeros(4, np.float32), "w"), "w.bin", 16)
    onnx.save(_onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[w]), str(models_dir / "short.onnx"))
    refused("short.onnx", models_dir, "does not fit its file")


def test_onnx_external_data_inside_the_models_folder_loads(models_dir, secret_cwd):
    w = np.arange(len(SECRET) // 4, dtype=np.float32)
    (models_dir / "sub").mkdir()
    (models_dir / "sub" / "w.bin").write_bytes(w.tobytes())
    init = _external(numpy_helper.from_array(np.zeros_like(w), "w"), "w.bin", w.nbytes)
    onnx.save(
        _onnx_model([helper.make_node("Add", ["x", "w"], ["y"])], inits=[init]), str(models_dir / "sub" / "ok.onnx")
    )
    model = formats.load("sub/ok.onnx", model_dir=models_dir)
    x = np.ones((3, len(w)), np.float32)
    assert np.allclose(model.forward(x, [])["output"].numpy(), x + w)


def test_onnx_empty_unparsable_and_input_less_files_are_model_errors(models_dir):
    (models_dir / "empty.onnx").write_bytes(b"")
    refused("empty.onnx", models_dir, "empty")
    (models_dir / "junk.onnx").write_bytes(b"\xff\xff\xff\xff not a protobuf")
    refused("junk.onnx", models_dir, "ONNX")
    const = helper.make_node("Constant", [], ["y"], value=numpy_helper.from_array(np.ones(2, np.float32), "c"))
    onnx.save(_onnx_model([const], inputs=False), str(models_dir / "noinput.onnx"))
    refused("noinput.onnx", models_dir, "no inputs")


# --- TorchScript ---------------------------------------------------------------------------------------


def _script_writing(flag: Path) -> nn.Module:
    class Writes(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(4))
            self.path = str(flag)

        def forward(self, x):
            return x * self.w

        @torch.jit.export
        def __getstate__(self):
            return (self.w, self.training, self.path)

        @torch.jit.export
        def __setstate__(self, state: tuple[torch.Tensor, bool, str]):
            torch.save(state[0], state[2])
            self.w, self.training, self.path = state[0], state[1], state[2]

    return torch.jit.script(Writes())


def test_torchscript_that_writes_a_file_while_loading_is_refused(models_dir, flag):
    _script_writing(flag).save(str(models_dir / "writes.ts"))
    torch.jit.load(str(models_dir / "writes.ts"))  # plain torch.jit.load runs __setstate__: the file appears
    assert flag.exists()
    flag.unlink()
    refused("writes.ts", models_dir, "refused before loading")
    assert not flag.exists()


def test_torchscript_reading_a_file_is_refused(models_dir, secret_cwd):
    class Reads(nn.Module):
        def forward(self, x):
            return x + torch.from_file("private.txt", False, 4, dtype=torch.uint8).float()

    torch.jit.script(Reads()).save(str(models_dir / "reads.ts"))
    _no_secret(refused("reads.ts", models_dir, "torch.from_file"))


# --- state_dict sidecars, names -------------------------------------------------------------------------


def _mlp_state(models_dir: Path, args: dict) -> None:
    from models.nets.mlp import MLP

    torch.save(MLP(8, 3, depth=2, width=5, activation="relu").state_dict(), models_dir / "mlp.pt")
    (models_dir / "mlp.pt.json").write_text(json.dumps({"architecture": "mlp", "args": args}))


def test_state_dict_sidecar_with_a_huge_width_is_refused_before_building(models_dir):
    for width in (1_000_000_000, 2_000_000):
        _mlp_state(models_dir, {"in_features": 8, "n_classes": 3, "depth": 2, "width": width, "activation": "relu"})
        out = load_in_child("mlp.pt", models_dir)
        assert out["error"] == "ModelError", out
        assert '"width"' in out["message"] and f"{width:,}" in out["message"] and "mlp.pt" in out["message"]
        assert '"width": 5' in out["message"]  # the sidecar the weights suggest
        assert out["peak_kib"] < PEAK_LIMIT_KIB, f"peak {out['peak_kib'] / 1024:.0f} MiB"


def test_state_dict_sidecar_that_does_not_fit_the_weights_is_refused(models_dir):
    _mlp_state(models_dir, {"in_features": 8, "n_classes": 3, "depth": 2, "width": 6, "activation": "relu"})
    refused("mlp.pt", models_dir, "does not fit the weights", "(6, 8)")
    _mlp_state(models_dir, {"in_features": 8, "n_classes": 3, "depth": 2, "width": 5, "activation": "relu"})
    model = formats.load("mlp.pt", model_dir=models_dir)
    assert model.forward(torch.zeros(2, 8), [])["output"].shape == (2, 3)


def test_a_5000_character_model_name_is_a_model_error(models_dir):
    for name in ("a" * 5000 + ".onnx", "a" * 300 + ".onnx", "sub/" + "b" * 400 + ".pt2", "x\x00.onnx"):
        with pytest.raises(ModelError) as err:
            formats.load(name, model_dir=models_dir)
        assert "model" in str(err.value) and len(str(err.value)) < 600


def _cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "models.studies.capture", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_command_line_refuses_a_tampered_pt2_and_a_long_name_with_one_error_line(tmp_path, models_dir, flag):
    data = models_dir.parent
    tampered(export_pt2(models_dir / "clean.pt2"), models_dir / "tampered.pt2", _pickled_weight(flag))
    for model, words in (("tampered.pt2", "pickle"), ("m" * 5000 + ".pt2", "characters")):
        out = _cli(
            "--model", model, "--dataset", "digits", "--data-dir", str(data), "--store-dir", str(tmp_path / "runs")
        )
        errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
        assert out.returncode == 2 and len(errors) == 1 and words in errors[0], out.stderr[-2000:]
        assert "Traceback" not in out.stderr
    assert not flag.exists()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# --- the upload box reads the same registry and the same checks ------------------------------------------


def test_upload_of_a_tampered_pt2_is_refused_and_nothing_is_written(tmp_path, flag):
    data, models = tmp_path / "data", tmp_path / "data" / "models"
    work = tmp_path / "work"
    work.mkdir()
    evil = tampered(export_pt2(work / "clean.pt2"), work / "evil.pt2", _pickled_weight(flag))
    with pytest.raises(upload.UploadError, match="pickle"):
        upload.accept("evil.pt2", evil.read_bytes(), data_dir=data, model_dir=models)
    assert not flag.exists()
    assert [p for p in data.rglob("*") if p.is_file()] == []
    got = upload.accept("clean.pt2", (work / "clean.pt2").read_bytes(), data_dir=data, model_dir=models)
    assert got.kind == "model" and (models / "clean.pt2").is_file()


def test_upload_box_and_models_list_read_the_registry(tmp_path):
    from types import SimpleNamespace

    from dashboard import upload_box as view

    assert upload.MODEL_SUFFIXES == model_formats.SUFFIXES == formats.SUFFIXES
    assert {".onnx", ".pt2", ".ts", ".pt", ".safetensors"} <= set(model_formats.SUFFIXES)
    assert all(fmt.inspect and fmt.load and fmt.hint for fmt in model_formats.FORMATS.values())
    children = view.box(SimpleNamespace(data_dir=tmp_path)).children
    drop = next(c for c in children if getattr(c, "id", "") == "data-upload")
    assert set(model_formats.SUFFIXES) <= set(drop.accept.split(","))
    (tmp_path / "m").mkdir()
    for suffix in model_formats.SUFFIXES + (".pkl",):
        (tmp_path / "m" / f"x{suffix}").write_bytes(b"x")
    assert formats.available(tmp_path / "m") == sorted(f"x{s}" for s in model_formats.SUFFIXES)
