"""The domain is the bottom room: it imports the standard library and itself, nothing else."""

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"
FILES = sorted(DOMAIN.glob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """(level, top-level module) for every import; level > 0 is relative."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(0, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, (node.module or "").split(".")[0]))
    return found


def test_the_domain_has_modules() -> None:
    assert len(FILES) >= 9


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_domain_imports_only_the_standard_library(path: Path) -> None:
    for level, module in _imports(path):
        if level == 1:
            continue  # a sibling in bot.domain
        assert level == 0, f"{path.name}: relative import reaching outside bot.domain"
        assert module in sys.stdlib_module_names or module == "__future__", f"{path.name} imports {module}"


def test_the_guard_catches_a_third_party_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import matplotlib\nfrom ..storage import x\n", encoding="utf-8")
    assert _imports(bad) == [(0, "matplotlib"), (2, "storage")]
