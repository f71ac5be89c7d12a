"""Telegram's flood limits, modelled so that FIT-bot never hits them.

About 30 messages/s overall; 1 message/s per private chat beyond a short burst; 20 messages/minute
per group or channel. Every request to the Bot API passes through `FloodLimiter` (PTB's rate-limiter
hook): bulk sends from the outbox wait their turn, replies to a person's own taps never queue behind
them, and a 429 pauses only the chat it concerns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# Methods that put or change a message in a chat, and so count against Telegram's limits.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)
# An interactive reply waits out a 429 this short and retries once; a longer one surfaces as an error.
INTERACTIVE_RETRY_LIMIT = 2.0
SAFETY = 0.97


class Lendable:
    """What a handler runs on (bot/handlers/order.py's runner slot): lent back while one of its requests
    sleeps here, so a reply waiting out Telegram's 30 messages a second keeps no other tap from being
    handled (and its callback query answered in time)."""

    def lend(self) -> bool:
        """Give the slot back for now; False when not held (lent already, or the handler is done)."""
        return False

    async def take_back(self) -> None:
        return None


RUNNER: ContextVar[Lendable | None] = ContextVar("fitbot_runner", default=None)


@dataclass(frozen=True)
class Limits:
    global_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20
    # Global capacity that bulk sends leave free, so a tap is answered at once during a burst.
    interactive_reserve: float = 2.0


class _Bucket:
    """A token bucket: `rate` tokens per second up to `capacity`."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate, self.capacity, self.tokens, self.stamp = rate, capacity, capacity, now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, need: float, now: float) -> float:
        self.refill(now)
        return 0.0 if self.tokens >= need else (need - self.tokens) / self.rate


class FloodLimiter(BaseRateLimiter[dict[str, Any]]):
    """Pass `rate_limit_args={"bulk": True}` for outbox sends; everything else counts as interactive."""

    def __init__(
        self,
        limits: Limits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or Limits()
        self._now = monotonic
        self._sleep = sleep
        self.clock = monotonic
        start = monotonic()
        # A hair under Telegram's rate, and a smaller burst: our clock and Telegram's never tick together,
        # and a request booked here arrives there a few milliseconds later.
        self._global = _Bucket(
            self.limits.global_per_second * SAFETY, max(1.0, min(self.limits.global_per_second, 20.0)), start
        )
        self._private: dict[int, _Bucket] = {}
        self._groups: dict[int, deque[float]] = {}
        self._paused_until: dict[int, float] = {}
        self._global_paused_until = 0.0
        self._lock = asyncio.Lock()
        self.last_success: float | None = None  # monotonic time of the last answered request

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    # --- bookkeeping (no awaiting in here) --------------------------------------------------------

    def _chat_wait(self, chat_id: int, now: float) -> float:
        wait = max(0.0, self._paused_until.get(chat_id, 0.0) - now)
        if chat_id < 0:  # groups, supergroups and channels
            window = self._groups.get(chat_id)
            if window is not None:
                while window and window[0] <= now - 60:
                    window.popleft()
                if len(window) >= self.limits.group_per_minute:
                    wait = max(wait, window[0] + 60 - now)
        else:
            bucket = self._private.get(chat_id)
            if bucket is not None:
                wait = max(wait, bucket.wait_for(1, now))
        return wait

    def _book(self, chat_id: int | None, now: float, *, bulk: bool) -> None:
        self._global.refill(now)
        self._global.tokens -= 1
        # A private chat's budget is for what the bot starts; replies to a person's own taps are paced
        # by the person and would otherwise hold back their next prompt.
        if chat_id is None or (chat_id > 0 and not bulk):
            return
        if chat_id < 0:
            self._groups.setdefault(chat_id, deque()).append(now)
        else:
            bucket = self._private.get(chat_id)
            if bucket is None:
                bucket = self._private[chat_id] = _Bucket(
                    self.limits.private_per_second, self.limits.private_burst, now
                )
                if len(self._private) > 50_000:  # forget chats that have long been idle
                    self._forget_idle(now)
            bucket.refill(now)
            bucket.tokens -= 1

    def _forget_idle(self, now: float) -> None:
        for chat_id in [c for c, b in self._private.items() if now - b.stamp > 60]:
            del self._private[chat_id]

    def recent_posts(self, chat_id: int) -> int:
        """Messages posted to a group or channel in the last minute (0 for private chats)."""
        window = self._groups.get(chat_id)
        if not window:
            return 0
        now = self._now()
        return sum(1 for t in window if t > now - 60)

    def ready_in(self, chat_id: int | None, *, bulk: bool = True) -> float:
        """Seconds until a send to this chat may go (0 = now).

        Replies to a person's own taps skip their private chat's budget (the person sets the pace), but
        not a group's or channel's 20 a minute, which Telegram enforces whoever caused the message.
        """
        now = self._now()
        need = 1 + (self.limits.interactive_reserve if bulk else 0)
        wait = max(self._global.wait_for(need, now), self._global_paused_until - now)
        if chat_id is not None and (bulk or chat_id < 0):
            wait = max(wait, self._chat_wait(chat_id, now))
        return max(0.0, wait)

    def note_contact(self) -> None:
        """The Bot API answered a request that did not pass through here (getUpdates)."""
        self.last_success = self._now()

    def pause(self, chat_id: int | None, seconds: float) -> None:
        """After a 429: hold this chat (or, without a chat, all bulk sends) for `seconds`."""
        until = self._now() + seconds
        if chat_id is None:
            self._global_paused_until = max(self._global_paused_until, until)
        else:
            self._paused_until[chat_id] = max(self._paused_until.get(chat_id, 0.0), until)

    async def acquire(self, chat_id: int | None, *, bulk: bool) -> None:
        """Wait for a slot and book it (the lock makes the check and the booking one step)."""
        if bulk or (chat_id is not None and chat_id < 0):
            # Bulk sends and posts to groups also wait for their chat's own budget: no queue for all.
            await self._wait_and_book(chat_id, bulk=bulk)
            return
        # A reply to a person's tap waits only for the overall budget. It books its slot at once, even
        # one still to come, and sleeps until then: replies go first come, first served, side by side.
        # (Booking on waking instead, a reply that woke just after a later one took the free slot slept
        # again and again: two-minute waits among 30-second ones at 500 families under Telegram's limits.)
        async with self._lock:
            now = self._now()
            wait = self.ready_in(chat_id, bulk=False)
            self._book(chat_id, now, bulk=False)
        if wait > 0:
            await self._sleep_aside(wait)

    async def _wait_and_book(self, chat_id: int | None, *, bulk: bool) -> None:
        while True:
            async with self._lock:
                wait = self.ready_in(chat_id, bulk=bulk)
                if wait <= 0:
                    self._book(chat_id, self._now(), bulk=bulk)
                    return
            await self._sleep_aside(min(wait, 1.0))

    async def _sleep_aside(self, seconds: float) -> None:
        runner = RUNNER.get()
        lent = runner.lend() if runner is not None else False
        try:
            await self._sleep(seconds)
        finally:
            if lent:
                assert runner is not None
                await runner.take_back()

    # --- PTB's hook -----------------------------------------------------------------------------

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint not in MESSAGE_METHODS:
            result = await callback(*args, **kwargs)
            self.last_success = self._now()
            return result
        bulk = bool(rate_limit_args and rate_limit_args.get("bulk"))
        chat_id = _chat_id(data.get("chat_id"))
        await self.acquire(chat_id, bulk=bulk)
        try:
            result = await callback(*args, **kwargs)
            self.last_success = self._now()
            return result
        except RetryAfter as exc:
            seconds = exc.retry_after if isinstance(exc.retry_after, int | float) else exc.retry_after.total_seconds()
            self.pause(chat_id, seconds)
            log.warning("flood limit: %s paused %.1fs (%s)", endpoint, seconds, "bulk" if bulk else "interactive")
            if bulk or seconds > INTERACTIVE_RETRY_LIMIT:
                raise
            await self._sleep(seconds)
            return await callback(*args, **kwargs)


def _chat_id(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def clock_time(clock: Callable[[], datetime]) -> Callable[[], float]:
    """Monotonic seconds that also move when the bot's clock jumps ahead (a fake clock in tests, the
    sandbox's fast-forward): the limits then follow the same time as the outbox's due times.
    With the system clock this is plain time.monotonic()."""
    start_clock, start_mono = clock(), time.monotonic()
    skew = 0.0

    def now() -> float:
        nonlocal skew
        mono = time.monotonic()
        ahead = (clock() - start_clock).total_seconds() - (mono - start_mono)
        skew = max(skew, ahead)  # never backwards
        return mono + skew

    return now
