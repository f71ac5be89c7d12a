"""Telegram unreachable for hours (every send answered 502), on a fake clock: nothing is given up while it
is still useful. A prompt is tried again, at most ten minutes apart, until its questionnaire expires (then
it is recorded as missed, not failed); summaries and alerts keep trying and arrive once when Telegram is
back; a digest has a shelf life; an alert is never given up on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from telegram.error import NetworkError

from bot.clock import FakeClock
from bot.delivery.dispatcher import MAX_ATTEMPTS, MAX_BACKOFF, Dispatcher, Done
from bot.delivery.limits import FloodLimiter, clock_time
from bot.sandbox.emulator import Emulator
from bot.storage.db import from_db_time
from bot.storage.models import OutboxRow
from tests.durability.helpers import answer_all, outbox, prompts, query, setup_case, start
from tests.e2e.harness import Harness, stop_harness

OUTAGE = timedelta(hours=3)


def next_due(harness: Harness, kind: str) -> tuple[int, str, int, str, timedelta]:
    """(id, status, attempts, outcome, due in) of the one unfinished row of `kind`."""
    (row,) = query(
        harness,
        "SELECT id, status, attempts, outcome, due_at FROM outbox "
        "WHERE kind = ? AND status NOT IN ('done', 'cancelled')",
        (kind,),
    )
    when = from_db_time(row[4])
    assert when is not None
    return row[0], row[1], row[2], row[3], when - harness.clock.now()


async def ride_out(harness: Harness, kinds: tuple[str, ...], length: timedelta) -> int:
    """Move the clock from due time to due time for `length`; every try fails. Returns the tries seen."""
    end = harness.clock.now() + length
    tries = 0
    while harness.clock.now() < end:
        waits = []
        for kind in kinds:
            _id, status, attempts, outcome, wait = next_due(harness, kind)
            assert status == "pending", (kind, status, outcome)
            assert outcome.startswith("network:"), outcome
            assert wait <= timedelta(seconds=MAX_BACKOFF)
            tries = max(tries, attempts)
            waits.append(wait)
        harness.clock.advance(max(min(waits), timedelta(seconds=1)))
        await harness.run_due()
    return tries


async def test_a_prompt_survives_a_three_hour_outage_and_goes_out_once(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness, band="6-12")
    harness.emulator.faults.error("sendMessage", 502, chat_id=parent.user.id, count=None)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    tries = await ride_out(harness, ("prompt",), OUTAGE)
    assert tries > MAX_ATTEMPTS  # the old limit of a dozen tries (about 50 minutes) is gone
    assert prompts(parent) == []
    assert query(harness, "SELECT status FROM questionnaires") == [("scheduled",)]
    harness.emulator.faults.clear()  # Telegram is back
    _id, _status, _attempts, _outcome, wait = next_due(harness, "prompt")
    await harness.advance(seconds=wait.total_seconds())
    assert len(prompts(parent)) == 1
    assert [r[1] for r in outbox(harness, "prompt")] == ["done"]
    assert query(harness, "SELECT status FROM questionnaires") == [("sent",)]
    # Its reminder and expiry are counted from when it actually went out.
    assert [r[1] for r in outbox(harness, "reminder")] == ["pending"]


async def test_summary_and_alert_survive_a_three_hour_outage_and_arrive_once(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness, band="6-12")
    assert worker.channel is not None
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    harness.emulator.faults.error("*", 502, chat_id=worker.channel.id, count=None)
    before = len(worker.channel_messages())
    await answer_all(parent, ("1", "2", "1", "2", "5", "5", "5", "5"))  # low: a summary and an alert
    await harness.run_due()
    await ride_out(harness, ("summary", "alert"), OUTAGE)
    assert len(worker.channel_messages()) == before
    harness.emulator.faults.clear()
    await harness.advance(seconds=MAX_BACKOFF)
    posts = worker.channel_messages()[before:]
    assert sum("Advarsel" in m.content for m in posts) == 1
    assert sum("B7" in m.content and "Advarsel" not in m.content for m in posts) == 1
    for kind in ("summary", "alert"):
        assert [r[1] for r in outbox(harness, kind)] == ["done"]


async def test_an_outage_longer_than_the_questionnaire_records_the_prompt_as_missed(
    emulator: Emulator, clock: FakeClock, db_path: Path
) -> None:
    """Questionnaires that close after 2 hours, Telegram away for 3: the prompt is not failed, its
    questionnaire is not left 'scheduled' for ever; it is recorded as missed, as after a long downtime."""
    settings = {"FITBOT_SCHEDULE_EXPIRE_AFTER_HOURS": "2", "FITBOT_SCHEDULE_REMINDER_AFTER_HOURS": "1"}
    harness = await start(emulator, clock, db_path, env=settings)
    try:
        worker, parent, _youth = await setup_case(harness, band="6-12")
        harness.emulator.faults.error("sendMessage", 502, chat_id=parent.user.id, count=None)
        await worker.send("/moede B7")
        await harness.advance(minutes=31)
        end = clock.now() + OUTAGE
        while clock.now() < end and outbox(harness, "prompt")[0][1] == "pending":
            _id, _status, _attempts, _outcome, wait = next_due(harness, "prompt")
            await harness.advance(seconds=wait.total_seconds())
        ((status, attempts, outcome),) = query(
            harness, "SELECT status, attempts, outcome FROM outbox WHERE kind = 'prompt'"
        )
        assert (status, outcome) == ("done", "not needed")
        assert attempts > MAX_ATTEMPTS
        assert query(harness, "SELECT status FROM questionnaires") == [("expired",)]
        assert ("prompt_missed",) in query(harness, "SELECT action FROM audit_events")
        assert not query(harness, "SELECT id FROM outbox WHERE status = 'failed'")
        assert prompts(parent) == []
    finally:
        await stop_harness(harness)


async def test_a_digest_has_a_shelf_life_an_alert_has_none_and_a_bug_is_not_retried_for_ever(
    harness: Harness,
) -> None:
    """The dispatcher's policy, with jobs that always fail: network errors for a digest until it is four
    days old; network errors and bugs for an alert, for ever; a bug elsewhere a dozen times."""
    storage, clock = harness.fitbot.storage, harness.clock
    await harness.fitbot.dispatcher.stop()  # only the dispatcher below runs

    async def unreachable(row: OutboxRow) -> Done:
        raise NetworkError("Bad Gateway")

    async def broken(row: OutboxRow) -> Done:
        raise ValueError("a bug")

    jobs = {"digest": unreachable, "alert": broken, "summary": broken}
    dispatcher = Dispatcher(storage, clock.now, FloodLimiter(monotonic=clock_time(clock.now)), jobs)
    async with storage.transaction() as repo:
        for kind in jobs:
            await repo.enqueue(kind, f"test:{kind}", clock.now(), clock.now())
    for _ in range(4 * 24 * 6 + 12):  # four days and two hours, ten minutes at a time
        clock.advance(seconds=MAX_BACKOFF)
        await dispatcher.run_due()
    rows = {r.kind: r for r in await _rows(harness)}
    assert rows["summary"].status == "failed"
    assert rows["summary"].attempts == MAX_ATTEMPTS
    assert rows["digest"].status == "failed"
    assert rows["digest"].attempts > 4 * 24 * 6 - 10
    assert rows["alert"].status == "pending"
    assert rows["alert"].attempts > 4 * 24 * 6
    outcomes = dict(query(harness, "SELECT kind, outcome FROM outbox WHERE dedupe_key LIKE 'test:%'"))
    assert outcomes["digest"].startswith("gave up after")
    assert outcomes["digest"].endswith("network: NetworkError")
    assert outcomes["summary"] == f"gave up after {MAX_ATTEMPTS} attempts: error: ValueError"
    assert outcomes["alert"] == "error: ValueError"


async def _rows(harness: Harness) -> list[OutboxRow]:
    async with harness.fitbot.storage.transaction() as repo:
        return [r for r in await repo.outbox_rows() if r.dedupe_key.startswith("test:")]
