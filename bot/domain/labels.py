"""Case labels: pseudonymous, short and never a CPR number.

A label is what the caseworker's channel shows instead of a name, so it must not identify a child.
"""

from __future__ import annotations

import calendar
import re
from enum import Enum

from .text import N_

MAX_LABEL_LENGTH = 40
_ALLOWED_PUNCTUATION = frozenset(" -_./#")

# DDMMYY, then four digits, optionally separated (010203-1234, 010203 1234, 01.02.03-1234, with an
# en dash from a word processor). Not glued to other digits, so longer numbers don't count.
_SEPARATORS = re.escape(" ./_-\u2010\u2011\u2012\u2013\u2014\u2212")  # what people put in, dashes of Word
_CPR_RE = re.compile(
    rf"(?<![0-9])([0-9]{{2}})[./-]?([0-9]{{2}})[./-]?[0-9]{{2}}[{_SEPARATORS}]?[0-9]{{4}}(?![0-9])",
    re.ASCII,
)


class LabelProblem(Enum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    BAD_CHARACTERS = "bad_characters"
    LOOKS_LIKE_CPR = "looks_like_cpr"

    @property
    def message(self) -> str:
        """A short hint for the caseworker (msgid; ``{max_length}`` for TOO_LONG)."""
        return _MESSAGES[self]


_MESSAGES = {
    LabelProblem.EMPTY: N_("Skriv en kort betegnelse for sagen, fx et sagsnummer."),
    LabelProblem.TOO_LONG: N_("Betegnelsen må højst være {max_length} tegn."),
    LabelProblem.BAD_CHARACTERS: N_("Brug kun bogstaver, tal, mellemrum og - _ . / #"),
    LabelProblem.LOOKS_LIKE_CPR: N_("Det ligner et CPR-nummer. Brug en betegnelse, der ikke kan identificere barnet."),
}


def looks_like_cpr(text: str) -> bool:
    """True when ``text`` contains something shaped like a CPR number with a real day and month.

    No modulus-11 check: CPR numbers issued since 2007 need not pass it. 29.02 always counts,
    as the two-digit year may be a leap year.
    """
    for match in _CPR_RE.finditer(text):
        day, month = int(match[1]), int(match[2])
        if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2000, month)[1]:
            return True
    return False


def normalize_case_label(text: str) -> str:
    """The label as stored: outer whitespace removed, inner runs of whitespace made one space."""
    return " ".join(text.split())


def validate_case_label(text: str) -> LabelProblem | None:
    """The first problem with a label (checked after ``normalize_case_label``), or ``None``.

    A CPR number wins over other problems, so the hint the caseworker gets is the important one.
    Letters are any Unicode letters (æ, ø, å, é, ...); digits are ASCII only.
    """
    label = normalize_case_label(text)
    if not label:
        return LabelProblem.EMPTY
    if looks_like_cpr(label):
        return LabelProblem.LOOKS_LIKE_CPR
    if len(label) > MAX_LABEL_LENGTH:
        return LabelProblem.TOO_LONG
    if not all(c.isalpha() or "0" <= c <= "9" or c in _ALLOWED_PUNCTUATION for c in label):
        return LabelProblem.BAD_CHARACTERS
    return None
