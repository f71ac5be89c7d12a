"""PerChatOrder: one chat's updates strictly in arrival order, other chats' meanwhile."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update, User

from bot.delivery.limits import FloodLimiter, Limits
from bot.handlers.order import PerChatOrder


def _update(update_id: int, chat_id: int) -> Update:
    user = User(chat_id, "Person", is_bot=False)
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, None, chat, from_user=user, text="7"))  # type: ignore[arg-type]


async def test_one_chat_in_order_other_chats_meanwhile() -> None:
    processor = PerChatOrder()
    log: list[str] = []
    slow_started = asyncio.Event()
    release = asyncio.Event()

    async def handle(name: str, *, slow: bool = False) -> None:
        log.append(f"start {name}")
        if slow:
            slow_started.set()
            await release.wait()
        log.append(f"end {name}")

    # As PTB does: one task per update, created in arrival order.
    tasks = [
        asyncio.create_task(processor.process_update(_update(1, 10), handle("a1", slow=True))),
        asyncio.create_task(processor.process_update(_update(2, 10), handle("a2"))),
        asyncio.create_task(processor.process_update(_update(3, 20), handle("b1"))),
    ]
    await slow_started.wait()
    await asyncio.sleep(0.01)
    # Chat 20 went ahead while chat 10's first update waits; chat 10's second waits its turn.
    assert log == ["start a1", "start b1", "end b1"]
    release.set()
    await asyncio.gather(*tasks)
    assert log == ["start a1", "start b1", "end b1", "end a1", "start a2", "end a2"]
    assert processor._turns == {}  # nothing kept for chats with nothing in hand


async def test_many_updates_of_one_chat_keep_their_order() -> None:
    processor = PerChatOrder()
    seen: list[int] = []

    async def handle(n: int) -> None:
        await asyncio.sleep(0.001 * (n % 3))
        seen.append(n)

    await asyncio.gather(*(asyncio.create_task(processor.process_update(_update(n, 10), handle(n))) for n in range(30)))
    assert seen == list(range(30))


async def test_an_update_without_a_chat_is_not_held_back() -> None:
    processor = PerChatOrder()
    done = asyncio.Event()

    async def handle() -> None:
        done.set()

    await processor.process_update(Update(1), handle())
    assert done.is_set()


async def test_at_most_so_many_run_at_once_and_a_queue_in_one_chat_keeps_no_one_out() -> None:
    processor = PerChatOrder(running=2)
    running: set[str] = set()
    most = 0
    release = asyncio.Event()

    async def handle(name: str) -> None:
        nonlocal most
        running.add(name)
        most = max(most, len(running))
        await release.wait()
        running.discard(name)

    # Chat 10 has five updates queued behind its first; chat 20's update still gets the second runner.
    tasks = [asyncio.create_task(processor.process_update(_update(n, 10), handle(f"a{n}"))) for n in range(5)]
    tasks.append(asyncio.create_task(processor.process_update(_update(9, 20), handle("b"))))
    tasks.append(asyncio.create_task(processor.process_update(_update(10, 30), handle("c"))))
    await asyncio.sleep(0.01)
    assert running == {"a0", "b"}  # c waits for a runner, a1-a4 for chat 10's turn
    release.set()
    await asyncio.gather(*tasks)
    assert most == 2


def _limiter_with_one_slot(release: asyncio.Event) -> FloodLimiter:
    """One message a second and no burst: a second reply must sleep until `release` is set."""

    async def sleep(_seconds: float) -> None:
        await release.wait()

    return FloodLimiter(Limits(global_per_second=1.0), monotonic=lambda: 0.0, sleep=sleep)


async def test_a_reply_waiting_for_a_flood_limit_slot_lends_its_runner() -> None:
    processor = PerChatOrder(running=1)
    release = asyncio.Event()
    limiter = _limiter_with_one_slot(release)
    log: list[str] = []

    async def waiting_reply() -> None:
        await limiter.acquire(10, bulk=False)  # the only slot of this second
        await limiter.acquire(10, bulk=False)  # sleeps for the next one, its runner lent meanwhile
        log.append("a replied")

    async def other_tap() -> None:
        log.append("b handled")

    a = asyncio.create_task(processor.process_update(_update(1, 10), waiting_reply()))
    await asyncio.sleep(0.01)
    b = asyncio.create_task(processor.process_update(_update(2, 20), other_tap()))
    await asyncio.sleep(0.01)
    assert log == ["b handled"]  # not kept out by a's sleep
    release.set()
    await asyncio.gather(a, b)
    assert log == ["b handled", "a replied"]
    assert processor._running._value == 1  # every runner back


async def test_a_task_that_outlives_its_handler_never_keeps_a_runner() -> None:
    processor = PerChatOrder(running=1)
    release, spawned_sleeps = asyncio.Event(), asyncio.Event()
    limiter = _limiter_with_one_slot(release)
    tasks: list[asyncio.Task[None]] = []

    async def chart_afterwards() -> None:
        await limiter.acquire(10, bulk=False)
        spawned_sleeps.set()
        await limiter.acquire(10, bulk=False)  # lends the handler's runner, wakes after the handler is done

    async def handler() -> None:
        tasks.append(asyncio.create_task(chart_afterwards()))  # copies the handler's context, runner and all
        await spawned_sleeps.wait()
        await asyncio.sleep(0.01)

    await processor.process_update(_update(1, 10), handler())
    release.set()
    await asyncio.gather(*tasks)
    assert processor._running._value == 1
