"""The wheel the Dockerfile installs carries the whole gateway, the generated API and its types."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_the_wheel_ships_the_api_stubs_types_and_console_script(tmp_path: Path) -> None:
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip_wheel, "-w", tmp_path, ROOT],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("kite_gateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for proto in ("account", "common", "errors", "market_data", "order", "portfolio"):
        assert f"kite_gateway/v1/{proto}_pb2.py" in names
        assert f"kite_gateway/v1/{proto}_pb2.pyi" in names
    assert {"kite_gateway/v1/py.typed", "kite_gateway/cli.py", "kite_gateway/server.py"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "kite-gateway = kite_gateway.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
