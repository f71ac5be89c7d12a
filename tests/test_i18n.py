"""Catalogues complete, Danish formats right, the language bound per person."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import (
    _,
    available_languages,
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
