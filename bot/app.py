"""The one file that wires FIT-bot: config -> storage, services, dispatcher, handlers, jobs."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Updater

from bot import handlers
from bot.clock import SystemClock
from bot.config import Config
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.limits import FloodLimiter, Limits, clock_time
from bot.handlers import menus
from bot.handlers.common import RUNTIME_KEY, Runtime
from bot.handlers.inbox import Inbox
from bot.handlers.order import PerChatOrder
from bot.i18n import set_wording_overrides
from bot.jobs import Jobs
from bot.services.context import Policy, Services
from bot.services.schedule import plan_periodic
from bot.storage import Storage, create_storage
from bot.storage.sqlite import SqliteDatabase, instance_lock

log = logging.getLogger(__name__)

WAKE_EVERY = 2.0  # seconds between APScheduler's nudges to the dispatcher
PLAN_EVERY = 3600.0  # seconds between planning runs (digests, reports) and housekeeping


def policy_from(config: Config) -> Policy:
    return Policy(
        timezone=config.timezone,
        language=config.language,
        prompt_delay=config.prompt_delay,
        quiet_start=config.quiet_start,
        quiet_end=config.quiet_end,
        reminder_after=config.reminder_after,
        expire_after=config.expire_after,
        digest_time=config.digest_time,
        digest_weekdays=config.digest_weekdays,
        team_report_weekday=config.team_report_weekday,
        team_report_time=config.team_report_time,
        family_invite_ttl=config.family_invite_ttl,
        caseworker_invite_ttl=config.caseworker_invite_ttl,
        thresholds=config.thresholds,
        on_withdrawal=config.on_withdrawal,
    )


@dataclass
class FitBot:
    """Everything wired together; tests and the sandbox reach in through these names."""

    application: Application  # type: ignore[type-arg]
    svc: Services
    dispatcher: Dispatcher
    limiter: FloodLimiter
    runtime: Runtime
    inbox: Inbox
    _stack: ExitStack = field(default_factory=ExitStack)
    _contact_written: float = 0.0

    @property
    def storage(self) -> Storage:
        return self.svc.storage

    async def start_services(self) -> None:
        """Open the database (migrating it), learn the bot's name, set menus, start the dispatcher."""
        now = self.svc.now()
        # One bot per SQLite file: a second instance would send every prompt twice.
        if isinstance(self.storage.db, SqliteDatabase) and not self._stack.enter_context(
            instance_lock(self.storage.db.path)
        ):
            raise RuntimeError(f"another FIT-bot is running on {self.storage.db.path}")
        applied = await self.storage.open(now)
        if applied:
            log.info("database migrated to version %d", applied[-1])
        me = await self.application.bot.get_me()
        self.runtime.bot_username = me.username or ""
        async with self.storage.transaction() as repo:
            await repo.set_health("bot_username", self.runtime.bot_username, now)
        await menus.set_defaults(self.application.bot)
        if isinstance(self.storage.db, SqliteDatabase):
            # The only instance on this file: what a crash left 'sending' is due again now. With PostgreSQL
            # other instances may be sending right now, so their rows wait for their lease to run out.
            await self.dispatcher.release_stale_claims()
        replayed = await self.inbox.replay(self.application.update_queue)
        if replayed:
            log.info("%d update(s) not handled at the last stop are handled now", replayed)
        await plan_periodic(self.svc)
        self.dispatcher.start()
        self.dispatcher.wake()
        queue = self.application.job_queue
        if queue is not None:
            queue.run_repeating(self._nudge, interval=WAKE_EVERY, first=WAKE_EVERY, name="wake-dispatcher")
            queue.run_repeating(self._hourly, interval=PLAN_EVERY, first=PLAN_EVERY, name="plan-and-tidy")
        log.info("FIT-bot is running as @%s", self.runtime.bot_username)

    async def start(self, *, poll_timeout: int = 10) -> None:
        """Run inside an existing event loop (the sandbox, tests): what run_polling does, without owning it."""
        await self.application.initialize()
        await self.start_services()
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            poll_interval=0.0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES
        )

    async def stop(self) -> None:
        """What run_polling does on SIGTERM, in PTB's order (see build: post_stop, then post_shutdown)."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.drain()
        await self.application.shutdown()
        await self.stop_services()

    async def drain(self) -> None:
        """Write the last handled marks, and let the dispatcher finish the send in hand. Runs while the
        bot's HTTP client is still open: PTB's shutdown() closes it, and a send cut off there would count as
        a failed try (and might have reached Telegram, so it would be sent again)."""
        await self.inbox.flush()
        await self.dispatcher.stop()

    async def stop_services(self) -> None:
        await self.dispatcher.stop()  # a no-op after drain(); here for a start-up that failed half-way
        await self.inbox.flush()
        await self.record_contact()
        await self.storage.close()
        self._stack.close()

    async def _nudge(self, _context: ContextTypes.DEFAULT_TYPE) -> None:
        self.dispatcher.wake()
        if self.limiter.last_success is not None and self.limiter.last_success - self._contact_written > 60:
            await self.record_contact()

    async def record_contact(self) -> None:
        """Write when the Bot API last answered (for `fitbot status`), at most about once a minute."""
        seen = self.limiter.last_success
        if seen is None or seen == self._contact_written:
            return
        self._contact_written = seen
        when = self.svc.now() - timedelta(seconds=max(0.0, self.limiter.clock() - seen))
        async with self.storage.transaction() as repo:
            await repo.set_health("last_api_contact", "ok", when)

    async def _hourly(self, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.housekeeping()

    async def housekeeping(self) -> None:
        """Plan the next digests; forget old update ids and failed-token marks."""
        await plan_periodic(self.svc)
        await self.inbox.prune()
        now = self.svc.now()
        async with self.storage.transaction() as repo:
            await repo.prune_processed_updates(now - timedelta(days=7))
            await repo.prune_token_failures(now - timedelta(days=1))
        self.dispatcher.wake()


def build(
    config: Config,
    *,
    clock: Callable[[], datetime] | None = None,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    storage: Storage | None = None,
    limits: Limits | None = None,
) -> FitBot:
    # Read and checked by bot.config.load, so a bad file was already a configuration error (exit 2).
    set_wording_overrides(
        {
            (i, item, field, lang): getattr(text, field)
            for (i, item, lang), text in config.wording_overrides.items()
            for field in ("question", "low", "high")
        }
    )
    storage = storage or create_storage(config.database_path, config.postgres_dsn)
    svc = Services(
        storage=storage, clock=clock or SystemClock().now, policy=policy_from(config), random_bytes=random_bytes
    )
    limiter = FloodLimiter(
        limits
        or Limits(
            global_per_second=config.global_per_second,
            private_per_second=config.private_per_second,
            group_per_minute=config.group_per_minute,
        ),
        monotonic=clock_time(svc.now),
    )
    application = (
        ApplicationBuilder()
        .token(config.telegram_token)
        .base_url(config.base_url)
        .base_file_url(config.base_file_url)
        .rate_limiter(limiter)
        .concurrent_updates(order := PerChatOrder())
        .build()
    )
    # getUpdates bypasses PTB's rate limiter: polling reports its contacts itself, for `fitbot status`.
    inbox = Inbox(application.bot, storage, svc.now, on_contact=limiter.note_contact)
    order.on_handled = inbox.handled
    application.updater = Updater(inbox, application.update_queue)  # type: ignore[arg-type]
    jobs = Jobs(application.bot, svc, limiter)
    dispatcher = Dispatcher(
        storage,
        svc.now,
        limiter,
        jobs.registry(),
        on_unreachable=jobs.on_unreachable,
        on_migrated=jobs.on_migrated,
        on_failed=jobs.on_failed,
        batch_kinds=frozenset({"summary"}),
    )
    svc.wake = dispatcher.wake
    runtime = Runtime(svc=svc, wake_dispatcher=dispatcher.wake)
    application.bot_data[RUNTIME_KEY] = runtime
    handlers.register(application)
    fitbot = FitBot(application, svc, dispatcher, limiter, runtime, inbox)

    async def post_init(_app: Application) -> None:  # type: ignore[type-arg]
        await fitbot.start_services()

    async def post_stop(_app: Application) -> None:  # type: ignore[type-arg]
        # After polling and the update in hand have stopped, before shutdown() closes the HTTP client.
        await fitbot.drain()

    async def post_shutdown(_app: Application) -> None:  # type: ignore[type-arg]
        await fitbot.stop_services()

    application.post_init = post_init
    application.post_stop = post_stop
    application.post_shutdown = post_shutdown
    return fitbot


def run_polling(fitbot: FitBot) -> None:
    """Run until SIGINT/SIGTERM: PTB stops polling and finishes the update in hand; post_stop lets the
    dispatcher finish the send in hand while the HTTP client is open; post_shutdown closes the database."""
    fitbot.application.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
