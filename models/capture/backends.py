"""Runners that give a batch's activations of named layers, one per kind of loaded model.

- :class:`TorchModel`: an ``nn.Module`` (live, from a factory, a state_dict, or an unflattened
  ``torch.export`` program): forward hooks on the named submodules.
- :class:`ScriptModel`: TorchScript modules refuse forward hooks, so the module's ``forward``
  graph is copied and every top-level submodule call's result is added to what it returns
  (a new function over the same module; only direct children are reachable this way).
- :class:`OnnxModel`: node outputs are added as graph outputs with the ``onnx`` package (shapes
  from shape inference kept as value_info) and run on onnxruntime's CPU provider. Layers are the
  node outputs plus one per module scope of the node names (``/features/features.0/Conv`` →
  ``features.0``: the last output inside that scope), so ONNX exported from torch keeps the
  torch module names.

Every runner's :meth:`Backend.forward` returns ``{name: tensor}`` with ``"output"`` (the model's
first output) always included; :meth:`Backend.tree` runs one batch through every layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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
    params: bool = False   # holds weights (a layer proper, not an activation or a reshape)
    final: bool = False    # its output is the model's output

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "depth": self.depth, "shape": list(self.shape),
                "params": self.params, "final": self.final}


class Backend:
    format = ""
    source = ""
    input_shape: tuple | None = None   # per sample; None entries are free
    fixed_batch: int | None = None
    device = "cpu"

    def tree(self, x: np.ndarray) -> list[Layer]:
        raise NotImplementedError

    def _forward(self, x: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: np.ndarray | torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Activations of ``names`` (and ``"output"``) for the batch ``x``; a model exported with a
        fixed batch size gets the batch in chunks of that size, the last one padded."""
        x = torch.as_tensor(x)
        unknown = [n for n in names if n != OUTPUT and n not in self.names()]
        if unknown:
            raise ModelError(f"layers {unknown} are not in {self.source}; choose from {self.names()[:30]}")
        fb = self.fixed_batch
        if not fb or len(x) == fb:
            return self._forward(x, names)
        parts = []
        for start in range(0, len(x), fb):
            chunk = x[start:start + fb]
            pad = fb - len(chunk)
            if pad:
                chunk = torch.cat([chunk, chunk[:1].expand(pad, *chunk.shape[1:])])
            out = self._forward(chunk, names)
            parts.append({k: v[:fb - pad] for k, v in out.items()})
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def names(self) -> list[str]:
        raise NotImplementedError


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

    def __init__(self, module: torch.nn.Module, *, source: str, fmt: str, device: str | None = "cpu",
                 input_shape: tuple | None = None):
        self.module, self.source, self.format = module, source, fmt
        if fmt == "torch.export" and input_shape is not None:  # the signature includes the batch
            self.fixed_batch = input_shape[0]
            input_shape = input_shape[1:]
        self.input_shape = input_shape
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

    def _run(self, x: torch.Tensor, hooks: dict) -> torch.Tensor:
        handles = [self._modules[n].register_forward_hook(h) for n, h in hooks.items()]
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                out = self.module(x.to(self.device, torch.float32))
        finally:
            for h in handles:
                h.remove()
            self.module.train(was_training)
        out = _first_tensor(out)
        if out is None:
            raise ModelError(f"{self.source} returned no tensor")
        return out

    def _forward(self, x, names):
        got: dict[str, torch.Tensor] = {}

        def hook_for(name):
            def hook(_m, _i, output):
                t = _first_tensor(output)
                if t is not None:
                    got[name] = t.detach()
            return hook

        out = self._run(x, {n: hook_for(n) for n in names if n != OUTPUT})
        missing = [n for n in names if n != OUTPUT and n not in got]
        if missing:
            raise ModelError(f"layers {missing} of {self.source} were not called by its forward pass")
        got[OUTPUT] = out.detach()
        return got

    def tree(self, x):
        order: list[tuple[str, torch.Tensor]] = []

        def hook_for(name):
            def hook(_m, _i, output):
                t = _first_tensor(output)
                if t is not None:
                    order[:] = [o for o in order if o[0] != name] + [(name, t)]
            return hook

        out = self._run(torch.as_tensor(x), {n: hook_for(n) for n in self._modules})
        layers = []
        for name, t in order:
            mod = self._modules[name]
            has_params = any(True for _ in mod.parameters())
            layers.append(Layer(name, type(mod).__name__, name.count(".") + 1, tuple(t.shape[1:]),
                                has_params, t is out))
        return layers + [Layer(OUTPUT, "output", 0, tuple(out.shape[1:]), False, True)]


class ScriptModel(Backend):
    """A TorchScript module whose top-level submodule calls are returned alongside its output."""

    format = "torchscript"

    def __init__(self, module, *, source: str, device: str | None = "cpu"):
        self.module, self.source = module, source
        self.device = _pick_device(device)
        module.to(self.device)
        module.eval()
        self._fn, self._names, self._types = self._capture_function(module)

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
            out = self._fn(self.module._c, x.to(self.device, torch.float32))
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
        first, got = self._all(torch.as_tensor(x))
        layers = []
        for name in self.names():
            mod = getattr_path(self.module, name)
            has_params = any(True for _ in mod.parameters())
            layers.append(Layer(name, mod.original_name, name.count(".") + 1, tuple(got[name].shape[1:]),
                                has_params, got[name] is first))
        return layers + [Layer(OUTPUT, "output", 0, tuple(first.shape[1:]), False, True)]


def getattr_path(module, dotted: str):
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


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
        dims = [d.dim_value if d.HasField("dim_value") else None for d in inputs[0].type.tensor_type.shape.dim]
        self.fixed_batch = dims[0] if dims else None
        self.input_shape = tuple(dims[1:]) if dims else None
        self._in_dtype = helper.tensor_dtype_to_np_dtype(inputs[0].type.tensor_type.elem_type)
        self._info = {v.name: v for v in list(graph.value_info) + list(graph.output)}
        self._outputs = [o.name for o in graph.output]
        self._tensors: dict[str, str] = {}    # layer name -> tensor name
        self._meta: dict[str, tuple[str, int, bool]] = {}  # layer -> (type, depth, params)
        scopes: dict[str, tuple[str, int, bool]] = {}
        for node in graph.node:
            if node.op_type == "Constant" or not node.output:
                continue
            params = any(i in inits for i in node.input)
            parts = [p for p in node.name.split("/") if p][:-1] if node.name.startswith("/") else []
            for depth, scope in enumerate(parts, start=1):
                old = scopes.get(scope)
                scopes[scope] = (node.output[0], depth, params or (old[2] if old else False))
            for out in node.output:
                if out:
                    self._tensors[out] = out
                    self._meta[out] = (node.op_type, len(parts) + 1, params)
        for scope, (tensor, depth, params) in scopes.items():
            if scope not in self._tensors:
                self._tensors[scope] = tensor
                self._meta[scope] = ("scope", depth, params)
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
            self._sessions[tensors] = ort.InferenceSession(model.SerializeToString(), options,
                                                           providers=["CPUExecutionProvider"])
        return self._sessions[tensors]

    def _run(self, x, names):
        tensors = tuple(dict.fromkeys([self._outputs[0]] + [self._tensors[n] for n in names if n != OUTPUT]))
        feed = {self.input_name: np.ascontiguousarray(torch.as_tensor(x).cpu().numpy(), dtype=self._in_dtype)}
        values = dict(zip(tensors, self._session(tensors).run(list(tensors), feed)))
        got = {n: torch.from_numpy(np.asarray(values[self._tensors[n]])) for n in names if n != OUTPUT}
        got[OUTPUT] = torch.from_numpy(np.asarray(values[self._outputs[0]]))
        return got

    def _forward(self, x, names):
        return self._run(x, names)

    def tree(self, x):
        names = self.names()
        got = self.forward(x, names)
        final = self._outputs[0]
        layers = [Layer(n, self._meta[n][0], self._meta[n][1], tuple(got[n].shape[1:]), self._meta[n][2],
                        self._tensors[n] == final) for n in names if got[n].ndim >= 1]
        layers.sort(key=lambda layer: self._order(layer.name))
        return layers + [Layer(OUTPUT, "output", 0, tuple(got[OUTPUT].shape[1:]), False, True)]

    def _order(self, name):
        tensor = self._tensors[name]
        for i, node in enumerate(self._model.graph.node):
            if tensor in node.output:
                return (i, self._meta[name][0] != "scope")
        return (len(self._model.graph.node), True)
