"""The domain is the bottom room: the standard library and itself, and nothing that waits, talks or touches files.

"Standard library only" is not enough on its own: asyncio, sqlite3 and socket are all standard library. The
domain takes plain values and returns plain values, so the parts of the standard library that do I/O, run
concurrently or reach the network are banned by name (BANNED), checked over every import in every module,
including imports inside functions, and so are calls of the built-in ``open``, ``__import__``, ``exec`` and
``eval`` (which would get around an import check).
"""

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"
FILES = sorted(DOMAIN.glob("*.py"))

BANNED = frozenset(
    {
        # event loops and concurrency
        "asyncio",
        "threading",
        "_thread",
        "multiprocessing",
        "concurrent",
        "subprocess",
        "signal",
        "sched",
        # networking
        "socket",
        "ssl",
        "select",
        "selectors",
        "socketserver",
        "http",
        "urllib",
        "ftplib",
        "smtplib",
        "poplib",
        "imaplib",
        "xmlrpc",
        "webbrowser",
        # databases and files
        "sqlite3",
        "dbm",
        "shelve",
        "io",
        "os",
        "pathlib",
        "shutil",
        "tempfile",
        "glob",
        "fileinput",
        "mmap",
        "logging",
        # dynamic imports
        "importlib",
    }
)
BANNED_CALLS = frozenset({"open", "__import__", "exec", "eval"})


def _imports(source: str) -> list[tuple[int, str]]:
    """(level, top-level module) for every import; level > 0 is relative."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(0, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, (node.module or "").split(".")[0]))
    return found


def violations(source: str) -> list[str]:
    """Everything in this module's source that the domain may not do; empty when it is pure."""
    found: list[str] = []
    for level, module in _imports(source):
        if level == 1:
            continue  # a sibling in bot.domain
        if level > 1:
            found.append(f"relative import reaching outside bot.domain ({'.' * level}{module})")
        elif module in BANNED:
            found.append(f"imports {module} (I/O, concurrency or networking)")
        elif module not in sys.stdlib_module_names and module != "__future__":
            found.append(f"imports {module} (not the standard library)")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BANNED_CALLS:
            found.append(f"calls {node.func.id}() on line {node.lineno}")
    return found


def test_the_domain_has_modules() -> None:
    assert len(FILES) >= 9


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_domain_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == [], path.name


def test_the_banned_names_are_all_standard_library() -> None:
    # A typo in BANNED would ban nothing; every name must be a real module of this Python.
    assert not BANNED - sys.stdlib_module_names


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ("import asyncio\n", "imports asyncio"),
        ("import sqlite3\n", "imports sqlite3"),
        ("from socket import create_connection\n", "imports socket"),
        ("import http.client\n", "imports http"),
        ("from urllib.request import urlopen\n", "imports urllib"),
        ("import subprocess\n", "imports subprocess"),
        ("from threading import Thread\n", "imports threading"),
        ("import multiprocessing.pool\n", "imports multiprocessing"),
        ("from concurrent.futures import ThreadPoolExecutor\n", "imports concurrent"),
        ("import os.path\n", "imports os"),
        ("from pathlib import Path\n", "imports pathlib"),
        ("def later():\n    import asyncio\n", "imports asyncio"),  # hidden in a function
        ("import json, asyncio\n", "imports asyncio"),  # second name on the line
        ("import matplotlib\n", "imports matplotlib (not the standard library)"),
        ("from ..storage import x\n", "relative import reaching outside bot.domain"),
        ("text = open('x').read()\n", "calls open() on line 1"),
        ("m = __import__('asyncio')\n", "calls __import__()"),
    ],
)
def test_the_checker_catches(snippet: str, problem: str) -> None:
    found = violations(snippet)
    assert len(found) == 1, found
    assert found[0].startswith(problem), found


def test_the_checker_lets_pure_code_pass() -> None:
    pure = (
        "from __future__ import annotations\nimport re\nimport math\nfrom datetime import datetime\n"
        "from zoneinfo import ZoneInfo\nfrom .scores import total\nfrom . import text\n"
    )
    assert violations(pure) == []
