"""Numbers and dates the way each language writes them (Babel; da_DK uses a decimal comma)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_decimal

from bot.i18n.core import current_language

_LOCALES = {"da": "da_DK", "en": "en_GB"}
# Patterns per language; a language without its own falls back to the CLDR medium format.
_LONG = {"da": "EEEE 'den' d. MMMM 'kl.' HH.mm", "en": "EEEE d MMMM 'at' HH:mm"}
_SHORT = {"da": "dd.MM. 'kl.' HH.mm", "en": "d MMM HH:mm"}
_DATE_SHORT = {"da": "d.M.", "en": "d MMM"}
_DATE_LONG = {"da": "EEEE 'den' d. MMMM", "en": "EEEE d MMMM"}
_FULL = {"da": "d. MMMM yyyy 'kl.' HH.mm", "en": "d MMMM yyyy 'at' HH:mm"}


def _locale() -> str:
    language = current_language()
    return _LOCALES.get(language, language)


def format_points(tenths: int | None) -> str:
    """A score in tenths as points with one decimal: 275 -> "27,5" (da) / "27.5" (en); None -> "–"."""
    if tenths is None:
        return "–"
    return format_decimal(tenths / 10, format="0.0", locale=_locale())


def format_signed_points(tenths: int) -> str:
    """A change: +5,0 / −3,5 (a real minus sign reads better on a phone)."""
    text = format_points(abs(tenths))
    return f"+{text}" if tenths > 0 else (f"−{text}" if tenths < 0 else text)


def _format(when: datetime, tz: ZoneInfo, patterns: dict[str, str], fallback: str) -> str:
    pattern = patterns.get(current_language(), fallback)
    return format_datetime(when, pattern, tzinfo=tz, locale=_locale())


def format_datetime_long(when: datetime, tz: ZoneInfo) -> str:
    """ "tirsdag den 24. november kl. 14.30"."""
    return _format(when, tz, _LONG, "medium")


def format_datetime_short(when: datetime, tz: ZoneInfo) -> str:
    """ "24.11. kl. 14.30"."""
    return _format(when, tz, _SHORT, "short")


def format_date_short(when: datetime, tz: ZoneInfo) -> str:
    """ "24.11." for chart axes and tables."""
    return _format(when, tz, _DATE_SHORT, "d MMM")


def format_date_long(when: datetime, tz: ZoneInfo) -> str:
    """ "tirsdag den 24. november"."""
    return _format(when, tz, _DATE_LONG, "long")


def format_datetime_full(when: datetime, tz: ZoneInfo) -> str:
    """ "24. november 2026 kl. 14.30": with the year, for records that span years (a person's own data)."""
    return _format(when, tz, _FULL, "long")
