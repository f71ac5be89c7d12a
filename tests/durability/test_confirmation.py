"""Telegram is told an update was received only after FIT-bot has handled it, so a crash in between
means Telegram sends it again rather than the tap or command being lost."""

from __future__ import annotations

import asyncio

from tests.e2e.harness import Harness


async def test_an_update_is_confirmed_only_after_it_was_handled(harness: Harness) -> None:
    emulator = harness.emulator
    stranger = harness.person("Ukendt")
    # The reply takes a while (a slow network): the update is being handled meanwhile.
    emulator.faults.delay("sendMessage", 1.0, chat_id=stranger.user.id)
    emulator.send_text(stranger.user, "/start")
    update_id = emulator.last_update_id
    await emulator.wait_for_request("sendMessage", lambda r: str(r.params.get("chat_id")) == str(stranger.user.id))
    # The bot is polling again for other people's updates, but has not confirmed this one.
    assert not emulator.update_confirmed(update_id)
    await harness.processed(update_id)
    await emulator.wait_until(lambda: emulator.update_confirmed(update_id))
    assert "link fra din rådgiver" in stranger.last.text


async def test_a_slow_handler_does_not_hold_other_peoples_updates_for_long(harness: Harness) -> None:
    emulator = harness.emulator
    slow, quick = harness.person("Langsom"), harness.person("Hurtig")
    emulator.faults.delay("sendMessage", 4.0, chat_id=slow.user.id)
    emulator.send_text(slow.user, "/start")
    await asyncio.sleep(0)  # the slow update is fetched first
    emulator.send_text(quick.user, "/start")
    # The quick one is answered well before the slow reply completes (polling goes on after 2 s at most).
    async with asyncio.timeout(3.5):
        await harness.processed(emulator.last_update_id)
    assert "link fra din rådgiver" in quick.last.text
