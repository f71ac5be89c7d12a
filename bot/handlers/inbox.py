"""Every update is written down before Telegram is told it arrived.

PTB's Updater confirms a batch of updates (the offset of its next getUpdates) as soon as it has queued
them, before the handlers have run; a `kill -9` in between would lose a tap or a command for good. Here
each fetched batch is stored in the database's inbox, in one transaction, and the next getUpdates (the
one that confirms the batch) waits until that transaction is committed; it never waits for handlers.
The batch is handled meanwhile, so its store usually shares the COMMIT (and the fsync) of its first
handler's change. A handled update is marked so a moment later (marks are written in batches); at
start-up, whatever was stored and not marked is handled again, before polling begins. An update that
Telegram sends a second time (it was fetched, but not confirmed, when the bot stopped) is already in the
inbox and is dropped: after a restart, updates with ids up to the newest stored one are looked up first.

So each update is handled once, except after a crash between its handling and its mark, or before its
store was committed: then it is handled again, and the services' claim on its update id (answers,
joining, meetings) makes that change nothing. An update's content is kept only until it is handled
(sensitive: answers, names); the ids stay for two days, longer than Telegram keeps an unconfirmed update
(24 hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, Update

from bot.storage import Storage

log = logging.getLogger(__name__)

MARK_AFTER = 0.5  # seconds: handled marks wait this long to share one transaction
KEEP_IDS = timedelta(days=2)
STORE_RETRY = 1.0  # seconds


class Inbox:
    """Stands in for the Bot inside PTB's Updater; everything but get_updates goes straight through.

    `on_contact` is called after each answered getUpdates: PTB sends getUpdates past its rate limiter,
    which otherwise notes every answer from the Bot API (for `fitbot status`'s "last Bot API contact").
    """

    def __init__(
        self,
        bot: Bot,
        storage: Storage,
        now: Callable[[], datetime],
        *,
        on_contact: Callable[[], None] | None = None,
    ) -> None:
        self._bot = bot
        self._storage = storage
        self._now = now
        self._on_contact = on_contact
        self._next_offset = 0
        self._newest_before_start = -1  # set by replay(), before polling starts
        self._storing: asyncio.Task[set[int]] | None = None
        self._handled: list[int] = []
        self._marking: asyncio.Task[None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bot, name)

    async def get_updates(self, offset: int | None = None, **kwargs: Any) -> tuple[Update, ...]:
        if self._storing is not None:
            # This call's offset confirms the last batch: only once it is in the database. Shielded, and
            # forgotten only once done: a stop cancels the polling call waiting here, not the store, and
            # PTB's last getUpdates at the stop (the one that confirms) waits for it again.
            await asyncio.shield(self._storing)
            self._storing = None
        # The Updater's offset only moves past updates it was given: past dropped ones, this one does.
        updates = await self._bot.get_updates(offset=max(offset or 0, self._next_offset), **kwargs)
        if self._on_contact is not None:
            self._on_contact()
        if not updates:
            return updates
        self._next_offset = updates[-1].update_id + 1
        rows = [(u.update_id, json.dumps(u.to_dict(), ensure_ascii=False)) for u in updates]
        if updates[0].update_id > self._newest_before_start:
            self._storing = asyncio.get_running_loop().create_task(self._store(rows), name="inbox-store")
            return updates
        # Perhaps sent before, to the run that stopped: what the inbox already has is dropped.
        new = await self._store(rows)
        if len(new) < len(updates):
            log.info("%d update(s) Telegram sent again were dropped", len(updates) - len(new))
        return tuple(u for u in updates if u.update_id in new)

    async def _store(self, rows: list[tuple[int, str]]) -> set[int]:
        """Store, trying again until it works: confirming updates the database does not hold would lose
        them in a crash, so polling waits for the database instead."""
        while True:
            try:
                async with self._storage.transaction() as repo:
                    return await repo.store_updates(rows, self._now())
            except Exception:
                log.exception("could not store %d fetched update(s); trying again", len(rows))
                await asyncio.sleep(STORE_RETRY)

    async def replay(self, queue: asyncio.Queue[object]) -> int:
        """Queue what the last run stored and did not handle; returns how many."""
        async with self._storage.transaction() as repo:
            rows = await repo.unhandled_updates()
            self._newest_before_start = await repo.newest_update_id()
        for _update_id, payload in rows:
            await queue.put(Update.de_json(json.loads(payload), self._bot))
        return len(rows)

    def handled(self, update_id: int) -> None:
        self._handled.append(update_id)
        if self._marking is None:
            self._marking = asyncio.get_running_loop().create_task(self._mark_soon(), name="inbox-marks")

    async def _mark_soon(self) -> None:
        await asyncio.sleep(MARK_AFTER)
        self._marking = None
        await self.flush()

    async def flush(self) -> None:
        """Write the handled marks now (at a stop; a crash before this means those are handled again)."""
        if self._marking is not None:
            self._marking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._marking
            self._marking = None
        ids, self._handled = self._handled, []
        if not ids:
            return
        try:
            async with self._storage.transaction() as repo:
                await repo.mark_updates_handled(ids, self._now())
        except Exception:
            self._handled = ids + self._handled
            log.exception("could not mark %d update(s) handled; trying again with the next", len(ids))

    async def prune(self) -> int:
        async with self._storage.transaction() as repo:
            return await repo.prune_inbox(self._now() - KEEP_IDS)
