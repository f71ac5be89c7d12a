"""A database from a newer FIT-bot is refused, not half-used; a failed open leaves nothing running."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import Storage
from bot.storage.sqlite import SqliteDatabase
from tests.conftest import START


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    storage = Storage(SqliteDatabase(tmp_path / "db.sqlite3"))
    await storage.open(START)
    async with storage.transaction() as repo:
        await repo.conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01')"
        )
    await storage.close()
    again = Storage(SqliteDatabase(tmp_path / "db.sqlite3"))
    with pytest.raises(RuntimeError, match="newer than this FIT-bot knows"):
        await again.open(START)
