"""Small builders for storage tests: rows in a few lines, through the Repository itself."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from bot.storage import Storage
from bot.storage.repository import Repository
from tests.conftest import START

#: What a violated constraint raises, per backend (the seam passes driver errors through).
INTEGRITY_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


def is_foreign_key_violation(exc: BaseException) -> bool:
    return isinstance(exc, asyncpg.ForeignKeyViolationError) or "FOREIGN KEY" in str(exc)


def at(minutes: float = 0, *, days: float = 0) -> datetime:
    return START + timedelta(days=days, minutes=minutes)


@dataclass(frozen=True)
class Family:
    caseworker_id: int
    case_id: int
    respondent_id: int
    meeting_id: int
    questionnaire_id: int


async def family(
    repo: Repository,
    *,
    caseworker_id: int | None = None,
    label: str = "Sag 1",
    band: str = "13-17",
    role: str = "parent",
    user: int | None = 5001,
    held_at: datetime | None = None,
) -> Family:
    """A caseworker (unless given), an open case, an active respondent, one meeting, one questionnaire."""
    if caseworker_id is None:
        caseworker_id = await repo.insert_caseworker("Lone", "Nord", "caseworker", at())
    case_id = await repo.insert_case(caseworker_id, label, band, at())
    assert case_id is not None
    respondent_id = await repo.insert_respondent(case_id, role, "da", at())
    if user is not None:
        await repo.bind_respondent(respondent_id, user, "da")
        await repo.set_respondent_status(respondent_id, "active", at(1))
    meeting_id = await repo.insert_meeting(case_id, held_at or at(60), caseworker_id, at())
    qid = await repo.insert_questionnaire(meeting_id, respondent_id, "ors", "srs", at(90), at())
    assert qid is not None
    return Family(caseworker_id, case_id, respondent_id, meeting_id, qid)


async def answer_all(
    repo: Repository, questionnaire_id: int, values: list[int | None], now: datetime, *, complete: bool = True
) -> None:
    for position, value in enumerate(values):
        await repo.upsert_answer(questionnaire_id, position, value, now)
    if complete:
        await repo.update_questionnaire(questionnaire_id, status="completed", completed_at=now)


async def count(storage: Storage, table: str) -> int:
    async with storage.transaction() as repo:
        row = await repo.conn.fetch_one(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


async def race(dialect: str, storages: list[Storage], action: Callable | list[Callable]) -> list:  # type: ignore[type-arg]
    """Run `action(repo)` in one transaction per storage at once, on separate connections.

    `action` may be a list: one action per storage.

    On PostgreSQL every transaction has begun (and holds its connection) before any runs the action, so
    they really overlap. SQLite takes the write lock at BEGIN, so there the second waits for the first.
    """
    barrier = asyncio.Barrier(len(storages)) if dialect == "postgres" else None

    actions = action if isinstance(action, list) else [action] * len(storages)

    async def one(storage: Storage, act: Callable):  # type: ignore[no-untyped-def, type-arg]
        async with storage.transaction() as repo:
            await repo.conn.fetch_one("SELECT 1 AS one")
            if barrier is not None:
                await barrier.wait()
            return await act(repo)

    async with asyncio.timeout(10):
        return list(await asyncio.gather(*(one(s, a) for s, a in zip(storages, actions, strict=True))))
