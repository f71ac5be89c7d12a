"""Imports point down the house, never up (README, Architecture)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# room -> the rooms of bot.* it may import (besides itself). Third-party rules are below.
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "charts": set(),
    "clock": set(),
    "i18n": {"domain"},
    "storage": {"domain"},
    "services": {"domain", "storage"},
    "views": {"domain", "i18n", "services", "storage", "charts"},
    "delivery": {"storage", "views"},
    "sandbox": set(),
    "handlers": {"domain", "i18n", "services", "storage", "views", "delivery", "charts", "jobs"},
    "jobs": {"domain", "i18n", "services", "storage", "views", "delivery", "charts"},
    "config": {"domain", "i18n"},
}
# Telegram's library may only be imported where Telegram is the subject.
TELEGRAM_ROOMS = {"delivery", "handlers", "jobs", "sandbox", "app", "cli", "sandbox_session"}


def _room(path: Path) -> str:
    rel = path.relative_to(BOT)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names.append("bot." + _room(path))  # relative: same room
    return names


MODULES = sorted(p for p in BOT.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(BOT)))
def test_imports_point_down(path: Path) -> None:
    room = _room(path)
    if room not in ALLOWED:  # app, cli, sandbox_session, __init__, __main__: the wiring may import anything
        return
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "bot" and len(parts) > 1 and parts[1] != room:
            assert parts[1] in ALLOWED[room], f"{path.relative_to(BOT)} ({room}) imports {name}"
        if parts[0] == "telegram":
            assert room in TELEGRAM_ROOMS, f"{path.relative_to(BOT)} ({room}) imports {name}"
        if parts[0] in ("aiosqlite", "asyncpg", "sqlite3"):
            assert room in ("storage", "cli"), f"{path.relative_to(BOT)} ({room}) imports {name}"
