"""The catalogue workflow: `python -m bot.i18n.catalogs update|check`.

update = `pybabel extract` + `pybabel update` through Babel's API, then the Danish catalogue is filled
from the msgids (Danish is the source language, so its translations are the msgids themselves).
check  = what the test suite asserts: every message in every catalogue, translated, not fuzzy, with the
same {placeholders} as the Danish original (for a plural message: every form, the one for n = 1 matching
the Danish singular or plural, the others the plural). Compiling is not a step: catalogues compile at
start-up.
"""

from __future__ import annotations

import copy
import gettext
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n.core import DEFAULT_LANGUAGE, DOMAIN, LOCALES_DIR

PACKAGE_DIR = LOCALES_DIR.parent.parent
TEMPLATE = LOCALES_DIR.parent / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "N_": None, "lazy_gettext": None, "ngettext": (1, 2)}
_PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def extract() -> Catalog:
    template = Catalog(project="FIT-bot", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(PACKAGE_DIR), method_map=[("**.py", "python")], keywords=KEYWORDS, comment_tags=("i18n:",)
    ):
        template.add(message, None, [(f"bot/{filename}", lineno)], auto_comments=comments, context=context)
    return template


def _po_path(language: str, locales_dir: Path | None = None) -> Path:
    return (locales_dir or LOCALES_DIR) / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _read(language: str, locales_dir: Path | None = None) -> Catalog:
    path = _po_path(language, locales_dir)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="FIT-bot", fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        # Sorted, with file names but no line numbers: an edit elsewhere in a file does not touch the catalogues,
        # and two branches adding different messages merge without conflicts.
        write_po(
            handle, catalog, width=100, omit_header=False, sort_output=True, ignore_obsolete=True, include_lineno=False
        )


def languages(locales_dir: Path | None = None) -> list[str]:
    return sorted(p.name for p in (locales_dir or LOCALES_DIR).iterdir() if (p / "LC_MESSAGES").is_dir())


def update() -> None:
    template = extract()
    template.revision_date = datetime(2026, 1, 1, tzinfo=UTC)  # stable output, no churn in diffs
    template.creation_date = template.revision_date
    write(template, TEMPLATE)
    for language in languages():
        catalog = _read(language)
        # A copy per language: Catalog.update() adopts the template's message objects.
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=language == DEFAULT_LANGUAGE)
        catalog.revision_date = template.revision_date
        if language == DEFAULT_LANGUAGE:
            for message in catalog:
                if message.id:
                    message.string = message.id
                    message.flags.discard("fuzzy")
        write(catalog, _po_path(language))


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def problems(template: Catalog | None = None, locales_dir: Path | None = None) -> list[str]:
    """Everything that keeps a catalogue from being complete; empty when all is well.

    By default the messages extracted from bot/ against the catalogues in bot/i18n/locales; the tests
    pass a template and a folder of their own to see each problem found.
    """
    template = extract() if template is None else template
    found: list[str] = []
    for language in languages(locales_dir):
        found += catalog_problems(template, _read(language, locales_dir), language)
    return found


def catalog_problems(template: Catalog, catalog: Catalog, language: str) -> list[str]:
    found: list[str] = []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id, context=message.context)
        label = message.id if isinstance(message.id, str) else message.id[0]
        if entry is None:
            found.append(f"{language}: missing {label!r}")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        if entry.fuzzy:
            found.append(f"{language}: fuzzy {label!r}")
        if not all(strings):
            found.append(f"{language}: untranslated {label!r}")
            continue
        one = _form_for_one(catalog)
        for n, text in enumerate(strings):
            if _placeholders(text) not in _expected_placeholders(ids, n == one):
                form = f" (form {n})" if len(strings) > 1 else ""
                found.append(f"{language}: placeholders differ in {label!r}{form}")
    return found


def _expected_placeholders(ids: tuple[str, ...], for_one: bool) -> list[set[str]]:
    """The placeholder sets a form of a translation may have.

    The code formats every form with the same arguments, so no form may use a {name} the code does not
    pass (that would raise at run time) or drop one such as {when}. Only the form the language uses for
    n = 1 may follow the singular, which may leave out the number ("én sag"); every other form follows
    the plural. (For a message without a plural both are the msgid.)
    """
    singular, plural = _placeholders(ids[0]), _placeholders(ids[-1])
    return [singular, plural] if for_one else [plural]


def _form_for_one(catalog: Catalog) -> int | None:
    """Which plural form the catalogue's Plural-Forms picks for n = 1 (0 in Danish, 1 in Arabic); None when
    the language has a single form, which then serves every number."""
    if catalog.num_plurals <= 1:
        return None
    try:
        return int(gettext.c2py(catalog.plural_expr)(1))
    except (ValueError, SyntaxError):
        return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
        argv = ["check"]
    if argv[:1] == ["check"]:
        issues = problems()
        for line in issues:
            print(line)
        print(f"{len(issues)} problem(s) in {', '.join(languages())}")
        return 1 if issues else 0
    print("usage: python -m bot.i18n.catalogs update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
