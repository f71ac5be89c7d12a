"""The README opens with the two commands, and CI runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", text)[:2]


def test_readme_opens_with_run_and_test_commands() -> None:
    run, test = _commands()
    assert run.endswith("fitbot")
    assert "pytest" in test


def test_ci_runs_the_readme_test_command() -> None:
    _run, test = _commands()
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
