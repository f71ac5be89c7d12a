"""The questionnaires as data: who answers what, in which words.

The ORS, SRS and child versions are copyrighted, so every question here is FIT-bot's own wording
about the same domains. A licensed municipality can supply the official texts in a TOML file, which
bot.config reads and ``wording_overrides_from`` checks; the i18n layer consults those before gettext.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from .text import N_


class Kind(Enum):
    ORS = "ors"  # outcome: how things are going
    SRS = "srs"  # session: how the meeting was


class Role(Enum):
    PARENT = "parent"  # a parent/caregiver rating how things go for the child and family
    YOUTH = "youth"  # a young person 13-17 rating themselves
    CHILD = "child"  # a child 6-12 answering the child versions, usually with an adult


class AgeBand(Enum):
    """A case's age band: the age of the person being *rated*; it decides the ORS cut-off and the versions."""

    CHILD = "6-12"
    YOUTH = "13-17"
    ADULT = "adult"


def _fits(roles: set[Role], bands: set[AgeBand]) -> frozenset[tuple[Role, AgeBand]]:
    return frozenset((role, band) for role in roles for band in bands)


@dataclass(frozen=True)
class Item:
    key: str
    domain: str  # short domain name for caseworkers (msgid)
    question: str  # our own question (msgid)
    low: str  # label at 0 (msgid)
    high: str  # label at 10 (msgid)


@dataclass(frozen=True)
class Instrument:
    key: str
    kind: Kind
    title: str  # caseworker-facing name (msgid), e.g. "ORS (trivsel)"
    items: tuple[Item, ...]
    # Who answers it: (the respondent's role, the case's age band). Pairs, not roles x bands: the SRS fits a
    # parent in any case but a young person only in a 13-17 case.
    fits: frozenset[tuple[Role, AgeBand]]

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(role for role, _ in self.fits)

    @property
    def bands(self) -> frozenset[AgeBand]:
        return frozenset(band for _, band in self.fits)

    def fits_respondent(self, role: Role, band: AgeBand) -> bool:
        return (role, band) in self.fits

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(f"{self.key}: unknown item {key!r}")

    @property
    def item_keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)


# Item keys are shared by every variant of a kind, so histories and overrides line up.
ORS_ITEM_KEYS: tuple[str, ...] = ("individually", "interpersonally", "socially", "overall")
SRS_ITEM_KEYS: tuple[str, ...] = ("relationship", "goals", "approach", "overall")

_BAD = N_("Meget dårligt")
_GOOD = N_("Rigtig godt")
_NOT_AT_ALL = N_("Slet ikke")
_VERY_MUCH = N_("I høj grad")
_CHILD_BAD = N_("Rigtig skidt")

# The parent rates the child's well-being ("barnets trivsel"), as in Gladsaxe's practice.
ORS_PARENT = Instrument(
    key="ors",
    kind=Kind.ORS,
    title=N_("ORS (trivsel)"),
    fits=_fits({Role.PARENT}, {AgeBand.CHILD, AgeBand.YOUTH}),  # about the child, 6-17
    items=(
        Item(
            "individually",
            N_("Personligt"),
            N_("Hvordan har dit barn haft det med sig selv den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "interpersonally",
            N_("Familien"),
            N_("Hvordan har det gået i jeres familie den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "socially",
            N_("Skole og venner"),
            N_("Hvordan har det gået for dit barn i skole, dagtilbud eller med venner den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "overall",
            N_("Alt i alt"),
            N_("Hvordan har det alt i alt gået for dit barn den seneste uge?"),
            _BAD,
            _GOOD,
        ),
    ),
)

ORS_YOUTH = Instrument(
    key="ors_youth",
    kind=Kind.ORS,
    title=N_("ORS (trivsel, ung)"),
    fits=_fits({Role.YOUTH}, {AgeBand.YOUTH}),  # the young person about themselves, 13-17
    items=(
        Item(
            "individually",
            N_("Personligt"),
            N_("Hvordan har du haft det med dig selv den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "interpersonally",
            N_("Familien"),
            N_("Hvordan har du haft det med din familie og dem, der står dig nær, den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "socially",
            N_("Skole og venner"),
            N_("Hvordan har du haft det i skolen, på job eller med dine venner den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "overall",
            N_("Alt i alt"),
            N_("Hvordan har du alt i alt haft det den seneste uge?"),
            _BAD,
            _GOOD,
        ),
    ),
)

# An adult's own case (age band "adult"): the adult rates themselves, so the questions are about "you".
ORS_ADULT = Instrument(
    key="ors_adult",
    kind=Kind.ORS,
    title=N_("ORS (trivsel, voksen)"),
    fits=_fits({Role.PARENT}, {AgeBand.ADULT}),  # an adult about themselves, in their own case
    items=(
        Item(
            "individually",
            N_("Personligt"),
            N_("Hvordan har du haft det med dig selv den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "interpersonally",
            N_("Familien"),
            N_("Hvordan har du haft det med din familie og dem, der står dig nær, den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "socially",
            N_("Arbejde og venner"),
            N_("Hvordan er det gået med arbejde, uddannelse eller venner den seneste uge?"),
            _BAD,
            _GOOD,
        ),
        Item(
            "overall",
            N_("Alt i alt"),
            N_("Hvordan har du alt i alt haft det den seneste uge?"),
            _BAD,
            _GOOD,
        ),
    ),
)

SRS = Instrument(
    key="srs",
    kind=Kind.SRS,
    title=N_("SRS (samarbejde)"),
    fits=_fits({Role.PARENT}, set(AgeBand)) | _fits({Role.YOUTH}, {AgeBand.YOUTH}),
    items=(
        Item(
            "relationship",
            N_("Relation"),
            N_("Følte du, at din rådgiver lyttede til dig og tog dig alvorligt i dag?"),
            _NOT_AT_ALL,
            _VERY_MUCH,
        ),
        Item(
            "goals",
            N_("Mål og emner"),
            N_("Talte I om det, der var vigtigt for dig?"),
            _NOT_AT_ALL,
            _VERY_MUCH,
        ),
        Item(
            "approach",
            N_("Tilgang"),
            N_("Passede måden, I arbejdede på i dag, til dig?"),
            _NOT_AT_ALL,
            _VERY_MUCH,
        ),
        Item(
            "overall",
            N_("Alt i alt"),
            N_("Hvordan var mødet i dag alt i alt for dig?"),
            _BAD,
            _GOOD,
        ),
    ),
)

# Child versions: child words (me, family, school, everything); usually answered with an adult.
CORS = Instrument(
    key="cors",
    kind=Kind.ORS,
    title=N_("CORS (trivsel, barn)"),
    fits=_fits({Role.CHILD}, {AgeBand.CHILD}),  # a child 6-12, usually with an adult
    items=(
        Item("individually", N_("Mig selv"), N_("Hvordan har du haft det?"), _CHILD_BAD, _GOOD),
        Item(
            "interpersonally",
            N_("Familien"),
            N_("Hvordan har det været derhjemme?"),
            _CHILD_BAD,
            _GOOD,
        ),
        Item("socially", N_("Skolen"), N_("Hvordan har det været i skolen?"), _CHILD_BAD, _GOOD),
        Item("overall", N_("Det hele"), N_("Hvordan har alting været?"), _CHILD_BAD, _GOOD),
    ),
)

CSRS = Instrument(
    key="csrs",
    kind=Kind.SRS,
    title=N_("CSRS (samarbejde, barn)"),
    fits=_fits({Role.CHILD}, {AgeBand.CHILD}),
    items=(
        Item(
            "relationship",
            N_("Lytte"),
            N_("Lyttede din rådgiver til dig i dag?"),
            _NOT_AT_ALL,
            N_("Ja, rigtig meget"),
        ),
        Item(
            "goals",
            N_("Det vigtige"),
            N_("Talte I om det, der er vigtigt for dig?"),
            _NOT_AT_ALL,
            N_("Ja, rigtig meget"),
        ),
        Item(
            "approach",
            N_("Det vi lavede"),
            N_("Kunne du lide det, I lavede i dag?"),
            _NOT_AT_ALL,
            N_("Ja, rigtig meget"),
        ),
        Item("overall", N_("Alt i alt"), N_("Hvordan var det i dag alt i alt?"), _CHILD_BAD, _GOOD),
    ),
)

ALL_INSTRUMENTS: tuple[Instrument, ...] = (ORS_PARENT, ORS_YOUTH, ORS_ADULT, SRS, CORS, CSRS)
_BY_KEY: Mapping[str, Instrument] = MappingProxyType({i.key: i for i in ALL_INSTRUMENTS})


def instrument(key: str) -> Instrument:
    """The instrument with this key; ``KeyError`` for an unknown key."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown instrument {key!r}") from None


def instruments_for(role: Role, band: AgeBand) -> tuple[Instrument, Instrument]:
    """The (ORS-type, SRS-type) pair a respondent in ``role`` answers in a case of age band ``band``, from
    the instruments' ``fits``; ``ValueError`` when nothing fits (a young person in a 6-12 case)."""
    ors, srs = (_the_one(kind, role, band) for kind in Kind)
    return ors, srs


def role_fits(role: Role, band: AgeBand) -> bool:
    """Whether a respondent in ``role`` has questionnaires in a case of ``band`` (a young person only at
    13-17, a child only at 6-12, a parent always)."""
    return all(any(i.kind is kind and i.fits_respondent(role, band) for i in ALL_INSTRUMENTS) for kind in Kind)


def _the_one(kind: Kind, role: Role, band: AgeBand) -> Instrument:
    found = [i for i in ALL_INSTRUMENTS if i.kind is kind and i.fits_respondent(role, band)]
    if len(found) != 1:
        which = ", ".join(i.key for i in found) or "none"
        raise ValueError(f"{kind.value}: {len(found)} instruments fit a {role.value} in a {band.value} case ({which})")
    return found[0]


# --- licensed wording overrides -------------------------------------------------------------------


@dataclass(frozen=True)
class ItemText:
    question: str
    low: str
    high: str


# (instrument_key, item_key, lang) -> the licensed text in that language.
WordingOverrides = Mapping[tuple[str, str, str], ItemText]

NO_OVERRIDES: WordingOverrides = MappingProxyType({})

# "da", "en", "uk", "pt_BR": the locale names gettext catalogues use.
_LANG_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?", re.ASCII)
_TEXT_FIELDS = ("question", "low", "high")


def wording_overrides_from(data: Mapping[str, object], langs: Collection[str] | None = None) -> WordingOverrides:
    """Check licensed item texts, as read from TOML: ``[ors.individually] da = {question=..., low=..., high=...}``.

    ``langs`` limits the accepted language codes (default: any well-formed locale name). Every
    problem raises ``ValueError`` naming the offending key, so a typo never silently falls back.
    (Reading the file is bot.config's job: the domain does no I/O.)
    """
    result: dict[tuple[str, str, str], ItemText] = {}
    for inst_key, items in data.items():
        if inst_key not in _BY_KEY:
            raise ValueError(f"unknown instrument {inst_key!r} (known: {', '.join(_BY_KEY)})")
        inst = _BY_KEY[inst_key]
        for item_key, by_lang in _table(items, inst_key).items():
            where = f"{inst_key}.{item_key}"
            if item_key not in inst.item_keys:
                raise ValueError(f"{where}: unknown item {item_key!r} (known: {', '.join(inst.item_keys)})")
            for lang, fields in _table(by_lang, where).items():
                result[(inst_key, item_key, lang)] = _item_text(fields, f"{where}.{lang}", lang, langs)
    return MappingProxyType(result)


def _table(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a table")
    return value


def _item_text(fields: object, where: str, lang: str, langs: Collection[str] | None) -> ItemText:
    if not _LANG_RE.fullmatch(lang) or (langs is not None and lang not in langs):
        raise ValueError(f"{where}: unknown language {lang!r}")
    if not isinstance(fields, dict):
        raise ValueError(f"{where}: expected {{question=..., low=..., high=...}}")
    unknown = sorted(set(fields) - set(_TEXT_FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r}")
    for name in _TEXT_FIELDS:
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}.{name}: missing or empty text")
    return ItemText(fields["question"].strip(), fields["low"].strip(), fields["high"].strip())
