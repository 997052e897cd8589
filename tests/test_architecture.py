"""The design's boundaries, checked on the source: no import circles, llama-index and the
environment each reached from one place only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "rag"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (imports for type hints only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for orelse in node.orelse for n in [orelse, *_runtime_nodes(orelse)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path) -> set[str]:
    """Every module a file imports at run time, at top level or inside functions."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            # `from rag import lang` loads rag.lang; `from rag.x import f` loads rag.x.
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= (subs & MODULES.keys()) or {node.module}
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _rag_graph() -> dict[str, set[str]]:
    return {
        name: {m for m in _imports(path) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                out.append([v, *component])

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_circles_even_through_lazy_imports() -> None:
    graph = _rag_graph()
    assert "rag.answerers.registry" in graph and graph["rag.service"]
    assert _cycles(graph) == []


def test_the_cycle_check_can_fail() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "c", "b"]]


def test_llama_index_is_imported_in_one_place() -> None:
    """(FAISS and bm25s stay inside rag/stores: tests/test_stores.py checks that.)"""
    users = {
        name
        for name, path in MODULES.items()
        if any(m == "llama_index" or m.startswith("llama_index.") for m in _imports(path))
    }
    assert users == {"rag.integrations.llama"}


def test_only_the_config_reads_the_environment() -> None:
    readers = {
        name
        for name, path in MODULES.items()
        if "os.environ" in path.read_text(encoding="utf-8")
        or "os.getenv" in path.read_text(encoding="utf-8")
    }
    assert readers == {"rag.config"}
