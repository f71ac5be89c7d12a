"""Catalogues complete, Danish formats right, the language bound per person."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.i18n import (
    _,
    available_languages,
    catalogs,
    format_date_long,
    format_datetime_long,
    format_datetime_short,
    format_points,
    format_signed_points,
    lazy_gettext,
    ngettext,
    normalize_language,
    use_language,
)
from bot.i18n.catalogs import problems

CPH = ZoneInfo("Europe/Copenhagen")


def test_every_message_is_in_every_catalogue_translated_and_not_fuzzy() -> None:
    assert problems() == []


def test_languages_come_from_the_catalogues() -> None:
    assert available_languages()[0] == "da"
    assert "en" in available_languages()
    assert normalize_language("en-GB") == "en"
    assert normalize_language("so") == "da"  # no Somali catalogue yet: Danish
    assert normalize_language(None) == "da"


def test_translation_follows_the_bound_language() -> None:
    message = "Spørgsmålene er lukket."
    lazy = lazy_gettext(message)
    with use_language("en"):
        english = _(message)
        assert str(lazy) == english
        with use_language("da"):
            assert _(message) == message
            assert str(lazy) == message
        assert _(message) == english
    assert english != message


@pytest.mark.parametrize(("n", "danish"), [(1, "1 åben sag"), (2, "2 åbne sager"), (0, "0 åbne sager")])
def test_danish_plural_forms(n: int, danish: str) -> None:
    with use_language("da"):
        assert ngettext("{count} åben sag", "{count} åbne sager", n).format(count=n) == danish


def test_numbers_and_dates_in_danish_and_english() -> None:
    when = datetime(2026, 11, 24, 13, 30, tzinfo=UTC)
    with use_language("da"):
        assert format_points(275) == "27,5"
        assert format_points(70) == "7,0"
        assert format_points(None) == "–"
        assert format_signed_points(-35) == "−3,5"
        assert format_signed_points(50) == "+5,0"
        assert format_datetime_long(when, CPH) == "tirsdag den 24. november kl. 14.30"
        assert format_datetime_short(when, CPH) == "24.11. kl. 14.30"
        assert format_date_long(when, CPH) == "tirsdag den 24. november"
    with use_language("en"):
        assert format_points(275) == "27.5"
        assert format_datetime_long(when, CPH) == "Tuesday 24 November at 14:30"
        assert format_date_long(when, CPH) == "Tuesday 24 November"


def test_summer_time_is_shown_in_local_time() -> None:
    with use_language("da"):
        assert format_datetime_short(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), CPH) == "01.07. kl. 14.00"


# --- the catalogue check itself: each problem it must find, on temporary catalogues -------------------


def _template() -> Catalog:
    template = Catalog(domain="fitbot", fuzzy=False)
    template.add("Tak for dit svar")
    template.add("Mødet er {when}")
    template.add(("{count} sag", "{count} sager"))
    template.add(("Én person får spørgsmålene {when}.", "{count} personer får spørgsmålene {when}."))
    return template


GOOD_EN = {
    "Tak for dit svar": "Thank you for your answer",
    "Mødet er {when}": "The meeting is {when}",
    "{count} sag": ("{count} case", "{count} cases"),
    "Én person får spørgsmålene {when}.": ("One person gets the questions {when}.", "{count} people get them {when}."),
}
PLURALS = {
    "en": "nplurals=2; plural=(n != 1);",
    "ja": "nplurals=1; plural=0;",
    "uk": "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);",
}


def _po_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_catalogue(
    locales: Path, language: str, entries: dict[str, str | tuple[str, ...]], fuzzy: frozenset[str] = frozenset()
) -> None:
    """A .po file written by hand, as a translator's editor would leave it."""
    ids = {message.id[0] if isinstance(message.id, tuple) else message.id: message.id for message in _template()}
    lines = ['msgid ""', 'msgstr ""', f'"Language: {language}\\n"', f'"Plural-Forms: {PLURALS[language]}\\n"', ""]
    for key, translation in entries.items():
        if key in fuzzy:
            lines.append("#, fuzzy")
        msgid = ids[key]
        if isinstance(msgid, tuple):
            lines += [f"msgid {_po_string(msgid[0])}", f"msgid_plural {_po_string(msgid[1])}"]
            lines += [f"msgstr[{n}] {_po_string(form)}" for n, form in enumerate(translation)]
        else:
            lines += [f"msgid {_po_string(msgid)}", f"msgstr {_po_string(str(translation))}"]
        lines.append("")
    path = locales / language / "LC_MESSAGES" / "fitbot.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def _problems(
    tmp_path: Path,
    entries: dict[str, str | tuple[str, ...]],
    language: str = "en",
    fuzzy: frozenset[str] = frozenset(),
) -> list[str]:
    _write_catalogue(tmp_path, language, entries, fuzzy)
    return problems(_template(), tmp_path)


def test_a_complete_catalogue_has_no_problems(tmp_path: Path) -> None:
    assert _problems(tmp_path, GOOD_EN) == []


def test_a_missing_entry(tmp_path: Path) -> None:
    entries = {k: v for k, v in GOOD_EN.items() if k != "Tak for dit svar"}
    assert _problems(tmp_path, entries) == ["en: missing 'Tak for dit svar'"]


def test_a_missing_plural_entry(tmp_path: Path) -> None:
    entries = {k: v for k, v in GOOD_EN.items() if k != "{count} sag"}
    assert _problems(tmp_path, entries) == ["en: missing '{count} sag'"]


def test_a_fuzzy_entry(tmp_path: Path) -> None:
    assert _problems(tmp_path, GOOD_EN, fuzzy=frozenset({"Mødet er {when}"})) == ["en: fuzzy 'Mødet er {when}'"]


def test_an_empty_translation(tmp_path: Path) -> None:
    assert _problems(tmp_path, {**GOOD_EN, "Tak for dit svar": ""}) == ["en: untranslated 'Tak for dit svar'"]


def test_an_empty_plural_form(tmp_path: Path) -> None:
    assert _problems(tmp_path, {**GOOD_EN, "{count} sag": ("{count} case", "")}) == ["en: untranslated '{count} sag'"]


def test_a_plural_form_the_language_needs_but_the_file_lacks(tmp_path: Path) -> None:
    uk = {**GOOD_EN, "{count} sag": ("{count} справа", "{count} справи")}  # three forms in Ukrainian
    uk["Én person får spørgsmålene {when}."] = ("{count} {when}", "{count} {when}", "{count} {when}")
    assert _problems(tmp_path, uk, language="uk") == ["uk: untranslated '{count} sag'"]


def test_a_mismatched_placeholder_in_the_singular(tmp_path: Path) -> None:
    found = _problems(tmp_path, {**GOOD_EN, "Mødet er {when}": "The meeting is {time}"})
    assert found == ["en: placeholders differ in 'Mødet er {when}'"]


@pytest.mark.parametrize(
    ("forms", "bad_form"),
    [
        (("{count} case", "{cuont} cases"), 1),  # a typo in the second form: a KeyError at run time
        (("{count} case", "cases"), 1),  # the number dropped from the plural
        (("{cuont} case", "{count} cases"), 0),
    ],
)
def test_a_mismatched_placeholder_in_a_plural_form(tmp_path: Path, forms: tuple[str, str], bad_form: int) -> None:
    found = _problems(tmp_path, {**GOOD_EN, "{count} sag": forms})
    assert found == [f"en: placeholders differ in '{{count}} sag' (form {bad_form})"]


def test_every_form_keeps_the_other_placeholders(tmp_path: Path) -> None:
    key = "Én person får spørgsmålene {when}."
    assert _problems(tmp_path, {**GOOD_EN, key: ("One person gets them {when}.", "{count} people get them.")}) == [
        f"en: placeholders differ in {key!r} (form 1)"
    ]
    # The first form may follow the singular and leave out the number; a later form may not.
    assert _problems(tmp_path, {**GOOD_EN, key: ("One person gets them {when}.", "{count} get them {when}.")}) == []
    assert _problems(tmp_path, {**GOOD_EN, key: ("{count} get them {when}.", "People get them {when}.")}) == [
        f"en: placeholders differ in {key!r} (form 1)"
    ]


def test_a_language_with_one_form_uses_the_plural(tmp_path: Path) -> None:
    key = "Én person får spørgsmålene {when}."
    ja = {**GOOD_EN, "{count} sag": ("{count} 件",), key: ("{count} 人 {when}",)}
    assert _problems(tmp_path, ja, language="ja") == []
    ja[key] = ("一人 {when}",)  # the only form serves every number: it must show it
    assert _problems(tmp_path, ja, language="ja") == [f"ja: placeholders differ in {key!r}"]


def test_the_form_for_one_follows_the_language_s_plural_rule(tmp_path: Path) -> None:
    """In Arabic n = 1 is form 1 (form 0 is n = 0): there, not in form 0, may the number be left out."""
    template = Catalog(domain="fitbot", fuzzy=False)
    template.add(("Én sag", "{count} sager"))
    ar = ("{count} قضايا", "قضية واحدة", *(["{count} قضايا"] * 4))
    assert catalogs.catalog_problems(template, _arabic(tmp_path, ar), "ar") == []
    swapped = ("قضية واحدة", "{count} قضايا", *(["{count} قضايا"] * 4))
    assert catalogs.catalog_problems(template, _arabic(tmp_path, swapped), "ar") == [
        "ar: placeholders differ in 'Én sag' (form 0)"
    ]


def _arabic(tmp_path: Path, forms: tuple[str, ...]) -> Catalog:
    header = "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);"
    lines = [
        'msgid ""',
        'msgstr ""',
        f'"Plural-Forms: {header}\\n"',
        "",
        'msgid "Én sag"',
        'msgid_plural "{count} sager"',
    ]
    lines += [f"msgstr[{n}] {_po_string(form)}" for n, form in enumerate(forms)]
    path = tmp_path / "ar.po"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with path.open("rb") as handle:
        return read_po(handle, locale="ar", domain="fitbot")


def test_every_catalogue_in_the_folder_is_checked(tmp_path: Path) -> None:
    _write_catalogue(tmp_path, "en", GOOD_EN)
    _write_catalogue(tmp_path, "uk", {"Tak for dit svar": "Дякую"})
    found = problems(_template(), tmp_path)
    assert len(found) == 3
    assert all(line.startswith("uk: missing") for line in found)


def test_the_check_command_fails_on_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_catalogue(tmp_path, "en", {**GOOD_EN, "{count} sag": ("{count} case", "{cuont} cases")})
    monkeypatch.setattr(catalogs, "LOCALES_DIR", tmp_path)
    monkeypatch.setattr(catalogs, "extract", _template)
    assert catalogs.main(["check"]) == 1
    out = capsys.readouterr().out
    assert "en: placeholders differ in '{count} sag' (form 1)" in out
    assert "1 problem(s) in en" in out
