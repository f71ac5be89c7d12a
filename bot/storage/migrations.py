"""Numbered migrations (bot/storage/migrations/NNNN_name.sql), applied in order and recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from bot.storage.db import Database, to_db_time

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("bot.storage").joinpath("migrations").iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {[m.version for m in found]}")
    return found


async def migrate(db: Database, now: datetime) -> list[int]:
    """Apply what is missing, each migration in its own transaction. Returns the versions applied."""
    async with db.transaction() as conn:
        await db.lock_for_migrations(conn)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    known = available()
    async with db.transaction() as conn:
        row = await conn.fetch_one("SELECT MAX(version) AS v FROM schema_migrations")
    newest = int(row["v"] or 0) if row else 0
    if newest > known[-1].version:
        raise RuntimeError(
            f"the database is at schema version {newest}, newer than this FIT-bot knows ({known[-1].version}): "
            "run the newer FIT-bot, or restore a backup taken before the upgrade"
        )
    applied: list[int] = []
    for migration in known:
        async with db.transaction() as conn:
            await db.lock_for_migrations(conn)
            # Checked inside the transaction so two processes starting together apply it once.
            done = await conn.fetch_one("SELECT 1 FROM schema_migrations WHERE version = :v", {"v": migration.version})
            if done:
                continue
            await conn.execute_script(migration.sql.replace("{{id}}", db.id_column))
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)",
                {"v": migration.version, "n": migration.name, "t": to_db_time(now)},
            )
            applied.append(migration.version)
    return applied


async def schema_version(db: Database) -> int:
    async with db.transaction() as conn:
        row = await conn.fetch_one("SELECT MAX(version) AS v FROM schema_migrations")
    return int(row["v"] or 0) if row else 0
