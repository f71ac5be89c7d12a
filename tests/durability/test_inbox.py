"""The inbox: every update is in the database before Telegram is told it arrived, so a crash loses nothing;
polling never waits for handlers; what was stored and not handled is handled after a restart, once."""

from __future__ import annotations

import json
from pathlib import Path

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from bot.storage import create_storage
from tests.durability.helpers import start
from tests.e2e.harness import Harness, stop_harness

NOT_INVITED = "link fra din rådgiver"


async def _inbox_row(harness: Harness, update_id: int) -> dict[str, object] | None:
    async with harness.db.transaction() as repo:
        row = await repo.conn.fetch_one("SELECT * FROM inbox WHERE update_id = :u", {"u": update_id})
    return dict(row) if row else None


async def test_an_update_is_stored_then_confirmed_while_it_is_still_being_handled(harness: Harness) -> None:
    emulator = harness.emulator
    stranger = harness.person("Ukendt")
    # The reply takes a while (a slow network): the update is being handled meanwhile.
    emulator.faults.delay("sendMessage", 2.0, chat_id=stranger.user.id)
    emulator.send_text(stranger.user, "/start")
    update_id = emulator.last_update_id
    await emulator.wait_until(lambda: emulator.in_flight == 1)  # the reply, held by the emulator
    # Confirmed to Telegram already, because it is in the database, content and all, not yet handled.
    await emulator.wait_until(lambda: emulator.update_confirmed(update_id))
    assert emulator.in_flight == 1
    assert update_id not in harness._processed
    stored = await _inbox_row(harness, update_id)
    assert stored is not None
    assert stored["handled_at"] is None
    assert json.loads(str(stored["payload"]))["message"]["text"] == "/start"
    await harness.processed(update_id)
    assert NOT_INVITED in stranger.last.text
    # Once handled (the marks are written in batches: flushed here), only the id is kept.
    await harness.fitbot.inbox.flush()
    handled = await _inbox_row(harness, update_id)
    assert handled is not None
    assert handled["handled_at"] is not None
    assert handled["payload"] is None


async def test_a_slow_handler_does_not_hold_other_peoples_updates(harness: Harness) -> None:
    emulator = harness.emulator
    slow, quick = harness.person("Langsom"), harness.person("Hurtig")
    emulator.faults.delay("sendMessage", 3.0, chat_id=slow.user.id)
    emulator.send_text(slow.user, "/start")
    slow_update = emulator.last_update_id
    await emulator.wait_until(lambda: emulator.in_flight == 1)  # the slow reply, held by the emulator
    emulator.send_text(quick.user, "/start")
    await harness.processed(emulator.last_update_id)
    assert NOT_INVITED in quick.last.text
    assert slow_update not in harness._processed  # still waiting for its reply


async def test_what_was_stored_and_not_handled_is_handled_after_a_restart_once(
    emulator: Emulator, clock: FakeClock, db_path: Path
) -> None:
    first = await start(emulator, clock, db_path)
    stranger = first.person("Ukendt")
    await stop_harness(first)
    # While the bot was down, an update came; the run that crashed had stored it and then died, before
    # handling it and before confirming it to Telegram (which will therefore send it again).
    emulator.send_text(stranger.user, "/start")
    update_id = emulator.last_update_id
    pending = [u for u in emulator.get_updates({}) if u["update_id"] == update_id]
    storage = create_storage(db_path)
    await storage.open(clock.now())
    async with storage.transaction() as repo:
        await repo.store_updates([(update_id, json.dumps(pending[0]))], clock.now())
    await storage.close()
    restarted = await start(emulator, clock, db_path)
    try:
        await restarted.processed(update_id)
        await emulator.wait_until(lambda: emulator.update_confirmed(update_id))
        # Telegram's second delivery was confirmed and dropped: one answer only.
        await restarted.fitbot.inbox.flush()
        assert [m.text for m in stranger.messages() if m.from_bot] == [stranger.last.text]
        assert NOT_INVITED in stranger.last.text
        row = await _inbox_row(restarted, update_id)
        assert row is not None
        assert row["handled_at"] is not None
    finally:
        await stop_harness(restarted)
