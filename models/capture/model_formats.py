"""The registry of model file formats: each says, once, its suffixes, its pre-load check, its loader
and its hint. :func:`models.capture.formats.load`, the upload box and the models list read this table.

A format's ``inspect(path, where, root)`` looks at the file *before* any deserialiser touches it and
raises :class:`ModelError` for anything that would run code, read outside the models folder ``root``
or allocate past the limits; what it returns (validated bytes, a parsed model) is what
``load(path, where, checked, device)`` deserialises — never the file again. ``recognises(path)``
lets a format claim a shared suffix by content (a TorchScript archive saved as ``.pt``).

Light: imports no torch or onnx until a format is used (the web process reads the suffixes).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ModelError
from .model_limits import check_file_size


@dataclass(frozen=True)
class ModelFormat:
    name: str
    suffixes: tuple[str, ...]
    inspect: Callable[[Path, str, Path], Any]
    load: Callable[[Path, str, Any, str], Any]
    hint: str
    recognises: Callable[[Path], bool] | None = None


FORMATS: dict[str, ModelFormat] = {}


def register(fmt: ModelFormat) -> ModelFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def suffixes() -> tuple[str, ...]:
    """Every suffix some format reads, in registry order, each once."""
    return tuple(dict.fromkeys(s for fmt in FORMATS.values() for s in fmt.suffixes))


def format_of(path: Path, where: str) -> ModelFormat:
    """The format that reads ``path``: the first whose suffix matches and that recognises the file."""
    suffix = path.suffix.lower()
    for fmt in FORMATS.values():
        if suffix in fmt.suffixes and (fmt.recognises is None or fmt.recognises(path)):
            return fmt
    raise ModelError(f"{where}: unknown model format {suffix!r}; use one of {', '.join(suffixes())}")


def hints() -> str:
    return ", ".join(fmt.hint for fmt in FORMATS.values() if fmt.hint)


# --- the built-in formats: checks in their own modules, loaders in formats.py / backends.py -------


def _inspect_onnx(path: Path, where: str, root: Path):
    from .onnx_check import checked_model

    return checked_model(path, where, root)


def _load_onnx(path: Path, where: str, checked, device: str):
    from .backends import OnnxModel

    return OnnxModel(path, source=where, model=checked)


def _inspect_export(path: Path, where: str, root: Path) -> bytes:
    from .pt2_check import sanitized

    return sanitized(path, where)


def _load_export(path: Path, where: str, checked: bytes, device: str):
    from .backends import TorchModel
    from .loaders import _export_program

    module, shape = _export_program(path, where, checked)
    return TorchModel(module, source=where, fmt="torch.export", device=device, input_shape=shape)


def _inspect_archive(path: Path, where: str, root: Path) -> None:
    """TorchScript and zipped ``torch.save`` files: declared sizes within the limits."""
    if zipfile.is_zipfile(path):
        from .zip_check import directory

        directory(path, where)
    else:
        check_file_size(path, where)


def _is_torchscript(path: Path) -> bool:
    if path.suffix.lower() in SCRIPT:
        return True
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.split("/", 2)[1:2] == ["code"] for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _inspect_script(path: Path, where: str, root: Path) -> None:
    from .script_check import check_script

    check_script(path, where)


def _load_script(path: Path, where: str, checked, device: str):
    from .backends import ScriptModel
    from .loaders import _script

    return ScriptModel(_script(path, where), source=where, device=device)


def _load_state(path: Path, where: str, checked, device: str):
    from .backends import TorchModel
    from .loaders import _own_architecture

    module, shape = _own_architecture(path, where)
    return TorchModel(module, source=where, fmt="state_dict", device=device, input_shape=shape)


SCRIPT = (".ts", ".torchscript", ".jit")

register(
    ModelFormat("onnx", (".onnx",), _inspect_onnx, _load_onnx, "torch.onnx.export(model, (example,), 'model.onnx')")
)
register(
    ModelFormat(
        "torch.export",
        (".pt2",),
        _inspect_export,
        _load_export,
        "torch.export.save(torch.export.export(model, (example,)), 'model.pt2')",
    )
)
register(
    ModelFormat(
        "torchscript",
        SCRIPT + (".pt", ".pth"),
        _inspect_script,
        _load_script,
        "torch.jit.script(model).save('model.ts')",
        recognises=_is_torchscript,
    )
)
register(
    ModelFormat(
        "state_dict",
        (".pt", ".pth", ".safetensors"),
        _inspect_archive,
        _load_state,
        "save model.state_dict() with a sidecar <file>.json naming its architecture",
    )
)

#: every suffix a model file may have (the upload box, the models list)
SUFFIXES = suffixes()
