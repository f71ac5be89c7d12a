"""Storage: `async with storage.transaction() as repo:` is one logical change, committed or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from bot.storage.db import Database
from bot.storage.migrations import migrate, schema_version
from bot.storage.repository import Repository


class Storage:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, now: datetime) -> list[int]:
        """Connect and bring the schema up to date; returns the migrations applied."""
        await self.db.open()
        try:
            return await migrate(self.db, now)
        except BaseException:
            await self.db.close()
            raise

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repository]:
        async with self.db.transaction() as conn:
            yield Repository(conn)

    async def schema_version(self) -> int:
        return await schema_version(self.db)


def create_storage(sqlite_path: Path, postgres_dsn: str = "") -> Storage:
    """PostgreSQL when a DSN is configured, else the SQLite file."""
    if postgres_dsn:
        from bot.storage.postgres import PostgresDatabase

        return Storage(PostgresDatabase(postgres_dsn))
    from bot.storage.sqlite import SqliteDatabase

    return Storage(SqliteDatabase(sqlite_path))


__all__ = ["Repository", "Storage", "create_storage"]
