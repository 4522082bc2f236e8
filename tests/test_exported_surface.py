"""Each package's public surface is its `__init__`'s `__all__`; the modules behind it are private to
the package. Product code in another package imports the package, never one of its modules, so what
a package offers is curated in one place and its modules can move without breaking anyone (as httpx
and websockets do). Tests may reach inside to test a module on its own."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("kite_gateway", "kite_wire", "kite_simulator")
# kite_gateway itself is the application: its top-level modules (app, cli, config, errors, ...) are
# imported as modules; its subpackages each curate a surface.
MODULE_PACKAGES = {"kite_gateway"}


def _packages() -> list[str]:
    found = []
    for top in PRODUCT:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            found.append(".".join(init.parent.relative_to(ROOT).parts))
    return found


def _is_package(module: str) -> bool:
    return (ROOT / module.replace(".", "/") / "__init__.py").exists()


def _owner(module: str) -> str:
    """The package a module belongs to."""
    return module if _is_package(module) else module.rpartition(".")[0]


@pytest.mark.parametrize("package", [p for p in _packages() if p not in MODULE_PACKAGES])
def test_every_package_curates_its_surface_and_every_exported_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{package}/__init__.py declares no __all__"
    assert len(exported) == len(set(exported)), f"{package}.__all__ names something twice"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"


def test_product_code_imports_other_packages_through_their_surface_only() -> None:
    offences = []
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            importer = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            home = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                    continue
                target = node.module
                if target.split(".")[0] not in PRODUCT or _is_package(target):
                    continue
                package = _owner(target)
                if package in MODULE_PACKAGES or home == package or home.startswith(package + "."):
                    continue
                names = [alias.name for alias in node.names]
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {names} from {target}, not {package}")
    assert not offences, "imports past a package's surface:\n" + "\n".join(offences)


def test_what_other_packages_import_from_a_package_is_on_its_surface() -> None:
    offences = []
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                    continue
                if node.module.split(".")[0] not in PRODUCT or not _is_package(node.module):
                    continue
                if node.module in MODULE_PACKAGES:
                    continue
                surface = set(getattr(importlib.import_module(node.module), "__all__", ()))
                for alias in node.names:
                    is_submodule = (ROOT / node.module.replace(".", "/") / f"{alias.name}.py").exists() or _is_package(
                        f"{node.module}.{alias.name}"
                    )
                    if alias.name not in surface and not is_submodule:
                        offences.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {node.module}.{alias.name}")
    assert not offences, "names used from a package but not in its __all__:\n" + "\n".join(offences)
