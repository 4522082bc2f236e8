"""The layering, read from the source's imports (an AST walk, imports inside functions included):
every arrow points down, grpc -> core -> kite -> kite_wire, and the simulator stands apart.

Each rule reports every offending import as `file:line imports module`, so a failure lists what to
move. Imports under `if TYPE_CHECKING:` count for the rules on who may know what, but not for
import cycles (they are never executed)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kite_gateway", "kite_wire", "kite_simulator")

CORE_MAY_NOT_IMPORT = (
    "grpc",
    "grpc_health",
    "grpc_reflection",
    "google.protobuf",
    "google.rpc",
    "kite_gateway_api",
    "kiteconnect",
    "requests",
    "aiohttp",
    "kite_gateway.grpc",
    "kite_gateway.app",
    "kite_gateway.http",
)
MAY_IMPORT_THE_APP = frozenset(
    {"kite_gateway.app", "kite_gateway.cli", "kite_gateway.grpc.server", "kite_gateway.paper"}
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. kite_gateway.core.accounts.manager
    path: str  # its file, relative to the repository
    line: int
    target: str  # the imported module (for `from a.b import c`: a.b.c when that is a module, else a.b)
    type_checking: bool

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _walk(node: ast.AST, under_type_checking: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for item in child.body:
                yield item, True
                yield from _walk(item, True)
            for item in child.orelse:
                yield item, under_type_checking
                yield from _walk(item, under_type_checking)
            continue
        yield child, under_type_checking
        yield from _walk(child, under_type_checking)


@cache
def _source_modules() -> frozenset[str]:
    return frozenset(_module_name(path) for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


@cache
def imports() -> tuple[Import, ...]:
    found = []
    known = _source_modules()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(), str(path))
            relative = str(path.relative_to(ROOT))
            for node, type_checking in _walk(tree, False):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = _resolve(module, path.name == "__init__.py", node)
                    targets = [
                        f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
                    ]
                else:
                    continue
                for target in dict.fromkeys(targets):
                    found.append(Import(module, relative, node.lineno, target, type_checking))
    return tuple(found)


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def _report(offending: list[Import]) -> str:
    return "\n".join(str(item) for item in offending)


def test_the_walk_sees_the_imports_it_judges() -> None:
    """The rules below would pass on an empty walk: this one fails if the walk finds nothing."""
    seen = {(item.module, item.target) for item in imports()}
    assert ("kite_gateway.core.accounts.manager", "kite_gateway.kite") in seen
    assert _within("grpc.aio", ["grpc"]) and not _within("grpcio_tools", ["grpc"])


def test_core_imports_no_transport_no_protos_and_no_kite_client() -> None:
    offending = [
        item
        for item in imports()
        if _within(item.module, ["kite_gateway.core"]) and _within(item.target, CORE_MAY_NOT_IMPORT)
    ]
    assert not offending, "kite_gateway/core must not import these:\n" + _report(offending)


def test_core_accounts_imports_no_transport_no_protos_and_no_kite_client() -> None:
    """The accounts part of the rule above, which holds already (the rest waits on other areas)."""
    offending = [
        item
        for item in imports()
        if _within(item.module, ["kite_gateway.core.accounts"]) and _within(item.target, CORE_MAY_NOT_IMPORT)
    ]
    assert not offending, "kite_gateway/core/accounts must not import these:\n" + _report(offending)


def test_only_the_kite_adapter_imports_the_kite_client() -> None:
    offending = [
        item
        for item in imports()
        if _within(item.target, ["kiteconnect"]) and not _within(item.module, ["kite_gateway.kite", "kite_simulator"])
    ]
    assert not offending, "kiteconnect may be imported only under kite_gateway/kite:\n" + _report(offending)


def test_the_report_renderers_import_only_the_standard_library_and_themselves() -> None:
    """kite_gateway/report_render is pure: documents in, text out (fpdf2 draws the PDF)."""
    offending = [
        item
        for item in imports()
        if _within(item.module, ["kite_gateway.report_render"])
        and not _within(item.target, ["kite_gateway.report_render", "fpdf"])
        and item.target.split(".")[0] not in sys.stdlib_module_names
    ]
    assert not offending, "kite_gateway/report_render may import only the standard library:\n" + _report(offending)


def test_the_wire_protocol_imports_neither_the_gateway_nor_the_simulator() -> None:
    offending = [
        item
        for item in imports()
        if _within(item.module, ["kite_wire"]) and _within(item.target, ["kite_gateway", "kite_simulator"])
    ]
    assert not offending, "kite_wire must stand alone:\n" + _report(offending)


def test_the_simulator_imports_nothing_of_the_gateway() -> None:
    offending = [
        item
        for item in imports()
        if _within(item.module, ["kite_simulator"]) and _within(item.target, ["kite_gateway"])
    ]
    assert not offending, "kite_simulator must not import kite_gateway:\n" + _report(offending)


def test_only_the_entry_points_import_the_composition_root() -> None:
    offending = [
        item
        for item in imports()
        if _within(item.target, ["kite_gateway.app"]) and item.module not in MAY_IMPORT_THE_APP
    ]
    assert not offending, "only cli, server and paper may import kite_gateway.app:\n" + _report(offending)


def package_of(module: str) -> str:
    """The node of the package graph: kite_gateway.<package> (or a top-level module of kite_gateway)."""
    return ".".join(module.split(".")[:2])


def package_graph() -> dict[str, set[str]]:
    """kite_gateway's packages and the packages each imports at run time."""
    graph: dict[str, set[str]] = {}
    for item in imports():
        if item.type_checking or not _within(item.module, ["kite_gateway"]) or item.target == "kite_gateway":
            continue
        if not _within(item.target, ["kite_gateway"]):
            continue
        source, target = package_of(item.module), package_of(item.target)
        graph.setdefault(target, set())
        graph.setdefault(source, set())
        if source != target:
            graph[source].add(target)
    return graph


def cycles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_every_cycle_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"a"}, "g": set()}
    assert sorted(cycles_in(graph)) == [["a", "b", "c"], ["d", "e"]]
    assert cycles_in({"a": {"b"}, "b": set()}) == []


def test_the_package_graph_has_the_layers_in_it() -> None:
    graph = package_graph()
    assert "kite_gateway.kite" in graph["kite_gateway.core"] and "kite_gateway.core" in graph["kite_gateway.grpc"]


def test_no_import_cycles_between_the_gateways_packages() -> None:
    cycles = cycles_in(package_graph())
    lines = []
    for component in cycles:
        members = set(component)
        lines.append(" <-> ".join(component) + ":")
        lines += [
            f"  {item}"
            for item in imports()
            if not item.type_checking
            and package_of(item.module) in members
            and _within(item.target, ["kite_gateway"])
            and package_of(item.target) in members
            and package_of(item.target) != package_of(item.module)
        ]
    assert not cycles, "import cycles between kite_gateway's packages:\n" + "\n".join(lines)
