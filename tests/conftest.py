"""Fixtures shared by every test: a fake clock, a seeded random source, a fresh SQLite file."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import FakeClock
from tests.pg_cluster import postgres_dsn  # noqa: F401 - one PostgreSQL cluster for the whole session

# Tuesday 24 November 2026, 10:00 in Copenhagen: a working day, outside quiet hours.
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261124)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "fitbot.sqlite3"
