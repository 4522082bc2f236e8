"""The Makefile's two commands: `make run` installs only what running needs, `make test` adds the dev
extra on top, and each installs only what is missing (read with `make -n` in a copy, nothing run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INPUTS = (
    "pyproject.toml",
    "api/python/pyproject.toml",
    "clients/python/pyproject.toml",
    "package.json",
    "package-lock.json",
)

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

# make run by hand, not as a sub-make of `make test` (CI): a sub-make prints "Entering directory".
ALONE = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}


def planned(directory: Path, target: str) -> list[str]:
    """The commands `make TARGET` would run there."""
    result = subprocess.run(
        ["make", "-n", target], cwd=directory, capture_output=True, text=True, timeout=30, env=ALONE
    )
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines() if line and not line.startswith("echo ")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the Makefile and the files its stamps depend on, with nothing installed."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for name in INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1_000_000, 1_000_000))
    return tmp_path


def stamp(project: Path, *names: str) -> None:
    for name in names:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("")


def installs(commands: list[str]) -> list[str]:
    return [c for c in commands if "pip install" in c or c.startswith("npm ")]


def test_make_run_on_a_fresh_clone_installs_the_runtime_and_buf_but_no_dev_tools(project: Path) -> None:
    commands = installs(planned(project, "run"))
    pip = [c for c in commands if "pip install" in c]
    assert len(pip) == 1 and "[dev]" not in pip[0] and "--quiet" not in pip[0]
    assert "--editable api/python" in pip[0] and "--editable clients/python" in pip[0]
    assert any(c.startswith("npm ci") for c in commands)


def test_make_run_says_what_it_installs_before_each_step() -> None:
    result = subprocess.run(
        ["make", "-n", "-B", "run"], cwd=ROOT, capture_output=True, text=True, timeout=30, env=ALONE
    )
    steps = [line for line in result.stdout.splitlines() if line.startswith("echo ")]
    assert len(steps) == 2 and any("buf CLI" in step for step in steps)


def test_make_test_after_make_run_adds_only_the_dev_extra(project: Path) -> None:
    stamp(project, ".venv/.installed-run", "node_modules/.installed")
    assert installs(planned(project, "lint")) == [
        ".venv/bin/python -m pip install --disable-pip-version-check --editable '.[dev]'"
    ]


def test_make_run_after_make_test_installs_nothing(project: Path) -> None:
    stamp(project, ".venv/.installed-run", "node_modules/.installed")
    stamp(project, ".venv/.installed-dev")
    assert planned(project, "run") == [".venv/bin/kite-gateway serve --paper"]


def test_a_changed_pyproject_reinstalls_on_the_next_run(project: Path) -> None:
    stamp(project, ".venv/.installed-run", "node_modules/.installed", ".venv/.installed-dev")
    (project / "pyproject.toml").write_text("# changed")
    assert len([c for c in installs(planned(project, "run")) if "pip install" in c]) == 1
