import tomllib
from pathlib import Path

import pytest

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


@pytest.mark.parametrize(
    ("role", "expected"),
    [(Role.PARENT, (ORS_PARENT, SRS)), (Role.YOUTH, (ORS_YOUTH, SRS)), (Role.CHILD, (CORS, CSRS))],
)
def test_instruments_for_role(role: Role, expected: tuple[Instrument, Instrument]) -> None:
    assert instruments_for(role) == expected


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_one_instrument_of_each_kind(role: Role) -> None:
    ors, srs = instruments_for(role)
    assert (ors.kind, srs.kind) == (Kind.ORS, Kind.SRS)
    assert role in ors.roles
    assert role in srs.roles


def test_an_adult_in_their_own_case_rates_themselves() -> None:
    assert instruments_for(Role.PARENT, AgeBand.ADULT) == (ORS_ADULT, SRS)
    assert "dig selv" in ORS_ADULT.item("individually").question
    assert "barn" not in " ".join(item.question for item in ORS_ADULT.items)
    for band in (AgeBand.CHILD, AgeBand.YOUTH, None):
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
