"""The order-update and GTT use cases import no transport: no gRPC, protobuf or generated API
code, and no Kite client (they reach Kite through kite_gateway/kite only)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("grpc", "google.protobuf", "kite_gateway_api", "kiteconnect", "requests")
MODULES = [*sorted((ROOT / "kite_gateway/core/order_updates").glob("*.py")), ROOT / "kite_gateway/core/orders/gtt.py"]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_use_case_module_imports_no_transport(path: Path) -> None:
    leaks = {n for n in imported(path) for f in FORBIDDEN if n == f or n.startswith(f + ".")}
    assert not leaks, f"{path.name} imports {sorted(leaks)}"


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import grpc\nfrom kite_gateway_api.v1 import order_pb2\n")
    assert imported(sample) == {"grpc", "kite_gateway_api.v1"}
