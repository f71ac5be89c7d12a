"""Every number pinned against fit-domain.md (in tenths)."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.instruments import SRS_ITEM_KEYS, AgeBand
from bot.domain.interpretation import (
    DEFAULT_THRESHOLDS,
    Course,
    SrsFlags,
    Thresholds,
    classify,
    cutoff,
    is_clinical,
    srs_flags,
)
from bot.domain.scores import MAX_TOTAL

T = DEFAULT_THRESHOLDS


def test_defaults_match_the_domain_notes() -> None:
    assert (
        Thresholds(
            cutoff_adult=250,
            cutoff_youth=280,
            cutoff_child=320,
            reliable_change=50,
            srs_total=360,
            srs_item=90,
            srs_drop=10,
            not_on_track_meetings=4,
            low_item=20,
        )
        == T
    )


@pytest.mark.parametrize(("band", "expected"), [(AgeBand.ADULT, 250), (AgeBand.YOUTH, 280), (AgeBand.CHILD, 320)])
def test_cutoff_by_age_band_of_the_rated_person(band: AgeBand, expected: int) -> None:
    assert cutoff(band, T) == expected


def test_cutoff_follows_configuration() -> None:
    assert cutoff(AgeBand.CHILD, Thresholds(cutoff_child=300)) == 300


@pytest.mark.parametrize(("total", "clinical"), [(249, True), (250, False), (251, False), (0, True)])
def test_at_the_cutoff_is_not_clinical(total: int, clinical: bool) -> None:
    assert is_clinical(total, 250) is clinical


@pytest.mark.parametrize(
    ("first", "latest", "cut", "expected"),
    [
        # reliable change is 5.0 (50 tenths), both directions; exactly 5.0 counts
        (180, 230, 250, Course.IMPROVED),  # +5.0, still below the cut-off
        (180, 229, 250, Course.UNCHANGED),  # +4.9
        (230, 180, 250, Course.DETERIORATED),  # -5.0
        (230, 181, 250, Course.UNCHANGED),  # -4.9
        (200, 200, 250, Course.UNCHANGED),
        # clinically significant change: reliable improvement from below to at/above the cut-off
        (200, 250, 250, Course.RECOVERED),  # +5.0 and exactly at the cut-off
        (200, 249, 250, Course.UNCHANGED),  # +4.9 crosses but is not reliable
        (199, 249, 250, Course.IMPROVED),  # +5.0 but ends below
        (260, 320, 250, Course.IMPROVED),  # started above: improves, cannot "recover"
        (250, 300, 250, Course.IMPROVED),  # started at the cut-off: not clinical to begin with
        (249, 299, 250, Course.RECOVERED),
        (270, 320, 320, Course.RECOVERED),  # child cut-off 32
        (270, 319, 320, Course.UNCHANGED),
        (300, 250, 250, Course.DETERIORATED),  # reliable deterioration even when ending at the cut-off
    ],
)
def test_classify_table(first: int, latest: int, cut: int, expected: Course) -> None:
    assert classify(first, latest, cut, 50) is expected


@given(
    st.integers(0, MAX_TOTAL),
    st.integers(0, MAX_TOTAL),
    st.integers(1, MAX_TOTAL - 1),
    st.integers(1, MAX_TOTAL),
)
def test_classify_is_consistent_with_reliable_change(first: int, latest: int, cut: int, rc: int) -> None:
    course = classify(first, latest, cut, rc)
    change = latest - first
    assert (course in (Course.IMPROVED, Course.RECOVERED)) == (change >= rc)
    assert (course is Course.DETERIORATED) == (change <= -rc)
    assert (course is Course.UNCHANGED) == (-rc < change < rc)
    assert (course is Course.RECOVERED) == (change >= rc and first < cut <= latest)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ((90, 90, 90, 90), SrsFlags(False, ())),  # exactly 36.0 and exactly 9.0: fine
        ((90, 90, 90, 89), SrsFlags(True, ("overall",))),  # 35.9 and an item at 8.9
        ((100, 100, 100, 89), SrsFlags(False, ("overall",))),  # item low, total fine
        ((100, 100, 70, 89), SrsFlags(True, ("approach", "overall"))),  # 35.9
        ((100, 100, 71, 89), SrsFlags(False, ("approach", "overall"))),  # 36.0
        ((80, 100, 100, 70), SrsFlags(True, ("relationship", "overall"))),
        ((100, 100, 100, 100), SrsFlags(False, ())),
        ((0, 0, 0, 0), SrsFlags(True, SRS_ITEM_KEYS)),
        ((None, 100, 100, 100), SrsFlags(False, ())),  # skipped: no total
        ((None, 50, 100, 100), SrsFlags(False, ("goals",))),  # answered items still count
    ],
)
def test_srs_flags(items: tuple[int | None, ...], expected: SrsFlags) -> None:
    assert srs_flags(items, T) == expected


def test_srs_flags_needs_four_items() -> None:
    with pytest.raises(ValueError, match="expected 4"):
        srs_flags((90, 90, 90), T)


def test_srs_flags_any() -> None:
    assert not SrsFlags(False, ()).any
    assert SrsFlags(True, ()).any
    assert SrsFlags(False, ("goals",)).any


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("cutoff_adult", 0),
        ("cutoff_adult", 400),
        ("cutoff_youth", -5),
        ("cutoff_child", 400),
        ("reliable_change", 0),
        ("reliable_change", 401),
        ("srs_total", 0),
        ("srs_total", 401),
        ("srs_item", 0),
        ("srs_item", 101),
        ("srs_drop", 0),
        ("low_item", -1),
        ("low_item", 101),
        ("not_on_track_meetings", 1),
        ("not_on_track_meetings", 53),
        ("cutoff_adult", 25.0),
        ("low_item", True),
    ],
)
def test_validate_names_the_field(field: str, bad: object) -> None:
    with pytest.raises(ValueError, match=f"^{field}: "):
        Thresholds(**{field: bad})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "good"),
    [
        ("cutoff_adult", 1),
        ("cutoff_adult", 399),
        ("reliable_change", 400),
        ("srs_total", 400),
        ("srs_item", 100),
        ("low_item", 0),
        ("low_item", 100),
        ("not_on_track_meetings", 2),
        ("not_on_track_meetings", 52),
    ],
)
def test_validate_accepts_the_edges(field: str, good: int) -> None:
    Thresholds(**{field: good}).validate()


def test_thresholds_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        T.srs_total = 1  # type: ignore[misc]
