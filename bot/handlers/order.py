"""Updates of one chat in order, different chats side by side.

PTB's default handles one update at a time, so a handler that waits (a family's own chart, drawn at the
end of a questionnaire; a caseworker's /sag or /eksport) held up every other person's tap meanwhile.
Here each chat's updates still run strictly in arrival order (a typed "7" then "8" answer two items, never
the other way round), while other chats' updates run meanwhile. Consistency across chats is the database's
job (one transaction per change, compare-and-set on the current item), as it already is for the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.delivery.limits import RUNNER, Lendable

# Updates taken in at once (PTB's limit), most of them waiting for their chat's turn or for a free runner.
MAX_CONCURRENT_UPDATES = 4096
# Updates whose handlers run at once. More only contend: for the one database connection, and for the HTTP
# pool, where httpcore checks every open connection on each request (a poll() each), and 256 runners keep
# hundreds open. Closed loop, 1,000 people: 256 runners 63-66 presses/s, 16: 85-127, 8: 117-170, 4: 161-176
# (the sequential bare bot: 125-190). Not fewer: a few slow handlers (a chart, an export, a slow answer
# from Telegram) would hold everyone up, and with Telegram's real round trips (50-200 ms, not the
# emulator's 1 ms) 8 runners still answer 40-160 taps a second, above Telegram's 30 messages a second.
RUNNING_UPDATES = 8


class PerChatOrder(BaseUpdateProcessor):
    """`on_handled` hears of each update handled (its handlers done, or failed and reported): the inbox's
    mark. Not of one cut off by a stop, which is handled again at the next start."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES, running: int = RUNNING_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        # Taken after the chat's turn, so updates waiting for their turn never keep other chats' out.
        self._running = asyncio.Semaphore(running)
        self._turns: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self.on_handled: Callable[[int], None] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await self._in_turn(update, coroutine)
        except Exception:
            self._handled(update)
            raise
        self._handled(update)

    def _handled(self, update: object) -> None:
        if self.on_handled is not None and isinstance(update, Update):
            self.on_handled(update.update_id)

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        runner = _Runner(self._running)
        await runner.take_back()
        token = RUNNER.set(runner)
        try:
            await coroutine
        finally:
            RUNNER.reset(token)
            runner.done()

    async def _in_turn(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        if key is None:
            await self._run(coroutine)
            return
        # PTB starts one task per update in arrival order and a free lock is taken without yielding, so
        # the lock's FIFO queue keeps each chat's arrival order.
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = asyncio.Lock()
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with turn:
                await self._run(coroutine)
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                del self._turns[key]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


class _Runner(Lendable):
    """One update's slot among the runners. Tasks the handler starts share it (they copy its context):
    whichever sleeps in the flood limiter first lends it; nothing takes it back once the update is done."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._held = False
        self._done = False

    def lend(self) -> bool:
        if not self._held:
            return False
        self._held = False
        self._slots.release()
        return True

    async def take_back(self) -> None:
        if self._done:
            return
        await self._slots.acquire()
        if self._done:  # finished while this waited (a task of the handler's that outlived it)
            self._slots.release()
            return
        self._held = True

    def done(self) -> None:
        self._done = True
        self.lend()


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    chat = update.effective_chat
    if chat is not None:
        return chat.id
    user = update.effective_user
    return user.id if user is not None else None
