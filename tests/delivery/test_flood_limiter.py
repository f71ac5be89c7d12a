"""FloodLimiter on a fake monotonic clock: Telegram's limits (about 30 messages/s overall, 1/s per private
chat beyond a short burst, 20/minute per group or channel), a 429's pause, and what interactive replies
skip. Nothing sleeps: each send waits by moving the fake clock by what `ready_in` says, then acquires."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.delivery.limits import SAFETY, FloodLimiter, Limits
from bot.sandbox.limits import FloodLimits

GROUP = -1001234567890
CHANNEL = -1009876543210


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> FloodLimiter:
    return FloodLimiter(Limits(), monotonic=clock)


async def send(limiter: FloodLimiter, clock: Clock, chat_id: int | None, *, bulk: bool = True) -> float:
    """Wait (on the fake clock) until the limiter lets a send to `chat_id` go, book it; its time."""
    wait = limiter.ready_in(chat_id, bulk=bulk)
    if wait:
        clock.now += wait + 1e-9  # (a hair more: floating point)
    assert limiter.ready_in(chat_id, bulk=bulk) == 0
    await limiter.acquire(chat_id, bulk=bulk)  # ready: books without waiting
    return clock.now


def telegram_accepts(sends: Iterable[tuple[float, int]]) -> bool:
    """Replay (time, chat) sends against the emulator's model of Telegram's limits: no 429 anywhere."""
    now = [0.0]
    telegram = FloodLimits(clock=lambda: now[0])
    for when, chat in sorted(sends):
        now[0] = when
        if telegram.check(chat) is not None:
            return False
    return True


def most_in_any_window(times: Iterable[float], window: float) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_about_30_messages_a_second_overall(limiter: FloodLimiter, clock: Clock) -> None:
    chats = range(1, 601)  # 600 people, one message each
    times = [await send(limiter, clock, chat) for chat in chats]
    assert telegram_accepts(zip(times, chats, strict=True))
    # A token bucket: a burst from a full bucket (20, less the reserve of 2 kept for taps), then a hair
    # under 30/s; over any stretch of T seconds at most 20 + 30 T.
    assert times[:18] == [1000.0] * 18
    assert times[18] > 1000.0
    steady = times[100:]
    rate = (len(steady) - 1) / (steady[-1] - steady[0])
    assert 30 * SAFETY - 0.5 <= rate <= 30
    for window in (1.0, 5.0, 10.0):
        assert most_in_any_window(times, window) <= 20 + 30 * window
    assert most_in_any_window(times[100:], 1.0) <= 30


async def test_one_a_second_per_private_chat_beyond_a_burst_of_three(limiter: FloodLimiter, clock: Clock) -> None:
    times = [await send(limiter, clock, 42) - 1000.0 for _ in range(8)]
    assert telegram_accepts((t, 42) for t in times)
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[3:] == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])
    # Other chats are not held up by this one.
    assert limiter.ready_in(43) == 0


async def test_twenty_a_minute_per_group_or_channel(limiter: FloodLimiter, clock: Clock) -> None:
    times = [await send(limiter, clock, GROUP) - 1000.0 for _ in range(45)]
    assert telegram_accepts((t, GROUP) for t in times)
    assert most_in_any_window(times, 60.0) == 20
    assert times[19] < 1.0  # the first twenty go at once (as fast as the global limit allows)
    assert times[20] == pytest.approx(times[0] + 60)
    assert times[40] == pytest.approx(times[20] + 60)
    assert limiter.recent_posts(GROUP) == sum(1 for t in times if t > times[-1] - 60) <= 20
    assert limiter.ready_in(CHANNEL) == 0  # each group or channel has its own minute


async def test_interactive_replies_skip_a_private_chat_s_budget_but_not_a_group_s(
    limiter: FloodLimiter, clock: Clock
) -> None:
    for _ in range(3):
        await send(limiter, clock, 42)
    assert limiter.ready_in(42) > 0.9  # bulk: the person's budget is used up
    assert limiter.ready_in(42, bulk=False) == 0  # a reply to their own tap goes at once
    for _ in range(20):
        await send(limiter, clock, GROUP)
    # A tap in a caseworker's channel ("Set / håndteret"): Telegram counts the edit against the group's
    # 20 a minute whoever caused it, so the reply waits too rather than earn a 429.
    assert limiter.ready_in(GROUP, bulk=False) > 55
    taps = [await send(limiter, clock, GROUP, bulk=False) for _ in range(2)]
    assert taps[0] >= 1000.0 + 60


async def test_interactive_replies_keep_a_reserve_during_a_bulk_burst(limiter: FloodLimiter, clock: Clock) -> None:
    chat = 1
    while limiter.ready_in(chat) == 0:
        await limiter.acquire(chat, bulk=True)
        chat += 1
    assert limiter.ready_in(99_999, bulk=False) == 0  # bulk sends stopped with tokens left for taps


async def test_a_429_pauses_only_its_chat(limiter: FloodLimiter, clock: Clock) -> None:
    calls: list[str] = []

    async def refused(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        calls.append("sent")
        raise RetryAfter(timedelta(seconds=7))

    with pytest.raises(RetryAfter):
        await limiter.process_request(refused, (), {}, "sendMessage", {"chat_id": 42}, {"bulk": True})
    assert calls == ["sent"]  # a bulk send is not retried here: the outbox row is rescheduled
    assert 6.9 < limiter.ready_in(42) <= 7
    assert limiter.ready_in(43) == 0
    limiter.pause(GROUP, 30)
    assert limiter.ready_in(GROUP, bulk=False) == pytest.approx(30)  # groups: interactive waits too
    limiter.pause(None, 3)  # a 429 without a chat holds every bulk send
    assert limiter.ready_in(43) == pytest.approx(3)


async def test_every_answer_counts_as_contact_and_methods_that_are_not_messages_are_not_limited(
    limiter: FloodLimiter, clock: Clock
) -> None:
    async def ok(*_args: Any, **_kwargs: Any) -> bool:
        return True

    assert limiter.last_success is None
    for _ in range(100):  # far beyond any limit: getMe, answerCallbackQuery, ... are not messages
        assert await limiter.process_request(ok, (), {}, "answerCallbackQuery", {}, None)
    assert limiter.last_success == clock.now
    clock.now += 5
    assert await limiter.process_request(ok, (), {}, "sendMessage", {"chat_id": "7"}, {"bulk": True})
    assert limiter.last_success == clock.now
    clock.now += 5
    limiter.note_contact()  # getUpdates, which PTB sends past the rate limiter
    assert limiter.last_success == clock.now


async def test_replies_to_taps_take_turns_for_the_overall_budget(clock: Clock) -> None:
    """A reply waiting for the overall budget is not passed over by a later one that finds a free slot."""
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the fake clock moves while a reply waits
        await gate.wait()
        clock.now += seconds

    limiter = FloodLimiter(Limits(), monotonic=clock, sleep=sleep)
    chat = 1
    while limiter.ready_in(chat, bulk=False) == 0:
        await limiter.acquire(chat, bulk=False)
        chat += 1
    order: list[str] = []

    async def reply(name: str, chat_id: int) -> None:
        await limiter.acquire(chat_id, bulk=False)
        order.append(name)

    next_slot = limiter.ready_in(10_001, bulk=False)
    first = asyncio.create_task(reply("first", 10_001))
    await asyncio.sleep(0)  # it finds no budget and waits for the next slot
    clock.now += next_slot + 1e-9  # the slot comes free ...
    later = asyncio.create_task(reply("later", 10_002))
    await asyncio.sleep(0)  # ... just as a later reply comes along: it must not take it
    gate.set()
    await asyncio.gather(first, later)
    assert order == ["first", "later"]
