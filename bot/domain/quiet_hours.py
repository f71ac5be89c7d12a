"""Keep messages out of the night: move a due time past the local quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def in_quiet_hours(local: time, quiet_start: time, quiet_end: time) -> bool:
    """Whether a local wall-clock time is quiet; start is quiet, end is allowed again.

    A window with start after end crosses midnight (21:00-08:00); start == end means no quiet hours.
    """
    if quiet_start < quiet_end:
        return quiet_start <= local < quiet_end
    if quiet_start > quiet_end:
        return local >= quiet_start or local < quiet_end
    return False


def next_allowed(due: datetime, quiet_start: time, quiet_end: time, tz: ZoneInfo) -> datetime:
    """``due`` (in UTC) when outside the quiet hours in ``tz``, else the next ``quiet_end`` local time.

    Works on local wall-clock times, so 08:00 stays 08:00 across a DST change. Should ``quiet_end``
    itself fall in a DST gap, it is pushed forward by the gap; if ambiguous, the first one (fold=0).
    """
    if due.utcoffset() is None:
        raise ValueError("due: must be an aware datetime")
    start, end = (t.replace(tzinfo=None, fold=0) for t in (quiet_start, quiet_end))
    local = due.astimezone(tz)
    wall = local.time().replace(tzinfo=None, fold=0)
    if not in_quiet_hours(wall, start, end):
        return due.astimezone(UTC)
    day = local.date()
    if start > end and wall >= start:
        day += timedelta(days=1)  # the evening part of a window that ends tomorrow morning
    allowed = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
    if allowed < due:
        # Due in the repeated autumn hour, before an ambiguous quiet_end: take its second occurrence.
        allowed = datetime.combine(day, end.replace(fold=1), tzinfo=tz).astimezone(UTC)
    return allowed
