"""SQLite backend (the default): one aiosqlite connection, WAL, one writer transaction at a time."""

from __future__ import annotations

import asyncio
import fcntl
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiosqlite

from bot.storage.db import Connection, Database, Params, Row

BUSY_TIMEOUT_MS = 5000


class _SqliteConnection:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    # One trip to aiosqlite's thread per statement: each trip costs a GIL handover both ways, and a tap's
    # transaction has a dozen statements (a separate fetch and close made it three trips each).

    async def execute(self, sql: str, params: Params | None = None) -> int:
        # A finished INSERT/UPDATE/DELETE is already reset by sqlite3; the cursor needs no closing trip.
        cursor = await self._conn.execute(sql, params or {})
        return cursor.rowcount

    async def fetch_one(self, sql: str, params: Params | None = None) -> Row | None:
        # Every caller asks for one row (a key, an aggregate, RETURNING id).
        rows = await self._conn.execute_fetchall(sql, params or {})
        return next(iter(rows), None)

    async def fetch_all(self, sql: str, params: Params | None = None) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params or {}))

    async def execute_script(self, sql: str) -> None:
        # executescript() would COMMIT our open transaction first; run statement by statement instead.
        for statement in _split_statements(sql):
            await self._conn.execute(statement)


def _split_statements(sql: str) -> list[str]:
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not current.strip().startswith("--"):
        statements.append(current.strip())
    return [s for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())


def _lower(value: object) -> str | bytes | None:
    if value is None:
        return None
    return value.lower() if isinstance(value, str | bytes) else str(value).lower()


def _upper(value: object) -> str | bytes | None:
    if value is None:
        return None
    return value.upper() if isinstance(value, str | bytes) else str(value).upper()


async def _configure(conn: aiosqlite.Connection) -> None:
    conn.row_factory = sqlite3.Row
    await _enable_wal(conn)
    for pragma in (
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        # FULL: a committed (acknowledged) answer survives a power cut, not only kill -9.
        "PRAGMA synchronous=FULL",
    ):
        await conn.execute(pragma)
    # SQLite's LOWER()/UPPER() know ASCII only; PostgreSQL's know æ, ø, å. Case-insensitive label
    # lookups must match on both, so SQLite gets Python's (overriding the built-ins is allowed).
    await conn.create_function("lower", 1, _lower, deterministic=True)
    await conn.create_function("upper", 1, _upper, deterministic=True)


async def _enable_wal(conn: aiosqlite.Connection) -> None:
    """PRAGMA journal_mode=WAL, retried: on a new file, processes opening it at the same moment get
    "database is locked" at once (SQLite skips the busy handler where waiting could deadlock)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or loop.time() >= deadline:
                raise
        await asyncio.sleep(0.01)


async def _rollback(conn: aiosqlite.Connection) -> None:
    """ROLLBACK if a transaction is open; queued behind a BEGIN or COMMIT still running in the thread."""
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "no transaction is active" not in str(exc):
            raise


# Changes that may share one COMMIT. A waiting change costs the earlier ones in its group only its own
# statements (well under a millisecond each), while every COMMIT costs an fsync (synchronous=FULL).
MAX_GROUP = 32


class _Group:
    """Group commit: changes that were waiting for the connection while one ran share its transaction
    and one COMMIT, so one fsync makes all of them durable. Each change after the first is a SAVEPOINT of
    its own (an error undoes that change only; the first change's error rolls back a transaction that
    holds nothing else yet), and no caller goes on before the COMMIT that holds its change is
    through, so "the block exited" still means "committed". The last change of a burst (nobody waiting
    behind it) commits at once, so a lone change is never delayed."""

    __slots__ = ("done", "members", "still_to_join")

    def __init__(self) -> None:
        self.members = 0
        self.still_to_join: int | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def join(self) -> None:
        self.members += 1
        if self.still_to_join is not None:
            self.still_to_join -= 1

    def last_to_join(self, queued: int) -> bool:
        """Called as each change ends: commit now? The group takes in the changes that were waiting when
        its first change ended, and none that came later, so no change waits for more than one round."""
        if self.still_to_join is None:
            self.still_to_join = queued
        return not queued or self.still_to_join <= 0 or self.members >= MAX_GROUP

    def succeed(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
            self.done.exception()  # retrieved: a group of one whose member already raised is no warning


class SqliteDatabase(Database):
    dialect = "sqlite"
    id_column = "INTEGER PRIMARY KEY"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        # One connection serves the whole process; transactions take turns.
        self._lock = asyncio.Lock()
        self._queued = 0  # transactions waiting for the lock
        self._group: _Group | None = None  # the open physical transaction, if any
        self._flush: asyncio.Future[None] | None = None

    async def open(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await _configure(conn)
        except BaseException:
            # Not a database, locked for too long, ...: close it, or its (non-daemon) thread keeps the
            # process from exiting.
            await conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            async with self._lock:
                if self._group is not None:
                    await self._commit(self._conn, self._group)
                await self._conn.close()
                self._conn = None

    async def _commit_open_group(self) -> None:
        async with self._lock:
            if self._group is not None and self._conn is not None:
                await self._commit(self._conn, self._group)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:  # type: ignore[override]
        """One logical change, atomic and durable when the block exits (group commit, see _Group)."""
        if self._conn is None:
            raise RuntimeError("database is not open")
        conn = self._conn
        self._queued += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._queued -= 1
            # The change that was let go ahead of this one left its group open for this one to finish.
            if self._group is not None and not self._queued:
                self._flush = asyncio.ensure_future(self._commit_open_group())
            raise
        self._queued -= 1
        try:
            group = await self._join_group(conn)
            first = group.members == 1
            failure: BaseException | None = None
            try:
                if not first:
                    # Savepoints stay on the stack until the COMMIT; ROLLBACK TO finds this change's own.
                    await conn.execute("SAVEPOINT change")
                yield _SqliteConnection(conn)
            except BaseException as exc:
                failure = exc
                await self._undo_change(conn, group, first)
            if self._group is group and group.last_to_join(self._queued):
                await self._commit(conn, group)
        finally:
            self._lock.release()
        if failure is not None:
            raise failure
        # Durable only once the group's COMMIT is through (at once when nobody else was waiting).
        await asyncio.shield(group.done)

    async def _join_group(self, conn: aiosqlite.Connection) -> _Group:
        if self._group is None:
            # IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read.
            # Every way out ends the transaction: the connection is shared, and one left open would make
            # every later BEGIN fail. That includes a cancellation while BEGIN waits for another process
            # (the BEGIN still completes in aiosqlite's thread).
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except BaseException:
                await _rollback(conn)
                raise
            self._group = _Group()
        self._group.join()
        return self._group

    async def _undo_change(self, conn: aiosqlite.Connection, group: _Group, first: bool) -> None:
        """Undo this change only; the group's earlier changes stay. The first change of a group is the
        whole transaction so far; and if even ROLLBACK TO fails, the connection's state is unknown: roll
        the whole group back and fail its members too."""
        if not first:
            try:
                await conn.execute("ROLLBACK TO change")
                return
            except BaseException as exc:
                group.fail(exc)
        self._group = None
        await _rollback(conn)
        group.succeed()  # nothing of it is kept; a first change's caller raises its own error

    async def _commit(self, conn: aiosqlite.Connection, group: _Group) -> None:
        self._group = None
        # The COMMIT runs to its end even if this task is cancelled meanwhile: its members wait for it.
        commit = asyncio.ensure_future(conn.execute("COMMIT"))
        try:
            await asyncio.shield(commit)
        except asyncio.CancelledError:
            await asyncio.wait([commit])
            failed = asyncio.CancelledError() if commit.cancelled() else commit.exception()
            if failed is not None:
                await _rollback(conn)
                group.fail(failed)
            else:
                group.succeed()
            raise
        except BaseException as exc:
            # A COMMIT that fails (disk full, I/O error) leaves nothing of the group: tell every member.
            await _rollback(conn)
            group.fail(exc)
            return
        group.succeed()

    async def backup(self, target: str) -> None:
        if self._conn is None:
            raise RuntimeError("database is not open")
        async with self._lock:
            if self._group is not None:  # a copy of committed changes only
                await self._commit(self._conn, self._group)
            dest = await aiosqlite.connect(target)
            try:
                await self._conn.backup(dest)
            finally:
                await dest.close()


@contextmanager
def instance_lock(path: Path) -> Iterator[bool]:
    """Hold `<database>.lock` exclusively; yields False when another process holds it.

    The running bot holds it for its whole life, so a second bot on the same file, or a restore under a
    running bot, is refused. The kernel drops the lock when the process dies, even by kill -9.
    """
    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
