"""DESIGN.md's dependency rule, checked on the source with `ast` (module-level AND function-level imports):

    units/errors <- ops <- graph; hardware stands alone; cost uses ops + hardware + graph; calibrate uses
    cost + hardware; paths uses graph + cost; select uses only path data; dse uses hardware + cost + paths +
    select (+ interop: models and templates in other tools' formats); api uses all; cli uses api + report only.
    No library module imports hwmap.api; no import cycles.

"Uses" is transitive for library layers (paths may import ops because cost does); it is not for the CLI, which
sees only api, report and the base modules. Imports under `if TYPE_CHECKING:` are type hints, not dependencies,
and are skipped. KNOWN_VIOLATIONS lists the imports that broke the rule when this test was written (issue 11):
a new violation fails, and so does an entry that no longer occurs (delete it once the import is gone).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hwmap"

# Importable by every layer: they import nothing above themselves.
BASE = {"units", "errors", "fileio", "cache_files", "limits", "yamlio", "vocabulary"}  # limits: size bounds;
# yamlio: YAML 1.2; vocabulary: the lists of words choices are made of (dataflows, GPU modes, goals, ...)

# What each layer may import directly (besides BASE and itself); library layers also get what those use.
USES: dict[str, set[str]] = {
    "units": set(), "errors": set(), "fileio": set(), "cache_files": set(), "data": set(), "limits": set(),
    "yamlio": set(), "vocabulary": set(),
    "ops": set(),
    "graph": {"ops"},
    "hardware": set(),
    "cost": {"ops", "hardware", "graph"},
    "calibrate": {"cost", "hardware"},
    "paths": {"graph", "cost"},
    "select": set(),
    # dse also reads workloads and templates in other tools' formats (ONNX, SCALE-Sim) through interop.inputs
    "dse": {"hardware", "cost", "paths", "select", "interop"},
    # Not named in the rule: interop reads/writes other tools' formats for graphs, templates and costs;
    # report renders the results of any library layer.
    "interop": {"graph", "cost", "hardware"},
    "report": {"graph", "cost", "hardware", "calibrate", "paths", "select", "dse", "interop"},
}
LIBRARY = set(USES)
TOP: dict[str, set[str]] = {
    "api": LIBRARY | {"api_checks"},
    "api_checks": set(),  # the API's argument checks: base modules only
    "cli": {"api", "report"},  # not transitive: the CLI is a thin layer over the API
    "hwmap": {"api"},  # hwmap/__init__.py re-exports the API lazily
    "__main__": {"cli"},
}

# (importer module, imported module) -> why it is allowed. Empty since issue 11 landed: library code never imports
# hwmap.api and the CLI imports only hwmap.api, hwmap.report and the base modules. Do not add entries: fix the import.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}
KNOWN_CLI_VIOLATIONS: dict[tuple[str, str], str] = {}
# Cycles through function-level imports only (never at import time) that are a pattern, not a dependency loop.
KNOWN_LAZY_CYCLES = [
    # the op registry imports its lowering modules on first use; they import the registry to register themselves
    ["hwmap.ops.aten", "hwmap.ops.ignored", "hwmap.ops.onnx_ops", "hwmap.ops.registry"],
    # the same pattern for model front ends: the registry imports this layer's front-end modules on first use
    ["hwmap.graph.extract", "hwmap.graph.frontends", "hwmap.graph.sources"],
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


@cache
def imports() -> tuple[tuple[str, str, int, bool], ...]:
    """(importer, imported hwmap module, line, at module level) for every hwmap import in hwmap/."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_lines(tree)
        top_level = {id(node) for node in tree.body}
        package = importer.split(".") if path.name == "__init__.py" else importer.split(".")[:-1]
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skipped:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from hwmap.graph import cache` imports the module hwmap.graph.cache
                targets = [f"{module}.{a.name}" if _is_module(f"{module}.{a.name}") else module for a in node.names]
            for target in targets:
                if target == "hwmap" or target.startswith("hwmap."):
                    found.append((importer, target, node.lineno, id(node) in top_level))
    return tuple(found)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hwmap"


@cache
def _closure(name: str) -> frozenset[str]:
    allowed = set(USES[name])
    for used in USES[name]:
        allowed |= _closure(used)
    return frozenset(allowed)


def allowed_layers(name: str) -> set[str]:
    if name in TOP:
        return TOP[name] | BASE | {name}
    assert name in USES, f"hwmap/{name} is in no layer of the dependency rule: add it to USES"
    return set(_closure(name)) | BASE | {name}


def violations() -> dict[tuple[str, str], list[int]]:
    """(importer, imported) -> lines, for every import the rule does not allow."""
    found: dict[tuple[str, str], list[int]] = {}
    for importer, imported, line, _ in imports():
        if layer(imported) not in allowed_layers(layer(importer)):
            found.setdefault((importer, imported), []).append(line)
    return found


def _describe(pairs) -> str:
    return "\n".join(f"  {a} imports {b}" for a, b in sorted(pairs))


def test_the_scanner_sees_lazy_relative_and_from_imports():
    seen = {(a, b): top for a, b, _, top in imports()}
    assert seen[("hwmap.api", "hwmap.graph.io")] is True  # module level
    assert seen[("hwmap.api", "hwmap.cost.dispatch")] is False  # inside estimate()
    assert ("hwmap.api", "hwmap.graph.cache") in seen  # `from hwmap.graph import cache as graph_cache`
    assert ("hwmap", "hwmap.api") in seen  # `from hwmap import api` in the package's __getattr__
    assert ("hwmap.api", "hwmap.interop.inputs") in seen  # inside extract_graph()
    # a type-only import is not a dependency
    assert not [line for a, b, line, _ in imports() if (a, b) == ("hwmap.api", "hwmap.cost.result")]


def test_every_package_is_in_a_layer():
    packages = {layer(_module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert packages <= set(USES) | set(TOP), packages - set(USES) - set(TOP)


def test_layering_has_no_new_violations():
    found = violations()
    cli = {pair for pair in found if layer(pair[0]) == "cli"}
    new = set(found) - set(KNOWN_VIOLATIONS) - cli
    assert not new, f"imports that break DESIGN.md's dependency rule:\n{_describe(new)}"
    new_cli = cli - set(KNOWN_CLI_VIOLATIONS)
    assert not new_cli, f"CLI imports past api/report (add the option to hwmap.api instead):\n{_describe(new_cli)}"


def test_known_violations_still_exist():
    """Fails once a listed violation is fixed, so the allow-list only ever shrinks."""
    found = violations()
    fixed = (set(KNOWN_VIOLATIONS) | set(KNOWN_CLI_VIOLATIONS)) - set(found)
    assert not fixed, f"fixed, delete from KNOWN_VIOLATIONS / KNOWN_CLI_VIOLATIONS:\n{_describe(fixed)}"


def test_no_library_module_imports_the_api():
    offenders = {(a, b) for a, b, _, _ in imports() if b == "hwmap.api" and layer(a) in LIBRARY}
    assert offenders <= set(KNOWN_VIOLATIONS), _describe(offenders - set(KNOWN_VIOLATIONS))


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        if a != b:
            graph.setdefault(a, set()).add(b)
            graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_cycle_finder_finds_cycles():
    assert _cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert _cycles({("a", "b"), ("b", "c"), ("a", "c")}) == []


def test_no_cycles_between_layers():
    """Layer graph over every runtime import (lazy ones too), known violations aside."""
    known = set(KNOWN_VIOLATIONS) | set(KNOWN_CLI_VIOLATIONS)
    edges = {(layer(a), layer(b)) for a, b, _, _ in imports() if (a, b) not in known}
    edges = {(a, b) for a, b in edges if (a, b) != ("hwmap", "api")}  # the package root re-exports the API
    assert _cycles(edges) == []


def test_no_cycles_between_modules_through_lazy_imports():
    known = set(KNOWN_VIOLATIONS) | set(KNOWN_CLI_VIOLATIONS)
    edges = {(a, b) for a, b, _, _ in imports() if (a, b) not in known}
    assert _cycles(edges) == KNOWN_LAZY_CYCLES


def test_no_import_time_cycles_between_modules():
    """Modules importing each other at module level fail (or half-initialise) depending on import order."""
    edges = {(a, b) for a, b, _, top in imports() if top}
    assert _cycles(edges) == []
