"""`fitbot status`'s "last Bot API contact" sees polling: PTB sends getUpdates past the rate limiter, so the
inbox (which stands in for the Bot in the Updater) reports each answered getUpdates itself (a quiet, healthy
bot sends nothing for hours)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import config as config_module
from bot.app import build
from bot.clock import FakeClock
from bot.handlers.inbox import Inbox
from bot.sandbox.emulator import Emulator
from bot.storage import Storage
from bot.storage.sqlite import SqliteDatabase


class _Bot:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    async def get_updates(self, *args: Any, **kwargs: Any) -> list[object]:
        if self.fail:
            raise ConnectionError("down")
        return []


async def test_each_answered_get_updates_counts_as_contact(clock: FakeClock, tmp_path: Path) -> None:
    storage = Storage(SqliteDatabase(tmp_path / "unused.sqlite3"))  # an empty answer stores nothing
    contacts: list[int] = []
    polling = Inbox(_Bot(), storage, clock.now, on_contact=lambda: contacts.append(1))  # type: ignore[arg-type]
    assert await polling.get_updates(timeout=0) == []
    assert contacts == [1]
    failing = Inbox(_Bot(fail=True), storage, clock.now, on_contact=lambda: contacts.append(1))  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await failing.get_updates(timeout=0)
    assert contacts == [1]  # no answer, no contact


async def test_the_bot_s_polling_feeds_the_limiter_s_last_contact(clock: FakeClock, tmp_path: Path) -> None:
    async with Emulator(strict=True) as emulator:
        config = config_module.load(
            None,
            env={
                "FITBOT_TELEGRAM_TOKEN": emulator.token,
                "FITBOT_TELEGRAM_BASE_URL": emulator.base_url,
                "FITBOT_TELEGRAM_BASE_FILE_URL": emulator.base_file_url,
                "FITBOT_DATABASE_PATH": str(tmp_path / "fitbot.sqlite3"),
            },
        )
        fitbot = build(config, clock=clock.now)
        await fitbot.application.bot.initialize()
        try:
            fitbot.limiter.last_success = None  # forget getMe, which passed through the limiter
            updater = fitbot.application.updater
            assert updater is not None
            clock.advance(minutes=5)
            before = fitbot.limiter.clock()
            await updater.bot.get_updates(timeout=0)  # what the Updater's polling loop calls
            seen = fitbot.limiter.last_success
            assert seen is not None
            assert before <= seen <= fitbot.limiter.clock()
        finally:
            await fitbot.application.bot.shutdown()
