"""The layer rules of ``steadystate``, checked on the source: every import must point down the table below.

Every module under ``src/steadystate`` is parsed with :mod:`ast` (nothing is imported) and *all* its imports
are read: module-level ones, those inside functions, and those under ``if TYPE_CHECKING:``.  TYPE_CHECKING
imports count for the layer rules: a type from a higher layer in a signature is a dependency on it as much as
a call is (only the import cycle check leaves them out, since they are never executed).

* :data:`ALLOWED` is the layering, package by package (docs/design-notes.md "Layers and modules"): which
  other packages a package may import directly.  The top-level modules ``cli``, ``__main__``, ``server`` and
  ``supervisor`` are the processes' entry points and are listed like packages.
* No import cycles among modules, counting the imports executed at import time (module level, outside
  ``TYPE_CHECKING``).  Function-level imports of steadystate modules are allowed only where listed in
  :data:`LAZY_IMPORTS`, with the reason — never to dodge a cycle.
* No imports of private (``_name``) names from another module, and no ``module._name`` on an imported module.
* ``dataflow`` knows no SQL: besides the layer rule (it imports only ``errors``), none of its code holds SQL
  aggregate names as strings.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "steadystate"

# package -> the packages it may import directly (a module may always import its own package's modules)
ALLOWED: dict[str, set[str]] = {
    # entry points: the processes, wired together
    "__main__": {"cli"},
    # the in-memory environment for tests: wires a coordinator to in-process replicas
    "testing": {"adapter", "catalog", "compute", "controller", "orchestrator", "storage", "errors"},
    "cli": {"adapter", "compute", "orchestrator", "server", "supervisor", "security", "errors"},
    "server": {"adapter", "pgwire", "supervisor", "security", "errors"},
    "supervisor": {"pgwire", "security", "errors"},
    # the coordinator
    "pgwire": {"adapter", "repr", "security", "errors"},  # repr: the datums' text forms (float digits) the wire shares with casts
    "adapter": {"sql", "catalog", "controller", "protocol", "render", "orchestrator", "storage", "expr", "repr",
                "security", "errors"},
    "sql": {"expr", "repr", "security", "errors"},
    "catalog": {"expr", "repr", "errors"},
    "controller": {"protocol", "expr", "repr", "errors"},
    # the replica
    "compute": {"render", "protocol", "dataflow", "storage", "expr", "repr", "security", "errors"},
    # shared by both sides
    "render": {"dataflow", "protocol", "expr", "repr", "errors"},
    "protocol": {"expr", "repr", "security", "errors"},
    "dataflow": {"errors"},
    "expr": {"repr", "errors"},
    "storage": {"repr", "errors"},
    "orchestrator": {"security", "errors"},
    "repr": {"errors"},
    # SCRAM verifiers and exchanges, private files, TLS material: used by the processes and the coordinator
    "security": {"errors"},
    "errors": set(),
}

# the coordinator's packages: none of them may import the replica's code (``compute``)
COORDINATOR = {"pgwire", "adapter", "sql", "catalog", "controller", "server", "supervisor"}

# (importing module, imported module) -> why the import is inside a function
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("steadystate.cli", "steadystate.supervisor"): "the CLI loads only the command it runs",
    ("steadystate.cli", "steadystate.security.tls"): "the CLI loads only the command it runs (cryptography)",
    ("steadystate.cli", "steadystate.adapter.coordinator"): "the CLI loads only the command it runs",
    ("steadystate.cli", "steadystate.server"): "the CLI loads only the command it runs",
    ("steadystate.cli", "steadystate.compute.server"): "the CLI loads only the command it runs",
    ("steadystate.cli", "steadystate.orchestrator"): "the CLI loads only the command it runs",
    ("steadystate.storage", "steadystate.storage.sqlite_store"): "a shard store backend is loaded when chosen",
    ("steadystate.storage", "steadystate.storage.postgres_store"): "psycopg is loaded only for postgres:// stores",
    ("steadystate.repr.codec", "steadystate.repr.columnar"): "pyarrow is loaded only when a columnar batch is read",
    ("steadystate.repr.columnar", "steadystate.repr.arrow_rows"): "pyarrow (which arrow_rows imports) is loaded only "
                                                                   "when a columnar batch is written or read",
    ("steadystate.compute.server", "steadystate.dataflow.accumulate"): "warms pyarrow up in a thread at start-up",
    ("steadystate.__main__", "steadystate.cli"): "pandas is refused before the command line loads pyarrow",
}

SQL_AGGREGATE_NAMES = {"count_star", "sum_numeric", "avg", "bool_and", "bool_or"}


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # the module imported (a name imported from a package resolves to its submodule if it is one)
    name: str | None  # for ``from m import name``
    line: int
    in_function: bool
    type_checking: bool


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((SOURCE / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_of(module: str) -> list[Import]:
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    found: list[Import] = []

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, None, node.lineno, in_function, type_checking))
        elif isinstance(node, ast.ImportFrom):
            source = resolve(node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                target = submodule if submodule in MODULES else source
                found.append(Import(module, target, alias.name, node.lineno, in_function, type_checking))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for child in ast.iter_child_nodes(node):
                visit(child, True, type_checking)
            return
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, in_function, True)
            for child in node.orelse:
                visit(child, in_function, type_checking)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, in_function, type_checking)

    visit(tree, False, False)
    return [i for i in found if i.target == PACKAGE or i.target.startswith(PACKAGE + ".")]


IMPORTS = [i for module in MODULES for i in _imports_of(module)]


def layer_of(module: str) -> str:
    """``steadystate.sql.query`` → ``sql``; ``steadystate.cli`` → ``cli``; ``steadystate`` → ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _where(i: Import) -> str:
    kind = " (TYPE_CHECKING)" if i.type_checking else " (in a function)" if i.in_function else ""
    return f"{MODULES[i.importer].relative_to(SOURCE)}:{i.line} imports {i.target}{kind}"


def test_every_package_is_in_the_layer_table() -> None:
    layers = {layer_of(m) for m in MODULES} - {""}
    assert layers <= set(ALLOWED), f"add these to ALLOWED (and to docs/design-notes.md): {layers - set(ALLOWED)}"


def test_the_layer_table_has_no_cycles() -> None:
    state: dict[str, int] = {}

    def visit(layer: str, path: list[str]) -> None:
        if state.get(layer) == 1:
            pytest.fail(f"the layer table has a cycle: {' -> '.join(path + [layer])}")
        if state.get(layer) == 2:
            return
        state[layer] = 1
        for lower in ALLOWED[layer]:
            visit(lower, path + [layer])
        state[layer] = 2

    for layer in ALLOWED:
        visit(layer, [])


def test_imports_point_down_the_layers() -> None:
    wrong = [
        f"{_where(i)}: {layer_of(i.importer) or PACKAGE} may not import {layer_of(i.target) or PACKAGE}"
        for i in IMPORTS
        if layer_of(i.target) != layer_of(i.importer) and layer_of(i.target) not in ALLOWED.get(layer_of(i.importer), set())
    ]
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_coordinator_never_imports_the_replica() -> None:
    wrong = [_where(i) for i in IMPORTS if layer_of(i.importer) in COORDINATOR and layer_of(i.target) == "compute"]
    assert not wrong, "the coordinator must not import steadystate.compute (use steadystate.render):\n" + "\n".join(wrong)


def test_dataflow_knows_no_sql() -> None:
    wrong = [_where(i) for i in IMPORTS if layer_of(i.importer) == "dataflow" and layer_of(i.target) not in ("dataflow", "errors")]
    for module, path in MODULES.items():
        if layer_of(module) != "dataflow":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and node.value in SQL_AGGREGATE_NAMES):
                wrong.append(f"{path.relative_to(SOURCE)}:{node.lineno} names the SQL aggregate {node.value!r}")
    assert not wrong, "dataflow must know no SQL (aggregates come as factories or dataflow.accumulate.Accumulation):\n" + "\n".join(wrong)


def _runtime_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for i in IMPORTS:
        if not i.in_function and not i.type_checking and i.target in MODULES and i.target != i.importer:
            graph[i.importer].add(i.target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
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
            connect(v)
    return found


def test_no_import_cycles_in_sql() -> None:
    graph = _runtime_graph()
    sql = {m: {t for t in targets if layer_of(t) == "sql"} for m, targets in graph.items() if layer_of(m) == "sql"}
    assert not _cycles(sql), f"import cycles in steadystate.sql: {_cycles(sql)}"


def test_no_import_cycles() -> None:
    cycles = _cycles(_runtime_graph())
    assert not cycles, f"import cycles among steadystate's modules: {cycles}"


def test_function_level_imports_are_lazy_loading_only() -> None:
    listed = set(LAZY_IMPORTS)
    found = {(i.importer, i.target) for i in IMPORTS if i.in_function and not i.type_checking}
    unlisted = [_where(i) for i in IMPORTS if i.in_function and (i.importer, i.target) not in listed]
    assert not unlisted, ("imports inside functions (move them to the top; if they dodge a cycle, split the module "
                          "instead; if they load something lazily, list them in LAZY_IMPORTS):\n" + "\n".join(unlisted))
    assert not listed - found, f"LAZY_IMPORTS lists imports that are gone: {listed - found}"
    assert not any(layer_of(importer) == "sql" for importer, _ in listed), "sql/ imports everything at module level"


def test_no_private_names_across_modules() -> None:
    wrong = [f"{_where(i)}: imports the private name {i.name}" for i in IMPORTS
             if i.name is not None and i.name.startswith("_") and not i.name.startswith("__")
             and i.target != i.importer]
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        aliases: dict[str, str] = {}  # local name -> steadystate module it is bound to
        for i in _imports_of(module):
            if i.name is not None and f"{i.target}" in MODULES and i.target.endswith("." + i.name):
                aliases[i.name] = i.target
        for node in ast.walk(tree):
            if isinstance(node, ast.alias) and node.asname and node.name in aliases:
                aliases[node.asname] = aliases[node.name]
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                wrong.append(f"{path.relative_to(SOURCE)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not wrong, "private names used across modules (make them public where shared):\n" + "\n".join(wrong)
