"""Catalogues loaded once, the language in a ContextVar, lazy strings for module-level texts."""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.domain.text import N_

DOMAIN = "fitbot"
DEFAULT_LANGUAGE = "da"
LOCALES_DIR = Path(str(resources.files("bot.i18n").joinpath("locales")))

_language: ContextVar[str] = ContextVar("fitbot_language", default=DEFAULT_LANGUAGE)
# (instrument, item, field, language) -> licensed wording supplied by a municipality.
_overrides: dict[tuple[str, str, str, str], str] = {}


@cache
def available_languages() -> tuple[str, ...]:
    """Every language with a catalogue; adding one is adding a folder with a .po file, not code."""
    found = sorted(p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return tuple([DEFAULT_LANGUAGE, *(lang for lang in found if lang != DEFAULT_LANGUAGE)])


def normalize_language(code: str | None) -> str:
    """A Telegram language_code such as "en-GB" -> a language we have, else Danish."""
    if code:
        base = code.replace("_", "-").split("-")[0].lower()
        if base in available_languages():
            return base
    return DEFAULT_LANGUAGE


@cache
def _translations(language: str) -> _gettext.NullTranslations:
    """Compile the .po file in memory at first use, so a stale or missing .mo can never be served."""
    po_path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return _gettext.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def current_language() -> str:
    return _language.get()


@contextmanager
def use_language(language: str | None) -> Iterator[str]:
    """Bind the language for the code in the with-block (and the tasks it starts)."""
    token = _language.set(normalize_language(language))
    try:
        yield _language.get()
    finally:
        _language.reset(token)


def _(message: str) -> str:
    return _translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations(_language.get()).ngettext(singular, plural, n)


class LazyString:
    """A text translated when it is used, in the language bound at that moment."""

    __slots__ = ("_message",)

    def __init__(self, message: str) -> None:
        self._message = message

    def __str__(self) -> str:
        return _(self._message)

    def __repr__(self) -> str:
        return f"LazyString({self._message!r})"

    def format(self, *args: object, **kwargs: object) -> str:
        return str(self).format(*args, **kwargs)

    @property
    def msgid(self) -> str:
        return self._message


def lazy_gettext(message: str) -> LazyString:
    return LazyString(message)


def set_wording_overrides(overrides: dict[tuple[str, str, str, str], str]) -> None:
    """Install a licensed municipality's official item texts (see bot.domain.instruments)."""
    _overrides.clear()
    _overrides.update(overrides)


def item_text(instrument: str, item: str, field: str, msgid: str) -> str:
    """An instrument item's text: the licensed override for this language if given, else our own."""
    return _overrides.get((instrument, item, field, _language.get())) or _(msgid)


def language_name(language: str) -> str:
    """The language's name in itself ("dansk", "English"), for the /sprog buttons."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


__all__ = ["N_"]
