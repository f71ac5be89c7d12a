"""Everything a person reads goes through here: gettext bound to the person's language, and Babel formats.

Handlers set the language once per update (`use_language`); code below them calls `_()` and friends
without passing the language around. Danish is the source language: msgids are the Danish texts.
"""

from bot.i18n.core import (
    DEFAULT_LANGUAGE,
    N_,
    LazyString,
    _,
    available_languages,
    current_language,
    language_name,
    lazy_gettext,
    ngettext,
    normalize_language,
    set_wording_overrides,
    use_language,
)
from bot.i18n.formatting import (
    format_date_long,
    format_date_short,
    format_datetime_full,
    format_datetime_long,
    format_datetime_short,
    format_points,
    format_signed_points,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "N_",
    "LazyString",
    "_",
    "available_languages",
    "current_language",
    "format_date_long",
    "format_date_short",
    "format_datetime_full",
    "format_datetime_long",
    "format_datetime_short",
    "format_points",
    "format_signed_points",
    "language_name",
    "lazy_gettext",
    "ngettext",
    "normalize_language",
    "set_wording_overrides",
    "use_language",
]
