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

from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.delivery.limits import FloodLimiter
from bot.delivery.sender import Migrated, Refused, Unreachable, is_not_modified, lacks_rights
from bot.storage import Storage
from bot.storage.models import OutboxRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    """A job's result: what happened, in a few words for the outbox row (no personal data)."""

    outcome: str = "sent"


class Later(Exception):
    """Raised by a job: not now, try this row again at `until` (quiet hours). Not a failed try."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


class Undeliverable(Exception):
    """Raised by a job: this row can never be delivered; it is recorded as failed with `reason`
    (no personal data), where `fitbot status` counts it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Job = Callable[[OutboxRow], Awaitable[Done]]
# Called when a chat turns out to be unreachable (403); returns True to retry the row (new destination).
UnreachableHandler = Callable[[OutboxRow, int], Awaitable[bool]]
# Called when a group became a supergroup: (row, old chat id, new chat id); True to retry the row there.
MigratedHandler = Callable[[OutboxRow, int, int], Awaitable[bool]]
# Called when a row is given up on for good (failed), so what waited for it is not left waiting.
FailedHandler = Callable[[OutboxRow], Awaitable[None]]

# Programming errors (anything but Telegram's answers and the network) are tried this many times.
# Network errors, time-outs and 5xx are not counted against any limit: a row is tried again, at most
# MAX_BACKOFF apart, until it is sent or no longer useful (the job decides: a prompt past its
# questionnaire's expiry is recorded as missed, a reminder after it is not needed), or past its kind's
# shelf life below. Alerts are never given up on.
MAX_ATTEMPTS = 12
MAX_BACKOFF = 600  # seconds
SHELF_LIFE = {"digest": timedelta(days=4), "team_report": timedelta(days=14)}  # since the row was made
NEVER_GIVE_UP = frozenset({"alert"})
BATCH = 64
MAX_WAIT_IN_LINE = 20.0  # seconds; a row whose chat is held longer is put back with a later due time
STOP_GRACE = 5.0  # seconds a stop (SIGTERM) gives the sends in hand before cutting them off


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** min(attempts, 10), MAX_BACKOFF))


class Dispatcher:
    def __init__(
        self,
        storage: Storage,
        clock: Callable[[], datetime],
        limiter: FloodLimiter,
        jobs: dict[str, Job],
        *,
        on_unreachable: UnreachableHandler | None = None,
        on_migrated: MigratedHandler | None = None,
        on_failed: FailedHandler | None = None,
        lease: timedelta = timedelta(minutes=5),
        job_timeout: float | None = None,
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
        self.on_migrated = on_migrated
        self.on_failed = on_failed
        # Claims are leases (the lease is the claim's token, see Repository.claim_due). A row's lease is
        # renewed before its job runs whenever less than half of it is left, and a job may take at most a
        # quarter of it: a live dispatcher never sends a row whose lease has run out, so another instance
        # (PostgreSQL) that claims it again after the lease can only be taking over from a dead one.
        self.lease = lease
        self.job_timeout = job_timeout if job_timeout is not None else lease.total_seconds() / 4
        self._claims: dict[int, datetime] = {}  # row id -> the lease (token) this dispatcher holds
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
                    for row in rows:
                        self._claims[row.id] = now + self.lease
                    try:
                        finished += await self._run_rows(rows)
                    finally:
                        for row in rows:
                            self._claims.pop(row.id, None)
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

    async def _hold(self, row: OutboxRow) -> bool:
        """Make sure this dispatcher still holds the row (and its siblings) for longer than a job may take:
        renew the lease when half of it is gone. False when another instance has claimed it meanwhile."""
        now = self.clock()
        rows = (row, *row.siblings)
        if all(self._claims.get(r.id, now) - now >= self.lease / 2 for r in rows):
            return True
        lease = now + self.lease
        held, lost = [], 0
        async with self.storage.transaction() as repo:
            for each in rows:
                claim = self._claims.get(each.id)
                if claim is not None and await repo.renew(each.id, claim, lease):
                    self._claims[each.id] = lease
                    held.append(each)
                else:
                    lost += 1
            if lost:
                # Siblings still ours go back at once (for whoever claims them next), not left 'sending'.
                for each in held:
                    await repo.reschedule(
                        each.id, now, "claim partly lost", claim=self._claims.pop(each.id), tried=False
                    )
        if lost:
            log.warning("%s row %d: claim lost to another dispatcher; not sending it here", row.kind, row.id)
        return not lost

    async def _run_one(self, row: OutboxRow) -> int:
        job = self.jobs.get(row.kind)
        if job is None:
            await self._finish(row, "failed", f"no job for kind {row.kind}")
            return 1
        if not await self._hold(row):
            return 0
        try:
            async with asyncio.timeout(self.job_timeout):
                done = await job(row)
        except Later as exc:
            await self._reschedule_at(row, exc.until, exc.reason, tried=False)
            return 0
        except Undeliverable as exc:
            log.warning("%s row %d cannot be delivered: %s", row.kind, row.id, exc.reason)
            await self._fail(row, exc.reason)
            return 1
        except RetryAfter as exc:
            seconds = exc.retry_after if isinstance(exc.retry_after, int | float) else exc.retry_after.total_seconds()
            await self._reschedule(row, timedelta(seconds=seconds), f"429 retry after {seconds}s", tried=False)
            return 0
        except ChatMigrated as exc:
            return await self._migrated(row, exc)
        except Forbidden as exc:
            # The sender names the chat that refused (a prompt's row has none: its chat is found when it runs).
            chat_id = exc.chat_id if isinstance(exc, Unreachable) else row.chat_id
            return await self._unreachable(row, chat_id, exc.message)
        except BadRequest as exc:
            if is_not_modified(exc):
                await self._finish(row, "done", "not modified")
                return 1
            chat_id = exc.chat_id if isinstance(exc, Refused) else row.chat_id
            if chat_id is not None and chat_id < 0 and lacks_rights(exc):
                # The bot may not post in the caseworker's channel (rights taken away, or the chat is gone):
                # like a 403 for a channel, so the post goes to the caseworker's private chat instead.
                return await self._unreachable(row, chat_id, exc.message, outcome="400 no rights in the chat")
            # The text is never logged: it may hold a family's scores. The method and the reason are enough.
            method = exc.method if isinstance(exc, Refused) else "a request"
            log.error("Bot API refused %s for %s row %d: %s", method, row.kind, row.id, exc.message)
            await self._fail(row, f"400 {exc.message}")
            return 1
        except (TimedOut, NetworkError) as exc:
            return await self._retry(row, f"network: {type(exc).__name__}", transient=True)
        except TimeoutError:
            log.warning(
                "%s row %d: the job took longer than %.0fs; trying again later", row.kind, row.id, self.job_timeout
            )
            return await self._retry(row, "network: job timed out", transient=True)
        except Exception as exc:
            log.exception("job %s failed for row %d", row.kind, row.id)
            return await self._retry(row, f"error: {type(exc).__name__}", transient=row.kind in NEVER_GIVE_UP)
        await self._finish(row, "done", done.outcome)
        self.sent += 1
        return 1

    async def _migrated(self, row: OutboxRow, exc: ChatMigrated) -> int:
        chat_id = exc.chat_id if isinstance(exc, Migrated) else row.chat_id
        log.warning("%s row %d: the group became a supergroup; moving its link", row.kind, row.id)
        if row.attempts >= MAX_ATTEMPTS:  # moved again and again: something is wrong, not a new id
            await self._fail(row, "400 chat migrated to a supergroup, again and again")
            return 1
        if (
            self.on_migrated is not None
            and chat_id is not None
            and await self.on_migrated(row, chat_id, exc.new_chat_id)
        ):
            await self._reschedule(row, timedelta(0), "group migrated to a supergroup")
            return 0
        await self._fail(row, "400 chat migrated to a supergroup")
        return 1

    async def _unreachable(
        self, row: OutboxRow, chat_id: int | None, reason: str, *, outcome: str = "403 unreachable"
    ) -> int:
        log.warning("%s row %d: chat unreachable (%s)", row.kind, row.id, reason)
        retry = False
        if self.on_unreachable is not None and chat_id is not None:
            retry = await self.on_unreachable(row, chat_id)
        if retry:
            await self._reschedule(row, timedelta(0), f"{outcome}, new destination", tried=False)
            return 0
        await self._fail(row, outcome)
        return 1

    def _expired(self, row: OutboxRow) -> bool:
        """Past its kind's shelf life (a digest days late is replaced by the next one)."""
        life = SHELF_LIFE.get(row.kind)
        return life is not None and row.created_at is not None and self.clock() - row.created_at > life

    async def _retry(self, row: OutboxRow, reason: str, *, transient: bool) -> int:
        """Try again after a backoff. A transient failure has no limit on tries (see MAX_ATTEMPTS)."""
        if (not transient and row.attempts >= MAX_ATTEMPTS) or self._expired(row):
            log.error("%s row %d given up after %d attempts (%s)", row.kind, row.id, row.attempts, reason)
            await self._fail(row, f"gave up after {row.attempts} attempts: {reason}")
            return 1
        if row.attempts and row.attempts % 10 == 0:
            log.warning("%s row %d: still failing after %d attempts (%s)", row.kind, row.id, row.attempts, reason)
        await self._reschedule(row, backoff(row.attempts), reason)
        return 0

    async def _reschedule(self, row: OutboxRow, delay: timedelta, reason: str, *, tried: bool = True) -> None:
        await self._reschedule_at(row, self.clock() + delay, reason, tried=tried)

    async def _reschedule_at(self, row: OutboxRow, due: datetime, reason: str, *, tried: bool = True) -> None:
        """Put the row back, due at `due`. Waiting (a 429, the chat's limit, quiet hours, a new destination) is
        not a failed try: the claim's attempt is given back, so a long flood wait neither uses up the retries
        nor lengthens the backoff of a real failure afterwards."""
        lost = 0
        async with self.storage.transaction() as repo:
            for each in (row, *row.siblings):
                lost += not await repo.reschedule(
                    each.id, due, reason, claim=self._claims.pop(each.id, None), tried=tried
                )
        if lost:
            log.warning("%s row %d: claim lost before it was put back (another dispatcher has it)", row.kind, row.id)

    async def _fail(self, row: OutboxRow, outcome: str) -> None:
        await self._finish(row, "failed", outcome)
        if self.on_failed is not None:
            for each in (row, *row.siblings):
                try:
                    await self.on_failed(each)
                except Exception:
                    log.exception("after %s row %d failed", each.kind, each.id)

    async def _finish(self, row: OutboxRow, status: str, outcome: str) -> None:
        lost = 0
        async with self.storage.transaction() as repo:
            for each in (row, *row.siblings):
                lost += not await repo.finish(
                    each.id, status, outcome, self.clock(), claim=self._claims.pop(each.id, None)
                )
        if lost:
            log.warning("%s row %d: claim lost before it was finished (another dispatcher has it)", row.kind, row.id)
