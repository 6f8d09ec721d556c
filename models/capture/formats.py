"""Load a person's model from a file in the models folder, never unpickling arbitrary objects.

Formats, chosen by the file's suffix (or, for ``.pt``/``.pth``, by what the file holds):

- ``.onnx``: an ONNX graph, run on onnxruntime's CPU provider (see :class:`OnnxModel`).
- ``.pt2``: a ``torch.export`` program (``torch.export.load``), module hierarchy restored with
  ``torch.export.unflatten`` so forward hooks reach every submodule.
- ``.ts``/``.torchscript``/``.jit`` (or a ``.pt`` that is a TorchScript archive): ``torch.jit.load``.
- ``.pt``/``.pth``/``.safetensors``: a ``state_dict`` (``torch.load(weights_only=True)``) of one of
  LayerScope's own architectures, named by a JSON sidecar ``<file>.json``::

      {"architecture": "mlp", "args": {"in_features": 64, "n_classes": 10, "depth": 3, "width": 100,
                                       "activation": "relu"}}

  The sidecar is required because an activation cannot be read from weights; when it is missing
  the error shows the sidecar inferred from the keys, ready to save.
- ``package.module:function`` (command line and Python API only, ``allow_factory=True``): the
  person's own code returns an ``nn.Module``; ``weights`` (a state_dict file) is loaded into it.
  It is their code on their machine.

Each format is an entry of :mod:`.model_formats` (suffixes, pre-load check, loader, hint): the file
is inspected *before* any deserialiser touches it (:mod:`.pt2_check`, :mod:`.onnx_check`,
:mod:`.zip_check`) and only what was checked is loaded. A whole pickled model (``torch.save(model)``)
is refused: ``weights_only=True`` stops at the first class it would import, before anything in the
file runs, and the message says how to export. Every failure is a :class:`ModelError` naming the
file, the value and the fix.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

from .errors import ModelError
from .loaders import ARCHITECTURES, EXPORT_HINT, _load_weights, _read_state, infer_architecture, sidecar_path  # noqa: F401
from .model_formats import SUFFIXES, format_of
from .model_limits import check_model_name, shown

DEFAULT_MODEL_DIR = "models"  # inside the data directory
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def model_dir_of(data_dir: str | os.PathLike | None, model_dir: str | os.PathLike | None = None) -> Path:
    """The models folder: ``model_dir`` if given, else ``<data_dir>/models``."""
    if model_dir is not None:
        return Path(model_dir).expanduser().resolve()
    return (Path(data_dir if data_dir is not None else "data") / DEFAULT_MODEL_DIR).expanduser().resolve()


def model_path(model_dir: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """``model_dir / relative`` as a real file, refusing paths and symlinks that leave the folder."""
    root = Path(model_dir).expanduser().resolve()
    check_model_name(str(relative))
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise ModelError(
            f"{relative}: model paths are relative to the models folder {root} and stay inside it; "
            "copy the file into that folder"
        )
    path = (root / relative).resolve()  # follows symlinks: a link pointing outside resolves outside
    if path == root or root not in path.parents:
        raise ModelError(
            f"{relative}: resolves to {path}, outside the models folder {root}; "
            "copy the file into that folder (links that leave it are refused)"
        )
    try:
        found = path.is_file()
    except OSError as exc:
        raise ModelError(f"model {shown(str(relative))}: cannot be opened ({exc.strerror})") from None
    if not found:
        raise ModelError(f"{relative}: no such model file in {root}; put it there or pass --model-dir")
    return path


def available(model_dir: str | os.PathLike) -> list[str]:
    """Model files in the folder (relative paths, sorted), what the UI lists."""
    root = Path(model_dir).expanduser().resolve()
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        if path.suffix.lower() in SUFFIXES and path.is_file():
            try:
                found.append(model_path(root, path.relative_to(root)).relative_to(root).as_posix())
            except ModelError:
                continue
    return sorted(found)


def is_factory(spec: str) -> bool:
    return isinstance(spec, str) and bool(_FACTORY.match(spec)) and Path(spec).suffix.lower() not in SUFFIXES


def load(
    spec,
    *,
    model_dir: str | os.PathLike | None = None,
    weights: str | None = None,
    allow_factory: bool = False,
    device: str = "cpu",
):
    """The runnable model behind ``spec``: a file in ``model_dir``, a factory, or an ``nn.Module``.

    Returns a :class:`models.capture.backends.Backend` (torch hooks, TorchScript or onnxruntime).
    """
    from . import backends

    if not isinstance(spec, str):  # a live nn.Module from the Python API
        return backends.TorchModel(
            _check_module(spec, "model"), source=type(spec).__name__, fmt="module", device=device
        )
    if is_factory(spec):
        if not allow_factory:
            raise ModelError(
                f"{spec}: factories run your own code and are accepted from the command line "
                "and the Python API only; export the model to a file for the app"
            )
        module = _from_factory(spec)
        if weights:
            weights_path = model_path(_root(model_dir), weights)
            format_of(weights_path, weights).inspect(weights_path, weights, _root(model_dir))
            _load_weights(module, _read_state(weights_path), weights)
        return backends.TorchModel(module, source=spec, fmt="factory", device=device)
    root = _root(model_dir)
    path = model_path(root, spec)
    fmt = format_of(path, spec)
    checked = fmt.inspect(path, spec, root)  # before any deserialiser sees the file
    return fmt.load(path, spec, checked, device)


def _root(model_dir) -> Path:
    return Path(model_dir if model_dir is not None else model_dir_of(None)).expanduser().resolve()


def _check_module(obj, where: str):
    import torch

    if not isinstance(obj, torch.nn.Module):
        raise ModelError(f"{where}: expected a torch.nn.Module, got {type(obj).__name__}")
    return obj


def _from_factory(spec: str):
    module_name, _, function = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as exc:
        raise ModelError(
            f"{spec}: cannot import the factory ({exc}); run from the folder that holds "
            f"{module_name.split('.')[0]} or install it"
        ) from None
    return _check_module(fn(), spec)
