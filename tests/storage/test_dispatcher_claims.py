"""Two dispatchers on one database (two instances on PostgreSQL; two connections to one SQLite file): slow
sends never make a row go out twice. Fake jobs on a fake clock; each backend runs the same tests."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.delivery.dispatcher import Dispatcher, Done, Job, backoff
from bot.delivery.limits import FloodLimiter, clock_time
from bot.storage import Storage
from bot.storage.models import OutboxRow
from tests.conftest import START

LEASE = timedelta(minutes=5)
SLOW = timedelta(minutes=2)  # each send takes this long (fake time): six of them outlast one lease


async def two_dispatchers(
    storage: Storage,
    make_storage: Callable[[], Storage],
    clock: FakeClock,
    jobs_a: dict[str, Job],
    jobs_b: dict[str, Job],
) -> tuple[Dispatcher, Dispatcher]:
    other = make_storage()
    await other.open(START)

    def make(s: Storage, jobs: dict[str, Job]) -> Dispatcher:
        return Dispatcher(s, clock.now, FloodLimiter(monotonic=clock_time(clock.now)), jobs, lease=LEASE)

    return make(storage, jobs_a), make(other, jobs_b)


async def enqueue(storage: Storage, kind: str, count: int, first: int = 0) -> None:
    async with storage.transaction() as repo:
        for n in range(first, first + count):
            await repo.enqueue(kind, f"{kind}:{n}", START, START)


async def outcomes(storage: Storage) -> dict[str, tuple[str, str | None]]:
    async with storage.transaction() as repo:
        rows = await repo.conn.fetch_all("SELECT dedupe_key, status, outcome FROM outbox ORDER BY id")
    return {r["dedupe_key"]: (r["status"], r["outcome"]) for r in rows}


async def test_a_slow_batch_keeps_its_rows_or_hands_them_over_but_never_sends_one_twice(
    storage: Storage, make_storage: Callable[[], Storage], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Six rows without a chat run one after another in one task; each send takes two minutes, so the
    batch outlasts its five-minute lease. Another dispatcher (whose sends are quick) looks in after every
    send. A row's lease is renewed before it runs when half of it is gone; rows still in line whose lease
    ran out are taken over by the other instance, and the first one then leaves them alone."""
    sent: Counter[tuple[str, int]] = Counter()
    b: Dispatcher | None = None

    async def slow(row: OutboxRow) -> Done:
        sent[("a", row.id)] += 1
        clock.advance(SLOW)
        assert b is not None
        await b.run_due()  # the other instance claims whatever it can (its sends take no time)
        return Done("sent by a")

    async def quick(row: OutboxRow) -> Done:
        sent[("b", row.id)] += 1
        return Done("sent by b")

    a, b = await two_dispatchers(storage, make_storage, clock, {"send": slow}, {"send": quick})
    await enqueue(storage, "send", 6)
    clock.set(START)
    await a.run_due()
    per_row = Counter(row for _who, row in sent.elements())
    assert sorted(per_row.values()) == [1] * 6, sent  # every row once, whoever sent it
    assert {status for status, _ in (await outcomes(storage)).values()} == {"done"}
    # The other instance did get rows (a's lease on the rows in line ran out), and a saw it had lost them.
    assert any(who == "b" for who, _row in sent)
    assert any("claim lost" in r.getMessage() for r in caplog.records)


async def test_a_stalled_holder_cannot_overwrite_what_the_new_holder_did(
    storage: Storage, make_storage: Callable[[], Storage], clock: FakeClock
) -> None:
    """A dispatcher stalls past its lease in the middle of a job (in real life a job is cut off after a
    quarter of the lease; here the fake clock jumps). The other instance claims the row again and finishes
    it; when the stalled one wakes up, its finish changes nothing and it sends none of the rows it lost."""
    sent: list[tuple[str, int]] = []
    b: Dispatcher | None = None

    async def stall(row: OutboxRow) -> Done:
        clock.advance(LEASE + timedelta(minutes=1))
        assert b is not None
        await b.run_due()
        return Done("finished by a")

    async def quick(row: OutboxRow) -> Done:
        return Done("finished by b")

    def sender(who: str) -> Job:
        async def send(row: OutboxRow) -> Done:
            sent.append((who, row.id))
            return Done(f"sent by {who}")

        return send

    a, b = await two_dispatchers(
        storage, make_storage, clock, {"stall": stall, "send": sender("a")}, {"stall": quick, "send": sender("b")}
    )
    await enqueue(storage, "stall", 1)
    await enqueue(storage, "send", 3)
    clock.set(START)
    await a.run_due()
    assert [who for who, _ in sent] == ["b"] * 3
    assert await outcomes(storage) == {
        "stall:0": ("done", "finished by b"),
        "send:0": ("done", "sent by b"),
        "send:1": ("done", "sent by b"),
        "send:2": ("done", "sent by b"),
    }


async def test_a_job_that_hangs_is_cut_off_well_inside_its_lease_and_tried_again(
    storage: Storage, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    hung = asyncio.Event()

    async def hang(row: OutboxRow) -> Done:
        hung.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    dispatcher = Dispatcher(
        storage, clock.now, FloodLimiter(monotonic=clock_time(clock.now)), {"hang": hang}, lease=LEASE, job_timeout=0.05
    )
    assert Dispatcher(storage, clock.now, FloodLimiter(), {}).job_timeout == LEASE.total_seconds() / 4
    await enqueue(storage, "hang", 1)
    with caplog.at_level(logging.WARNING):
        assert await dispatcher.run_due() == 0
    assert hung.is_set()
    async with storage.transaction() as repo:
        (row,) = await repo.outbox_rows()
    assert (row.status, row.attempts, row.due_at) == ("pending", 1, clock.now() + backoff(1))
    assert (await outcomes(storage))["hang:0"] == ("pending", "network: job timed out")


async def test_gathered_rows_partly_taken_over_are_put_back_not_stranded(
    storage: Storage, make_storage: Callable[[], Storage], clock: FakeClock
) -> None:
    """Summaries for one channel are handed to one job together. When one of them was claimed by the other
    instance meanwhile, the rest go back at once (not left 'sending' until their lease runs out) and are
    sent on the next claim: each exactly once."""
    sent: list[tuple[str, tuple[str, ...]]] = []
    b: Dispatcher | None = None

    async def slow(row: OutboxRow) -> Done:
        clock.advance(minutes=3)
        async with storage.transaction() as repo:  # summary:2's lease ran out (say, a clock step)
            await repo.conn.execute(
                "UPDATE outbox SET locked_until = :t WHERE dedupe_key = 'summary:2'",
                {"t": "2000-01-01T00:00:00.000000Z"},
            )
        assert b is not None
        await b.run_due()
        return Done()

    def summaries(who: str) -> Job:
        async def send(row: OutboxRow) -> Done:
            sent.append((who, tuple(r.dedupe_key for r in (row, *row.siblings))))
            return Done()

        return send

    other = make_storage()
    await other.open(START)
    limiter = FloodLimiter(monotonic=clock_time(clock.now))
    gather = frozenset({"summary"})
    a = Dispatcher(storage, clock.now, limiter, {"slow": slow, "summary": summaries("a")}, batch_kinds=gather)
    b = Dispatcher(other, clock.now, limiter, {"slow": slow, "summary": summaries("b")}, batch_kinds=gather)
    async with storage.transaction() as repo:
        await repo.enqueue("slow", "slow:0", START, START, chat_id=-100, priority=1)
        for n in range(3):
            await repo.enqueue("summary", f"summary:{n}", START, START, chat_id=-100)
    clock.set(START)
    await a.run_due()
    assert sorted(sent) == [("a", ("summary:0", "summary:1")), ("b", ("summary:2",))]
    assert {status for status, _ in (await outcomes(storage)).values()} == {"done"}
