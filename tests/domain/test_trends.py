import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.trends import Arrow, arrow, text_trend


def danish(tenths: int) -> str:
    return f"{tenths / 10:.1f}".replace(".", ",")


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (180, 230, Arrow.UP),  # exactly 5.0
        (180, 229, Arrow.FLAT),
        (230, 180, Arrow.DOWN),
        (230, 181, Arrow.FLAT),
        (200, 200, Arrow.FLAT),
    ],
)
def test_arrow(previous: int, current: int, expected: Arrow) -> None:
    assert arrow(previous, current, 50) is expected


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        ([], ""),
        ([180], "18,0"),
        ([180, 225], "18,0 → 22,5"),
        ([180, 230, 270, 200], "18,0 ↑ 23,0 → 27,0 ↓ 20,0"),
        ([180, None, 270], "18,0 · – · 27,0"),
        ([None], "–"),
        ([None, None], "– · –"),
    ],
)
def test_text_trend(totals: list[int | None], expected: str) -> None:
    assert text_trend(totals, 50, danish) == expected


def test_only_the_last_ones_are_shown() -> None:
    totals = [100, 110, 120, 130, 140, 150, 200, 210]
    assert text_trend(totals, 50, danish) == "… 12,0 → 13,0 → 14,0 → 15,0 ↑ 20,0 → 21,0"
    assert text_trend(totals, 50, danish, last=2) == "… 20,0 → 21,0"
    assert text_trend(totals[:6], 50, danish) == "10,0 → 11,0 → 12,0 → 13,0 → 14,0 → 15,0"


def test_last_must_be_positive() -> None:
    with pytest.raises(ValueError, match="last"):
        text_trend([100], 50, danish, last=0)


@given(st.lists(st.one_of(st.none(), st.integers(0, 400)), max_size=20), st.integers(1, 10))
def test_one_value_per_shown_meeting(totals: list[int | None], last: int) -> None:
    parts = text_trend(totals, 50, danish, last=last).split()
    shown = totals[-last:]
    values = [p for p in parts if p not in {"…", "·", "↑", "↓", "→"}]
    assert values == ["–" if t is None else danish(t) for t in shown]
    assert (parts[:1] == ["…"]) == (len(totals) > last)
