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


def _bare_path(directory: Path, apt_get: bool) -> str:
    """A PATH with the tools the browser recipe uses (id, env), a recording apt-get if asked, no chromium."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    for tool in ("id", "env"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    if apt_get:
        (bin_dir / "apt-get").write_text(
            f'#!/bin/sh\necho "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> {directory}/apt.log\n'
        )
        (bin_dir / "apt-get").chmod(0o755)
    return str(bin_dir)


def _make_browser(project: Path, path: str) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    assert make is not None
    env = {**{k: v for k, v in ALONE.items() if k != "DEBIAN_FRONTEND"}, "PATH": path}
    return subprocess.run([make, "browser"], cwd=project, capture_output=True, text=True, timeout=30, env=env)


@pytest.mark.skipif(os.geteuid() != 0, reason="the recipe runs apt-get through sudo when not root")
def test_make_test_installs_chromium_with_apt_get_when_it_is_missing(project: Path) -> None:
    result = _make_browser(project, _bare_path(project, apt_get=True))
    assert result.returncode == 0, result.stderr
    assert "installing Chromium" in result.stdout
    assert (project / "apt.log").read_text().splitlines() == [
        "DEBIAN_FRONTEND= update -qq",
        "DEBIAN_FRONTEND=noninteractive install -y -qq --no-install-recommends chromium",
    ]
    plan = planned(project, "test")
    checks = [i for i, c in enumerate(plan) if c.startswith("command -v chromium")]
    tests = [i for i, c in enumerate(plan) if "-m pytest" in c]
    assert checks and tests and checks[0] < tests[0], plan


def test_make_test_without_chromium_or_apt_get_says_so_and_goes_on(project: Path) -> None:
    result = _make_browser(project, _bare_path(project, apt_get=False))
    assert result.returncode == 0, result.stderr
    assert "no chromium and no apt-get" in result.stdout
