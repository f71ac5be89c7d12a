"""Shared steps of the durability tests: a harness on the fake clock, a case with family members, the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from tests.e2e.harness import Caseworker, Harness, Person, start_harness

CONSENT = "Ja, jeg vil gerne være med"
START = "Ja, lad os gå i gang"
PROMPT_LINE = "et par spørgsmål fra dit seneste møde"


async def start(emulator: Emulator, clock: FakeClock, db_path: Path, **kwargs: Any) -> Harness:
    """The e2e harness (its flood limiter follows the fake clock, so a 429's wait passes with it)."""
    return await start_harness(emulator, clock, db_path, **kwargs)


def set_client_timeout(harness: Harness, seconds: float) -> None:
    """The Bot API client's time-outs (PTB's default is 5 s), so a TimedOut happens quickly."""
    request = harness.fitbot.application.bot.request
    request._client.timeout = httpx.Timeout(seconds)  # type: ignore[attr-defined]


async def join(harness: Harness, worker: Caseworker, label: str, role: str, name: str) -> Person:
    token = await worker.invite(label, role)
    person = harness.person(name)
    await person.send(f"/start {token}")
    await person.tap(CONSENT)
    return person


async def setup_case(
    harness: Harness, *, channel: bool = True, band: str = "13-17", label: str = "B7"
) -> tuple[Caseworker, Person, Person | None]:
    """A caseworker (with a channel), a case, its parent (and young person, for 13-17) joined."""
    worker = await harness.enrol_caseworker("Rikke")
    if channel:
        await worker.link_channel()
    await worker.new_case(label, band)
    parent = await join(harness, worker, label, "forælder", "Mette")
    youth = await join(harness, worker, label, "ung", "Jonas") if band == "13-17" else None
    return worker, parent, youth


def prompts(person: Person) -> list[Any]:
    return [m for m in person.messages() if m.text is not None and PROMPT_LINE in m.text]


def query(harness: Harness, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the bot's SQLite file directly (a second connection, as an operator would)."""
    path = harness.fitbot.storage.db.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as db:
        return list(db.execute(sql, params))


def outbox(harness: Harness, kind: str) -> list[tuple[Any, ...]]:
    """(id, status, attempts, outcome) of the outbox rows of one kind."""
    return query(harness, "SELECT id, status, attempts, outcome FROM outbox WHERE kind = ? ORDER BY id", (kind,))


async def answer_all(person: Person, values: tuple[str, ...] = ("6", "7", "5", "6", "9", "9", "10", "9")) -> None:
    await person.tap(START)
    message = person.last
    for value in values:
        await person.tap(value, message)
