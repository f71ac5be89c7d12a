"""Quiet hours (21:00-08:00 Europe/Copenhagen) hold when a row runs late, not only when it is queued: a prompt
caught up after a night's downtime, and a reminder pushed past 21:00 by backoff, wait for 08:00."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from bot.storage.db import from_db_time
from tests.durability.helpers import join, outbox, prompts, query, start
from tests.e2e.harness import Person, stop_harness

REMINDER = "Der ligger stadig et par spørgsmål"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def row_of(harness, kind: str) -> tuple[str, int, str, datetime]:  # type: ignore[no-untyped-def]
    """(status, attempts, outcome, due) of the newest row of `kind`."""
    ((status, attempts, outcome, due),) = query(
        harness, "SELECT status, attempts, outcome, due_at FROM outbox WHERE kind = ? ORDER BY id DESC LIMIT 1", (kind,)
    )
    when = from_db_time(due)
    assert when is not None
    return status, attempts, outcome, when


async def test_a_prompt_due_before_the_night_waits_for_the_morning_after_downtime(
    emulator: Emulator, clock: FakeClock, db_path: Path
) -> None:
    """Tuesday 24 November 2026: a meeting at 20:00, its prompt due at 20:30 (before the quiet hours); the
    bot is down from 20:00 and back at 03:00. The prompt goes out at 08:00, not at the restart."""
    harness = await start(emulator, clock, db_path)
    try:
        worker = await harness.enrol_caseworker("Rikke")
        await worker.new_case("B7", "6-12")
        parent = await join(harness, worker, "B7", "forælder", "Mette")
        clock.set(utc(2026, 11, 24, 19, 0))  # 20:00 in Copenhagen
        await worker.send("/moede B7")
        assert row_of(harness, "prompt")[3] == utc(2026, 11, 24, 19, 30)
    finally:
        await stop_harness(harness)

    clock.set(utc(2026, 11, 25, 2, 0))  # 03:00: back up, the prompt long overdue
    harness = await start(emulator, clock, db_path)
    try:
        parent = Person(harness, parent.user)
        await harness.run_due()  # (the start-up round has run already; this waits for it)
        assert prompts(parent) == []
        status, attempts, outcome, due = row_of(harness, "prompt")
        assert (status, attempts, outcome, due) == ("pending", 0, "quiet hours", utc(2026, 11, 25, 7, 0))
        clock.set(utc(2026, 11, 25, 6, 59))  # 07:59
        await harness.run_due()
        assert prompts(parent) == []
        clock.set(utc(2026, 11, 25, 7, 0))  # 08:00
        await harness.run_due()
        assert len(prompts(parent)) == 1
        assert [r[1] for r in outbox(harness, "prompt")] == ["done"]
        # The questionnaire lives from when the prompt went out: its reminder is 24 hours on.
        assert row_of(harness, "reminder")[3] == utc(2026, 11, 26, 7, 0)
    finally:
        await stop_harness(harness)


async def test_a_reminder_pushed_into_the_night_by_backoff_waits_for_the_morning(
    emulator: Emulator, clock: FakeClock, db_path: Path
) -> None:
    """A prompt at 20:59, so its reminder is due at 20:59 the next evening. Telegram answers 502 then, and
    by the time the backoff comes round it is past 21:00: the reminder waits for 08:00."""
    harness = await start(emulator, clock, db_path)
    try:
        worker = await harness.enrol_caseworker("Rikke")
        await worker.new_case("B7", "6-12")
        parent = await join(harness, worker, "B7", "forælder", "Mette")
        clock.set(utc(2026, 11, 24, 19, 29))  # 20:29 in Copenhagen
        await worker.send("/moede B7")
        clock.set(utc(2026, 11, 24, 19, 59))
        await harness.run_due()
        assert len(prompts(parent)) == 1
        assert row_of(harness, "reminder")[3] == utc(2026, 11, 25, 19, 59)  # 20:59: not quiet when queued

        emulator.faults.error("sendMessage", 502, chat_id=parent.user.id, count=None)
        clock.set(utc(2026, 11, 25, 19, 59))
        await harness.run_due()
        tries = 0
        while True:
            status, attempts, outcome, due = row_of(harness, "reminder")
            if outcome == "quiet hours":
                break
            assert (status, outcome) == ("pending", "network: NetworkError")
            assert due - clock.now() <= timedelta(minutes=10)  # backing off, that evening
            tries = attempts
            clock.set(due)
            await harness.run_due()
        assert tries >= 5
        assert clock.now() >= utc(2026, 11, 25, 20, 0)  # the first try after 21:00 local
        assert (status, attempts, due) == ("pending", tries, utc(2026, 11, 26, 7, 0))
        emulator.faults.clear()  # Telegram is back during the night: still nothing until 08:00
        clock.set(utc(2026, 11, 26, 6, 59))
        await harness.run_due()
        assert not any(REMINDER in m.content for m in parent.messages())
        clock.set(utc(2026, 11, 26, 7, 0))
        await harness.run_due()
        assert sum(REMINDER in m.content for m in parent.messages()) == 1
        assert row_of(harness, "reminder")[0] == "done"
    finally:
        await stop_harness(harness)
