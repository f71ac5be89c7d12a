import dataclasses
import tomllib
from pathlib import Path

import pytest

from bot.domain import instruments as instruments_module
from bot.domain.instruments import (
    ALL_INSTRUMENTS,
    CORS,
    CSRS,
    NO_OVERRIDES,
    ORS_ADULT,
    ORS_ITEM_KEYS,
    ORS_PARENT,
    ORS_YOUTH,
    SRS,
    SRS_ITEM_KEYS,
    AgeBand,
    Instrument,
    ItemText,
    Kind,
    Role,
    instrument,
    instruments_for,
    role_fits,
    wording_overrides_from,
)

SAMPLE = Path(__file__).with_name("wording_override_sample.toml")


def test_enum_values_are_the_stored_names() -> None:
    assert [k.value for k in Kind] == ["ors", "srs"]
    assert [r.value for r in Role] == ["parent", "youth", "child"]
    assert [b.value for b in AgeBand] == ["6-12", "13-17", "adult"]


def test_instrument_keys() -> None:
    assert [i.key for i in ALL_INSTRUMENTS] == ["ors", "ors_youth", "ors_adult", "srs", "cors", "csrs"]


@pytest.mark.parametrize("inst", ALL_INSTRUMENTS, ids=lambda i: i.key)
def test_every_instrument_has_four_items_with_the_shared_keys(inst: Instrument) -> None:
    expected = ORS_ITEM_KEYS if inst.kind is Kind.ORS else SRS_ITEM_KEYS
    assert inst.item_keys == expected
    assert len(inst.items) == 4
    assert inst.title
    assert inst.roles
    for item in inst.items:
        assert all(text.strip() for text in (item.domain, item.question, item.low, item.high))
        assert item.question.endswith("?")
        assert len(item.domain) <= 20, "domain names are short labels for caseworkers"
        assert inst.item(item.key) is item


def test_item_lookup_names_an_unknown_key() -> None:
    with pytest.raises(KeyError, match="nope"):
        ORS_PARENT.item("nope")


def test_parent_version_asks_about_the_child() -> None:
    # In Gladsaxe's practice the parent's ORS is about the child's well-being.
    assert "barn" in ORS_PARENT.item("individually").question
    assert "dig selv" in ORS_YOUTH.item("individually").question


# Who answers what, from ../shared/docs/fit-domain.md: ORS and SRS for adults and young people from 13
# (a parent rates the child's well-being, an adult in their own case rates themselves), CORS/CSRS for
# children 6-12; a young person answers only in a 13-17 case, a child only in a 6-12 case.
FITS = {
    (Role.PARENT, AgeBand.CHILD): (ORS_PARENT, SRS),
    (Role.PARENT, AgeBand.YOUTH): (ORS_PARENT, SRS),
    (Role.PARENT, AgeBand.ADULT): (ORS_ADULT, SRS),
    (Role.YOUTH, AgeBand.CHILD): None,
    (Role.YOUTH, AgeBand.YOUTH): (ORS_YOUTH, SRS),
    (Role.YOUTH, AgeBand.ADULT): None,
    (Role.CHILD, AgeBand.CHILD): (CORS, CSRS),
    (Role.CHILD, AgeBand.YOUTH): None,
    (Role.CHILD, AgeBand.ADULT): None,
}


def test_the_table_covers_every_role_and_band() -> None:
    assert set(FITS) == {(role, band) for role in Role for band in AgeBand}


@pytest.mark.parametrize(("role", "band"), list(FITS), ids=lambda x: x.value)
def test_instruments_for_each_role_and_band(role: Role, band: AgeBand) -> None:
    expected = FITS[(role, band)]
    assert role_fits(role, band) is (expected is not None)
    if expected is None:
        with pytest.raises(ValueError, match=f"0 instruments fit a {role.value} in a {band.value} case"):
            instruments_for(role, band)
    else:
        assert instruments_for(role, band) == expected


@pytest.mark.parametrize("inst", ALL_INSTRUMENTS, ids=lambda i: i.key)
def test_every_instrument_records_exactly_whom_it_fits(inst: Instrument) -> None:
    """Each instrument's own data (role, age band) agrees with the table, pair by pair."""
    expected = {key for key, pair in FITS.items() if pair is not None and inst in pair}
    assert inst.fits == expected
    assert inst.roles == {role for role, _ in expected}
    assert inst.bands == {band for _, band in expected}
    for role, band in FITS:
        assert inst.fits_respondent(role, band) is ((role, band) in expected)


def test_the_age_bands_each_instrument_fits() -> None:
    assert ORS_PARENT.bands == {AgeBand.CHILD, AgeBand.YOUTH}  # a parent about a child of 6-17
    assert ORS_YOUTH.bands == {AgeBand.YOUTH}  # young people 13-17
    assert ORS_ADULT.bands == {AgeBand.ADULT}
    assert SRS.bands == set(AgeBand)
    assert CORS.bands == CSRS.bands == {AgeBand.CHILD}  # children 6-12


def test_a_new_instrument_that_overlaps_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two instruments of one kind for the same respondent would be ambiguous: an error, not a guess."""
    twin = dataclasses.replace(ORS_YOUTH, key="ors_youth2")
    monkeypatch.setattr(instruments_module, "ALL_INSTRUMENTS", (*ALL_INSTRUMENTS, twin))
    with pytest.raises(ValueError, match=r"ors: 2 instruments fit a youth in a 13-17 case \(ors_youth, ors_youth2\)"):
        instruments_for(Role.YOUTH, AgeBand.YOUTH)


def test_an_adult_in_their_own_case_rates_themselves() -> None:
    assert instruments_for(Role.PARENT, AgeBand.ADULT) == (ORS_ADULT, SRS)
    assert "dig selv" in ORS_ADULT.item("individually").question
    assert "barn" not in " ".join(item.question for item in ORS_ADULT.items)
    for band in (AgeBand.CHILD, AgeBand.YOUTH):
        assert instruments_for(Role.PARENT, band) == (ORS_PARENT, SRS)


def test_instrument_by_key() -> None:
    for inst in ALL_INSTRUMENTS:
        assert instrument(inst.key) is inst
    with pytest.raises(KeyError, match="'ycors'"):
        instrument("ycors")


# --- wording overrides ----------------------------------------------------------------------------


def _read(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_load_the_sample() -> None:
    overrides = wording_overrides_from(_read(SAMPLE))
    assert overrides[("ors", "individually", "da")] == ItemText("Licenseret spørgsmål om barnet selv", "Lav", "Høj")
    assert overrides[("ors", "individually", "en")].low == "Low"
    assert ("srs", "relationship", "da") in overrides
    assert ("cors", "socially", "da") in overrides
    assert len(overrides) == 4
    assert wording_overrides_from(_read(SAMPLE), langs={"da", "en"}) == overrides


def test_no_overrides_is_empty() -> None:
    assert len(NO_OVERRIDES) == 0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[orz.individually]\nda = {question="q", low="l", high="h"}', "unknown instrument 'orz'"),
        ('[ors.relationship]\nda = {question="q", low="l", high="h"}', "ors.relationship: unknown item"),
        ('[srs.goals]\nDanish = {question="q", low="l", high="h"}', "srs.goals.Danish: unknown language"),
        ('[srs.goals]\nde = {question="q", low="l", high="h"}', "srs.goals.de: unknown language"),
        ('[srs.goals]\nda = {question="q", low="l"}', "srs.goals.da.high: missing or empty"),
        ('[srs.goals]\nda = {question=" ", low="l", high="h"}', "srs.goals.da.question: missing or empty"),
        (
            '[srs.goals]\nda = {question="q", low="l", high="h", hint="x"}',
            "srs.goals.da: unknown field 'hint'",
        ),
        ('[srs.goals]\nda = "q"', r"srs.goals.da: expected \{question"),
        ('srs = "q"', "srs: expected a table"),
        ('[srs]\ngoals = "q"', "srs.goals: expected a table"),
    ],
)
def test_bad_overrides_name_the_key(toml: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wording_overrides_from(tomllib.loads(toml), langs={"da", "en"})


def test_any_well_formed_language_without_a_list() -> None:
    data = tomllib.loads('[csrs.overall]\npt_BR = {question="q", low="l", high="h"}')
    assert ("csrs", "overall", "pt_BR") in wording_overrides_from(data)
