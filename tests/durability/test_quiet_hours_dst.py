"""Quiet hours (21:00-08:00 Europe/Copenhagen) across the two daylight-saving changes of 2026, end to end.

Summer time starts on Sunday 29 March 2026 (02:00 CET -> 03:00 CEST) and ends on Sunday 25 October 2026
(03:00 CEST -> 02:00 CET). A meeting late on the Saturday before each change: the prompt waits until
08:00 local time on the Sunday, a different UTC instant on each side of the change. The reminder, 24 hours
after the prompt, is moved out of quiet hours too: across a change, 24 hours later is not the same wall time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from bot.storage.db import from_db_time
from tests.durability.helpers import join, prompts, query, start
from tests.e2e.harness import stop_harness

REMINDER = "Der ligger stadig et par spørgsmål"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def due(harness, kind: str) -> datetime:  # type: ignore[no-untyped-def]
    (value,) = query(harness, "SELECT due_at FROM outbox WHERE kind = ? ORDER BY id DESC LIMIT 1", (kind,))[0]
    when = from_db_time(value)
    assert when is not None
    return when


@pytest.mark.parametrize(
    ("meeting", "prompt_at", "reminder_at", "worker_sees"),
    [
        # Saturday 28 March 22:00 CET -> Sunday 08:00 CEST (06:00 UTC); reminder Monday 08:00 CEST.
        (utc(2026, 3, 28, 21, 0), utc(2026, 3, 29, 6, 0), utc(2026, 3, 30, 6, 0), "søndag den 29. marts kl. 08.00"),
        # Saturday 28 March 20:00 CET: prompt at 20:30 CET; 24 h later is 21:30 CEST, quiet -> Monday 08:00 CEST.
        (utc(2026, 3, 28, 19, 0), utc(2026, 3, 28, 19, 30), utc(2026, 3, 30, 6, 0), "lørdag den 28. marts kl. 20.30"),
        # Saturday 24 October 22:00 CEST -> Sunday 08:00 CET (07:00 UTC); reminder Monday 08:00 CET.
        (
            utc(2026, 10, 24, 20, 0),
            utc(2026, 10, 25, 7, 0),
            utc(2026, 10, 26, 7, 0),
            "søndag den 25. oktober kl. 08.00",
        ),
        # Saturday 24 October 07:00 CEST: prompt at 08:00 CEST; 24 h later is 07:00 CET, quiet -> 08:00 CET.
        (utc(2026, 10, 24, 5, 0), utc(2026, 10, 24, 6, 0), utc(2026, 10, 25, 7, 0), "lørdag den 24. oktober kl. 08.00"),
    ],
    ids=["march-late", "march-reminder", "october-late", "october-reminder"],
)
async def test_prompt_and_reminder_wait_for_quiet_end_across_dst(
    emulator: Emulator,
    db_path: Path,
    meeting: datetime,
    prompt_at: datetime,
    reminder_at: datetime,
    worker_sees: str,
) -> None:
    clock = FakeClock(meeting - timedelta(days=2))
    harness = await start(emulator, clock, db_path)
    try:
        worker = await harness.enrol_caseworker("Rikke")
        await worker.new_case("B7", "6-12")
        parent = await join(harness, worker, "B7", "forælder", "Mette")
        clock.set(meeting)
        await worker.send("/moede B7")
        assert worker_sees in worker.last.text
        assert due(harness, "prompt") == prompt_at
        # Not a minute early; on time to the minute (the dispatcher looks every few seconds).
        clock.set(prompt_at - timedelta(minutes=1))
        await harness.run_due()
        assert prompts(parent) == []
        clock.set(prompt_at)
        await harness.run_due()
        assert len(prompts(parent)) == 1
        assert due(harness, "reminder") == reminder_at
        clock.set(reminder_at - timedelta(minutes=1))
        await harness.run_due()
        assert not any(REMINDER in m.content for m in parent.messages())
        clock.set(reminder_at)
        await harness.run_due()
        assert sum(REMINDER in m.content for m in parent.messages()) == 1
    finally:
        await stop_harness(harness)
