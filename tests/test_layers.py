"""The architecture, enforced: packages import downward only (import-linter's layers contract in
pyproject.toml: traces < rubrics < scoring < analyzer, rewards < reports < cli), and no package imports
another package's private modules (make the piece public or move it)."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "rubricate"
# private modules of the root package that every package shares by design
SHARED_PRIVATE = {"rubricate._lazy", "rubricate._kernel", "rubricate._plugins"}


def test_layers_contract_is_kept(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> list[tuple[int, str]]:
    """(line, absolute module) of every `import` / `from ... import` in the file of module `name`, names
    included (`from x import _y` may import a private module `x._y`)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out += [(node.lineno, f"{module}.{a.name}") for a in node.names if a.name.startswith("_")]
    return out


def _owner(module: str) -> str:
    """The top-level package a module belongs to (`rubricate.scoring`, or `rubricate` for the root)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or (len(parts) == 2 and (SRC / parts[1]).is_dir()) else parts[0]


def test_no_package_imports_another_packages_private_modules() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        importer = _module_name(path)
        for line, module in _imports(path, importer):
            if not module.startswith("rubricate") or module in SHARED_PRIVATE or module == "rubricate.__version__":
                continue
            private = any(part.startswith("_") for part in module.split(".")[1:])
            if private and _owner(module) != _owner(importer):
                found.append(f"{path.relative_to(ROOT)}:{line}: {importer} imports {module}")
    assert not found, "\n".join(found)


def test_the_private_import_rule_sees_a_violation(tmp_path: Path) -> None:
    """The rule above is not vacuous: a module reaching into another package's privates is found."""
    probe = tmp_path / "probe.py"
    probe.write_text("from ..scoring._store import PartWriter\nfrom ..scoring import _engine\nfrom . import _data\n")
    imports = _imports(probe, "rubricate.reports.probe")
    assert {(1, "rubricate.scoring._store"), (2, "rubricate.scoring._engine"), (3, "rubricate.reports._data")} \
        <= set(imports)
    assert _owner("rubricate.scoring._store") != _owner("rubricate.reports.probe")
    assert _owner("rubricate.reports._data") == _owner("rubricate.reports.probe")
