"""The protos pass buf's lint and format checks, and the committed generated code is current."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib import metadata

from tests.conftest import ROOT, buf_binary


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_generated_code_matches_the_protos() -> None:
    result = _run(sys.executable, "scripts/gen_protos.py", "--check")
    assert result.returncode == 0, result.stderr


def test_buf_lint_is_clean() -> None:
    result = _run(buf_binary(), "lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_protos_are_buf_formatted() -> None:
    result = _run(buf_binary(), "format", "--diff", "--exit-code")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_api_distribution_needs_only_grpcio_protobuf_and_googleapis_and_the_client_nothing_of_the_server() -> None:
    imported: set[str] = set()
    api = ROOT / "api" / "python" / "kite_gateway_api"
    for module in [api / "__init__.py", *(api / "v1").glob("*.py")]:
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    roots = {name.split(".")[0] for name in imported} - {"__future__", "warnings"}
    assert roots <= {"grpc", "google", "kite_gateway_api"}, roots
    assert {name for name in imported if name.startswith("google.")} <= {
        "google.protobuf",
        "google.protobuf.internal",
        "google.api",
        "google.rpc",
        "google.type",
    }

    requires = metadata.requires("kite-gateway-api") or []
    names = sorted(re.split(r"[<>=!~ ;\[]", r)[0] for r in requires)
    assert names == ["googleapis-common-protos", "grpcio", "protobuf"]
    client = metadata.requires("kite-gateway-client") or []
    assert "kite-gateway" not in {re.split(r"[<>=!~ ;\[]", r)[0] for r in client}, client
