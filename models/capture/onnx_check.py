"""An ONNX file parsed without its external data, every tensor checked, then external data read by
us from the models folder only.

``onnx.load`` resolves external data of dense initializers only; a sparse initializer's values or
indices, a ``Constant`` node's tensor or any tensor attribute (in subgraphs and functions too) that
says ``data_location=EXTERNAL`` would be handed to onnxruntime, which resolves its ``location``
against the process's working directory. Here the file is read (size capped) with
``onnx.load_model_from_string`` — no external data touched — and every tensor anywhere in the model
is visited: an external location must be a relative path that resolves (links followed) to a file
inside the models folder, its offset and length inside that file and within the limits; its bytes
are then copied into the tensor, so onnxruntime gets a self-contained model and never opens a file.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterator

from .errors import ModelError
from .model_limits import ModelLimits, check_bytes, check_file_size, model_limits

_EXTERNAL = 1  # onnx.TensorProto.EXTERNAL
_PROTOBUF_MAX = 2 << 30


def checked_model(path: Path, where: str, root: Path, lim: ModelLimits | None = None):
    """The ``onnx.ModelProto`` at ``path`` with its external data inlined from inside ``root``."""
    import onnx
    from google.protobuf.message import DecodeError

    lim = lim or model_limits()
    if check_file_size(path, where, lim) >= _PROTOBUF_MAX:
        raise ModelError(f"{where}: over the 2 GiB a single ONNX file can hold; save the weights as external data")
    try:
        model = onnx.load_model_from_string(path.read_bytes())
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"{where}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    if not model.HasField("graph") or not (model.graph.node or model.graph.output):
        raise ModelError(f"{where}: not an ONNX model (no graph); export one with torch.onnx.export")
    total = 0
    for what, tensor in _tensors(model):
        if tensor.data_location == _EXTERNAL:
            total += _inline(tensor, what, path, where, Path(root).resolve(), lim, total)
            if total + path.stat().st_size >= _PROTOBUF_MAX:
                raise ModelError(
                    f"{where}: with its external data it is over the 2 GiB onnxruntime can take from "
                    "memory; LayerScope reads models up to that size"
                )
    inits = {i.name for i in model.graph.initializer} | {s.values.name for s in model.graph.sparse_initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if not inputs:
        raise ModelError(
            f"{where}: the graph has no inputs, so there is nothing to feed a dataset to; "
            "export the model with its input (torch.onnx.export(model, (example,), ...))"
        )
    if not inputs[0].type.HasField("tensor_type"):
        raise ModelError(f"{where}: its first input {inputs[0].name!r} is not a tensor; LayerScope feeds one tensor")
    return model


def _tensors(model) -> Iterator[tuple[str, object]]:
    """Every TensorProto of the model with a name for messages: initializers, sparse values and
    indices, node attributes, in the main graph, subgraphs, functions and training graphs."""
    graphs = [("graph", model.graph)]
    nodes = [(f"function {f.name}", n) for f in model.functions for n in f.node]
    for info in model.training_info:
        graphs += [("training initialization", info.initialization), ("training algorithm", info.algorithm)]
    while graphs or nodes:
        if graphs:
            label, graph = graphs.pop()
            for t in graph.initializer:
                yield f"initializer {t.name!r}", t
            for s in graph.sparse_initializer:
                yield f"sparse initializer {s.values.name!r} (values)", s.values
                yield f"sparse initializer {s.values.name!r} (indices)", s.indices
            nodes += [(label, n) for n in graph.node]
            continue
        label, node = nodes.pop()
        for attr in node.attribute:
            what = f"attribute {attr.name!r} of node {node.name or node.op_type!r}"
            if attr.HasField("t"):
                yield what, attr.t
            for t in attr.tensors:
                yield what, t
            if attr.HasField("sparse_tensor"):
                yield what, attr.sparse_tensor.values
                yield what, attr.sparse_tensor.indices
            for s in attr.sparse_tensors:
                yield what, s.values
                yield what, s.indices
            if attr.HasField("g"):
                graphs.append((what, attr.g))
            graphs += [(what, g) for g in attr.graphs]


def _inline(tensor, what: str, path: Path, where: str, root: Path, lim: ModelLimits, so_far: int) -> int:
    """Read a tensor's external bytes from inside ``root`` into ``raw_data``; the bytes read."""
    info = {e.key: e.value for e in tensor.external_data}
    location = info.get("location", "")
    if (
        not location
        or "\x00" in location
        or PurePosixPath(location).is_absolute()
        or PureWindowsPath(location).is_absolute()
        or PureWindowsPath(location).drive
        or ".." in PurePosixPath(location.replace("\\", "/")).parts
    ):
        raise ModelError(
            f"{where}: {what} keeps its data in {location!r}, which is not a file beside the model; "
            "external data must lie in the models folder, named relative to the model"
        )
    source = (path.parent / location).resolve()
    if root not in source.parents or not source.is_file():
        raise ModelError(
            f"{where}: {what} keeps its data in {location!r}, which is not a file inside the models "
            f"folder (links that leave it are refused); put the data file beside the model"
        )
    try:
        offset = int(info.get("offset", "0"))
        size = source.stat().st_size
        length = int(info["length"]) if "length" in info else size - offset
    except ValueError as exc:
        raise ModelError(f"{where}: {what} has an unreadable offset or length ({exc})") from None
    if offset < 0 or length < 0 or offset + length > size:
        raise ModelError(
            f"{where}: {what} reads bytes {offset:,}–{offset + length:,} of {location!r}, which holds "
            f"{size:,}; the external data does not fit its file"
        )
    check_bytes(so_far + length, where, "its external data", lim)
    with open(source, "rb") as fh:
        fh.seek(offset)
        data = fh.read(length)
    if len(data) != length:
        raise ModelError(f"{where}: {what}: {location!r} ended early")
    tensor.ClearField("external_data")
    tensor.data_location = 0  # DEFAULT
    tensor.raw_data = data
    return length
