"""Set translations in a catalogue from a small JSON map {msgid: translation} (clears fuzzy flags).

    python scripts/translate.py en translations.json

A convenience for translators who work outside a PO editor; `python -m bot.i18n.catalogs check` after.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from bot.i18n.catalogs import write
from bot.i18n.core import DOMAIN, LOCALES_DIR


def main(language: str, mapping_file: str) -> int:
    mapping = json.loads(Path(mapping_file).read_text(encoding="utf-8"))
    path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    done = 0
    for message in catalog:
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key in mapping:
            value = mapping[key]
            message.string = tuple(value) if isinstance(message.id, tuple) else value
            message.flags.discard("fuzzy")
            message.previous_id = []
            done += 1
    write(catalog, path)  # the catalogues' one layout
    print(f"{done} of {len(mapping)} translations set in {path}")
    return 0 if done == len(mapping) else 1


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
