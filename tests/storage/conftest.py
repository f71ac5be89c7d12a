"""The storage contract runs every test against each backend: SQLite (a fresh file) and PostgreSQL.

PostgreSQL comes from tests/pg_cluster.py: FITBOT_TEST_POSTGRES_DSN, or a throwaway cluster started
once per session from local server binaries; each test gets its own fresh database. Without either,
the postgres half is skipped (failed when CI is set).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.storage import Storage
from bot.storage.postgres import PostgresDatabase
from bot.storage.sqlite import SqliteDatabase
from tests.conftest import START
from tests.pg_cluster import fresh_database

BACKENDS = ["sqlite", "postgres"]


@dataclass(frozen=True)
class Target:
    """Where one test's database lives; `new()` makes another, unopened Storage on the same data."""

    dialect: str
    location: str  # a file path or a DSN

    def new(self) -> Storage:
        if self.dialect == "sqlite":
            return Storage(SqliteDatabase(self.location))
        return Storage(PostgresDatabase(self.location, min_size=1, max_size=4))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(dialect, file path or server DSN); asks for the PostgreSQL server only for the postgres half."""
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "fitbot.sqlite3")
    return "postgres", request.getfixturevalue("postgres_dsn")


@pytest.fixture
async def target(backend: tuple[str, str]) -> AsyncIterator[Target]:
    dialect, where = backend
    if dialect == "sqlite":
        yield Target(dialect, where)
        return
    async with fresh_database(where) as dsn:
        yield Target(dialect, dsn)


@pytest.fixture
async def make_storage(target: Target) -> AsyncIterator[Callable[[], Storage]]:
    """Unopened Storage objects on the test's database (separate connections); closed at teardown."""
    made: list[Storage] = []

    def make() -> Storage:
        made.append(target.new())
        return made[-1]

    yield make
    for storage in made:
        await storage.close()


@pytest.fixture
async def storage(make_storage: Callable[[], Storage]) -> Storage:
    """An open, migrated Storage on a fresh database."""
    s = make_storage()
    await s.open(START)
    return s


@pytest.fixture
def dialect(target: Target) -> str:
    return target.dialect
