"""What every use case needs: the storage, the clock, the random source and the settings it obeys."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.interpretation import Thresholds
from bot.domain.quiet_hours import next_allowed
from bot.storage import Storage


@dataclass(frozen=True)
class Policy:
    """The settings the use cases obey (a slice of Config, so services need no config file)."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Copenhagen"))
    language: str = "da"
    prompt_delay: timedelta = timedelta(minutes=30)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    reminder_after: timedelta = timedelta(hours=24)
    expire_after: timedelta = timedelta(hours=72)
    digest_time: time = time(8, 0)
    digest_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    team_report_weekday: int = 0
    team_report_time: time = time(9, 0)
    family_invite_ttl: timedelta = timedelta(days=14)
    caseworker_invite_ttl: timedelta = timedelta(days=7)
    thresholds: Thresholds = field(default_factory=Thresholds)
    on_withdrawal: str = "keep_answers"
    # Bad /start tokens allowed per user per hour before further tries are refused unseen.
    token_attempts_per_hour: int = 5

    def family_time(self, due: datetime) -> datetime:
        """Move a family-facing send out of quiet hours (Europe/Copenhagen, DST-safe)."""
        return next_allowed(due, self.quiet_start, self.quiet_end, self.timezone)


@dataclass
class Services:
    storage: Storage
    clock: Callable[[], datetime]
    policy: Policy = field(default_factory=Policy)
    random_bytes: Callable[[int], bytes] = secrets.token_bytes
    # Called after a transaction added outbox rows, so the dispatcher looks without waiting for its tick.
    wake: Callable[[], None] = lambda: None

    def now(self) -> datetime:
        return self.clock()
