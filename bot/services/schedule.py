"""Periodic sends (daily digests, weekly team reports) planned as outbox rows with unique keys.

Planning is idempotent: the key names the caseworker and the day (or week), so running the planner at
every start and every hour adds each digest once. After downtime the planned row is simply overdue and
goes out once; the next one is planned from the new "now".
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.services.context import Services


def next_occurrence(now: datetime, at: time, weekdays: tuple[int, ...], tz: ZoneInfo) -> datetime:
    """The first local `at` on one of `weekdays` strictly after `now` (as an aware datetime)."""
    local = now.astimezone(tz)
    for offset in range(8):
        day: date = local.date() + timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        candidate = datetime.combine(day, at, tzinfo=tz)
        # Normalise through UTC so a wall time in a DST gap lands on a real instant.
        candidate = candidate.astimezone(ZoneInfo("UTC")).astimezone(tz)
        if candidate > local:
            return candidate
    raise ValueError("weekdays must not be empty")


async def plan_periodic(svc: Services) -> int:
    """Make sure each active caseworker's (and leader's) next digest and each leader's next team report
    is queued."""
    now = svc.now()
    p = svc.policy
    digest_at = next_occurrence(now, p.digest_time, p.digest_weekdays, p.timezone)
    report_at = next_occurrence(now, p.team_report_time, (p.team_report_weekday,), p.timezone)
    added = 0
    async with svc.storage.transaction() as repo:
        for caseworker in await repo.caseworkers():
            if not caseworker.active or caseworker.telegram_user_id is None:
                continue
            # Everyone gets a digest of their own cases (a leader with cases too; without any, the
            # digest job sends nothing); leaders also get the team report.
            planned = [("digest", f"cw:{caseworker.id}:digest:{digest_at.date().isoformat()}", digest_at)]
            if caseworker.is_leader:
                planned.append(("team_report", f"cw:{caseworker.id}:report:{report_at.date().isoformat()}", report_at))
            for kind, key, due in planned:
                added += await repo.enqueue(
                    kind, key, due, now, chat_id=None, payload={"caseworker_id": caseworker.id}, priority=6
                )
    return added
