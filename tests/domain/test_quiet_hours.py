from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.quiet_hours import in_quiet_hours, next_allowed

CPH = ZoneInfo("Europe/Copenhagen")
NIGHT = (time(21, 0), time(8, 0))
LUNCH = (time(12, 0), time(13, 0))


def local(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=CPH, fold=fold)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("due", "window", "expected"),
    [
        # outside quiet hours: unchanged
        (local(2026, 11, 24, 14, 30), NIGHT, local(2026, 11, 24, 14, 30)),
        (local(2026, 11, 24, 8, 0), NIGHT, local(2026, 11, 24, 8, 0)),  # the end is allowed
        (local(2026, 11, 24, 20, 59), NIGHT, local(2026, 11, 24, 20, 59)),
        # inside: evening part moves to tomorrow, morning part to today
        (local(2026, 11, 24, 21, 0), NIGHT, local(2026, 11, 25, 8, 0)),  # the start is quiet
        (local(2026, 11, 24, 23, 45), NIGHT, local(2026, 11, 25, 8, 0)),
        (local(2026, 11, 25, 0, 0), NIGHT, local(2026, 11, 25, 8, 0)),
        (local(2026, 11, 25, 7, 59), NIGHT, local(2026, 11, 25, 8, 0)),
        # spring forward: 2026-03-29 02:00 CET -> 03:00 CEST
        (local(2026, 3, 28, 23, 0), NIGHT, local(2026, 3, 29, 8, 0)),
        (local(2026, 3, 29, 1, 30), NIGHT, local(2026, 3, 29, 8, 0)),
        (local(2026, 3, 29, 3, 30), NIGHT, local(2026, 3, 29, 8, 0)),
        # fall back: 2026-10-25 03:00 CEST -> 02:00 CET
        (local(2026, 10, 24, 23, 0), NIGHT, local(2026, 10, 25, 8, 0)),
        (local(2026, 10, 25, 2, 30, fold=0), NIGHT, local(2026, 10, 25, 8, 0)),
        (local(2026, 10, 25, 2, 30, fold=1), NIGHT, local(2026, 10, 25, 8, 0)),
        # a window within one day
        (local(2026, 11, 24, 11, 59), LUNCH, local(2026, 11, 24, 11, 59)),
        (local(2026, 11, 24, 12, 0), LUNCH, local(2026, 11, 24, 13, 0)),
        (local(2026, 11, 24, 12, 30), LUNCH, local(2026, 11, 24, 13, 0)),
        (local(2026, 11, 24, 13, 0), LUNCH, local(2026, 11, 24, 13, 0)),
        (local(2026, 11, 24, 23, 0), LUNCH, local(2026, 11, 24, 23, 0)),
        # no quiet hours at all
        (local(2026, 11, 24, 3, 0), (time(8), time(8)), local(2026, 11, 24, 3, 0)),
    ],
)
def test_next_allowed(due: datetime, window: tuple[time, time], expected: datetime) -> None:
    result = next_allowed(due, *window, CPH)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("due", "expected_utc"),
    [
        (local(2026, 3, 28, 23, 0), datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),  # 08:00 CEST
        (local(2026, 10, 24, 23, 0), datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),  # 08:00 CET
    ],
)
def test_the_wall_clock_stays_at_eight_across_dst(due: datetime, expected_utc: datetime) -> None:
    assert next_allowed(due, *NIGHT, CPH) == expected_utc


def test_due_in_any_timezone() -> None:
    due_utc = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)  # 23:00 in Copenhagen
    assert next_allowed(due_utc, *NIGHT, CPH) == local(2026, 11, 25, 8, 0)
    noon_utc = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert next_allowed(noon_utc, *NIGHT, CPH) == noon_utc


def test_quiet_end_in_the_spring_gap_moves_forward() -> None:
    assert next_allowed(local(2026, 3, 29, 1, 10), time(0), time(2, 30), CPH) == local(2026, 3, 29, 3, 30)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        # quiet_end 02:30 happens twice on 2026-10-25: the first one unless that is already past
        (local(2026, 10, 25, 1, 0), local(2026, 10, 25, 2, 30, fold=0)),
        (local(2026, 10, 25, 2, 10, fold=0), local(2026, 10, 25, 2, 30, fold=0)),
        (local(2026, 10, 25, 2, 10, fold=1), local(2026, 10, 25, 2, 30, fold=1)),
    ],
)
def test_ambiguous_quiet_end(due: datetime, expected: datetime) -> None:
    result = next_allowed(due, time(0), time(2, 30), CPH)
    # Aware datetimes in an ambiguous hour never compare equal across zones: compare in UTC.
    assert result == expected.astimezone(UTC)
    assert result >= due


def test_naive_due_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_allowed(datetime(2026, 11, 24, 23, 0), *NIGHT, CPH)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("t", "window", "quiet"),
    [
        (time(21), NIGHT, True),
        (time(8), NIGHT, False),
        (time(7, 59, 59), NIGHT, True),
        (time(12), LUNCH, True),
        (time(13), LUNCH, False),
        (time(3), (time(5), time(5)), False),
    ],
)
def test_in_quiet_hours(t: time, window: tuple[time, time], quiet: bool) -> None:
    assert in_quiet_hours(t, *window) is quiet


@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2028, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.times(),
    st.times(),
)
def test_result_is_never_earlier_and_never_quiet(due: datetime, start: time, end: time) -> None:
    result = next_allowed(due, start, end, CPH)
    assert result >= due
    assert result - due <= timedelta(days=1, hours=1)
    landed = result.astimezone(CPH)
    if in_quiet_hours(landed.time(), start, end):
        # Only when quiet_end fell in the spring gap and was pushed forward by it.
        assert landed.utcoffset() != (result - timedelta(hours=3)).astimezone(CPH).utcoffset()
