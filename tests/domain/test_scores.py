import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.scores import (
    MAX_ITEM,
    MAX_TOTAL,
    MIN_ITEM,
    is_valid_item,
    parse_score,
    points_to_tenths,
    total,
)


def test_scale_constants() -> None:
    assert (MIN_ITEM, MAX_ITEM, MAX_TOTAL) == (0, 100, 400)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", 70),
        ("7.5", 75),
        ("7,5", 75),
        (" 7,5 ", 75),
        ("\t7,5\n", 75),
        ("10", 100),
        ("10,0", 100),
        ("0", 0),
        ("0,0", 0),
        ("00", 0),
        ("07", 70),
        ("7,50", 75),
        ("7,500", 75),
        ("9,9", 99),
        ("0,1", 1),
    ],
)
def test_parse_valid(text: str, expected: int) -> None:
    assert parse_score(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "7,55",  # two significant decimals
        "7,05",
        "10,5",
        "11",
        "100",
        "-1",
        "+7",
        "godt",
        "",
        " ",
        "1e1",
        "½",
        "٧",  # Arabic-Indic seven
        "７",  # fullwidth seven
        "7,",
        ",5",
        "7 ,5",
        "7,5,0",
        "7.5.",
        "7 point",
        "nan",
        "inf",
        "0x7",
    ],
)
def test_parse_invalid(text: str) -> None:
    assert parse_score(text) is None


@given(st.integers(MIN_ITEM, MAX_ITEM))
def test_parse_round_trips_every_tenth_in_both_forms(tenths: int) -> None:
    whole, tenth = divmod(tenths, 10)
    assert parse_score(f"{whole},{tenth}") == tenths
    assert parse_score(f"{whole}.{tenth}") == tenths
    if tenth == 0:
        assert parse_score(str(whole)) == tenths


@given(st.text(max_size=8))
def test_parse_never_raises_and_stays_in_range(text: str) -> None:
    value = parse_score(text)
    assert value is None or MIN_ITEM <= value <= MAX_ITEM


@pytest.mark.parametrize(("points", "tenths"), [(25, 250), (2.5, 25), (36, 360), (9, 90), (0.1, 1), (2.0, 20), (0, 0)])
def test_points_to_tenths(points: float, tenths: int) -> None:
    assert points_to_tenths(points) == tenths


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True])
def test_points_to_tenths_rejects_non_numbers(bad: float) -> None:
    with pytest.raises(ValueError, match="points"):
        points_to_tenths(bad)


def test_total_sums_tenths() -> None:
    assert total([70, 75, 80, 100]) == 325
    assert total([0, 0, 0, 0]) == 0
    assert total([100] * 4) == MAX_TOTAL


def test_a_skipped_item_means_no_total() -> None:
    assert total([70, None, 80, 100]) is None
    assert total([None] * 4) is None


@pytest.mark.parametrize("bad", [101, -1, True, 7.5])
def test_total_rejects_out_of_range_items(bad: object) -> None:
    with pytest.raises(ValueError, match="out of range"):
        total([70, 70, 70, bad])  # type: ignore[list-item]


@given(st.lists(st.integers(MIN_ITEM, MAX_ITEM), min_size=4, max_size=4))
def test_totals_stay_in_range(items: list[int]) -> None:
    value = total(items)
    assert value is not None
    assert 0 <= value <= MAX_TOTAL


@pytest.mark.parametrize(("value", "ok"), [(0, True), (100, True), (101, False), (-1, False), (False, False)])
def test_is_valid_item(value: object, ok: bool) -> None:
    assert is_valid_item(value) is ok
