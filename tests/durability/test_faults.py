"""What Telegram's errors do to the outbox, injected through the emulator (in process, on a fake clock).

Each test lets one kind of failure hit a real send of the real Application and then checks the promise the
README makes for it: 429 -> later, 5xx/time-out/network -> backoff, 403 -> unreachable person (told once) or
unlinked channel (private chat instead), other 400 -> failed and logged without the text.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from datetime import timedelta

import pytest

from bot.cli import setup_logging
from bot.delivery.dispatcher import Dispatcher, backoff
from bot.services.context import Services
from bot.storage import create_storage
from bot.storage.db import from_db_time
from tests.durability.helpers import (
    PROMPT_LINE,
    START,
    answer_all,
    join,
    outbox,
    prompts,
    query,
    set_client_timeout,
    setup_case,
)
from tests.e2e.harness import Harness

UNREACHABLE = "Kan ikke nås"
QUIETED = ("httpx", "httpcore", "apscheduler", "aiohttp.access", "telegram", "aiosqlite")  # loggers setup_logging tunes
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


def due_at(harness: Harness, row_id: int) -> timedelta:
    """How far in the future (fake clock) an outbox row is due."""
    (due,) = query(harness, "SELECT due_at FROM outbox WHERE id = ?", (row_id,))[0]
    when = from_db_time(due)
    assert when is not None
    return when - harness.clock.now()


def sends_to(harness: Harness, chat_id: int, since: int = 0, method: str = "sendMessage") -> list[int]:
    """HTTP statuses of the requests of `method` the bot made to one chat from request number `since` on."""
    return [
        r.status
        for r in harness.emulator.requests[since:]
        if r.method == method and str(r.params.get("chat_id")) == str(chat_id)
    ]


def prompts_sent(harness: Harness, chat_id: int) -> int:
    """Prompts Telegram accepted for one chat (whatever the message shows now)."""
    return sum(
        1
        for r in harness.emulator.requests
        if r.method == "sendMessage"
        and r.status == 200
        and str(r.params.get("chat_id")) == str(chat_id)
        and PROMPT_LINE in str(r.params.get("text", ""))
    )


async def test_429_on_a_bulk_send_reschedules_the_prompt_and_sends_it_after_the_wait(harness: Harness) -> None:
    worker, parent, youth = await setup_case(harness)
    assert youth is not None
    harness.emulator.faults.retry_after("sendMessage", 30, chat_id=parent.user.id)
    mark = len(harness.emulator.requests)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    assert prompts(youth)  # the other chat is not held up
    assert not prompts(parent)
    (row,) = [r for r in outbox(harness, "prompt") if r[1] != "done"]
    assert row[1] == "pending"  # rescheduled, not failed
    assert "429" in row[3]
    assert timedelta(seconds=29) <= due_at(harness, row[0]) <= timedelta(seconds=30)
    await harness.advance(seconds=20)
    assert not prompts(parent)  # not before Telegram's wait is over
    await harness.advance(seconds=11)
    assert len(prompts(parent)) == 1
    assert outbox(harness, "prompt")[0][1] == "done"
    assert sends_to(harness, parent.user.id, mark) == [429, 200]


async def test_a_burst_of_502_is_retried_with_growing_backoff_and_delivered_once(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    harness.emulator.faults.error("sendMessage", 502, chat_id=parent.user.id, count=3)
    mark = len(harness.emulator.requests)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    waits = []
    for _ in range(3):
        row = next(r for r in outbox(harness, "prompt") if r[1] != "done")
        assert row[1] == "pending"
        assert "NetworkError" in row[3]
        wait = due_at(harness, row[0])
        assert wait == backoff(row[2])
        waits.append(wait)
        assert not prompts(parent)
        await harness.advance(seconds=wait.total_seconds())
    assert waits == sorted(waits)
    assert waits[0] < waits[-1]  # it backs off
    assert len(prompts(parent)) == 1  # delivered exactly once
    assert sends_to(harness, parent.user.id, mark) == [502, 502, 502, 200]
    assert all(r[1] == "done" for r in outbox(harness, "prompt"))


async def test_403_on_a_prompt_marks_the_person_unreachable_and_tells_the_caseworker_once(harness: Harness) -> None:
    worker, parent, youth = await setup_case(harness)
    assert youth is not None
    # The person blocked the bot and the my_chat_member update never arrived (or their account is gone).
    blocked = "Forbidden: bot was blocked by the user"
    harness.emulator.faults.error("*", 403, blocked, chat_id=parent.user.id, count=None)
    mark = len(harness.emulator.requests)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    assert prompts(youth)
    assert not prompts(parent)
    alerts = [m for m in worker.channel_messages() if m.content.startswith("⚠️ Advarsel") and UNREACHABLE in m.content]
    assert len(alerts) == 1
    assert "forælder" in alerts[0].content
    (since,) = query(harness, "SELECT unreachable_since FROM respondents WHERE telegram_user_id = ?", (parent.user.id,))
    assert since[0] is not None
    # Two more meetings over the next weeks: each prompt is tried once, fails, and is not retried forever.
    for _ in range(2):
        await harness.advance(days=7)
        await worker.send("/moede B7")
        await harness.advance(minutes=31)
    await harness.advance(days=4)
    parent_rows = [r for r in outbox(harness, "prompt") if r[1] == "failed"]
    assert len(parent_rows) == 3
    assert all(r[2] == 1 and r[3] == "403 unreachable" for r in parent_rows)
    assert sends_to(harness, parent.user.id, mark) == [403, 403, 403]
    told = [m for m in worker.channel_messages() if m.content.startswith("⚠️ Advarsel") and UNREACHABLE in m.content]
    assert len(told) == 1  # told once (the digests mention it too: they are not alerts)
    assert len([r for r in outbox(harness, "prompt") if r[1] == "done"]) == 3  # the young person's
    # Nothing keeps coming back: nothing pending for this person, nothing due.
    assert not [r for r in outbox(harness, "prompt") if r[1] in ("pending", "sending")]


async def test_403_on_the_channel_unlinks_it_and_the_summary_goes_to_the_private_chat(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    assert worker.channel is not None
    channel_id = worker.channel.id
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    harness.emulator.faults.error(
        "*", 403, "Forbidden: bot is not a member of the channel chat", chat_id=channel_id, count=None
    )
    before = len(worker.channel_messages())
    # Low scores: a summary and alerts are queued for the caseworker.
    await answer_all(parent, ("1", "2", "1", "2", "5", "5", "5", "5"))
    await harness.run_due()
    assert len(worker.channel_messages()) == before  # nothing reached the channel
    private = [m.content for m in worker.messages()]
    assert any("B7" in text and "Advarsel" in text for text in private), private
    assert any("Nye svar i sag B7" in text for text in private), private
    (unlinked,) = query(harness, "SELECT unlinked_at FROM channels WHERE chat_id = ?", (channel_id,))
    assert unlinked[0] is not None
    for kind in ("summary", "alert"):
        assert all(r[1] == "done" for r in outbox(harness, kind)), outbox(harness, kind)
    # The next morning's digest goes to the private chat too.
    await harness.fitbot.housekeeping()  # the hourly planning run
    await harness.advance(days=1)
    assert len(worker.channel_messages()) == before
    assert outbox(harness, "digest")[0][1] == "done"
    assert any("B7" in m.content for m in worker.messages()[-1:])


async def test_a_time_out_is_retried(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    set_client_timeout(harness, 0.3)  # PTB's 5 s would make the test wait 5 s
    harness.emulator.faults.delay("sendMessage", 3.0, chat_id=parent.user.id)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    row = next(r for r in outbox(harness, "prompt") if r[1] != "done")
    assert row[1] == "pending"
    assert row[3] == "network: TimedOut"
    await harness.advance(seconds=due_at(harness, row[0]).total_seconds())
    # The abandoned request was cancelled at the server when the client gave up (a failure guard only).
    await harness.emulator.wait_until(lambda: harness.emulator.in_flight == 0, timeout=5)
    assert len(prompts(parent)) == 1
    assert all(r[1] == "done" for r in outbox(harness, "prompt"))


async def test_an_answer_lost_after_the_send_means_at_least_once(harness: Harness) -> None:
    """The connection drops after Telegram carried out the send: the bot cannot know the prompt arrived.

    The design is at least once: the row is retried, so the person may see the prompt twice, but never
    zero times. Either copy's start button leads to the same questionnaire, which can be finished."""
    worker, parent, _youth = await setup_case(harness)
    harness.emulator.faults.drop("sendMessage", chat_id=parent.user.id, after_processing=True)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    row = next(r for r in outbox(harness, "prompt") if r[1] != "done")
    assert row[1] == "pending"
    assert row[3].startswith("network:")
    await harness.advance(seconds=due_at(harness, row[0]).total_seconds())
    copies = prompts(parent)
    assert 1 <= len(copies) <= 2  # at least once; here exactly twice, as the first answer was lost
    assert all(r[1] == "done" for r in outbox(harness, "prompt"))
    await parent.tap(START, copies[0])
    message = copies[0]  # now showing the first item
    for value in ("6", "7", "5", "6", "9", "9", "10", "9"):
        await parent.tap(value, message)
    assert "Tak for dine svar" in message.text
    assert len(query(harness, "SELECT * FROM answers")) == 8


async def test_message_is_not_modified_is_harmless(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    worker, parent, _youth = await setup_case(harness)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    # In a person's tap: the edit is "not modified" (a double-tapped client); the answer still counts.
    await parent.tap(START)
    harness.emulator.faults.error("editMessageText", 400, NOT_MODIFIED, chat_id=parent.user.id)
    assert await parent.tap("4") == ""  # answered without a complaint
    await parent.send("5")  # the next item, typed
    assert "Spørgsmål 3 af 8" in parent.last.text
    # In a bulk edit: the expiry notice is already shown.
    harness.emulator.faults.error("editMessageText", 400, NOT_MODIFIED, chat_id=parent.user.id)
    await harness.advance(hours=73)
    rows = outbox(harness, "expire")
    assert rows[0][1] == "done"
    assert rows[0][2] == 1  # not retried
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [v for (v,) in query(harness, "SELECT value FROM answers ORDER BY position")] == [40, 50]


async def test_another_400_fails_the_row_and_is_logged_without_the_text(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    worker, parent, youth = await setup_case(harness)
    assert youth is not None
    reason = 'Bad Request: can\'t parse entities: Unsupported start tag "b" at byte offset 12'
    harness.emulator.faults.error("sendMessage", 400, reason, chat_id=parent.user.id)
    await worker.send("/moede B7")
    with caplog.at_level(logging.INFO):
        await harness.advance(minutes=31)
    rows = {r[1]: r for r in outbox(harness, "prompt")}
    assert rows["failed"][3].startswith("400 Can't parse entities")
    assert rows["failed"][2] == 1  # not retried
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1
    line = refused[0].getMessage()
    assert "sendMessage" in line
    assert "prompt" in line
    assert "unsupported start tag" in line.lower()
    prompt_text = prompts(youth)[0].text
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        for fragment in prompt_text.splitlines():
            if len(fragment) > 12:
                assert fragment not in text


async def test_two_dispatchers_at_once_send_each_due_row_once(harness: Harness) -> None:
    """The same dispatcher run twice side by side, and a second instance with its own connection to the
    same SQLite file: every due prompt goes out exactly once."""
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    people = []
    for n in range(4):
        await worker.new_case(f"K{n}", "13-17")
        people.append(await join(harness, worker, f"K{n}", "forælder", f"Forælder {n}"))
        people.append(await join(harness, worker, f"K{n}", "ung", f"Ung {n}"))
    for n in range(4):
        await worker.send(f"/moede K{n}")
    first = harness.fitbot.dispatcher
    await first.stop()  # no wake-ups in the background: only the competitors below claim rows
    harness.clock.advance(minutes=31)  # 8 prompts due, nobody has looked yet
    assert sum(await asyncio.gather(first.run_due(), first.run_due())) == 8
    assert [len(prompts(p)) for p in people] == [1] * 8

    harness.clock.advance(days=7)
    for n in range(4):
        await worker.send(f"/moede K{n}")
    harness.clock.advance(minutes=31)
    fitbot = harness.fitbot
    storage = create_storage(harness.db.db.path, "")
    await storage.open(harness.clock.now())
    try:
        svc = Services(storage=storage, clock=harness.clock.now, policy=fitbot.svc.policy)
        jobs = copy.copy(first.jobs["prompt"].__self__)  # type: ignore[attr-defined]
        jobs.svc = svc  # the same jobs, reading and writing through the second connection
        second = Dispatcher(
            storage, harness.clock.now, fitbot.limiter, jobs.registry(), on_unreachable=jobs.on_unreachable
        )
        results = await asyncio.gather(first.run_due(), second.run_due(), first.run_due(), second.run_due())
    finally:
        await storage.close()
    assert sum(results) >= 8  # the prompts, and the first round's reminders and expiries
    assert [prompts_sent(harness, p.user.id) for p in people] == [2] * 8
    assert [r[1:3] for r in outbox(harness, "prompt")] == [("done", 1)] * 16  # each claimed once


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_no_answer_text_or_name_in_any_log_line(
    harness: Harness, caplog: pytest.LogCaptureFixture, level: str
) -> None:
    """A whole questionnaire run, logged as `fitbot run` logs at INFO and at DEBUG, with the caseworker's
    posts refused on the way: no answer, no text the family saw, no name in any log line."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in QUIETED}
    setup_logging(level)
    root.addHandler(caplog.handler)
    try:
        worker, parent, _youth = await setup_case(harness)
        assert worker.channel is not None
        await worker.send("/moede B7")
        await harness.advance(minutes=31)
        await parent.tap(START)
        await parent.send("7,3")
        await parent.send("2,9")
        await parent.tap("6")
        for value in ("6", "8,4", "9", "9", "10"):
            await parent.send(value)
        refusal = 'Bad Request: can\'t parse entities: Unsupported start tag "i" at byte offset 3'
        harness.emulator.faults.error("*", 400, refusal, chat_id=worker.channel.id, count=None)
        await harness.run_due()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, value in saved[2].items():
            logging.getLogger(name).setLevel(value)
    assert "Tak for dine svar" in parent.last_text_message().text
    assert [r[1] for r in outbox(harness, "summary")] == ["failed"]
    assert [r[1] for r in outbox(harness, "alert")] == ["failed"]  # SRS item below 9
    assert any("refused" in r.getMessage() for r in caplog.records)  # the refusals were logged
    seen = [m.content for m in harness.emulator.messages(parent.user.id)]
    seen += [r.params.get("caption") or r.params.get("text") or "" for r in harness.emulator.requests]
    fragments = {line.strip() for text in seen for line in str(text).splitlines() if len(line.strip()) > 12}
    token = harness.emulator.token  # the bot token: in every request's URL, never in a log line
    assert token in harness.fitbot.application.bot.base_url
    secrets = {"7,3", "2,9", "8,4", "Mette", "Jonas", "Rikke", token, token.split(":", 1)[1]} | fragments
    formatter = logging.Formatter("%(name)s %(message)s")
    leaks = [
        (record.name, secret) for record in caplog.records for secret in secrets if secret in formatter.format(record)
    ]
    assert not leaks
    # Nor any statement that stores or reads answers (aiosqlite logs them with their values at DEBUG).
    assert not [r for r in caplog.records if "answers" in r.getMessage() and "INSERT" in r.getMessage()]


async def test_waiting_out_429s_does_not_use_up_the_retries(harness: Harness) -> None:
    """A long flood wait is not a failure: after a dozen 429s a prompt still gets its full retries (and a
    short backoff) when a 502 follows, and is delivered."""
    worker, parent, _youth = await setup_case(harness)
    harness.emulator.faults.retry_after("sendMessage", 5, chat_id=parent.user.id, count=14)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    for _ in range(13):
        await harness.advance(seconds=5)
    harness.emulator.faults.error("sendMessage", 502, chat_id=parent.user.id, count=1)
    await harness.advance(seconds=5)
    row = next(r for r in outbox(harness, "prompt") if r[1] != "done")
    assert row[1] == "pending", row
    assert due_at(harness, row[0]) <= backoff(1)
    await harness.advance(seconds=backoff(1).total_seconds())
    assert len(prompts(parent)) == 1


async def test_stop_finishes_the_send_in_hand_and_puts_back_the_rest(harness: Harness) -> None:
    """What SIGTERM does to the outbox: the send under way finishes, the next row in the same chat is not
    started but put back as pending (not left 'sending', which the next start would count as in flight)."""
    worker, parent, _youth = await setup_case(harness, band="6-12")
    dispatcher = harness.fitbot.dispatcher
    await worker.send("/moede B7")
    await worker.send("/moede B7 i dag 10.01")  # two prompts for the same person, due a minute apart
    harness.emulator.faults.delay("sendMessage", 0.5, chat_id=parent.user.id)
    harness.clock.advance(minutes=32)
    dispatcher.wake()  # the running bot's dispatcher takes both in one round
    await harness.emulator.wait_until(lambda: harness.emulator.in_flight > 0, timeout=5)  # the first is under way
    await dispatcher.stop()
    assert [r[1] for r in outbox(harness, "prompt")] == ["done", "pending"], outbox(harness, "prompt")
    assert outbox(harness, "prompt")[1][2] == 0  # not counted as a try
    assert len(prompts(parent)) == 1
    await harness.run_due()  # the next start
    assert len(prompts(parent)) == 2


async def test_an_answer_whose_edit_was_lost_does_not_strand_the_person(harness: Harness) -> None:
    """The answer is committed, then the edit showing the next item fails (a 502; or the bot dies in
    between and the press comes again). The person still sees the old item and presses again: they are
    shown where they are, and can finish."""
    worker, parent, _youth = await setup_case(harness, band="6-12")
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    await parent.tap(START)
    message = parent.last
    harness.emulator.faults.error("editMessageText", 502, chat_id=parent.user.id)
    await parent.tap("4", message)
    assert "Spørgsmål 1 af 8" in message.text  # the edit was lost
    # The error handler's apology then goes to a query already answered; Telegram refuses that, and the
    # handler ignores the refusal. Harmless, and not what this test is about.
    emulator = harness.emulator
    emulator.rejected[:] = [r for r in emulator.rejected if r.method != "answerCallbackQuery"]
    await parent.tap("4", message)  # again, as a person does
    assert "Spørgsmål 2 af 8" in message.text
    for value in ("5", "6", "7", "8", "9", "9", "9"):
        await parent.tap(value, message)
    assert "Tak for dine svar" in message.text
    assert [v for (v,) in query(harness, "SELECT value FROM answers ORDER BY position")] == [
        40,
        50,
        60,
        70,
        80,
        90,
        90,
        90,
    ]
