import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.labels import (
    MAX_LABEL_LENGTH,
    LabelProblem,
    looks_like_cpr,
    normalize_case_label,
    validate_case_label,
)


@pytest.mark.parametrize(
    ("text", "cpr"),
    [
        ("010203-1234", True),
        ("0102031234", True),
        ("010203 1234", True),
        ("sag 010203-1234", True),
        ("Familien 010203-1234 (mor)", True),
        ("01.02.03-1234", True),
        ("01.02.03 1234", True),
        ("010203–1234", True),  # en dash from a word processor
        ("010203/1234", True),
        ("290200-1234", True),  # 29 February can be a CPR date
        ("310103-1234", True),
        ("320103-1234", False),  # day 32
        ("000103-1234", False),
        ("011303-1234", False),  # month 13
        ("010003-1234", False),
        ("300203-1234", False),  # 30 February
        ("310403-1234", False),  # 31 April
        ("01020312345", False),  # 11 digits: some other number
        ("1010203-1234", False),
        ("010203-123", False),
        ("Sag 2024-117", False),
        ("Familie A", False),
        ("٠١٠٢٠٣-١٢٣٤", False),  # not ASCII digits (and refused as characters anyway)
        ("", False),
    ],
)
def test_looks_like_cpr(text: str, cpr: bool) -> None:
    assert looks_like_cpr(text) is cpr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Familie A", None),
        ("Sag #117/2026", None),
        ("Bøgehøj_3.a", None),
        ("Ærø-sag", None),
        ("Café Åse", None),
        ("x" * MAX_LABEL_LENGTH, None),
        ("  Familie   A  ", None),  # normalized first
        ("", LabelProblem.EMPTY),
        ("   ", LabelProblem.EMPTY),
        ("x" * (MAX_LABEL_LENGTH + 1), LabelProblem.TOO_LONG),
        ("Sag: 117", LabelProblem.BAD_CHARACTERS),
        ("Familie <b>", LabelProblem.BAD_CHARACTERS),
        ("Familie 😀", LabelProblem.BAD_CHARACTERS),
        ("Sag ٣", LabelProblem.BAD_CHARACTERS),
        ("sag 010203-1234", LabelProblem.LOOKS_LIKE_CPR),
        ("sag: 010203-1234", LabelProblem.LOOKS_LIKE_CPR),  # CPR wins over other problems
        ("x" * 40 + " 0102031234", LabelProblem.LOOKS_LIKE_CPR),
    ],
)
def test_validate_case_label(text: str, problem: LabelProblem | None) -> None:
    assert validate_case_label(text) is problem


def test_normalize_case_label() -> None:
    assert normalize_case_label("  Familie \t A \n") == "Familie A"


@pytest.mark.parametrize("problem", list(LabelProblem))
def test_every_problem_has_a_hint(problem: LabelProblem) -> None:
    assert problem.message.strip()
    assert problem.message.format(max_length=MAX_LABEL_LENGTH)


@given(
    st.integers(1, 28),
    st.integers(1, 12),
    st.integers(0, 99),
    st.integers(0, 9999),
    st.sampled_from(["", "-", " ", "–"]),
)
def test_every_real_cpr_shape_is_caught(day: int, month: int, year: int, serial: int, sep: str) -> None:
    cpr = f"{day:02d}{month:02d}{year:02d}{sep}{serial:04d}"
    assert looks_like_cpr(cpr)
    assert looks_like_cpr(f"Sag {cpr} ny")
    assert validate_case_label(f"Sag {cpr}") is LabelProblem.LOOKS_LIKE_CPR


@given(st.text(max_size=60))
def test_validate_never_raises(text: str) -> None:
    assert validate_case_label(text) in (None, *LabelProblem)
