"""The seam's contract, on both backends: schema, migrations, constraints, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.storage import Storage
from bot.storage.migrations import available, migrate, schema_version
from bot.storage.sqlite import BUSY_TIMEOUT_MS, SqliteDatabase
from tests.conftest import START
from tests.storage.seed import INTEGRITY_ERRORS, at, count, family, is_foreign_key_violation

TABLES = [
    "caseworkers",
    "channels",
    "cases",
    "respondents",
    "invitations",
    "token_failures",
    "consents",
    "meetings",
    "questionnaires",
    "answers",
    "alerts",
    "outbox",
    "processed_updates",
    "inbox",
    "audit_events",
    "health",
]

# --- migrations ---------------------------------------------------------------------------------------


async def test_fresh_database_gets_every_migration(make_storage: Callable[[], Storage]) -> None:
    storage = make_storage()
    applied = await storage.open(START)
    assert applied == [m.version for m in available()]
    assert await storage.schema_version() == len(available())
    for table in TABLES:
        assert await count(storage, table) == 0, table
    async with storage.transaction() as repo:
        rows = await repo.conn.fetch_all("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"], r["applied_at"]) for r in rows] == [
        (m.version, m.name, "2026-11-24T09:00:00.000000Z") for m in available()
    ]


async def test_migrating_again_is_a_no_op(storage: Storage, make_storage: Callable[[], Storage]) -> None:
    async with storage.transaction() as repo:
        await repo.insert_caseworker("Lone", "Nord", "caseworker", at())
    assert await migrate(storage.db, at(days=1)) == []
    again = make_storage()
    assert await again.open(at(days=2)) == []
    assert await schema_version(again.db) == len(available())
    assert await count(again, "schema_migrations") == len(available())
    assert await count(again, "caseworkers") == 1


async def test_instances_starting_together_migrate_once(make_storage: Callable[[], Storage]) -> None:
    """Several processes on one database: the migration lock (PG) or write lock (SQLite) takes turns."""
    storages = [make_storage() for _ in range(3)]
    applied = await asyncio.gather(*(s.open(START) for s in storages))
    assert sorted(v for versions in applied for v in versions) == [m.version for m in available()]
    assert await count(storages[0], "schema_migrations") == len(available())


async def test_schema_version_of_an_empty_database_is_zero(make_storage: Callable[[], Storage]) -> None:
    storage = make_storage()
    await storage.db.open()
    async with storage.transaction() as repo:
        await repo.conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    assert await storage.schema_version() == 0


# --- SQLite specifics -------------------------------------------------------------------------------


async def test_sqlite_pragmas(storage: Storage, dialect: str) -> None:
    if dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    async with storage.transaction() as repo:
        pragmas = {
            name: (await repo.conn.fetch_one(f"PRAGMA {name}"))[0]  # type: ignore[index]
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": BUSY_TIMEOUT_MS, "synchronous": 2}


async def test_sqlite_processes_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Setting WAL on a new file races (SQLite answers "locked" without waiting): opening retries."""
    for attempt in range(60):
        databases = [SqliteDatabase(tmp_path / f"new{attempt}.sqlite3") for _ in range(8)]
        try:
            await asyncio.gather(*(db.open() for db in databases))
            async with databases[-1].transaction() as conn:
                assert (await conn.fetch_one("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
        finally:
            for db in databases:
                await db.close()


async def test_sqlite_open_of_a_file_that_is_no_database_fails_and_leaves_no_thread(tmp_path: Path) -> None:
    """aiosqlite's worker thread is not a daemon: a connection left open by a failed open() hangs exit."""
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not an SQLite database " * 200)

    def workers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if "_connection_worker_thread" in t.name and t.is_alive()}

    before = workers()
    db = SqliteDatabase(path)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            await db.open()
        for thread in workers() - before:
            await asyncio.to_thread(thread.join, 5)
        assert not workers() - before
    finally:
        await db.close()  # a no-op when open() cleaned up after itself


# --- constraints --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO cases (caseworker_id, label, label_key, age_band, created_at) "
        "VALUES (999, 'x', 'x', 'adult', 't')",
        "INSERT INTO respondents (case_id, role, created_at) VALUES (999, 'parent', 't')",
        "INSERT INTO answers (questionnaire_id, position, value, answered_at) VALUES (999, 0, 5, 't')",
        "INSERT INTO channels (caseworker_id, chat_id, chat_type, linked_at) VALUES (999, 1, 'private', 't')",
    ],
)
async def test_foreign_keys_are_enforced(storage: Storage, sql: str) -> None:
    with pytest.raises(INTEGRITY_ERRORS) as raised:
        async with storage.transaction() as repo:
            await repo.conn.execute(sql)
    assert is_foreign_key_violation(raised.value), raised.value
    # The failed transaction is gone; the next one works.
    async with storage.transaction() as repo:
        assert await repo.caseworkers() == []


async def test_deleting_a_referenced_row_is_refused(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
    with pytest.raises(INTEGRITY_ERRORS) as raised:
        async with storage.transaction() as repo:
            await repo.conn.execute("DELETE FROM cases WHERE id = :id", {"id": fam.case_id})
    assert is_foreign_key_violation(raised.value), raised.value
    assert await count(storage, "cases") == 1


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO caseworkers (name, role, created_at) VALUES ('x', 'boss', 't')",
        "INSERT INTO outbox (kind, dedupe_key, due_at, created_at, status) VALUES ('k', 'd', 't', 't', 'lost')",
    ],
)
async def test_check_constraints_are_enforced(storage: Storage, sql: str) -> None:
    with pytest.raises(INTEGRITY_ERRORS):
        async with storage.transaction() as repo:
            await repo.conn.execute(sql)


async def test_answer_values_are_checked(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
    for bad in (-1, 101):
        with pytest.raises(INTEGRITY_ERRORS):
            async with storage.transaction() as repo:
                await repo.upsert_answer(fam.questionnaire_id, 0, bad, at())
    assert await count(storage, "answers") == 0


# --- transactions -------------------------------------------------------------------------------------


class Boom(Exception):
    pass


async def test_a_transaction_that_raises_rolls_back_everything(storage: Storage) -> None:
    async with storage.transaction() as repo:
        kept = await repo.insert_caseworker("Kept", "", "caseworker", at())

    async def change_then_fail() -> None:
        async with storage.transaction() as repo:
            fam = await family(repo)
            await repo.enqueue("prompt", "q:1:prompt", at(), at())
            await repo.audit("system", "x", at())
            await repo.set_health("last_poll", "ok", at())
            await repo.disable_caseworker(kept, at())
            assert await repo.case(fam.case_id) is not None  # visible inside the transaction
            raise Boom

    with pytest.raises(Boom):
        await change_then_fail()
    for table in ("cases", "respondents", "meetings", "questionnaires", "outbox", "audit_events", "health"):
        assert await count(storage, table) == 0, table
    async with storage.transaction() as repo:
        assert [c.id for c in await repo.caseworkers()] == [kept]
        caseworker = await repo.caseworker(kept)
    assert caseworker is not None
    assert caseworker.active


async def test_a_cancelled_transaction_rolls_back_and_storage_stays_usable(storage: Storage) -> None:
    inside = asyncio.Event()

    async def slow() -> None:
        async with storage.transaction() as repo:
            await repo.insert_caseworker("Gone", "", "caseworker", at())
            inside.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(slow())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(5):
        async with storage.transaction() as repo:
            assert await repo.caseworkers() == []
            await repo.insert_caseworker("Next", "", "caseworker", at())
    assert await count(storage, "caseworkers") == 1


async def test_a_constraint_error_rolls_back_the_whole_transaction(storage: Storage) -> None:
    """A constraint error ends the whole transaction on both backends: callers must not catch and go on."""

    async def insert_then_violate() -> None:
        async with storage.transaction() as repo:
            await repo.insert_caseworker("A", "", "caseworker", at())
            await repo.conn.execute(
                "INSERT INTO cases (caseworker_id, label, label_key, age_band, created_at) "
                "VALUES (999, 'x', 'x', 'adult', 't')"
            )

    with pytest.raises(INTEGRITY_ERRORS):
        await insert_then_violate()
    assert await count(storage, "caseworkers") == 0


async def test_separate_connections_see_only_committed_work(
    storage: Storage, make_storage: Callable[[], Storage]
) -> None:
    other = make_storage()
    await other.open(START)
    async with storage.transaction() as repo:
        await repo.insert_caseworker("A", "", "caseworker", at())
    async with other.transaction() as repo:
        assert [c.name for c in await repo.caseworkers()] == ["A"]


async def test_writers_on_separate_connections_take_turns(
    storage: Storage, make_storage: Callable[[], Storage]
) -> None:
    """Two processes on one database: the second writer waits (SQLite: busy_timeout) rather than failing."""
    other = make_storage()
    await other.open(START)
    first_inside = asyncio.Event()

    async def first() -> None:
        async with storage.transaction() as repo:
            await repo.insert_caseworker("first", "", "caseworker", at())
            first_inside.set()
            await asyncio.sleep(0.2)

    async def second() -> None:
        await first_inside.wait()
        async with other.transaction() as repo:
            await repo.insert_caseworker("second", "", "caseworker", at())

    await asyncio.gather(first(), second())
    async with storage.transaction() as repo:
        assert sorted(c.name for c in await repo.caseworkers()) == ["first", "second"]


async def test_a_transaction_cancelled_while_waiting_for_another_writer_leaves_storage_usable(
    storage: Storage, make_storage: Callable[[], Storage]
) -> None:
    """Shutdown cancels a task stuck behind another instance's write (SQLite: in BEGIN; PG: on a row lock)."""
    other = make_storage()
    await other.open(START)
    async with storage.transaction() as repo:
        cw = await repo.insert_caseworker("A", "", "caseworker", at())
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with other.transaction() as repo:
            await repo.set_caseworker_language(cw, "en")
            holding.set()
            await release.wait()

    async def wait_behind() -> None:
        async with storage.transaction() as repo:
            await repo.set_caseworker_language(cw, "uk")

    holder = asyncio.create_task(hold())
    await holding.wait()
    waiter = asyncio.create_task(wait_behind())
    await asyncio.sleep(0.2)  # the waiter is now blocked inside BEGIN IMMEDIATE / the UPDATE
    assert not waiter.done()
    waiter.cancel()
    # The cancelled BEGIN (SQLite) still runs in aiosqlite's thread until the lock frees or busy_timeout.
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await holder
    async with asyncio.timeout(10):
        async with storage.transaction() as repo:
            assert (await repo.caseworker(cw)).language == "en"  # type: ignore[union-attr]
            await repo.set_caseworker_language(cw, "da")
    async with other.transaction() as repo:
        assert (await repo.caseworker(cw)).language == "da"  # type: ignore[union-attr]


async def test_a_failed_commit_rolls_back_and_leaves_storage_usable(storage: Storage) -> None:
    """A deferred constraint fails at COMMIT, not at the statement: the transaction must still end."""
    async with storage.transaction() as repo:
        await repo.conn.execute("CREATE TABLE t_parent (id INTEGER PRIMARY KEY)")
        await repo.conn.execute(
            "CREATE TABLE t_child (parent_id INTEGER REFERENCES t_parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )

    async def orphan() -> None:
        async with storage.transaction() as repo:
            await repo.insert_caseworker("Gone", "", "caseworker", at())
            await repo.conn.execute("INSERT INTO t_child (parent_id) VALUES (1)")  # fine until COMMIT

    with pytest.raises(INTEGRITY_ERRORS):
        await orphan()
    async with asyncio.timeout(10):
        async with storage.transaction() as repo:
            assert await repo.caseworkers() == []
            await repo.insert_caseworker("Next", "", "caseworker", at())
    assert await count(storage, "caseworkers") == 1
    assert await count(storage, "t_child") == 0
