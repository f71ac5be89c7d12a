"""The dispatcher: claims due outbox rows, runs the job for each kind, and maps what Telegram says.

The database is the only record of what is due. APScheduler (PTB's JobQueue) merely wakes this loop
every few seconds, and services wake it when they add a row; `run_due()` drains what is due and
returns, so tests drive it deterministically with a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.delivery.limits import FloodLimiter
from bot.delivery.sender import Refused, Unreachable, is_not_modified
from bot.storage import Storage
from bot.storage.models import OutboxRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """A job's result: what happened, in a few words for the outbox row (no personal data)."""

    outcome: str = "sent"


Job = Callable[[OutboxRow], Awaitable[Done]]
# Called when a chat turns out to be unreachable (403); returns True to retry the row (new destination).
UnreachableHandler = Callable[[OutboxRow, int], Awaitable[bool]]

MAX_ATTEMPTS = 12
BATCH = 64
MAX_WAIT_IN_LINE = 20.0  # seconds; a row whose chat is held longer is put back with a later due time
STOP_GRACE = 5.0  # seconds a stop (SIGTERM) gives the sends in hand before cutting them off


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** min(attempts, 10), 600))


class Dispatcher:
    def __init__(
        self,
        storage: Storage,
        clock: Callable[[], datetime],
        limiter: FloodLimiter,
        jobs: dict[str, Job],
        *,
        on_unreachable: UnreachableHandler | None = None,
        lease: timedelta = timedelta(minutes=5),
        concurrency: int = 32,
        batch_kinds: frozenset[str] = frozenset(),
    ) -> None:
        self.storage = storage
        # Kinds whose rows for one chat are handed to the job together (row.siblings), to be combined.
        self.batch_kinds = batch_kinds
        self.clock = clock
        self.limiter = limiter
        self.jobs = jobs
        self.on_unreachable = on_unreachable
        self.lease = lease
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._drain_lock = asyncio.Lock()
        self._idle = asyncio.Event()
        self._idle.set()
        self.sent = 0  # rows finished since start, for status and benchmarks

    # --- lifecycle -----------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="fitbot-dispatcher")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the sends in hand, put back the rows claimed but not started, then stop.

        SIGTERM drains, it does not drop: no new rows are claimed, a row waiting in line for its chat goes
        back to 'pending', and a send already under way finishes. Only one still running after `grace` is
        cut off; it stays 'sending' and is sent again at the next start (at least once).
        """
        self._stopping.set()
        try:
            task, self._task = self._task, None
            if task is not None:
                self._wake.set()
                finished, _ = await asyncio.wait({task}, timeout=grace)
                if not finished:
                    log.warning("sends still under way after %.0fs; cutting them off", grace)
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            async with self._drain_lock:
                pass
        finally:
            self._stopping.clear()  # run_due() may still be called directly (tests, tools)

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            await self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher round failed; retrying at the next wake-up")

    async def wait_idle(self) -> None:
        """Until no round is running (tests: after a wake-up, wait for its effects)."""
        await self._idle.wait()

    # --- one round -----------------------------------------------------------------------------

    async def release_stale_claims(self) -> int:
        """At start-up of the only instance: rows left 'sending' by a crash are due again now.

        Such a row may have reached Telegram just before the crash; it is sent again (at least once
        beats at most once for a family's prompt). The count is logged so an operator can see it.
        """
        async with self.storage.transaction() as repo:
            count = await repo.conn.execute(
                "UPDATE outbox SET status = 'pending', locked_until = NULL WHERE status = 'sending'"
            )
        if count:
            log.warning("%d send(s) were in flight at the last stop; sending them again", count)
        return count

    async def run_due(self) -> int:
        """Send everything due now; return how many rows were finished."""
        async with self._drain_lock:
            self._idle.clear()
            try:
                finished = 0
                while not self._stopping.is_set():
                    now = self.clock()
                    async with self.storage.transaction() as repo:
                        rows = await repo.claim_due(now, now + self.lease, BATCH)
                    if not rows:
                        return finished
                    finished += await self._run_rows(rows)
                return finished
            finally:
                self._idle.set()

    async def _run_rows(self, rows: list[OutboxRow]) -> int:
        # One task per chat: a chat's rows go in order; different chats go side by side.
        by_chat: dict[int | None, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            by_chat[row.chat_id].append(row)
        results = await asyncio.gather(*(self._run_chat(chat, chat_rows) for chat, chat_rows in by_chat.items()))
        return sum(results)

    def _batched(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """A chat's rows with each batchable kind folded into its first row's siblings."""
        out: list[OutboxRow] = []
        first: dict[str, int] = {}
        for row in rows:
            if row.kind not in self.batch_kinds:
                out.append(row)
            elif row.kind not in first:
                first[row.kind] = len(out)
                out.append(row)
            else:
                lead = out[first[row.kind]]
                out[first[row.kind]] = dataclasses.replace(lead, siblings=(*lead.siblings, row))
        return out

    async def _run_chat(self, chat_id: int | None, rows: list[OutboxRow]) -> int:
        finished = 0
        async with self._slots:
            for row in self._batched(rows) if chat_id is not None else rows:
                wait = self.limiter.ready_in(chat_id) if chat_id is not None else 0.0
                if wait > MAX_WAIT_IN_LINE:
                    await self._reschedule(row, timedelta(seconds=wait), "waiting for the chat's limit", tried=False)
                    continue
                # Wait in line here rather than in the limiter, where a stop could not call the row back.
                if self._stopping.is_set() or (wait > 0 and await self._stopped_within(wait)):
                    await self._reschedule(row, timedelta(0), "not sent: stopping", tried=False)
                    continue
                finished += await self._run_one(row)
        return finished

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
        return self._stopping.is_set()

    async def _run_one(self, row: OutboxRow) -> int:
        job = self.jobs.get(row.kind)
        if job is None:
            await self._finish(row, "failed", f"no job for kind {row.kind}")
            return 1
        try:
            done = await job(row)
        except RetryAfter as exc:
            seconds = exc.retry_after if isinstance(exc.retry_after, int | float) else exc.retry_after.total_seconds()
            await self._reschedule(row, timedelta(seconds=seconds), f"429 retry after {seconds}s", tried=False)
            return 0
        except Forbidden as exc:
            # The sender names the chat that refused (a prompt's row has none: its chat is found when it runs).
            chat_id = exc.chat_id if isinstance(exc, Unreachable) else row.chat_id
            return await self._unreachable(row, chat_id, exc.message)
        except BadRequest as exc:
            if is_not_modified(exc):
                await self._finish(row, "done", "not modified")
                return 1
            # The text is never logged: it may hold a family's scores. The method and the reason are enough.
            method = exc.method if isinstance(exc, Refused) else "a request"
            log.error("Bot API refused %s for %s row %d: %s", method, row.kind, row.id, exc.message)
            await self._finish(row, "failed", f"400 {exc.message}")
            return 1
        except (TimedOut, NetworkError) as exc:
            return await self._retry(row, f"network: {type(exc).__name__}")
        except Exception as exc:
            log.exception("job %s failed for row %d", row.kind, row.id)
            return await self._retry(row, f"error: {type(exc).__name__}")
        await self._finish(row, "done", done.outcome)
        self.sent += 1
        return 1

    async def _unreachable(self, row: OutboxRow, chat_id: int | None, reason: str) -> int:
        log.warning("%s row %d: chat unreachable (%s)", row.kind, row.id, reason)
        retry = False
        if self.on_unreachable is not None and chat_id is not None:
            retry = await self.on_unreachable(row, chat_id)
        if retry:
            await self._reschedule(row, timedelta(0), "403, new destination", tried=False)
            return 0
        await self._finish(row, "failed", "403 unreachable")
        return 1

    async def _retry(self, row: OutboxRow, reason: str) -> int:
        if row.attempts >= MAX_ATTEMPTS:
            log.error("%s row %d given up after %d attempts (%s)", row.kind, row.id, row.attempts, reason)
            await self._finish(row, "failed", reason)
            return 1
        await self._reschedule(row, backoff(row.attempts), reason)
        return 0

    async def _reschedule(self, row: OutboxRow, delay: timedelta, reason: str, *, tried: bool = True) -> None:
        """Put the row back, due after `delay`. Waiting (a 429, the chat's limit, a new destination) is not a
        failed try: the claim's attempt is given back, so a long flood wait neither uses up the retries
        nor lengthens the backoff of a real failure afterwards."""
        async with self.storage.transaction() as repo:
            for each in (row, *row.siblings):
                await repo.reschedule(each.id, self.clock() + delay, reason)
                if not tried:
                    await repo.conn.execute(
                        "UPDATE outbox SET attempts = attempts - 1 WHERE id = :id AND attempts > 0", {"id": each.id}
                    )

    async def _finish(self, row: OutboxRow, status: str, outcome: str) -> None:
        async with self.storage.transaction() as repo:
            for each in (row, *row.siblings):
                await repo.finish(each.id, status, outcome, self.clock())
