"""A TorchScript archive's code read before ``torch.jit.load`` compiles it.

TorchScript runs only TorchScript (no Python objects are unpickled), but two of its builtins reach
the file system — ``torch.from_file`` reads any file into a tensor, ``torch.save`` writes one — and a
class's ``__setstate__`` runs while the archive loads. The archive's ``code/…`` sources are Python
syntax: parsed with :mod:`ast` (never run), any call or attribute naming one of those is refused.
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

from .errors import ModelError
from .zip_check import directory, read_member

#: names whose call reads or writes files, or runs at load time
_REFUSED = {
    "from_file": "reads a file outside the model (torch.from_file)",
    "save": "writes a file (torch.save)",
    "__setstate__": "runs code while the archive loads (__setstate__)",
}


def check_script(path: Path, where: str) -> None:
    """Refuse a TorchScript archive whose code touches files or runs on load."""
    infos = directory(path, where)
    with zipfile.ZipFile(path) as zf:
        for info in infos:
            parts = info.filename.split("/")
            if len(parts) < 3 or parts[1] != "code" or not info.filename.endswith(".py"):
                continue
            source = read_member(zf, info, where).decode("utf-8", "replace")
            try:
                tree = ast.parse(source)
            except SyntaxError as exc:
                raise ModelError(
                    f"{where}: its TorchScript code {info.filename!r} does not parse ({exc.msg})"
                ) from None
            for node in ast.walk(tree):
                name = (
                    node.attr
                    if isinstance(node, ast.Attribute)
                    else node.id
                    if isinstance(node, ast.Name)
                    else node.name
                    if isinstance(node, ast.FunctionDef)
                    else None
                )
                if name in _REFUSED:
                    raise ModelError(
                        f"{where}: its TorchScript code ({info.filename}, line {node.lineno}) "
                        f"{_REFUSED[name]}; refused before loading"
                    )
