"""Imports inside ``models/`` flow one way: no circles, and the torch nets never import a study.

The graph is read from the source (``ast``), not by importing, so a lazy import inside a function
counts as much as one at the top: a circle through a lazy import still ties two modules' internals
together. Imports under ``if TYPE_CHECKING:`` are for annotations only and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None) if isinstance(node, ast.If) else None
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def import_graph(root: Path = MODELS) -> dict[str, set[str]]:
    """Every module under ``root`` → the modules under ``root`` it imports (relative or absolute).

    ``from . import backends`` is an edge to the submodule, not to the package; a ``__main__`` module
    is an entry point, not a dependency, and is left out (a package's lazy ``command_line`` hook
    imports it).
    """
    files = {_module_name(p, root): p for p in root.rglob("*.py") if p.stem != "__main__"}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        skip = _type_checking_nodes(tree)
        edges: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                subs = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in files}
                edges.update(subs)
                if base in files and len(subs) < len(node.names):
                    edges.add(base)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_relative_lazy_and_submodule_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "low.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    from .sub import top\n")
    (pkg / "sub" / "top.py").write_text("def f():\n    from ..low import x\n")
    (pkg / "sub" / "side.py").write_text("from . import top\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub.top"] == {"pkg.low"}
    assert graph["pkg.low"] == set()  # an annotation-only import is no edge
    assert graph["pkg.sub.side"] == {"pkg.sub.top"}


def test_models_has_no_import_circles():
    assert cycles(import_graph()) == []


def test_nets_import_no_study():
    graph = import_graph()
    offenders = {
        m: sorted(e for e in edges if e.startswith("models.studies"))
        for m, edges in graph.items()
        if m == "models.nets" or m.startswith("models.nets.")
    }
    assert {m: e for m, e in offenders.items() if e} == {}


@pytest.mark.parametrize("name", ["ACTIVATIONS", "MAX_DEPTH", "GENERATORS", "DNM_ARCHITECTURES"])
def test_each_choice_list_is_written_once(name):
    """The nets and the study faces share one list (``models/nets/choices.py``), never a copy."""
    from models.nets import choices

    writers = []
    for path in MODELS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                writers.append(path.relative_to(ROOT).as_posix())
    assert writers == ["models/nets/choices.py"]
    assert name in choices.__all__


def test_star_import_of_models_stays_light():
    """``models.__all__`` names only modules that import without torch (the web process imports it)."""
    import subprocess
    import sys

    code = "from models import *\nimport sys\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
