"""The order and risk use cases know nothing of the transports: no module under core/orders or
core/risk imports gRPC, protobuf, the generated API, the official Kite client or requests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "kite_gateway" / "core"
BANNED = ("grpc", "google.protobuf", "kite_gateway_api", "kiteconnect", "requests", "kite_gateway.grpc")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path",
    sorted([*(CORE / "orders").rglob("*.py"), *(CORE / "risk").rglob("*.py")]),
    ids=lambda p: str(p.relative_to(CORE)),
)
def test_the_module_imports_no_transport(path: Path) -> None:
    leaks = {name for name in imported(path) if any(name == b or name.startswith(f"{b}.") for b in BANNED)}
    assert not leaks, f"{path.relative_to(CORE)} imports {sorted(leaks)}"


def test_the_check_sees_an_import_it_bans(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text("import grpc\nfrom kite_gateway_api.v1 import order_pb2\n")
    assert imported(module) == {"grpc", "kite_gateway_api.v1"}
