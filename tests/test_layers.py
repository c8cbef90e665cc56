"""Packages talk through each other's public modules: no module imports another package's private one.

import-linter (run by ./scripts/test, contracts in pyproject.toml) enforces the layers; its
wildcards cannot name "every private module", so this walks the imports itself.  The shared
top-level modules (`mskclient._errors`, `mskclient._profile`, …) belong to no package and
may be imported by all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mskclient

ROOT = Path(mskclient.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.Module, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module name an import statement names (for `from X import y`, both X and X.y)."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.append((node.lineno, target))
            names += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return names


def _owner(module: str) -> str | None:
    """The subpackage a module belongs to (`mskclient.client._core` -> `mskclient.client`)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (ROOT / parts[-1]).is_dir() else None


def _private_of_other_package(importer: str, imported: str) -> bool:
    parts = imported.split(".")
    if parts[0] != "mskclient" or len(parts) < 3:
        return False
    owner = ".".join(parts[:2])
    if not (ROOT / parts[1]).is_dir() or owner == _owner(importer):
        return False
    return any(part.startswith("_") and not part.startswith("__") for part in parts[2:])


def test_no_module_imports_another_packages_private_module() -> None:
    offences = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offending = {
            line: imported
            for line, imported in reversed(_imported(tree, module, path.name == "__init__.py"))
            if _private_of_other_package(module, imported)
        }
        offences += [f"{path.relative_to(ROOT.parent)}:{line}: {name}" for line, name in sorted(offending.items())]
    assert offences == []


def test_the_walk_sees_relative_imports() -> None:
    tree = ast.parse("from ..client._wire import path\nfrom ..crypto import _sodium\n")
    names = [name for _, name in _imported(tree, "mskclient.export._online", is_package=False)]
    assert "mskclient.client._wire" in names and "mskclient.crypto._sodium" in names
    assert _private_of_other_package("mskclient.export._online", "mskclient.client._wire")
    assert not _private_of_other_package("mskclient.export._online", "mskclient.export._tree")
    assert not _private_of_other_package("mskclient.export._online", "mskclient._errors")
