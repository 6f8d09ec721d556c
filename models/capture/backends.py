"""Runners that give a batch's activations of named layers, one per kind of loaded model.

- :class:`TorchModel`: an ``nn.Module`` (live, from a factory, a state_dict, or an unflattened
  ``torch.export`` program): forward hooks on the named submodules.
- :class:`ScriptModel`: TorchScript modules refuse forward hooks, so the module's ``forward``
  graph is copied and every top-level submodule call's result is added to what it returns
  (a new function over the same module; only direct children are reachable this way).
- :class:`OnnxModel`: node outputs are added as graph outputs with the ``onnx`` package (shapes
  from shape inference kept as value_info) and run on onnxruntime's CPU provider. Layers are the
  module scopes torch's exporters record (``/blocks.0/norm1/LayerNormalization`` from
  ``dynamo=False``, the ``namespace`` metadata from ``dynamo=True``: ``blocks.0``, ``blocks.0.norm1``,
  each the last activation inside it) and, under them, the per-sample activations of single nodes
  (``blocks.0.norm1.LayerNormalization``); shape arithmetic (integer tensors, scalars, tensors whose
  first axis is not the batch, constants broadcast over the batch) is left out.

Every runner's :meth:`Backend.forward` takes one tensor or ``{input name: tensor}`` and returns
``{name: tensor}`` with ``"output"`` (the model's first output) always included; :meth:`Backend.tree`
runs one batch through every layer and lists parents before children, in network order, each with
its layout (:mod:`.pooling`).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from .errors import ModelError

OUTPUT = "output"


@dataclass(frozen=True)
class Layer:
    """One entry of the layer tree: a module (or ONNX node output) and its per-sample output shape."""

    name: str
    type: str
    depth: int
    shape: tuple[int, ...]
    params: bool = False  # holds weights (a layer proper, not an activation or a reshape)
    final: bool = False  # its output is the model's output
    layout: str = ""  # vector, map, map_last or sequence (:mod:`.pooling`); set by the tree
    module: bool = True  # a module (or an ONNX module scope), not a single ONNX node

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "depth": self.depth,
            "shape": list(self.shape),
            "params": self.params,
            "final": self.final,
            "layout": self.layout,
            "module": self.module,
        }


@dataclass(frozen=True)
class ModelInput:
    """One input of a model: its name, per-sample shape (``None`` entries free; ``None`` unknown)
    and whether it takes integers (token ids; ``None`` when the file does not say)."""

    name: str
    shape: tuple | None = None
    integer: bool | None = None


#: module and ONNX op types whose output is a channels-first map (C×L for 1-d ones)
MAP_TYPES = {
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "GroupNorm",
    "Upsample",
    "Conv",
    "ConvTranspose",
    "BatchNormalization",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "InstanceNormalization",
    "Resize",
}
#: types acting on the last axis: a 2-d output is tokens × features, a 3-d one a channels-last map
LAST_AXIS_TYPES = {
    "Linear",
    "LayerNorm",
    "RMSNorm",
    "Embedding",
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "LayerNormalization",
    "MatMul",
    "Gemm",
    "Softmax",
    "Gather",
    "Attention",
    "Gelu",
    "GELU",
}


#: of those, the ones that make an H×W×C output a channels-last map (ConvNeXt's LayerNorm, a Linear on NHWC);
#: a 3-d MatMul or Softmax is attention's heads × tokens × tokens, no image
CHANNELS_LAST_TYPES = {"Linear", "LayerNorm", "RMSNorm", "LayerNormalization"}


def assign_layouts(layers: list[Layer]) -> list[Layer]:
    """Each layer's layout from its type and per-sample shape; an activation keeps the layout of the
    map it follows (a ReLU after a Conv1d is a C×L map, not a token sequence)."""
    out, last_map, last_map_last = [], None, None
    for layer in layers:
        shape, kind = tuple(layer.shape), layer.type
        if layer.layout:
            layout = layer.layout
        elif len(shape) <= 1:
            layout = "vector"
        elif kind in MAP_TYPES:
            layout = "map"
        elif len(shape) == 2:
            layout = "sequence" if kind in LAST_AXIS_TYPES or shape != last_map else "map"
        elif len(shape) == 3 and (kind in CHANNELS_LAST_TYPES or (shape == last_map_last and shape != last_map)):
            layout = "map_last"
        else:
            layout = "map"
        if layout == "map":
            last_map = shape
        elif layout == "map_last":
            last_map_last = shape
        out.append(replace(layer, layout=layout))
    return out


def nest(layers: list[Layer]) -> list[Layer]:
    """Depths from the modules present: a ModuleList is never called, so ``blocks.0`` sits at depth 1."""
    names = {layer.name for layer in layers}
    out = []
    for layer in layers:
        parts = layer.name.split(".")
        above = sum(".".join(parts[:i]) in names for i in range(1, len(parts)))
        out.append(replace(layer, depth=above + 1) if layer.name != OUTPUT else layer)
    return out


def _short_type(path) -> str:
    """``torch.nn.modules.conv.Conv2d`` (or the class) → ``Conv2d``."""
    name = getattr(path, "__name__", None) or str(path)
    return re.split(r"[.:]", name.strip("<>' ").removeprefix("class '"))[-1] or name


class Backend:
    format = ""
    source = ""
    input_shape: tuple | None = None  # per sample of the first input; None entries are free
    inputs: list[ModelInput] = []  # every input, in the order the model takes them
    fixed_batch: int | None = None
    device = "cpu"

    def tree(self, x: np.ndarray) -> list[Layer]:
        raise NotImplementedError

    def _forward(self, x: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(
        self, x, names: Sequence[str], reduce: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None
    ) -> dict[str, torch.Tensor]:
        """Activations of ``names`` (and ``"output"``) for the batch ``x`` (a tensor, or ``{input
        name: tensor}`` for a model of several inputs); a model exported with a fixed batch size gets
        the batch in chunks of that size, the last one padded. ``reduce[name]`` (e.g. the capture's
        pooling) is applied to that layer's batch — by a torch model inside its hook, so a layer's full
        map is freed as soon as the next layer has read it, as a hand-written hook loop would."""
        x = {k: torch.as_tensor(v) for k, v in x.items()} if isinstance(x, dict) else torch.as_tensor(x)
        known = set(self.names())
        unknown = [n for n in names if n != OUTPUT and n not in known]
        if unknown:
            raise ModelError(f"layers {unknown} are not in {self.source}; choose from {self.names()[:30]}")
        reduce = dict(reduce or {})
        fb, n = self.fixed_batch, batch_size(x)
        if not fb or n == fb:
            return self._reduced(x, names, reduce)
        parts = []
        for start in range(0, n, fb):
            pad = fb - min(fb, n - start)

            def part(t, start=start, pad=pad):
                chunk = t[start : start + fb]
                return torch.cat([chunk, chunk[:1].expand(pad, *chunk.shape[1:])]) if pad else chunk

            out = self._forward({k: part(v) for k, v in x.items()} if isinstance(x, dict) else part(x), names)
            parts.append({k: v[: fb - pad] for k, v in out.items()})
        whole = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}  # reduced whole: it may read the batch's mask
        return {k: reduce[k](v) if k in reduce else v for k, v in whole.items()}

    def _reduced(self, x, names: Sequence[str], reduce: dict) -> dict[str, torch.Tensor]:
        """:meth:`_forward`, then ``reduce`` on the layers it names (a torch model does it in its hooks)."""
        got = self._forward(x, names)
        return {k: reduce[k](v) if k in reduce else v for k, v in got.items()}

    def names(self) -> list[str]:
        raise NotImplementedError


def batch_size(x) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def _as_model_dtype(t: torch.Tensor, device) -> torch.Tensor:
    """Floats as float32, integers and booleans as they are (token ids stay ids)."""
    return t.to(device, torch.float32) if t.is_floating_point() else t.to(device)


def _positional(x, inputs: Sequence[ModelInput]) -> tuple:
    """The model's positional arguments: one tensor, or a dict ordered by the model's input names."""
    if not isinstance(x, dict):
        return (x,)
    names = [i.name for i in inputs if i.name in x]
    return tuple(x[n] for n in names) if names else tuple(x.values())


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for v in value:
            t = _first_tensor(v)
            if t is not None:
                return t
    if isinstance(value, dict):
        for v in value.values():
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _pick_device(device: str | None) -> str:
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class TorchModel(Backend):
    """An ``nn.Module`` read with forward hooks (eval mode while capturing, restored after)."""

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        source: str,
        fmt: str,
        device: str | None = "cpu",
        input_shape: tuple | None = None,
    ):
        self.module, self.source, self.format = module, source, fmt
        exported = getattr(module, "_layerscope_export", None) or {}  # set by formats for a .pt2
        self._types: dict[str, str] = exported.get("types", {})
        if fmt == "torch.export" and input_shape is not None:  # the signature includes the batch
            self.fixed_batch = input_shape[0]
            input_shape = input_shape[1:]
        self.input_shape = input_shape
        if exported.get("inputs"):
            self.inputs = [
                ModelInput(n, tuple(shape[1:]) if shape else None, integer) for n, shape, integer in exported["inputs"]
            ]
        else:
            try:
                params = [
                    p
                    for p in inspect.signature(module.forward).parameters.values()
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                ]
            except (TypeError, ValueError):
                params = []
            self.inputs = [
                ModelInput(p.name, input_shape if i == 0 else None)
                for i, p in enumerate(params)
                if i == 0 or p.default is inspect.Parameter.empty
            ] or [ModelInput("x", input_shape)]
        if fmt == "module" and device is None:  # a live model stays where its owner put it
            param = next(module.parameters(), None)
            self.device = str(param.device) if param is not None else "cpu"
        else:
            self.device = _pick_device(device)
            try:
                module.to(self.device)
            except Exception:  # an unflattened export may refuse to move: run on the CPU
                self.device = "cpu"
        self._modules = {n: m for n, m in module.named_modules() if n}

    def names(self) -> list[str]:
        return list(self._modules)

    def _run(self, x, hooks: dict, pre_hooks: dict | None = None) -> torch.Tensor:
        handles = [self._modules[n].register_forward_hook(h) for n, h in hooks.items()]
        handles += [self._modules[n].register_forward_pre_hook(h) for n, h in (pre_hooks or {}).items()]
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                out = self.module(*(_as_model_dtype(t, self.device) for t in _positional(x, self.inputs)))
        finally:
            for h in handles:
                h.remove()
            self.module.train(was_training)
        out = _first_tensor(out)
        if out is None:
            raise ModelError(f"{self.source} returned no tensor")
        return out

    def _forward(self, x, names):
        return self._reduced(x, names, {})

    def _reduced(self, x, names, reduce):
        got: dict[str, torch.Tensor] = {}

        def hook_for(name):
            def hook(_m, _i, output):
                t = _first_tensor(output)
                if t is not None:  # a module called twice keeps its last call
                    got[name] = reduce[name](t.detach()) if name in reduce else t.detach()

            return hook

        out = self._run(x, {n: hook_for(n) for n in names if n != OUTPUT})
        missing = [n for n in names if n != OUTPUT and n not in got]
        if missing:
            raise ModelError(f"layers {missing} of {self.source} were not called by its forward pass")
        got[OUTPUT] = reduce[OUTPUT](out.detach()) if OUTPUT in reduce else out.detach()
        return got

    def tree(self, x):
        started: list[str] = []
        outputs: dict[str, torch.Tensor] = {}

        def pre_for(name):
            def hook(_m, _i):
                if name not in started:
                    started.append(name)  # parents start before their children: network order

            return hook

        def hook_for(name):
            def hook(_m, _i, output):
                t = _first_tensor(output)
                if t is not None:
                    outputs[name] = t  # a module called twice keeps its last call

            return hook

        x = {k: torch.as_tensor(v) for k, v in x.items()} if isinstance(x, dict) else torch.as_tensor(x)
        out = self._run(x, {n: hook_for(n) for n in self._modules}, {n: pre_for(n) for n in self._modules})
        layers = []
        for name in started:
            if name not in outputs:
                continue
            mod, t = self._modules[name], outputs[name]
            has_params = any(True for _ in mod.parameters())
            kind = self._types.get(name) or type(mod).__name__
            layers.append(Layer(name, kind, name.count(".") + 1, tuple(t.shape[1:]), has_params, t is out))
        layers = nest(layers)
        return assign_layouts(layers + [Layer(OUTPUT, "output", 0, tuple(out.shape[1:]), False, True)])


class ScriptModel(Backend):
    """A TorchScript module whose top-level submodule calls are returned alongside its output."""

    format = "torchscript"

    def __init__(self, module, *, source: str, device: str | None = "cpu"):
        self.module, self.source = module, source
        self.device = _pick_device(device)
        module.to(self.device)
        module.eval()
        self._fn, self._names, self._types = self._capture_function(module)
        try:
            args = [a.name for a in module.forward.schema.arguments][1:]
        except (AttributeError, RuntimeError):
            args = ["x"]
        self.inputs = [ModelInput(name) for name in args] or [ModelInput("x")]

    @staticmethod
    def _capture_function(module):
        graph = module.forward.graph.copy()
        calls, names, types = [], [], {}

        def path(value):
            parts, node = [], value.node()
            while node.kind() == "prim::GetAttr":
                parts.append(node.s("name"))
                node = next(iter(node.inputs())).node()
            return ".".join(reversed(parts))

        for node in graph.nodes():
            if node.kind() == "prim::CallMethod" and node.s("name") == "forward":
                target = path(next(iter(node.inputs())))
                if target and node.outputsSize() == 1 and str(node.output().type()) == "Tensor":
                    calls.append(node.output())
                    names.append(target)
                    types[target] = node.output().type().str()
        ret = graph.return_node()
        for value in calls:
            graph.registerOutput(value)
        values = list(ret.inputs())
        pack = graph.create("prim::TupleConstruct", values, 1)
        pack.insertBefore(ret)
        pack.output().setType(torch._C.TupleType([v.type() for v in values]))
        while list(graph.return_node().inputs()):
            graph.eraseOutput(0)
        graph.registerOutput(pack.output())
        fn = torch._C._create_function_from_graph("layerscope_capture", graph)
        return fn, names, types

    def names(self):
        return list(dict.fromkeys(self._names))

    def _all(self, x):
        with torch.no_grad():
            out = self._fn(self.module._c, *(_as_model_dtype(t, self.device) for t in _positional(x, self.inputs)))
        first = _first_tensor(out[0])
        got = {}
        for name, value in zip(self._names, out[1:]):
            got[name] = value  # a module called twice keeps its last call
        return first, got

    def _forward(self, x, names):
        first, got = self._all(x)
        result = {n: got[n] for n in names if n != OUTPUT}
        result[OUTPUT] = first
        return result

    def tree(self, x):
        first, got = self._all(
            {k: torch.as_tensor(v) for k, v in x.items()} if isinstance(x, dict) else torch.as_tensor(x)
        )
        layers = []
        for name in self.names():
            mod = getattr_path(self.module, name)
            has_params = any(True for _ in mod.parameters())
            layers.append(
                Layer(
                    name,
                    mod.original_name,
                    name.count(".") + 1,
                    tuple(got[name].shape[1:]),
                    has_params,
                    got[name] is first,
                )
            )
        layers = nest(layers)
        return assign_layouts(layers + [Layer(OUTPUT, "output", 0, tuple(first.shape[1:]), False, True)])


def getattr_path(module, dotted: str):
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


_FLOAT_TYPES = {1, 10, 11, 16}  # ONNX float, float16, double, bfloat16
_INT_TYPES = {2, 3, 4, 5, 6, 7, 9, 12, 13}


def _scope_path(node) -> list[tuple[str, str]]:
    """[(module name, module type)] from the outermost scope in, of an ONNX node exported from torch:
    ``dynamo=True`` records a ``namespace`` (``: Net/blocks.0: Block/blocks.0.norm1: LayerNorm/op: aten…``),
    ``dynamo=False`` names nodes ``/blocks.0/norm1/LayerNormalization`` (segments relative or full)."""
    meta = {p.key: p.value for p in node.metadata_props}
    if "namespace" in meta:
        path = []
        for part in meta["namespace"].split("/")[1:-1]:
            name, _, kind = part.partition(": ")
            if name and not kind.startswith(("aten.", "<built-in", "_operator")):
                path.append((name, _short_type(kind)))
        return path
    if not node.name.startswith("/"):
        return []
    path, full = [], ""
    for seg in [p for p in node.name.split("/") if p][:-1]:
        head, _, last = full.rpartition(".")
        if not full or seg.startswith(full + "."):
            full = seg  # /features/features.0: the full name
        elif seg.startswith(last + "."):
            full = f"{head}.{seg}" if head else seg  # /blocks.0/mlp/mlp.0: relative to the parent's parent
        else:
            full = f"{full}.{seg}"  # /blocks.0/norm1: relative to the parent
        path.append((full, "scope"))
    return path


class OnnxModel(Backend):
    """An ONNX graph on onnxruntime's CPU provider, node outputs exposed as graph outputs."""

    format = "onnx"

    def __init__(self, path, *, source: str, model=None):
        import onnx
        from onnx import helper

        self.source, self.device = source, "cpu"
        try:  # ``model``: the ModelProto onnx_check validated (external data inlined), else the file
            model = onnx.shape_inference.infer_shapes(model if model is not None else onnx.load(str(path)))
        except Exception as exc:
            raise ModelError(f"{source}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
        self._model = model
        graph = model.graph
        inits = {i.name for i in graph.initializer}
        inputs = [i for i in graph.input if i.name not in inits]
        self.input_name = inputs[0].name
        self._in_dtypes, self.inputs = {}, []
        for i, value in enumerate(inputs):
            tt = value.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            if i == 0:
                self.fixed_batch = dims[0] if dims else None
                self.input_shape = tuple(dims[1:]) if dims else None
            self._in_dtypes[value.name] = helper.tensor_dtype_to_np_dtype(tt.elem_type)
            self.inputs.append(ModelInput(value.name, tuple(dims[1:]) if dims else None, tt.elem_type in _INT_TYPES))
        self._info = {v.name: v for v in list(graph.value_info) + list(graph.output)}
        self._outputs = [o.name for o in graph.output]
        elem = {name: v.type.tensor_type.elem_type for name, v in self._info.items()}
        self._tensors: dict[str, str] = {}  # layer name -> tensor name
        self._meta: dict[str, tuple[str, int, bool, bool]] = {}  # layer -> (type, depth, params, module)
        self._members: dict[str, list[str]] = {}  # scope -> its node layers' tensors, in order
        self._first: dict[str, int] = {}  # layer -> index of the node it starts at
        self._perm: dict[str, tuple] = {}  # tensor -> Transpose permutation
        counts: dict[str, int] = {}
        for index, node in enumerate(graph.node):
            if node.op_type == "Constant" or not node.output:
                continue
            params = any(i in inits for i in node.input)
            path = _scope_path(node)
            for depth, (scope, kind) in enumerate(path, start=1):
                if scope not in self._meta:
                    self._meta[scope] = (kind, depth, params, True)
                    self._first[scope] = index
                    self._members[scope] = []
                elif params and not self._meta[scope][2]:
                    self._meta[scope] = (self._meta[scope][0], depth, True, True)
            prefix = path[-1][0] + "." if path else ""
            for out in node.output:
                if not out or (out in elem and elem[out] not in _FLOAT_TYPES):
                    continue  # shape arithmetic and indices: never an activation
                base = f"{prefix}{node.op_type}" if (path or "/" in out or ":" in out) else out
                counts[base] = counts.get(base, -1) + 1
                name = base if counts[base] == 0 else f"{base}_{counts[base]}"
                self._tensors[name] = out
                self._meta[name] = (node.op_type, len(path) + 1, params, False)
                self._first[name] = index
                for scope, _ in path:
                    self._members[scope].append(out)
                if node.op_type == "Transpose":
                    perm = [tuple(a.ints) for a in node.attribute if a.name == "perm"]
                    self._perm[out] = perm[0] if perm else ()
        for scope, members in self._members.items():
            if members:
                self._tensors[scope] = members[-1]  # the last activation inside the scope is its output
        self._meta = {k: v for k, v in self._meta.items() if k in self._tensors}
        self._sessions: dict[tuple, object] = {}

    def names(self):
        return list(self._tensors)

    def _session(self, tensors: tuple[str, ...]):
        if tensors not in self._sessions:
            import onnx
            import onnxruntime as ort
            from onnx import helper

            model = onnx.ModelProto()
            model.CopyFrom(self._model)
            for t in tensors:
                if t in self._outputs:
                    continue
                info = self._info.get(t)
                if info is None:
                    info = helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None)
                model.graph.output.append(info)
            options = ort.SessionOptions()
            options.log_severity_level = 3
            self._sessions[tensors] = ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[tensors]

    def _feed(self, x) -> dict:
        if not isinstance(x, dict):
            x = {self.input_name: x}
        feed = {}
        for value in self.inputs:
            if value.name not in x:
                raise ModelError(f"{self.source} needs input {value.name!r}; got {', '.join(x)}")
            feed[value.name] = np.ascontiguousarray(
                torch.as_tensor(x[value.name]).cpu().numpy(), dtype=self._in_dtypes[value.name]
            )
        return feed

    def _run(self, x, names):
        tensors = tuple(dict.fromkeys([self._outputs[0]] + [self._tensors[n] for n in names if n != OUTPUT]))
        values = dict(zip(tensors, self._session(tensors).run(list(tensors), self._feed(x))))
        got = {n: torch.from_numpy(np.asarray(values[self._tensors[n]])) for n in names if n != OUTPUT}
        got[OUTPUT] = torch.from_numpy(np.asarray(values[self._outputs[0]]))
        return got

    def _forward(self, x, names):
        return self._run(x, names)

    def tree(self, x):
        """Per-sample activations only (float, batch first, not one constant broadcast over the batch),
        each scope standing for the last of them inside it; parents before children."""
        n = batch_size(x)
        got = self.forward(x, [name for name in self.names() if not self._meta[name][3]])
        first = next(iter(x.values())) if isinstance(x, dict) else torch.as_tensor(x)
        varied = n >= 2 and not bool(torch.equal(first, first[:1].expand_as(first)))  # else nothing could vary

        def activation(t: torch.Tensor) -> bool:
            if t.ndim < 2 or t.shape[0] != n or not t.is_floating_point():
                return False
            return not varied or not bool(torch.equal(t, t[:1].expand_as(t)))

        kept = {name for name, t in got.items() if name != OUTPUT and activation(t)}
        shapes = {self._tensors[name]: tuple(got[name].shape[1:]) for name in kept}
        final = self._outputs[0]
        shapes.setdefault(final, tuple(got[OUTPUT].shape[1:]))
        for scope, members in self._members.items():
            alive = [m for m in members if m in shapes]
            if alive:
                self._tensors[scope] = alive[-1]
                kept.add(scope)
        layers = []
        for name in sorted(kept, key=lambda k: (self._first[k], not self._meta[k][3], self._meta[k][1])):
            kind, depth, params, module = self._meta[name]
            tensor = self._tensors[name]
            layout = "map_last" if self._perm.get(tensor, ())[-1:] == (1,) and len(shapes[tensor]) == 3 else ""
            layers.append(Layer(name, kind, depth, shapes[tensor], params, tensor == final, layout, module))
        layers = assign_layouts(layers)
        # a dynamo=False scope has no module type: it takes the layout of the node whose output it is
        node_of = {self._tensors[layer.name]: layer.layout for layer in layers if not layer.module}
        layers = [
            replace(layer, layout=node_of.get(self._tensors[layer.name], layer.layout))
            if layer.module and layer.type == "scope"
            else layer
            for layer in layers
        ]
        return layers + assign_layouts([Layer(OUTPUT, "output", 0, tuple(got[OUTPUT].shape[1:]), False, True)])
