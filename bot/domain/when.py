"""Meeting times as a Danish caseworker types them: "nu", "14.30", "i morgen 10", "24.11 kl. 14.30".

A time of day is always required (except "nu"): a date alone would leave the prompt's due time to
a guess. A bare hour needs a day word or "kl." ("i dag 14", "kl. 9"), because "14" alone looks
like a typo or a score.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_RELATIVE_DAYS = {
    "i dag": 0,
    "idag": 0,
    "i morgen": 1,
    "imorgen": 1,
    "i overmorgen": 2,
    "i går": -1,
    "igår": -1,
}

_WHEN_RE = re.compile(
    r"""
    (?:
        (?:(?P<rel>i\ dag|idag|i\ morgen|imorgen|i\ overmorgen|i\ går|igår)
          | (?P<day>[0-9]{1,2})(?P<sep>[./])(?P<month>[0-9]{1,2})
            (?:(?P=sep)(?P<year>[0-9]{4}))?\.?
        )
        ,?[ ]
    )?
    (?P<kl>kl\.?[ ]?)?
    (?P<hour>[0-9]{1,2})(?:[:.](?P<minute>[0-9]{2}))?
    """,
    re.VERBOSE | re.ASCII,
)


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The meeting time meant by ``text``, aware in ``tz``; ``None`` if it is not a valid time.

    A date without a year gets the year (of last, this or next) that puts it closest to ``now``.
    Local times are resolved deterministically: one in the spring DST gap is moved forward by the
    gap (02.30 -> 03.30 summer time); an ambiguous autumn time is the first one (fold=0, summer time).
    """
    if now.utcoffset() is None:
        raise ValueError("now: must be an aware datetime")
    local_now = now.astimezone(tz)
    cleaned = " ".join(text.lower().split())
    if cleaned == "nu":
        return local_now
    match = _WHEN_RE.fullmatch(cleaned)
    if match is None:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    has_day = match["rel"] is not None or match["day"] is not None
    if match["minute"] is None and not (has_day or match["kl"]):
        return None
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    if match["rel"] is not None:
        day: date | None = local_now.date() + timedelta(days=_RELATIVE_DAYS[match["rel"]])
    elif match["day"] is not None:
        day = _pick_date(int(match["day"]), int(match["month"]), match["year"], local_now, hour, minute, tz)
    else:
        day = local_now.date()
    if day is None:
        return None
    return _local(day, hour, minute, tz)


def _local(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    # fold=0 then a round trip through UTC: ambiguous -> first occurrence, nonexistent -> shifted forward.
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    return wall.astimezone(UTC).astimezone(tz)


def _pick_date(
    day: int, month: int, year: str | None, now: datetime, hour: int, minute: int, tz: ZoneInfo
) -> date | None:
    years = [int(year)] if year is not None else [now.year - 1, now.year, now.year + 1]
    candidates = []
    for y in years:
        try:
            candidates.append(date(y, month, day))
        except ValueError:  # 31.02, 29.02 in a common year, month 13
            continue
    if not candidates:
        return None
    return min(candidates, key=lambda d: abs(_local(d, hour, minute, tz) - now))
