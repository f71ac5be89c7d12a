from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from tests.e2e.harness import Harness, start_harness, stop_harness


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emulator = Emulator(strict=True)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()
    # Every request the bot made must have been valid Bot API, as Telegram would demand.
    # "Not modified" is Telegram's harmless answer to an edit that changes nothing (a stale press).
    bad = [
        (r.method, r.status, r.description)
        for r in emulator.rejected
        if "message is not modified" not in (r.description or "")
    ]
    assert not bad, f"the emulator rejected requests: {bad}"


@pytest.fixture
async def harness(emulator: Emulator, clock: FakeClock, db_path: Path) -> AsyncIterator[Harness]:
    h = await start_harness(emulator, clock, db_path)
    try:
        yield h
    finally:
        await stop_harness(h)
