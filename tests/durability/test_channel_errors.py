"""What Telegram says about a caseworker's chat, beyond 403: a group upgraded to a supergroup (ChatMigrated,
a new chat id), a channel the bot may no longer post in (a 400), and a caseworker who is disabled. An
alert is never dropped silently: it goes to the new chat, to the caseworker's private chat, or it is
recorded as failed with a reason `fitbot status` counts."""

from __future__ import annotations

import logging

import pytest

from bot.services import enrolment
from tests.durability.helpers import answer_all, outbox, query, setup_case
from tests.e2e.harness import Harness

LOW = ("1", "2", "1", "2", "5", "5", "5", "5")  # a summary and an alert for the caseworker


def posts(messages: list) -> tuple[int, int]:  # type: ignore[type-arg]
    """(alerts, summaries) among a chat's messages."""
    alerts = sum(m.content.startswith("⚠️ Advarsel") for m in messages)
    summaries = sum("Nye svar i sag B7" in m.content for m in messages)
    return alerts, summaries


def forget_refusals(harness: Harness, reason: str) -> None:
    """The emulator's own 400s that the test provoked on purpose (its fixture checks for unexpected ones)."""
    emulator = harness.emulator
    emulator.rejected[:] = [r for r in emulator.rejected if reason not in (r.description or "")]


async def test_a_group_upgraded_to_a_supergroup_gets_its_posts_at_the_new_id(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness, channel=False, band="6-12")
    emulator = harness.emulator
    group = emulator.add_group("FIT gruppe", creator=worker.user)
    emulator.add_bot_to_chat(group, worker.user, admin=True)
    await harness.after_update()
    assert query(harness, "SELECT chat_id FROM channels WHERE unlinked_at IS NULL") == [(group.id,)]
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    supergroup = emulator.upgrade_to_supergroup(group)
    before = len(emulator.messages(group.id))
    await answer_all(parent, LOW)
    await harness.run_due()
    assert len(emulator.messages(group.id)) == before  # nothing lands in the old group
    assert posts(emulator.messages(supergroup.id)) == (1, 1)
    assert posts(worker.messages()) == (0, 0)  # not diverted to the private chat: the group is still there
    assert query(harness, "SELECT chat_id FROM channels WHERE unlinked_at IS NULL") == [(supergroup.id,)]
    for kind in ("summary", "alert"):
        assert [r[1] for r in outbox(harness, kind)] == ["done"]
    assert ("channel_migrated",) in query(harness, "SELECT action FROM audit_events")
    # The next morning's digest goes to the supergroup too.
    await harness.fitbot.housekeeping()
    await harness.advance(days=1)
    assert outbox(harness, "digest")[0][1] == "done"
    assert any("B7" in m.content for m in emulator.messages(supergroup.id)[-1:])
    forget_refusals(harness, "upgraded to a supergroup")


@pytest.mark.parametrize(
    "reason",
    [
        "Bad Request: not enough rights to send text messages to the chat",
        "Bad Request: CHAT_WRITE_FORBIDDEN",
        "Bad Request: chat not found",
    ],
)
async def test_a_400_for_no_rights_in_the_channel_unlinks_it_and_posts_privately(harness: Harness, reason: str) -> None:
    worker, parent, _youth = await setup_case(harness, band="6-12")
    assert worker.channel is not None
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    harness.emulator.faults.error("*", 400, reason, chat_id=worker.channel.id, count=None)
    before = len(worker.channel_messages())
    await answer_all(parent, LOW)
    await harness.run_due()
    assert len(worker.channel_messages()) == before
    assert posts(worker.messages()) == (1, 1)  # in the caseworker's private chat instead
    assert query(harness, "SELECT COUNT(*) FROM channels WHERE unlinked_at IS NULL") == [(0,)]
    for kind in ("summary", "alert"):
        assert [r[1] for r in outbox(harness, kind)] == ["done"]


async def test_a_channel_where_the_bot_is_no_longer_an_administrator(harness: Harness) -> None:
    """The emulator's own answer (not an injected fault): the bot was demoted to a plain member."""
    worker, parent, _youth = await setup_case(harness, band="6-12")
    assert worker.channel is not None
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    worker.channel.members[harness.emulator.bot_user.id] = "member"  # demoted, without an update
    await answer_all(parent, LOW)
    await harness.run_due()
    assert posts(worker.messages()) == (1, 1)
    for kind in ("summary", "alert"):
        assert [r[1] for r in outbox(harness, kind)] == ["done"]
    forget_refusals(harness, "need administrator rights")


async def test_posts_for_a_disabled_caseworker_are_failed_with_a_reason_not_done(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The caseworker is disabled (their case not yet handed over); the family answers anyway. Nobody can
    be told: the summary and the alert are failed 'no destination: caseworker disabled', and counted."""
    worker, parent, _youth = await setup_case(harness, band="6-12")
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    assert await enrolment.disable_caseworker(harness.fitbot.svc, worker.caseworker_id)
    with caplog.at_level(logging.INFO):
        await answer_all(parent, LOW)
        await harness.run_due()
    for kind in ("summary", "alert"):
        assert [(r[1], r[3]) for r in outbox(harness, kind)] == [("failed", "no destination: caseworker disabled")]
    async with harness.fitbot.storage.transaction() as repo:
        stats = await repo.outbox_stats(harness.clock.now())
    assert (stats["failed"], stats["failed_no_destination"]) == (2, 2)
    lines = [r.getMessage() for r in caplog.records if "cannot be delivered" in r.getMessage()]
    assert len(lines) == 2
    assert not [line for line in lines if "Rikke" in line or "B7" in line]
