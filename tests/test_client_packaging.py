"""The Python client needs nothing but the generated API, grpcio, protobuf and googleapis' common
protos (google.rpc for error details, google.type for decimals and dates): it installs into any
service without the gateway's own dependencies."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata

from tests.conftest import ROOT

ALLOWED = {"kite-gateway-api", "grpcio", "protobuf", "googleapis-common-protos"}


def test_the_client_declares_only_the_api_grpc_and_protobufs() -> None:
    requires = {re.split(r"[<>=!~ ;\[]", r)[0] for r in metadata.requires("kite-gateway-client") or []}
    assert requires <= ALLOWED, requires - ALLOWED


def test_the_client_imports_only_the_standard_library_and_what_it_declares() -> None:
    imported: set[str] = set()
    for module in (ROOT / "clients" / "python" / "kite_gateway_client").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module)
    foreign = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names}
    allowed_roots = ("grpc", "kite_gateway_api", "kite_gateway_client", "google.protobuf", "google.rpc", "google.type")
    assert {n for n in foreign if not n.startswith(allowed_roots)} == set()
