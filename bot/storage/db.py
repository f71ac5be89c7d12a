"""The thin seam between repositories and a database backend.

Repositories write portable SQL with :named parameters; a backend runs it. Each backend supplies only
connections and transactions, so SQLite and PostgreSQL share every query and pass the same tests.
A clause only PostgreSQL needs goes in a `/*pg: ...*/` comment: SQLite skips it, PostgreSQL runs it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

Row = Mapping[str, Any]
Params = Mapping[str, Any]

_TIME_LENGTH = len("2026-11-24T09:00:00.000000Z")


def to_db_time(when: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in every backend."""
    if when.tzinfo is None:
        raise ValueError("naive datetime given to storage")
    # isoformat, not strftime: strftime("%Y") gives "999" for year 999, breaking width, order and parsing.
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_db_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    # fromisoformat reads exactly what to_db_time writes ("Z" included, Python >= 3.11) and is ~50x faster
    # than strptime; every row read parses several of these. The check keeps strptime's strictness.
    when = datetime.fromisoformat(text)
    if when.tzinfo is None or len(text) != _TIME_LENGTH:
        raise ValueError(f"not a stored time: {text!r}")
    return when


class Connection(Protocol):
    async def execute(self, sql: str, params: Params | None = None) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None: ...

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]: ...

    async def execute_script(self, sql: str) -> None:
        """Run several statements (migrations only)."""
        ...


class Database(ABC):
    """A backend: opens connections and runs one logical change as one transaction."""

    dialect: str
    #: SQL for an auto-increment primary key in this dialect (used by migrations).
    id_column: str

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> _TransactionContext:
        """async with db.transaction() as conn: ... commits on success, rolls back on error."""

    @abstractmethod
    async def backup(self, target: str) -> None:
        """A consistent copy of the live database."""

    async def lock_for_migrations(self, conn: Connection) -> None:  # noqa: B027 - a no-op by default
        """Make concurrent start-ups take turns applying migrations (SQLite's write lock already does)."""


class _TransactionContext(Protocol):
    async def __aenter__(self) -> Connection: ...

    async def __aexit__(self, *exc: object) -> None: ...
