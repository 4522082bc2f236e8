"""The wheels: the API's carries the generated code and its types alone, the server's the gateway,
the wire protocol and the simulator, with the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def _wheel(tmp_path: Path, project: Path, name: str) -> zipfile.ZipFile:
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip_wheel, "-w", tmp_path, project], check=True, timeout=300)
    (wheel,) = tmp_path.glob(f"{name}-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_api_wheel_ships_the_generated_stubs_and_types_and_nothing_of_the_server(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, ROOT / "api" / "python", "kite_gateway_api")
    names = set(wheel.namelist())
    for proto in ("account", "common", "errors", "market_data", "order", "portfolio"):
        assert f"kite_gateway_api/v1/{proto}_pb2.py" in names
        assert f"kite_gateway_api/v1/{proto}_pb2.pyi" in names
    assert "kite_gateway_api/py.typed" in names
    assert not [n for n in names if n.startswith(("kite_gateway/", "kite_wire/", "kite_simulator/"))]
    assert not [n for n in names if n.endswith("entry_points.txt")]


def test_the_server_wheel_ships_the_gateway_wire_simulator_and_console_script(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, ROOT, "kite_gateway")
    names = set(wheel.namelist())
    assert {"kite_gateway/cli.py", "kite_gateway/grpc/server.py", "kite_wire/__init__.py"} <= names
    assert "kite_simulator/__init__.py" in names
    assert not [n for n in names if n.startswith(("kite_gateway_api/", "tests/"))]
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "kite-gateway = kite_gateway.cli:main" in wheel.read(entry_points).decode()
