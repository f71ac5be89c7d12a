"""Fixtures for the durability tests: the e2e emulator, and a harness whose flood limiter follows the fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from tests.durability.helpers import start
from tests.e2e import conftest as e2e
from tests.e2e.harness import Harness, stop_harness

emulator = e2e.emulator  # the same strict emulator: every request must be valid Bot API


@pytest.fixture
async def harness(emulator: Emulator, clock: FakeClock, db_path: Path) -> AsyncIterator[Harness]:
    h = await start(emulator, clock, db_path)
    try:
        yield h
    finally:
        await stop_harness(h)
