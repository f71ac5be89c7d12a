"""Confirm updates to Telegram only after they have been handled.

PTB's Updater confirms a batch of updates (the offset of its next getUpdates) as soon as it has queued
them, before the handlers have run; a `kill -9` in between would lose a tap or a command for good. Here the
next getUpdates first waits until the queued updates are handled, so after a crash Telegram sends again
whatever was not finished (and the database's update ids make a second delivery change nothing).
A handler slower than SETTLE_LIMIT does not hold everyone's next updates back: polling goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from telegram import Bot

SETTLE_LIMIT = 2.0  # seconds


class ConfirmAfterHandling:
    """Stands in for the Bot inside PTB's Updater; everything but get_updates goes straight through.

    `on_contact` is called after each answered getUpdates: PTB sends getUpdates past its rate limiter,
    which otherwise notes every answer from the Bot API (for `fitbot status`'s "last Bot API contact").
    """

    def __init__(
        self, bot: Bot, update_queue: asyncio.Queue[object], *, on_contact: Callable[[], None] | None = None
    ) -> None:
        self._bot = bot
        self._queue = update_queue
        self._on_contact = on_contact

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bot, name)

    async def get_updates(self, *args: Any, **kwargs: Any) -> Any:
        # Queue.join() returns when every update put in so far has been handled (PTB calls task_done).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), SETTLE_LIMIT)
        updates = await self._bot.get_updates(*args, **kwargs)
        if self._on_contact is not None:
            self._on_contact()
        return updates
