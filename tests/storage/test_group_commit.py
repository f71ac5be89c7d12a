"""SQLite's group commit: changes waiting for the connection share one COMMIT (one fsync), and still each
change is atomic on its own and durable when its block exits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.storage.sqlite import MAX_GROUP, SqliteDatabase


class Boom(Exception):
    pass


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = SqliteDatabase(tmp_path / "group.sqlite3")
    await database.open()
    async with database.transaction() as conn:
        await conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    commits: list[str] = []
    assert database._conn is not None
    await database._conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    database.commits = commits  # type: ignore[attr-defined]
    yield database
    await database.close()


def committed(db: SqliteDatabase) -> set[int]:
    """What another connection sees: only what is committed."""
    with sqlite3.connect(db.path) as other:
        return {n for (n,) in other.execute("SELECT n FROM t")}


async def test_waiting_changes_share_a_commit_and_each_is_committed_when_its_block_exits(
    db: SqliteDatabase,
) -> None:
    seen_after_exit: dict[int, bool] = {}

    async def change(n: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (n) VALUES (:n)", {"n": n})
        seen_after_exit[n] = n in committed(db)

    await asyncio.gather(*(change(n) for n in range(100)))
    assert committed(db) == set(range(100))
    assert all(seen_after_exit.values()), "a block exited before its change was committed"
    # 100 changes at once: the first commits alone, the rest in groups of up to MAX_GROUP.
    assert 1 + 99 // MAX_GROUP <= len(db.commits) < 20  # type: ignore[attr-defined]


async def test_a_lone_change_commits_at_once(db: SqliteDatabase) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t (n) VALUES (1)")
    assert committed(db) == {1}
    assert len(db.commits) == 1  # type: ignore[attr-defined]


async def test_a_failing_change_undoes_itself_only(db: SqliteDatabase) -> None:
    async def change(n: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (n) VALUES (:n)", {"n": n})
            if n % 3 == 0:
                raise Boom

    results = await asyncio.gather(*(change(n) for n in range(30)), return_exceptions=True)
    assert [n for n, r in enumerate(results) if isinstance(r, Boom)] == list(range(0, 30, 3))
    assert committed(db) == {n for n in range(30) if n % 3}
    assert len(db.commits) < 30  # type: ignore[attr-defined]


async def test_a_waiter_cancelled_after_being_let_in_does_not_strand_the_group(db: SqliteDatabase) -> None:
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def first() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (n) VALUES (1)")
            inside.set()
            await go_on.wait()

    async def second() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (n) VALUES (2)")

    one = asyncio.create_task(first())
    await inside.wait()
    two = asyncio.create_task(second())
    await asyncio.sleep(0)  # `second` now waits for the connection, so `first` leaves its group open
    release = db._lock.release

    def release_then_cancel_the_next() -> None:
        release()  # `first` hands the connection over, its change not yet committed ...
        if db._group is not None and not two.done():
            two.cancel()  # ... and `second` is cancelled before it gets to run

    db._lock.release = release_then_cancel_the_next  # type: ignore[method-assign]
    go_on.set()
    await asyncio.wait_for(one, timeout=5)
    with pytest.raises(asyncio.CancelledError):
        await two
    assert committed(db) == {1}


async def test_backup_holds_only_committed_changes(db: SqliteDatabase, tmp_path: Path) -> None:
    async def change(n: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (n) VALUES (:n)", {"n": n})

    target = tmp_path / "copy.sqlite3"
    await asyncio.gather(*(change(n) for n in range(10)), db.backup(str(target)), *(change(n) for n in range(10, 20)))
    with sqlite3.connect(target) as copy:
        copied = {n for (n,) in copy.execute("SELECT n FROM t")}
    assert copied <= set(range(20))
    assert committed(db) == set(range(20))


async def test_a_group_takes_in_only_the_changes_waiting_when_its_first_one_ended(db: SqliteDatabase) -> None:
    order: list[str] = []
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def change(name: str, n: int, hold: bool = False) -> None:
        async with db.transaction() as conn:
            order.append(f"{name} runs")
            await conn.execute("INSERT INTO t (n) VALUES (:n)", {"n": n})
            if hold:
                inside.set()
                await go_on.wait()
        order.append(f"{name} committed")

    first = asyncio.create_task(change("a", 1, hold=True))
    await inside.wait()
    waiting = [asyncio.create_task(change(name, n)) for n, name in ((2, "b"), (3, "c"))]
    await asyncio.sleep(0)  # b and c wait for the connection while a runs
    release = db._lock.release
    late: list[asyncio.Task[None]] = []

    def release_and_queue_a_latecomer() -> None:
        release()
        if not late:  # d arrives once a has ended: after the group's list of members was drawn up
            late.append(asyncio.create_task(change("d", 4)))

    db._lock.release = release_and_queue_a_latecomer  # type: ignore[method-assign]
    go_on.set()
    await asyncio.gather(first, *waiting)
    await asyncio.gather(*late)
    assert order.index("a committed") < order.index("d runs")
    assert order.index("c committed") < order.index("d runs")
    assert len(db.commits) == 2  # type: ignore[attr-defined]  # a, b and c together; d alone
