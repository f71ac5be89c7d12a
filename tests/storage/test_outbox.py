"""The outbox on both backends: dedupe, claiming (alone and by competing dispatchers), leases, cancelling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.storage import Storage
from bot.storage.repository import DUE_ROWS, Repository
from bot.storage.sqlite import SqliteDatabase
from tests.conftest import START
from tests.storage.seed import at, race

LEASE = timedelta(minutes=5)


async def keys(rows) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.dedupe_key for r in rows]


async def status_of(repo: Repository) -> dict[str, str]:
    return {r.dedupe_key: r.status for r in await repo.outbox_rows()}


async def test_enqueue_dedupes_by_key_forever(storage: Storage) -> None:
    async with storage.transaction() as repo:
        assert await repo.enqueue("prompt", "q:1:prompt", at(5), at(), payload={"questionnaire_id": 1}, priority=4)
        assert not await repo.enqueue("prompt", "q:1:prompt", at(9), at(1), payload={"other": True}, priority=1)
        assert await repo.enqueue("summary", "cw:1:summary:1", at(), at(), chat_id=-1001234567890123)
        rows = await repo.outbox_rows()
        row = rows[0]
        assert (row.kind, row.dedupe_key, row.chat_id, row.priority, row.status, row.attempts) == (
            "prompt",
            "q:1:prompt",
            None,
            4,
            "pending",
            0,
        )
        assert row.payload == {"questionnaire_id": 1}
        assert row.due_at == at(5)
        assert rows[1].chat_id == -1001234567890123
        assert rows[1].payload == {}
        assert await repo.outbox_rows("summary") == [rows[1]]
        # Done or cancelled rows still hold their key: "the prompt for questionnaire 1" exists once.
        await repo.finish(row.id, "done", "sent", at(6))
        assert not await repo.enqueue("prompt", "q:1:prompt", at(9), at(7))


async def test_claim_due_takes_due_rows_by_priority_then_due_time(storage: Storage) -> None:
    async with storage.transaction() as repo:
        await repo.enqueue("k", "late-low", at(-1), at(), priority=9)
        await repo.enqueue("k", "early-low", at(-30), at(), priority=9)
        await repo.enqueue("k", "urgent", at(0), at(), priority=1)
        await repo.enqueue("k", "normal-b", at(-5), at(), priority=5)
        await repo.enqueue("k", "normal-a", at(-5), at(), priority=5)  # same due: by id
        await repo.enqueue("k", "future", at(1), at(), priority=0)
    async with storage.transaction() as repo:
        first = await repo.claim_due(at(), at() + LEASE, 3)
        assert await keys(first) == ["urgent", "normal-b", "normal-a"]
        assert all(r.status == "sending" and r.attempts == 1 for r in first)
        rest = await repo.claim_due(at(), at() + LEASE, 10)
        assert await keys(rest) == ["early-low", "late-low"]
        assert await repo.claim_due(at(), at() + LEASE, 10) == []
        assert await keys(await repo.claim_due(at(1), at(1) + LEASE, 10)) == ["future"]


async def test_a_claim_with_an_expired_lease_is_claimed_again(storage: Storage) -> None:
    """A dispatcher that crashed mid-send: its rows come back once the lease runs out."""
    async with storage.transaction() as repo:
        await repo.enqueue("k", "a", at(), at())
        await repo.enqueue("k", "b", at(), at())
        assert len(await repo.claim_due(at(), at(5), 1)) == 1
        assert await keys(await repo.claim_due(at(1), at(6), 5)) == ["b"]
        assert await repo.claim_due(at(4), at(9), 5) == []  # both leased
        assert await repo.claim_due(at(5), at(10), 5) == []  # lease until 5: expired only after it
        again = await repo.claim_due(at(5.5), at(10), 5)
        assert await keys(again) == ["a"]
        assert again[0].attempts == 2


async def test_finish_and_reschedule(storage: Storage) -> None:
    async with storage.transaction() as repo:
        await repo.enqueue("k", "ok", at(), at())
        await repo.enqueue("k", "bad", at(), at())
        await repo.enqueue("k", "busy", at(), at())
        ok, bad, busy = await repo.claim_due(at(), at(5), 3)
        await repo.finish(ok.id, "done", "sent", at(1))
        await repo.finish(bad.id, "failed", "x" * 500, at(1))
        await repo.reschedule(busy.id, at(30), "retry after 429")
        assert await status_of(repo) == {"ok": "done", "bad": "failed", "busy": "pending"}
        row = await repo.conn.fetch_one(
            "SELECT outcome, done_at, locked_until FROM outbox WHERE id = :id", {"id": bad.id}
        )
        assert row is not None
        assert (len(row["outcome"]), row["done_at"], row["locked_until"]) == (200, "2026-11-24T09:01:00.000000Z", None)
        assert await repo.claim_due(at(29), at(40), 5) == []
        again = await repo.claim_due(at(30), at(40), 5)
        assert await keys(again) == ["busy"]
        assert again[0].attempts == 2
        assert again[0].due_at == at(30)


async def test_cancel_outbox_is_an_exact_prefix(storage: Storage) -> None:
    """'q:1:' is questionnaire 1's rows: never questionnaire 12's, never another case of letters."""
    keys_ = ["q:1:prompt", "q:1:reminder", "q:12:prompt", "q:1", "Q:1:prompt", "cw:1_x:a", "cw:1yx:a", "p%:a", "pp:a"]
    async with storage.transaction() as repo:
        for key in keys_:
            await repo.enqueue("k", key, at(), at())
        await repo.enqueue("k", "q:1:expire", at(), at())
        (sending,) = [r for r in await repo.claim_due(at(), at(5), 20) if r.dedupe_key == "q:1:expire"]
        await repo.conn.execute("UPDATE outbox SET status = 'pending' WHERE dedupe_key <> 'q:1:expire'")
        assert await repo.cancel_outbox("q:1:", at(1)) == 2
        assert await repo.cancel_outbox("q:1:", at(2)) == 0
        assert await repo.cancel_outbox("cw:1_", at(1)) == 1
        assert await repo.cancel_outbox("p%", at(1)) == 1
        statuses = await status_of(repo)
        assert sending.status == "sending"
    assert {k for k, s in statuses.items() if s == "cancelled"} == {"q:1:prompt", "q:1:reminder", "cw:1_x:a", "p%:a"}
    assert statuses["q:1:expire"] == "sending"  # in flight: not the canceller's to stop


async def test_next_due_at_and_outbox_stats(storage: Storage) -> None:
    async with storage.transaction() as repo:
        assert await repo.next_due_at() is None
        assert await repo.outbox_stats(at()) == {
            "pending": 0,
            "overdue": 0,
            "oldest_due": None,
            "retrying": 0,
            "failed": 0,
            "failed_no_destination": 0,
        }
        await repo.enqueue("k", "a", at(-10), at())
        await repo.enqueue("k", "b", at(-5), at())
        await repo.enqueue("k", "c", at(20), at())
        await repo.enqueue("k", "d", at(-20), at(), priority=0)
        await repo.enqueue("k", "e", at(-30), at(), priority=9)
        d, a = await repo.claim_due(at(), at(5), 2)
        assert (d.dedupe_key, a.dedupe_key) == ("d", "a")
        await repo.finish(d.id, "failed", "403", at())
        (b,) = await repo.claim_due(at(), at(5), 1)
        await repo.finish(b.id, "done", "sent", at())
        # pending: c (+20), e (-30); sending: a (-10); failed: d; done: b.
        assert await repo.next_due_at() == at(-30)
        stats = await repo.outbox_stats(at())
        assert stats == {
            "pending": 3,
            "overdue": 2,
            "oldest_due": at(-30),
            "retrying": 0,
            "failed": 1,
            "failed_no_destination": 0,
        }
        assert stats["oldest_due"].tzinfo is not None
        await repo.cancel_outbox("e", at())
        assert await repo.next_due_at() == at(20)  # a is sending: not "due" for the wake-up timer
        assert await repo.outbox_stats(at()) == {
            "pending": 2,
            "overdue": 1,
            "oldest_due": at(-10),
            "retrying": 0,
            "failed": 1,
            "failed_no_destination": 0,
        }
        # A row that failed (network) and waits for its next try is pending and "retrying", not overdue;
        # a post for a disabled caseworker is failed and counted as having no destination.
        (a_again,) = [r for r in await repo.outbox_rows() if r.dedupe_key == "a"]
        await repo.reschedule(a_again.id, at(10), "network: NetworkError")
        await repo.enqueue("summary", "s", at(-1), at())
        (s,) = await repo.claim_due(at(), at(5), 1)
        await repo.finish(s.id, "failed", "no destination: caseworker disabled", at())
        stats = await repo.outbox_stats(at())
        assert (stats["retrying"], stats["overdue"], stats["failed"], stats["failed_no_destination"]) == (1, 0, 2, 1)


async def test_only_the_claims_holder_finishes_reschedules_or_renews(storage: Storage) -> None:
    """The lease is the claim's token: after it ran out and the row was claimed again, the first holder's
    finish, reschedule and renew change nothing (another instance is sending it now)."""
    async with storage.transaction() as repo:
        await repo.enqueue("k", "a", at(), at())
        await repo.enqueue("k", "b", at(), at())
        first_a, first_b = await repo.claim_due(at(), at(5), 2)
        assert await repo.renew(first_b.id, at(5), at(6))  # the holder renews: the new lease is the token
        assert not await repo.renew(first_b.id, at(5), at(7))  # the old token no longer holds it
        # a's lease ran out (the holder stalled); another dispatcher claims it again, b's renewed lease holds.
        (second_a,) = await repo.claim_due(at(5.5), at(10.5), 5)
        assert second_a.id == first_a.id
        assert not await repo.finish(first_a.id, "done", "stale", at(6), claim=at(5))
        assert not await repo.reschedule(first_a.id, at(7), "stale", claim=at(5))
        assert not await repo.renew(first_a.id, at(5), at(11))
        row = await repo.conn.fetch_one(
            "SELECT status, outcome, attempts FROM outbox WHERE id = :id", {"id": first_a.id}
        )
        assert row is not None
        assert (row["status"], row["outcome"], row["attempts"]) == ("sending", None, 2)
        # The current holder's token works.
        assert await repo.reschedule(second_a.id, at(8), "429", claim=at(10.5), tried=False)
        assert await repo.finish(first_b.id, "done", "sent", at(6), claim=at(6))
        assert await status_of(repo) == {"a": "pending", "b": "done"}
        again = await repo.conn.fetch_one(
            "SELECT attempts, locked_until FROM outbox WHERE id = :id", {"id": first_a.id}
        )
        assert again is not None
        assert (again["attempts"], again["locked_until"]) == (1, None)  # a wait gave its attempt back
        assert not await repo.finish(first_b.id, "failed", "late", at(7), claim=at(6))  # done is done


async def test_move_chat_moves_the_link_and_the_rows_queued_for_it(storage: Storage) -> None:
    async with storage.transaction() as repo:
        cw = await repo.insert_caseworker("Lone", "Nord", "caseworker", at())
        await repo.link_channel(cw, -4242, "group", "FIT", at())
        await repo.enqueue("summary", "s:1", at(), at(), chat_id=-4242)
        await repo.enqueue("summary", "s:2", at(), at(), chat_id=-4242)
        await repo.enqueue("summary", "s:3", at(), at(), chat_id=-77)
        (done,) = await repo.claim_due(at(), at(5), 1)
        await repo.finish(done.id, "done", "sent", at())
        moved = await repo.move_chat(-4242, -1004242)
        assert moved is not None
        assert (moved.caseworker_id, moved.chat_id) == (cw, -1004242)
        assert (await repo.active_channel(cw)).chat_id == -1004242  # type: ignore[union-attr]
        assert [(r.dedupe_key, r.chat_id) for r in await repo.outbox_rows()] == [
            ("s:1", -4242),  # already sent there: history stays as it was
            ("s:2", -1004242),
            ("s:3", -77),
        ]
        assert await repo.move_chat(-4242, -1009999) is None  # nothing linked there any more


# --- competing dispatchers ------------------------------------------------------------------------------


async def test_two_dispatchers_never_claim_a_row_twice(
    storage: Storage, make_storage: Callable[[], Storage], dialect: str
) -> None:
    """The multi-instance guarantee: claims race in overlapping transactions on separate connections.

    On PostgreSQL both transactions have begun before either claims, so the second's UPDATE waits for
    the first's row locks and re-checks them; on SQLite the write lock makes them take turns.
    """
    other = make_storage()
    await other.open(START)
    total = 150
    async with storage.transaction() as repo:
        for i in range(total):
            await repo.enqueue("k", f"r:{i}", at(-(i % 11)), at(), priority=i % 3)

    async def drain(now_minutes: float) -> list[int]:
        claimed: list[int] = []
        for _ in range(total):  # bounded; ends when a round finds nothing
            results = await race(
                dialect,
                [storage, other],
                lambda repo: repo.claim_due(at(now_minutes), at(now_minutes) + LEASE, 6),
            )
            got = [row.id for rows in results for row in rows]
            if not got:
                break
            claimed += got
        return claimed

    first = await drain(0)
    assert len(first) == len(set(first)) == total
    # Both dispatchers died; after the lease, each row is reclaimed exactly once again.
    second = await drain(LEASE.total_seconds() / 60 + 1)
    assert sorted(second) == sorted(first)
    async with storage.transaction() as repo:
        assert {r.attempts for r in await repo.outbox_rows()} == {2}


async def test_postgres_claims_skip_rows_another_claim_holds(
    storage: Storage, make_storage: Callable[[], Storage], dialect: str
) -> None:
    """A dispatcher never waits for another's open claim: it takes other rows (FOR UPDATE SKIP LOCKED)."""
    if dialect != "postgres":
        pytest.skip("SQLite has one writer at a time: the second claim waits for the first by design")
    other = make_storage()
    await other.open(START)
    async with storage.transaction() as repo:
        for i in range(3):
            await repo.enqueue("k", f"k:{i}", at(-i), at())
            await repo.enqueue("summary", f"s:{i}", at(-i), at(), chat_id=5)
    async with storage.transaction() as first:
        mine = await first.claim_due(at(), at(5), 3)  # the three oldest
        async with asyncio.timeout(3), other.transaction() as second:
            theirs = await second.claim_due(at(), at(5), 10)
    ids_mine, ids_theirs = {r.id for r in mine}, {r.id for r in theirs}
    assert not ids_mine & ids_theirs
    assert len(ids_mine | ids_theirs) == 6
    assert ids_theirs


@pytest.mark.parametrize("update_id", [1, 2**40])
async def test_claim_update_under_concurrency_has_one_winner(
    storage: Storage, make_storage: Callable[[], Storage], dialect: str, update_id: int
) -> None:
    """An update delivered to two instances at once (webhook retry) is applied once."""
    other = make_storage()
    await other.open(START)
    results = await race(dialect, [storage, other], lambda repo: repo.claim_update(update_id, at()))
    assert sorted(results) == [False, True]


async def test_cancel_pending_cancels_exactly_those_keys_still_pending(storage: Storage) -> None:
    async with storage.transaction() as repo:
        for key in ("q:1:reminder", "q:1:expire", "q:12:reminder", "Q:1:reminder"):
            await repo.enqueue("k", key, at(), at())
        (sending,) = [r for r in await repo.claim_due(at(), at(5), 20) if r.dedupe_key == "q:1:expire"]
        await repo.conn.execute("UPDATE outbox SET status = 'pending' WHERE dedupe_key <> 'q:1:expire'")
        assert await repo.cancel_pending(["q:1:reminder", "q:1:expire", "q:9:expire"], at(1)) == 1
        assert await repo.cancel_pending(["q:1:reminder"], at(2)) == 0
        assert await repo.cancel_pending([], at(2)) == 0
        statuses = await status_of(repo)
    assert sending.status == "sending"
    assert statuses == {
        "q:1:reminder": "cancelled",
        "q:1:expire": "sending",  # in flight: not the canceller's to stop
        "q:12:reminder": "pending",
        "Q:1:reminder": "pending",
    }


async def test_cancel_pending_finds_its_rows_by_the_unique_key(tmp_path: Path) -> None:
    """SQLite: a questionnaire's end must not read every pending row (tens of thousands at 100,000 cases)."""
    db = SqliteDatabase(tmp_path / "plan.sqlite3")
    storage = Storage(db)
    await storage.open(START)
    try:
        statements: list[str] = []  # what cancel_pending really sends, parameters filled in
        assert db._conn is not None
        await db._conn.set_trace_callback(statements.append)
        async with storage.transaction() as repo:
            await repo.cancel_pending(["q:1:reminder", "q:1:expire"], at())
        await db._conn.set_trace_callback(None)
        (update,) = [s for s in statements if s.startswith("UPDATE outbox")]
        async with storage.transaction() as repo:
            plan = await repo.conn.fetch_all(f"EXPLAIN QUERY PLAN {update}")
        details = [str(r["detail"]) for r in plan]
        assert any("INDEX sqlite_autoindex_outbox_1 (dedupe_key=?)" in d for d in details), details
    finally:
        await storage.close()


async def test_the_claim_chooses_its_rows_from_the_index_alone(tmp_path: Path) -> None:
    """SQLite: no table read per due row (at 100,000 cases a week's due rows are tens of thousands)."""
    storage = Storage(SqliteDatabase(tmp_path / "plan.sqlite3"))
    await storage.open(START)
    try:
        async with storage.transaction() as repo:
            plan = await repo.conn.fetch_all(f"EXPLAIN QUERY PLAN {DUE_ROWS}", {"now": "x", "limit": 64})
        searches = [str(r["detail"]) for r in plan if "outbox" in str(r["detail"])]
        assert searches
        assert all("COVERING INDEX outbox_due" in s for s in searches), searches
    finally:
        await storage.close()
