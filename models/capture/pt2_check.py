"""A ``torch.export`` archive (``.pt2``) checked member by member before ``torch.export.load`` sees it.

``torch.export.load`` (torch 2.13) reaches pickle or native code in these ways, each refused here:

- ``data/sample_inputs/<model>.pt``: ``torch.load`` with ``weights_only=True``, then again with
  ``weights_only=False`` when that fails. LayerScope never needs sample inputs: torch is handed an
  empty member instead, whatever the file holds (torch then keeps no sample inputs).
- a weight or constant whose config says ``"use_pickle": true``: ``torch.load(weights_only=False)``;
- ``custom_obj_*`` / ``opaque_obj_*`` constants: ``torch._C._pickle_load_obj`` / ``pickle.loads``;
- legacy ``data/weights/<model>.pt`` / ``data/constants/<model>.pt`` and the pre-2.8 layout
  (``serialized_*.pt``): unpickled, ``weights_only=False`` as a fallback;
- ``data/aotinductor/…`` (and any shared library): compiled code torch opens with ``dlopen``;
- the program itself (``models/<model>.json``): a node's target is looked up by name under ``torch``
  and called when the model runs (``torch.os.system`` would be a callable); a tree spec's context may
  name any module to import (``__enum__``, ``defaultdict``); a symbolic size (``expr_str``) goes to
  ``sympy.sympify``, which ``eval``s it; ``guards_code`` is ``exec``-ed.
  Targets must be ATen operators (less those that read or write files) or the few symbolic and
  control-flow operators export writes; tree specs plain tuples, lists and dicts; symbolic sizes
  arithmetic on symbols and sympy's own functions (checked with :mod:`ast`, never run); guards dropped.

Every member's declared size is checked first (:mod:`.zip_check`); weights are checked against the
bytes their records hold, so no declared shape allocates more than the file carries. What passes is
copied, member by member, into a new in-memory archive that holds only what was checked.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from pathlib import Path

from .errors import ModelError
from .model_limits import ModelLimits, check_bytes, model_limits
from .zip_check import directory, read_member

MODEL = "model"  # the program torch.export.save writes and torch.export.load returns
_KEPT = {"archive_format", "archive_version", "byteorder", ".data/version", ".data/serialization_id"}
_SMALL = 4096  # bytes a bookkeeping member may hold
_ITEMSIZE = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 2,
    7: 4,
    8: 8,
    9: 4,
    10: 8,
    11: 16,
    12: 1,
    13: 2,
    28: 2,
    29: 1,
    30: 1,
    31: 1,
    32: 1,
    33: 1,
    34: 4,
    35: 8,
}  # torch._export.serde.schema.ScalarType → bytes
_NAME = r"[A-Za-z][A-Za-z0-9_]*"
_ATEN = re.compile(rf"^torch\.ops\.aten\.(_?{_NAME})\.({_NAME})$")
#: ATen operators that read or write files: a program may not name them
_FILE_OPS = {"from_file", "save", "_print"}
_SYMBOLIC = (
    {
        f"_operator.{n}"
        for n in (
            "getitem",
            "add",
            "sub",
            "mul",
            "floordiv",
            "mod",
            "pow",
            "truediv",
            "eq",
            "ne",
            "le",
            "ge",
            "lt",
            "gt",
            "neg",
            "pos",
            "and_",
            "or_",
            "lshift",
            "rshift",
        )
    }
    | {"math.trunc"}
    | {f"torch.sym_{n}" for n in ("int", "float", "ite", "max", "min", "sqrt", "not")}
)
_HIGHER_ORDER = {
    f"torch.ops.higher_order.{n}"
    for n in (
        "cond",
        "while_loop",
        "map_impl",
        "scan",
        "wrap_with_set_grad_enabled",
        "wrap_with_autocast",
        "invoke_subgraph",
    )
}
_SYMBOL = re.compile(r"[a-z][a-z0-9]{0,15}")
_SYMPY_CALLS = {
    "Symbol",
    "Integer",
    "Rational",
    "Float",
    "Add",
    "Mul",
    "Pow",
    "Max",
    "Min",
    "Abs",
    "Eq",
    "Ne",
    "Lt",
    "Le",
    "Gt",
    "Ge",
    "StrictLessThan",
    "StrictGreaterThan",
    "LessThan",
    "GreaterThan",
    "Equality",
    "Unequality",
    "And",
    "Or",
    "Not",
    "floor",
    "ceiling",
    "sqrt",
    "Mod",
    "FloorDiv",
    "ModularIndexing",
    "Where",
    "PythonMod",
    "CleanDiv",
    "CeilToInt",
    "FloorToInt",
    "CeilDiv",
    "LShift",
    "RShift",
    "PowByNatural",
    "FloatPow",
    "FloatTrueDiv",
    "IntTrueDiv",
    "IsNonOverlappingAndDenseIndicator",
    "TruncToFloat",
    "TruncToInt",
    "RoundToInt",
    "RoundDecimal",
    "ToFloat",
    "Identity",
    "Piecewise",
    "ExprCondPair",
}
_SYMPY_NAMES = {"oo", "zoo", "nan", "true", "false", "True", "False", "pi", "E"}
_SYMBOL_ASSUMPTIONS = {
    "positive",
    "negative",
    "nonnegative",
    "nonpositive",
    "integer",
    "real",
    "finite",
    "zero",
    "nonzero",
    "even",
    "odd",
    "rational",
}
_SYMPY_SYNTAX = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.BoolOp,
    ast.Load,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.USub,
    ast.UAdd,
    ast.Not,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Eq,
    ast.NotEq,
    ast.And,
    ast.Or,
    ast.BitAnd,
    ast.BitOr,
)
_TREE_TYPES = {
    None,
    "builtins.tuple",
    "builtins.list",
    "builtins.dict",
    "collections.OrderedDict",
    "torch.fx.immutable_collections.immutable_list",
    "torch.fx.immutable_collections.immutable_dict",
}


def sanitized(path: Path, where: str, lim: ModelLimits | None = None) -> bytes:
    """The archive at ``path`` rebuilt in memory from its checked members; :class:`ModelError` naming
    ``where`` and what was found when anything would run code, read elsewhere or allocate too much."""
    lim = lim or model_limits()
    infos = directory(path, where, lim)
    prefix = _prefix(infos, where)
    members = {info.filename[len(prefix) :]: info for info in infos if not info.is_dir()}
    for name in members:
        _refuse_unknown(name, where)
    for needed in ("archive_format", f"models/{MODEL}.json"):
        if needed not in members:
            raise ModelError(
                f"{where}: no {needed!r} in the archive: not a torch.export program; save one with "
                "torch.export.save(torch.export.export(model, (example,)), 'model.pt2')"
            )
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as zf:

        def read(name: str, limit: int | None = None) -> bytes:
            info = members[name]
            if limit is not None and info.file_size > limit:
                raise ModelError(
                    f"{where}: member {name!r} declares {info.file_size:,} bytes; at most {limit:,} are expected there"
                )
            return read_member(zf, info, where)

        for name in _KEPT & set(members):
            out[name] = read(name, _SMALL)
        out[f"models/{MODEL}.json"] = _checked_program(read(f"models/{MODEL}.json"), where)
        allocated = 0
        for kind, folder, prefix_ok in (
            ("weights", "data/weights/", "weight_"),
            ("constants", "data/constants/", "tensor_"),
        ):
            config_name = f"{folder}{MODEL}_{kind}_config.json"
            if config_name not in members:
                raise ModelError(
                    f"{where}: no {config_name!r}: not a torch.export program torch 2.8+ wrote; "
                    "save it again with torch.export.save"
                )
            config_bytes = read(config_name)
            for record, need in _checked_payloads(config_bytes, kind, prefix_ok, where).items():
                member = folder + record
                if member not in members:
                    raise ModelError(f"{where}: {kind} config names {member!r}, which the archive does not hold")
                size = members[member].file_size
                if size and need > size:
                    raise ModelError(f"{where}: a tensor in {member!r} spans {need:,} bytes; the member holds {size:,}")
                allocated += size or need
                check_bytes(allocated, where, f"its {kind}", lim)
                out[member] = read(member)
            out[config_name] = config_bytes
        out[f"data/sample_inputs/{MODEL}.pt"] = b""  # never read: torch would unpickle it
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for name in ["archive_format"] + sorted(set(out) - {"archive_format"}):
            zf.writestr(prefix + name, out[name])
    return buffer.getvalue()


def _prefix(infos: list[zipfile.ZipInfo], where: str) -> str:
    """The one top folder every member of a torch archive lives in."""
    tops = set()
    for info in infos:
        name = info.filename
        if name.startswith("/") or "\\" in name or "\x00" in name or ".." in name.split("/") or "/" not in name:
            raise ModelError(f"{where}: archive member {name!r} is not a torch.export member; refused")
        tops.add(name.split("/", 1)[0])
    if len(tops) != 1:
        raise ModelError(
            f"{where}: archive members lie in {len(tops)} top folders ({', '.join(sorted(tops)[:5])}); "
            "a torch.export archive has one"
        )
    return tops.pop() + "/"


def _refuse_unknown(name: str, where: str) -> None:
    """Refuse members torch would unpickle, dlopen or treat as another program; ignore nothing unknown."""
    low = name.lower()
    if name.startswith("data/aotinductor/"):
        raise ModelError(
            f"{where}: holds AOTInductor compiled code ({name!r}), a shared library torch would "
            "open and run; LayerScope loads plain torch.export programs only"
        )
    if low.endswith((".so", ".dll", ".dylib", ".pyd")) or ".so." in low:
        raise ModelError(f"{where}: holds a shared library ({name!r}); refused, nothing in it is run")
    base = name.rsplit("/", 1)[-1]
    if base.startswith(("custom_obj_", "opaque_obj_")):
        raise ModelError(
            f"{where}: holds a custom/opaque object ({name!r}), which torch unpickles; "
            "export the model without custom objects"
        )
    if re.fullmatch(r"data/(weights|constants)/[^/]+\.pt", name) or re.fullmatch(r"serialized_\w+\.pt", base):
        raise ModelError(
            f"{where}: holds legacy pickled weights ({name!r}), which torch unpickles; save the "
            "program again with a current torch.export.save"
        )
    if name in _KEPT or name.startswith(("extra/", "data/sample_inputs/")):
        return
    if re.fullmatch(rf"models/{_NAME}\.json", name):
        return
    if re.fullmatch(r"data/weights/(weight_\d+|\w+_weights_config\.json)", name):
        return
    if re.fullmatch(r"data/constants/(tensor_\d+|\w+_constants_config\.json)", name):
        return
    raise ModelError(f"{where}: archive member {name!r} is not part of a plain torch.export program; refused")


def _checked_payloads(config_bytes: bytes, kind: str, prefix: str, where: str) -> dict[str, int]:
    """{record: bytes its tensors span} of a weights/constants config; pickles and objects refused."""
    try:
        config = json.loads(config_bytes)["config"]
        items = list(config.items())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{where}: its {kind} config is not readable ({exc})") from None
    need: dict[str, int] = {}
    for fqn, meta in items:
        if not isinstance(meta, dict):
            raise ModelError(f"{where}: {kind} entry {fqn!r} is not a record")
        path_name = meta.get("path_name")
        if meta.get("use_pickle") is not False:
            raise ModelError(
                f"{where}: {kind[:-1]} {fqn!r} is stored as a pickle (use_pickle), which torch would "
                "unpickle; LayerScope loads plain tensors only"
            )
        if not isinstance(path_name, str) or not re.fullmatch(rf"{prefix}\d+", path_name):
            raise ModelError(
                f"{where}: {kind[:-1]} {fqn!r} is stored as {path_name!r}, not a plain tensor "
                "(custom and opaque objects are unpickled by torch); refused"
            )
        need[path_name] = max(need.get(path_name, 0), _span(meta.get("tensor_meta"), f"{kind[:-1]} {fqn!r}", where))
    return need


def _span(meta, what: str, where: str) -> int:
    """Bytes of storage a tensor's sizes, strides and offset reach (exact integers)."""
    try:
        sizes = [int(s["as_int"]) for s in meta["sizes"]]
        strides = [int(s["as_int"]) for s in meta["strides"]]
        offset = int(meta["storage_offset"]["as_int"])
        itemsize = _ITEMSIZE[int(meta["dtype"])]
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{where}: {what} has no plain tensor description ({type(exc).__name__}: {exc})") from None
    if any(s < 0 for s in sizes + strides) or offset < 0 or len(sizes) != len(strides):
        raise ModelError(f"{where}: {what} declares negative or mismatched sizes {sizes} / strides {strides}")
    if 0 in sizes:
        return 0
    numel = 1
    for s in sizes:
        numel *= s
    reach = offset + 1 + sum((s - 1) * st for s, st in zip(sizes, strides))
    return max(numel, reach) * itemsize


def _checked_program(raw: bytes, where: str) -> bytes:
    """``models/model.json`` with its targets and tree specs checked and its guard code dropped."""
    try:
        program = json.loads(raw)
        graph = program["graph_module"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{where}: the program is not readable JSON ({type(exc).__name__}: {exc})") from None
    _walk(graph, where)
    if not isinstance(program, dict):
        raise ModelError(f"{where}: the program is not a record")
    program["guards_code"] = []  # torch exec()s these strings when it rebuilds the module
    return json.dumps(program).encode()


def _walk(value, where: str) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            target = item.get("target")
            if isinstance(target, str) and "inputs" in item and "outputs" in item:
                _check_target(target, where)
            for key, sub in item.items():
                if key in ("in_spec", "out_spec") and isinstance(sub, str):
                    _check_tree_spec(sub, where)
                elif key == "expr_str":
                    _check_sym_expr(sub, where)
                elif key in ("as_custom_obj", "custom_obj", "custom_obj_values") and sub:
                    raise ModelError(
                        f"{where}: the program uses a custom object, which torch would unpickle; "
                        "export the model without custom objects"
                    )
                else:
                    stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)


def _check_target(target: str, where: str) -> None:
    match = _ATEN.match(target)
    if match and match.group(1) not in _FILE_OPS and not match.group(1).startswith("__"):
        return
    if target in _SYMBOLIC or target in _HIGHER_ORDER:
        return
    raise ModelError(
        f"{where}: the program calls {target[:120]!r}, which is not an ATen operator LayerScope runs "
        "(custom operators, Python functions and file operations are refused: they would run code "
        "outside the program)"
    )


def _check_sym_expr(text, where: str) -> None:
    """A symbolic size (``Symbol('s77', positive=True, integer=True)``, ``FloorDiv(s0, 2)``…): torch
    hands it to ``sympy.sympify``, which ``eval``s it, so only arithmetic on known sympy names passes."""
    try:
        tree = ast.parse(text, mode="eval") if isinstance(text, str) and len(text) <= 10_000 else None
    except (SyntaxError, ValueError):
        tree = None
    bad = tree is None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Call):
            ok = (
                isinstance(node.func, ast.Name)
                and node.func.id in _SYMPY_CALLS
                and all(isinstance(k.value, ast.Constant) and isinstance(k.value.value, bool) for k in node.keywords)
            )
        elif isinstance(node, ast.Name):
            ok = node.id in _SYMPY_CALLS or node.id in _SYMPY_NAMES or bool(_SYMBOL.fullmatch(node.id))
        elif isinstance(node, ast.Constant):
            ok = isinstance(node.value, (int, float, bool)) or (
                isinstance(node.value, str) and bool(_SYMBOL.fullmatch(node.value))
            )
        elif isinstance(node, ast.keyword):
            ok = node.arg in _SYMBOL_ASSUMPTIONS
        else:
            ok = isinstance(node, _SYMPY_SYNTAX)
        if not ok:
            bad = True
            break
    if bad:
        raise ModelError(
            f"{where}: the program holds a symbolic size {str(text)[:80]!r} that is not plain "
            "arithmetic; torch would evaluate it as Python code, so it is refused"
        )


def _check_tree_spec(text: str, where: str) -> None:
    """A module signature's input/output structure: plain containers, contexts without imports."""
    try:
        _protocol, spec = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{where}: a signature's tree spec is not readable ({exc})") from None
    stack = [spec]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            raise ModelError(f"{where}: a signature's tree spec is malformed")
        if node.get("type") not in _TREE_TYPES:
            raise ModelError(
                f"{where}: a signature holds a {str(node.get('type'))[:80]!r}, which torch would import; "
                "export a model that takes and returns tensors, tuples, lists or dicts"
            )
        context = node.get("context")
        if isinstance(context, str) and _names_import(context):
            raise ModelError(f"{where}: a signature's context names a Python object to import; refused")
        stack.extend(node.get("children_spec") or [])


def _names_import(context: str) -> bool:
    try:
        value = json.loads(context)
    except ValueError:
        return True
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "__enum__" in item or "fqn" in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
