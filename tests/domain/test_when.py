from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.when import parse_when

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=CPH)  # a Tuesday


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=CPH)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nu", NOW),
        ("  Nu ", NOW),
        ("14:30", at(2026, 11, 24, 14, 30)),
        ("14.30", at(2026, 11, 24, 14, 30)),
        ("9.05", at(2026, 11, 24, 9, 5)),
        ("kl. 14.30", at(2026, 11, 24, 14, 30)),
        ("kl 14:30", at(2026, 11, 24, 14, 30)),
        ("Kl. 9", at(2026, 11, 24, 9, 0)),
        ("i dag 14", at(2026, 11, 24, 14, 0)),
        ("idag 14", at(2026, 11, 24, 14, 0)),
        ("i dag kl. 14", at(2026, 11, 24, 14, 0)),
        ("i dag, kl. 8", at(2026, 11, 24, 8, 0)),
        ("i morgen 10", at(2026, 11, 25, 10, 0)),
        ("I morgen 10:00", at(2026, 11, 25, 10, 0)),
        ("imorgen  kl. 10.15", at(2026, 11, 25, 10, 15)),
        ("i overmorgen 9", at(2026, 11, 26, 9, 0)),
        ("i går 9.15", at(2026, 11, 23, 9, 15)),
        ("igår 9.15", at(2026, 11, 23, 9, 15)),
        ("24.11 14:30", at(2026, 11, 24, 14, 30)),
        ("24.11. kl. 14.30", at(2026, 11, 24, 14, 30)),
        ("24/11 14.30", at(2026, 11, 24, 14, 30)),
        ("24.11.2026 14:30", at(2026, 11, 24, 14, 30)),
        ("24/11/2026 14:30", at(2026, 11, 24, 14, 30)),
        ("3.12 9", at(2026, 12, 3, 9, 0)),
        ("0.00", at(2026, 11, 24, 0, 0)),
        ("23:59", at(2026, 11, 24, 23, 59)),
        # a date without a year: the year that puts it closest to now
        ("2.1 10:00", at(2027, 1, 2, 10, 0)),  # next January, not last
        ("1.10 10:00", at(2026, 10, 1, 10, 0)),  # recent past
        ("15.05 9.00", at(2027, 5, 15, 9, 0)),  # 172 days ahead beats 193 days back
        ("24.11.2025 14:30", at(2025, 11, 24, 14, 30)),  # an explicit year is kept
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    result = parse_when(text, NOW, CPH)
    assert result == expected
    assert result is not None
    assert result.tzinfo is CPH


@pytest.mark.parametrize(
    "text",
    [
        "",
        "14",  # a bare number: a typo or a score, not a time
        "24.11",  # a date alone, or 24:11 which does not exist
        "i morgen",
        "i dag",
        "24-11 14:30",
        "24:00",
        "14:60",
        "25.30",
        "31.02 10:00",
        "30.02.2026 10:00",
        "29.02 10:00",  # no leap year within a year of now
        "13.13 10:00",
        "00.11 10:00",
        "24.11.26 14:30",  # two-digit years are not accepted
        "24.11/2026 14:30",
        "24.1114:30",
        "kl.",
        "om en time",
        "٢٤.١١ ١٤:٣٠",
        "14:30 i morgen",
    ],
)
def test_parse_when_refuses(text: str) -> None:
    assert parse_when(text, NOW, CPH) is None


def test_leap_day_within_a_year() -> None:
    assert parse_when("29.02 10:00", at(2027, 11, 1, 12, 0), CPH) == at(2028, 2, 29, 10, 0)


def test_now_in_another_zone() -> None:
    now_utc = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # already 00:30 on the 25th in Copenhagen
    assert parse_when("i dag 9", now_utc, CPH) == at(2026, 11, 25, 9, 0)
    result = parse_when("nu", now_utc, CPH)
    assert result == now_utc
    assert result is not None
    assert result.tzinfo is CPH


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("nu", datetime(2026, 11, 24, 10, 0), CPH)  # noqa: DTZ001


# --- DST ------------------------------------------------------------------------------------------


def test_spring_gap_moves_forward() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist
    result = parse_when("29.03.2026 2:30", NOW, CPH)
    assert result is not None
    assert result.replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)  # noqa: DTZ001
    assert result.utcoffset() == timedelta(hours=2)
    assert result.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_autumn_ambiguity_takes_the_first() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice; fold=0 is the summer-time one
    result = parse_when("25.10.2026 2.30", NOW, CPH)
    assert result is not None
    assert result.fold == 0
    assert result.utcoffset() == timedelta(hours=2)
    assert result.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_tomorrow_across_the_dst_change_keeps_the_wall_clock() -> None:
    now = at(2026, 3, 28, 20, 0)
    result = parse_when("i morgen 10", now, CPH)
    assert result == at(2026, 3, 29, 10, 0)
    assert result is not None
    assert result.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=13)  # one hour lost


# --- properties -----------------------------------------------------------------------------------


@given(st.integers(0, 23), st.integers(0, 59), st.sampled_from([":", "."]))
def test_every_clock_time_today(hour: int, minute: int, sep: str) -> None:
    result = parse_when(f"{hour}{sep}{minute:02d}", NOW, CPH)
    assert result == at(2026, 11, 24, hour, minute)


@given(st.dates(min_value=datetime(2026, 5, 27).date(), max_value=datetime(2027, 5, 23).date()))  # noqa: DTZ001
def test_dates_within_half_a_year_keep_their_year(day: datetime) -> None:
    result = parse_when(f"{day.day}.{day.month} 12:00", NOW, CPH)
    assert result is not None
    assert result.date() == day


@given(st.text(max_size=25))
def test_never_raises(text: str) -> None:
    result = parse_when(text, NOW, CPH)
    assert result is None or result.tzinfo is CPH
