"""The sandbox room imports the standard library, aiohttp, PTB and itself: nothing else of the bot."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "bot" / "sandbox"
FILES = sorted(SANDBOX.glob("*.py"))
ALLOWED = {"aiohttp", "telegram", "__future__"}


def _imports(path: Path) -> list[str]:
    """Every imported module, absolute (relative imports are resolved inside bot.sandbox)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found.append(f"bot.sandbox.{module}" if node.level == 1 else ("." * node.level + module))
    return found


def test_the_sandbox_has_its_modules() -> None:
    assert {p.stem for p in FILES} >= {"emulator", "spec", "world", "terminal", "limits"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_sandbox_imports(path: Path) -> None:
    for module in _imports(path):
        top = module.split(".")[0]
        if module.startswith("bot."):
            assert module.startswith("bot.sandbox"), f"{path.name} imports {module}"
            continue
        assert top in sys.stdlib_module_names or top in ALLOWED, f"{path.name} imports {module}"
