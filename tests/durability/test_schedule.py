"""Time passing while the bot is down, and the same update arriving twice (a fake clock, nothing sleeps)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from tests.durability.helpers import START, join, outbox, prompts, query, start
from tests.e2e.harness import Harness, Person, keep_updates, stop_harness

DIGEST = "Dagens oversigt"


def digests(messages: list) -> list:  # type: ignore[type-arg]
    return [m for m in messages if DIGEST in m.content]


async def test_downtime_sends_a_valid_prompt_once_records_an_expired_one_as_missed_and_one_digest(
    emulator: Emulator, clock: FakeClock, db_path: Path
) -> None:
    # Tuesday 24 November 2026, 10:00 in Copenhagen.
    harness = await start(emulator, clock, db_path)
    try:
        worker = await harness.enrol_caseworker("Rikke")
        channel = await worker.link_channel()
        await worker.new_case("A1", "6-12")
        await worker.new_case("A2", "6-12")
        early = await join(harness, worker, "A1", "forælder", "Mette")
        late = await join(harness, worker, "A2", "forælder", "Lise")
        await worker.send("/moede A1")  # prompt due Tuesday 10:30
        await worker.send("/moede A2 i overmorgen 14")  # a meeting on Thursday: prompt due Thursday 14:30
        await harness.fitbot.housekeeping()  # plans Wednesday's 08:00 digest
        assert [r[1] for r in outbox(harness, "digest")] == ["pending"]
    finally:
        await stop_harness(harness)  # down before anything was due

    # Down until Friday 27 November, 11:00: Tuesday's prompt is past its 72 hours, Thursday's is not;
    # three digest mornings (Wednesday, Thursday, Friday) went by.
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    harness = await start(emulator, clock, db_path)
    try:
        early, late = Person(harness, early.user), Person(harness, late.user)
        await harness.run_due()
        assert len(prompts(late)) == 1
        assert prompts(early) == []
        statuses = dict(
            query(
                harness,
                "SELECT c.label, q.status FROM questionnaires q JOIN meetings m ON m.id = q.meeting_id "
                "JOIN cases c ON c.id = m.case_id",
            )
        )
        assert statuses == {"A1": "expired", "A2": "sent"}
        assert ("prompt_missed",) in query(harness, "SELECT action FROM audit_events")
        assert [r[3] for r in outbox(harness, "prompt")] == ["not needed", "sent"]
        assert len(digests(emulator.messages(channel.id))) == 1  # once, not once per missed morning
        # Later the same day, and the next days: nothing is sent again; Monday brings the next digest.
        await harness.advance(hours=5)
        assert len(prompts(late)) == 1
        assert len(digests(emulator.messages(channel.id))) == 1
        clock.set(datetime(2026, 11, 30, 7, 1, tzinfo=UTC))  # Monday 08:01
        await harness.run_due()
        assert len(digests(emulator.messages(channel.id))) == 2
        assert [r[1] for r in outbox(harness, "digest")].count("done") == 2
    finally:
        await stop_harness(harness)


async def test_the_same_update_twice_is_applied_once(harness: Harness) -> None:
    """Telegram delivers again what the bot did not confirm (a crash between handling and the next
    getUpdates): an answer, a typed answer and a meeting given twice count once."""
    seen = keep_updates(harness)
    app = harness.fitbot.application
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    await worker.new_case("B7", "6-12")
    parent = await join(harness, worker, "B7", "forælder", "Mette")
    await worker.send("/moede B7")
    meeting_update = seen[emulator_last(harness)]
    await harness.advance(minutes=31)
    await parent.tap(START)
    await parent.tap("7")
    tap_update = seen[emulator_last(harness)]
    await parent.send("6,5")
    typed_update = seen[emulator_last(harness)]
    messages_before = len(parent.messages())

    for update in (tap_update, typed_update, meeting_update):
        await app.process_update(update)

    values = [v for (v,) in query(harness, "SELECT value FROM answers ORDER BY position")]
    assert values == [70, 65]
    assert query(harness, "SELECT position FROM questionnaires") == [(2,)]
    assert len(query(harness, "SELECT id FROM meetings")) == 1
    assert len(parent.messages()) == messages_before  # the typed answer did not move the item again
    assert "Spørgsmål 3 af 8" in parent.last.text
    # And the questionnaire goes on as if nothing happened.
    for value in ("5", "6", "9", "9", "10", "9"):
        await parent.tap(value)
    assert "Tak for dine svar" in parent.last_text_message().text


def emulator_last(harness: Harness) -> int:
    return harness.emulator.last_update_id
