"""Stored times: fixed-width UTC text that round-trips exactly and whose string order is time order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.storage import Storage
from bot.storage.db import from_db_time, to_db_time
from tests.storage.seed import at, family

ZONES = st.one_of(
    st.just(UTC),
    st.sampled_from([ZoneInfo("Europe/Copenhagen"), ZoneInfo("America/St_Johns"), ZoneInfo("Pacific/Kiritimati")]),
    st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
# A day inside the representable range, so that converting to UTC cannot overflow.
AWARE = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)  # noqa: DTZ001

FEW = settings(max_examples=60, deadline=None)


@FEW
@given(AWARE)
def test_round_trip_is_exact_and_utc(when: datetime) -> None:
    text = to_db_time(when)
    back = from_db_time(text)
    assert back == when.astimezone(UTC)
    assert back is not None
    assert back.tzinfo is UTC
    assert len(text) == len("2026-11-24T09:00:00.000000Z")
    assert to_db_time(back) == text


@FEW
@given(AWARE, AWARE)
def test_string_order_is_time_order(a: datetime, b: datetime) -> None:
    a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
    assert (to_db_time(a) < to_db_time(b)) == (a_utc < b_utc)
    assert (to_db_time(a) == to_db_time(b)) == (a_utc == b_utc)


def test_naive_times_are_refused_and_none_stays_none() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_db_time(datetime(2026, 1, 1))  # noqa: DTZ001
    assert from_db_time(None) is None


async def test_the_database_sorts_and_compares_stored_times_as_time(storage: Storage) -> None:
    """ORDER BY, MIN and <= on the text columns agree with time, whatever the server's collation."""
    rng = random.Random(7)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    times = [base + timedelta(microseconds=rng.randrange(-(10**15), 10**15)) for _ in range(60)]
    times += [datetime(999, 12, 31, 23, 59, tzinfo=UTC), datetime(1000, 1, 1, tzinfo=UTC)]
    async with storage.transaction() as repo:
        fam = await family(repo, held_at=at())
        for i, when in enumerate(times):
            await repo.insert_meeting(fam.case_id, when, fam.caseworker_id, at())
            await repo.enqueue("k", f"t:{i}", when, at())
        held = [m.held_at for m in await repo.meetings_of_case(fam.case_id) if m.id != fam.meeting_id]
        assert await repo.next_due_at() == min(times)
        pivot = sorted(times)[20]
        due = await repo.claim_due(pivot, pivot + timedelta(minutes=5), 1000)
    assert held == sorted(times)
    assert sorted(r.due_at for r in due) == sorted(t for t in times if t <= pivot)
