"""Loaders of the model formats, each called on a file its format's check has passed
(:mod:`.model_formats`): torch.export programs, TorchScript archives and ``state_dict`` files of
LayerScope's own architectures. Kept apart from the dispatcher (:mod:`.formats`) so the registry
and the dispatcher import downward, never each other."""

from __future__ import annotations

import importlib
import io
import json
import pickle
import re
from pathlib import Path

from .errors import ModelError
from .model_limits import check_bytes

_OURS = __package__.rpartition(".")[0]  # our top package under whatever name it was loaded (models, layerscope._core)

#: LayerScope's own architectures a state_dict sidecar may name
ARCHITECTURES = {
    "mlp": f"{_OURS}.nets.mlp:MLP",
    "conv-autoencoder": f"{_OURS}.nets.autoencoders:ConvAutoencoder",
    "sparse-conv-autoencoder": f"{_OURS}.nets.autoencoders:SparseConvAutoencoder",
}

EXPORT_HINT = (
    "export it without pickles: torch.export.save(torch.export.export(model, (example,)), 'model.pt2'), "
    "torch.jit.script(model).save('model.ts'), torch.onnx.export(model, (example,), 'model.onnx'), "
    "or save model.state_dict() and load it with a factory 'package.module:function'"
)


def _read_state(path: Path) -> dict:
    """A flat ``{name: tensor}`` from ``.pt``/``.pth`` (weights only) or ``.safetensors``."""
    import torch

    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise ModelError(f"{path.name}: not a readable safetensors file ({exc})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelError(
            f"{path.name}: holds a whole pickled model (torch.save(model)); LayerScope does not "
            f"unpickle code. Instead {EXPORT_HINT}"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise ModelError(f"{path.name}: not a readable torch file ({str(exc).splitlines()[0]})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path.name}: expected a state_dict (names → tensors), got {type(state).__name__}")
    return state


def _load_weights(module, state: dict, where: str) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{where}: weights do not fit the model: {str(exc).splitlines()[1:3]}") from None


def _export_program(path: Path, spec: str, archive: bytes | None = None):
    import warnings

    import torch

    if archive is None:
        from .pt2_check import sanitized

        archive = sanitized(path, spec)  # only checked members; never the file itself
    try:
        with warnings.catch_warnings():  # torch's own deprecation notice (LeafSpec), not the person's doing
            warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*deprecated", category=FutureWarning)
            program = torch.export.load(io.BytesIO(archive))
    except Exception as exc:  # torch raises many types for a bad archive
        raise ModelError(
            f"{spec}: not a torch.export program ({type(exc).__name__}: {exc}); "
            "save one with torch.export.save(torch.export.export(model, (example,)), 'model.pt2')"
        ) from None
    shape = None
    inputs = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in program.graph_signature.user_inputs]
    if inputs and hasattr(inputs[0].meta.get("val"), "shape"):
        shape = tuple(int(d) if str(d).lstrip("-").isdigit() else None for d in inputs[0].meta["val"].shape)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*treespec, LeafSpec.*deprecated", category=FutureWarning)
        module = torch.export.unflatten(program)
    # what unflatten loses: each submodule's real type (all are InterpreterModule) and the inputs' dtypes
    types = {}
    for node in program.graph.nodes:
        for fqn, kind in (node.meta.get("nn_module_stack") or {}).values():
            name = getattr(kind, "__name__", None) or str(kind)
            types.setdefault(fqn, name.rsplit(".", 1)[-1])
    signature = []
    for node in inputs:
        val = node.meta.get("val")
        dims = (
            tuple(int(d) if str(d).lstrip("-").isdigit() else None for d in val.shape)
            if hasattr(val, "shape")
            else None
        )
        integer = None if not hasattr(val, "dtype") else not (val.dtype.is_floating_point or val.dtype.is_complex)
        signature.append((node.name, dims, integer))
    module._layerscope_export = {"types": types, "inputs": signature}
    return module, shape


def _script(path: Path, spec: str):
    import torch

    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise ModelError(
            f"{spec}: not a TorchScript archive ({type(exc).__name__}); "
            "save one with torch.jit.script(model).save('model.ts')"
        ) from None


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _own_architecture(path: Path, spec: str):
    """A state_dict loaded into the LayerScope architecture its sidecar names."""
    state = _read_state(path)
    side = sidecar_path(path)
    if not side.is_file() or side.resolve().parent != path.parent:
        guess = json.dumps(infer_architecture(state))
        raise ModelError(
            f"{spec}: a state_dict needs a sidecar {side.name} naming its architecture, e.g. {guess} "
            f"(architectures: {', '.join(ARCHITECTURES)}); for another architecture use a factory "
            "'package.module:function' with --weights, or export to .onnx/.pt2/.ts"
        )
    try:
        info = json.loads(side.read_text())
        arch, args = info["architecture"], dict(info.get("args", {}))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f'{side.name}: expected {{"architecture": NAME, "args": {{...}}}} ({exc})') from None
    if arch not in ARCHITECTURES:
        raise ModelError(f"{side.name}: architecture {arch!r} is not one of {', '.join(ARCHITECTURES)}")
    module_name, _, cls = ARCHITECTURES[arch].partition(":")
    build = getattr(importlib.import_module(module_name), cls)
    _check_sizes(args, state, side.name, spec)
    import torch

    try:
        with torch.device("meta"):  # shapes only: nothing allocated
            skeleton = build(**args)
    except (TypeError, ValueError, RuntimeError, OverflowError, MemoryError) as exc:
        raise ModelError(f"{side.name}: arguments {args} do not build a {arch}: {exc}") from None
    _check_shapes(skeleton, state, side.name, spec)
    try:
        module = build(**args)
    except (TypeError, ValueError, RuntimeError, OverflowError, MemoryError) as exc:
        raise ModelError(f"{side.name}: arguments {args} do not build a {arch}: {exc}") from None
    _load_weights(module, state, spec)
    shape = (
        (int(args["in_features"]),)
        if "in_features" in args
        else (tuple(int(v) for v in args["image_shape"]) if "image_shape" in args else None)
    )
    return module, shape


def _check_sizes(args: dict, state: dict, where: str, spec: str) -> None:
    """Refuse a sidecar size no weights could match before anything is built: no layer count or width
    can exceed the number of values the state_dict holds (``{"width": 1000000000}``)."""
    held = sum(int(t.numel()) for t in state.values())
    check_bytes(sum(int(t.numel()) * t.element_size() for t in state.values()), spec, "its weights")
    for key, value in args.items():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, bool) or not isinstance(v, int):
                continue
            if v < 0 or v > max(held, 1):
                raise ModelError(
                    f'{where}: "{key}": {v:,} cannot describe {spec}, whose weights hold '
                    f"{held:,} values in all; fix the sidecar (inferred from the weights: "
                    f"{json.dumps(infer_architecture(state))})"
                )


def _check_shapes(skeleton, state: dict, where: str, spec: str) -> None:
    """The sidecar's architecture (built on the meta device) has the state_dict's names and shapes."""
    want = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want == got:
        return
    missing = [k for k in want if k not in got][:3]
    extra = [k for k in got if k not in want][:3]
    wrong = [f"{k}: {got[k]} vs {want[k]}" for k in want if k in got and got[k] != want[k]][:3]
    raise ModelError(
        f"{where}: the architecture it names does not fit the weights of {spec} "
        f"(missing {missing}, unexpected {extra}, shapes weights vs sidecar {wrong}); "
        f"inferred from the weights: {json.dumps(infer_architecture(state))}"
    )


def infer_architecture(state: dict) -> dict:
    """The sidecar a state_dict's keys suggest (sizes from shapes; the activation must be checked)."""
    hidden = sorted(
        {k.split(".")[0] for k in state if re.match(r"^hidden\d+\.0\.weight$", k)}, key=lambda k: int(k[6:])
    )
    if hidden and "logits.weight" in state:
        first = state["hidden1.0.weight"]
        return {
            "architecture": "mlp",
            "args": {
                "in_features": int(first.shape[1]),
                "n_classes": int(state["logits.weight"].shape[0]),
                "depth": len(hidden),
                "width": int(first.shape[0]),
                "activation": "relu",
            },
        }
    return {"architecture": "mlp", "args": {"in_features": "?", "n_classes": "?"}}
