import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.instruments import AgeBand, Instrument, Role, instruments_for, role_fits
from bot.domain.interpretation import DEFAULT_THRESHOLDS, Thresholds
from bot.domain.rules import (
    RULES,
    SEVERITY,
    AlertKind,
    Finding,
    Measurement,
    Severity,
    evaluate,
    format_finding,
    service_finding,
)

T = DEFAULT_THRESHOLDS
PARENT = instruments_for(Role.PARENT, AgeBand.CHILD)
CHILD = instruments_for(Role.CHILD, AgeBand.CHILD)
START = datetime(2026, 9, 1, 10, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
GOOD_SRS = (100, 100, 100, 100)

Items = tuple[int | None, ...]


def spread(total: int) -> Items:
    """Four valid items in tenths adding up to ``total``."""
    base, extra = divmod(total, 4)
    return tuple(base + (1 if i < extra else 0) for i in range(4))


def history(*ors_totals: int | None, srs: Sequence[Items | None] = ()) -> list[Measurement]:
    """One measurement a fortnight; an ORS total of None means the ORS was not answered."""
    srs_list = list(srs) + [GOOD_SRS] * (len(ors_totals) - len(srs))
    return [
        Measurement(START + timedelta(days=14 * i), None if t is None else spread(t), s)
        for i, (t, s) in enumerate(zip(ors_totals, srs_list, strict=True))
    ]


def kinds(findings: list[Finding]) -> set[AlertKind]:
    return {f.kind for f in findings}


def run(hist: list[Measurement], band: AgeBand = AgeBand.ADULT, t: Thresholds = T) -> list[Finding]:
    return evaluate(hist, band, t, instruments=PARENT)


def only(findings: list[Finding], kind: AlertKind) -> Finding:
    [found] = [f for f in findings if f.kind is kind]
    return found


def render(f: Finding) -> str:
    return format_finding(
        f,
        translate=lambda s: s,
        points=lambda t: f"{t / 10:.1f}".replace(".", ","),
        join=" og ".join,
    )


# --- measurements ---------------------------------------------------------------------------------


def test_measurement_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        Measurement(datetime(2026, 9, 1, 10, 0), spread(200), None)  # noqa: DTZ001


@pytest.mark.parametrize("bad", [101, -1, True, 5.5])
def test_measurement_rejects_out_of_range_items(bad: object) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Measurement(START, (50, 50, 50, bad), None)  # type: ignore[arg-type]


def test_measurement_stores_tuples_and_totals() -> None:
    m = Measurement(START, [50, 60, 70, 80], [90, None, 90, 90])  # type: ignore[arg-type]
    assert m.ors == (50, 60, 70, 80)
    assert m.ors_total == 260
    assert m.srs_total is None
    assert Measurement(START).ors_total is None


# --- no false alarms ------------------------------------------------------------------------------


def test_empty_history() -> None:
    assert run([]) == []


def test_a_single_good_answer_says_nothing() -> None:
    assert run(history(300)) == []


def test_steady_answers_say_nothing_before_not_on_track() -> None:
    assert run(history(300, 300, 300)) == []


# --- deterioration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        ((200, 150), {AlertKind.DETERIORATION_PREVIOUS}),  # exactly 5.0: reliable
        ((200, 151), set()),  # 4.9
        ((200, None, 150), {AlertKind.DETERIORATION_PREVIOUS}),  # ORS skipped once: compares to 20.0
        ((250, 230, 200), {AlertKind.DETERIORATION_FIRST}),  # -5.0 since first, -3.0 since last
        ((250, 230, 201), set()),
        ((250, 200, 150), {AlertKind.DETERIORATION_FIRST, AlertKind.DETERIORATION_PREVIOUS}),
        ((200, 150, 150), {AlertKind.DETERIORATION_FIRST}),
        ((200, 150, 160), set()),  # back within 5.0 of the first
        ((200, 150, None), set()),  # latest has no ORS: nothing new to say
    ],
)
def test_reliable_deterioration(totals: tuple[int | None, ...], expected: set[AlertKind]) -> None:
    found = kinds(run(history(*totals)))
    assert found & {AlertKind.DETERIORATION_FIRST, AlertKind.DETERIORATION_PREVIOUS} == expected


def test_deterioration_params_are_tenths() -> None:
    f = only(run(history(250, 200, 150)), AlertKind.DETERIORATION_FIRST)
    assert f.severity is Severity.HIGH
    assert dict(f.params) == {"change_tenths": 100, "first_tenths": 250, "latest_tenths": 150}
    assert render(f) == ("Sikker tilbagegang: ORS-totalen er faldet 10,0 point siden første møde (fra 25,0 til 15,0).")
    prev = only(run(history(250, 200, 150)), AlertKind.DETERIORATION_PREVIOUS)
    assert dict(prev.params) == {"change_tenths": 50, "previous_tenths": 200, "latest_tenths": 150}


def test_a_skipped_item_means_no_total_to_compare() -> None:
    hist = [*history(250), Measurement(START + timedelta(days=14), (0, 0, None, 0), GOOD_SRS)]
    assert AlertKind.DETERIORATION_PREVIOUS not in kinds(run(hist))


# --- not on track ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("totals", "meetings_setting", "fires"),
    [
        ((200, 210, 220), 4, False),  # third meeting: not yet
        ((200, 210, 220, 240), 4, True),  # fourth: +4.0 is no reliable improvement
        ((200, 210, 220, 250), 4, False),  # +5.0 exactly: reliable improvement
        ((200, 300, 250, 249), 4, True),  # improved once, but not now
        ((200, 210, 220, 240, 240), 4, True),  # keeps firing while it holds
        ((200, 210, 220), 3, True),  # configurable
        ((200, 210), 2, True),
        ((200, None, 210, 220), 4, False),  # only three meetings with an ORS
        ((200, 210, 220, 230, None), 4, False),  # latest without ORS
        ((300, 300, 300, 300), 4, True),  # rule as specified: no improvement, even above the cut-off
    ],
)
def test_not_on_track(totals: tuple[int | None, ...], meetings_setting: int, fires: bool) -> None:
    t = Thresholds(not_on_track_meetings=meetings_setting)
    assert (AlertKind.NOT_ON_TRACK in kinds(run(history(*totals), t=t))) is fires


def test_not_on_track_counts_only_complete_ors_totals() -> None:
    hist = history(200, 210, 220)
    hist.insert(1, Measurement(START + timedelta(days=1), (50, None, 50, 50), GOOD_SRS))
    assert AlertKind.NOT_ON_TRACK not in kinds(run(hist))
    hist.append(Measurement(START + timedelta(days=60), spread(230), GOOD_SRS))
    f = only(run(hist), AlertKind.NOT_ON_TRACK)
    assert dict(f.params) == {"meetings": 4, "first_tenths": 200, "latest_tenths": 230}
    assert render(f).startswith("Ikke i bedring efter 4 møder: ORS-totalen var 20,0 og er nu 23,0.")


# --- low item -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ors", "expected_items"),
    [
        ((20, 80, 80, 80), ("Personligt",)),  # exactly 2.0: very low
        ((21, 80, 80, 80), None),
        ((0, 80, 10, 80), ("Personligt", "Skole og venner")),
        ((None, 80, 15, 80), ("Skole og venner",)),  # skipped item ignored, answered ones count
        ((None, None, None, None), None),
    ],
)
def test_low_item(ors: Items, expected_items: tuple[str, ...] | None) -> None:
    findings = run([Measurement(START, ors, GOOD_SRS)])
    if expected_items is None:
        assert AlertKind.LOW_ITEM not in kinds(findings)
    else:
        f = only(findings, AlertKind.LOW_ITEM)
        assert f.params["items"] == expected_items
        assert f.params["threshold_tenths"] == 20


def test_low_item_uses_the_respondents_words() -> None:
    findings = evaluate([Measurement(START, (10, 80, 80, 80), None)], AgeBand.CHILD, T, instruments=CHILD)
    assert render(only(findings, AlertKind.LOW_ITEM)) == "Meget lave ORS-svar (2,0 eller lavere): Mig selv."


# --- alliance -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("srs", "expected"),
    [
        ((90, 90, 90, 90), None),  # exactly 36.0 and 9.0
        ((100, 100, 100, 59), "SRS-totalen er 35,9 (under 36,0). Lavest: Alt i alt."),
        ((100, 100, 79, 80), "SRS-totalen er 35,9 (under 36,0). Lavest: Tilgang og Alt i alt."),
        ((100, 100, 100, 89), "lave SRS-svar (under 9,0) på Alt i alt."),
        ((89, None, 100, 100), "lave SRS-svar (under 9,0) på Relation."),
        ((None, 100, 100, 100), None),
    ],
)
def test_alliance_low(srs: Items, expected: str | None) -> None:
    findings = run([Measurement(START, spread(300), srs)])
    if expected is None:
        assert AlertKind.ALLIANCE_LOW not in kinds(findings)
    else:
        assert render(only(findings, AlertKind.ALLIANCE_LOW)) == f"Samarbejdet kan være under pres: {expected}"


def test_alliance_low_total_only() -> None:
    # Every item at 9.0 or above can still add up below 36 only if the item threshold is lower.
    t = Thresholds(srs_item=80)
    f = only(run([Measurement(START, None, (89, 89, 89, 89))], t=t), AlertKind.ALLIANCE_LOW)
    assert render(f) == "Samarbejdet kan være under pres: SRS-totalen er 35,6 (under 36,0)."
    assert "items" not in f.params


@pytest.mark.parametrize(
    ("srs_totals", "fires"),
    [
        ((380, 370), True),  # exactly 1.0
        ((380, 371), False),
        ((400, 390), True),  # a warning even above 36
        ((380, None, 370), True),  # compares with the last complete SRS
        ((380, 400, 390), True),
        ((370, 380), False),
        ((380,), False),
    ],
)
def test_alliance_drop(srs_totals: tuple[int | None, ...], fires: bool) -> None:
    srs = [None if t is None else spread(t) for t in srs_totals]
    hist = history(*([300] * len(srs_totals)), srs=srs)
    assert (AlertKind.ALLIANCE_DROP in kinds(run(hist))) is fires


def test_alliance_drop_is_configurable() -> None:
    hist = history(300, 300, srs=[spread(380), spread(370)])
    assert AlertKind.ALLIANCE_DROP not in kinds(run(hist, t=Thresholds(srs_drop=20)))
    f = only(run(hist), AlertKind.ALLIANCE_DROP)
    assert render(f) == "SRS-totalen er faldet 1,0 point siden sidste møde (fra 38,0 til 37,0)."


def test_srs_only_measurements() -> None:
    hist = [Measurement(START + timedelta(days=i), None, spread(t)) for i, t in enumerate((390, 350))]
    assert kinds(run(hist)) == {AlertKind.ALLIANCE_LOW, AlertKind.ALLIANCE_DROP}


# --- improvement ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("totals", "band", "course"),
    [
        ((200, 250), AgeBand.ADULT, "recovered"),  # +5.0 to exactly the adult cut-off 25
        ((200, 249), AgeBand.ADULT, None),
        ((150, 200), AgeBand.ADULT, "improved"),
        ((240, 290), AgeBand.YOUTH, "recovered"),  # youth cut-off 28
        ((240, 290), AgeBand.CHILD, "improved"),  # child cut-off 32 (a parent rating a 9-year-old)
        ((280, 330), AgeBand.CHILD, "recovered"),
        ((300, 350), AgeBand.ADULT, "improved"),  # started above the cut-off
        ((150, 300, 210), AgeBand.ADULT, "improved"),  # against the first, not the best
        ((150,), AgeBand.ADULT, None),
    ],
)
def test_improvement(totals: tuple[int, ...], band: AgeBand, course: str | None) -> None:
    findings = run(history(*totals), band)
    if course is None:
        assert AlertKind.IMPROVEMENT not in kinds(findings)
    else:
        f = only(findings, AlertKind.IMPROVEMENT)
        assert f.severity is Severity.POSITIVE
        assert f.params["course"] == course


def test_recovered_message_names_the_cutoff() -> None:
    f = only(run(history(200, 250)), AlertKind.IMPROVEMENT)
    assert render(f) == (
        "Sikker fremgang: ORS-totalen er steget 5,0 point siden første møde (fra 20,0 til 25,0) "
        "og er ikke længere under skæringspunktet (25,0)."
    )


# --- evaluate -------------------------------------------------------------------------------------


def test_latest_means_latest_meeting_whatever_the_order() -> None:
    hist = history(250, 200, 150)
    assert run(list(reversed(hist))) == run(hist)


def test_most_severe_first() -> None:
    hist = history(250, 200, 150, 140, srs=[GOOD_SRS, GOOD_SRS, GOOD_SRS, spread(300)])
    severities = [f.severity for f in run(hist)]
    assert severities[0] is Severity.HIGH
    order = [Severity.HIGH, Severity.WARNING, Severity.INFO, Severity.POSITIVE]
    assert severities == sorted(severities, key=order.index)


def test_evaluate_checks_the_item_count() -> None:
    with pytest.raises(ValueError, match="ors: expected 4 items, got 3"):
        run([Measurement(START, (50, 50, 50), None)])


def test_evaluate_checks_the_instrument_pair() -> None:
    ors, srs = PARENT
    with pytest.raises(ValueError, match="instruments"):
        evaluate([], AgeBand.ADULT, T, instruments=(srs, ors))


def test_every_kind_has_a_severity() -> None:
    assert set(SEVERITY) == set(AlertKind)
    assert SEVERITY[AlertKind.IMPROVEMENT] is Severity.POSITIVE


def test_rules_are_named_functions() -> None:
    assert [r.__name__ for r in RULES] == [
        "deterioration_previous",
        "deterioration_first",
        "not_on_track",
        "low_item",
        "alliance_low",
        "alliance_drop",
        "improvement",
    ]


@pytest.mark.parametrize(
    ("kind", "text", "severity"),
    [
        (AlertKind.NO_RESPONSE, "Ingen svar efter påmindelsen.", Severity.INFO),
        (AlertKind.UNREACHABLE, "Kan ikke nås: FIT-bot er blokeret i Telegram.", Severity.WARNING),
    ],
)
def test_service_findings(kind: AlertKind, text: str, severity: Severity) -> None:
    f = service_finding(kind)
    assert (f.kind, f.message, f.severity, dict(f.params)) == (kind, text, severity, {})


def test_findings_are_hashable() -> None:
    findings = run(history(250, 200, 150))
    assert len(set(findings)) == len(findings)


def test_service_finding_refuses_rule_kinds() -> None:
    with pytest.raises(ValueError, match="low_item"):
        service_finding(AlertKind.LOW_ITEM)


# --- properties -----------------------------------------------------------------------------------

items_st = st.tuples(*[st.one_of(st.none(), st.integers(0, 100))] * 4)
# Mostly complete forms, so the ORS and SRS rules get exercised, but skips and missing forms too.
form_st = st.one_of(st.none(), items_st, st.tuples(*[st.integers(0, 100)] * 4))
thresholds_st = st.builds(
    Thresholds,
    cutoff_adult=st.integers(1, 399),
    cutoff_youth=st.integers(1, 399),
    cutoff_child=st.integers(1, 399),
    reliable_change=st.integers(1, 400),
    srs_total=st.integers(1, 400),
    srs_item=st.integers(1, 100),
    srs_drop=st.integers(1, 400),
    not_on_track_meetings=st.integers(2, 52),
    low_item=st.integers(0, 100),
)


@st.composite
def histories(draw: st.DrawFn) -> list[Measurement]:
    n = draw(st.integers(0, 10))
    gaps = draw(st.lists(st.integers(0, 60 * 24 * 40), min_size=n, max_size=n))
    when = datetime(2026, 1, 1, tzinfo=UTC)
    result = []
    for gap in gaps:
        when += timedelta(minutes=gap)
        result.append(Measurement(when, draw(form_st), draw(form_st)))
    return result


@settings(max_examples=300)
@given(
    histories(),
    st.sampled_from(AgeBand),
    st.one_of(st.just(T), thresholds_st),
    st.sampled_from([instruments_for(r, b) for r in Role for b in AgeBand if role_fits(r, b)]),
)
def test_evaluate_never_raises_and_every_finding_renders(
    hist: list[Measurement], band: AgeBand, t: Thresholds, instruments: tuple[Instrument, Instrument]
) -> None:
    findings = evaluate(hist, band, t, instruments=instruments)
    assert len({f.kind for f in findings}) == len(findings)
    for f in findings:
        assert f.severity is SEVERITY[f.kind]
        placeholders = {name for _, name, _, _ in string.Formatter().parse(f.message) if name}
        assert placeholders <= set(f.params)
        for name, value in f.params.items():
            if isinstance(value, int):
                assert name.endswith("_tenths") or name == "meetings", name
                assert 0 <= value <= 400
        assert "{" not in render(f)


@given(histories(), st.sampled_from(AgeBand))
def test_no_ors_rules_without_a_latest_ors_total(hist: list[Measurement], band: AgeBand) -> None:
    if hist and hist[-1].ors_total is not None:
        return
    ors_kinds = {
        AlertKind.DETERIORATION_PREVIOUS,
        AlertKind.DETERIORATION_FIRST,
        AlertKind.NOT_ON_TRACK,
        AlertKind.IMPROVEMENT,
    }
    assert not kinds(evaluate(hist, band, T, instruments=PARENT)) & ors_kinds
