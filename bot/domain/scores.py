"""Scores as integer tenths: exact arithmetic for a scale that has one decimal.

An item is 0..100 (7.5 points == 75), a four-item total 0..400, a skipped item ``None``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

MIN_ITEM = 0
MAX_ITEM = 100
MAX_TOTAL = 400

# ASCII digits only: "٧" or "½" must not sneak through str.isdigit-style parsing.
_SCORE_RE = re.compile(r"([0-9]{1,2})(?:[.,]([0-9])(0*))?", re.ASCII)


def points_to_tenths(x: float | int) -> int:
    """Convert points (e.g. a configured 2.5) to tenths (25), rounding to the nearest tenth."""
    if isinstance(x, bool) or not math.isfinite(x):
        raise ValueError(f"not a finite number of points: {x!r}")
    return round(x * 10)


def parse_score(text: str) -> int | None:
    """Parse a typed item score ("7", "7,5", "7.5", "10", "7,50") to tenths; ``None`` if not valid.

    Accepts a decimal comma or point and at most one significant decimal; anything else
    (out of range, "7,55", words, exponents, fractions, non-ASCII digits) is ``None``.
    """
    match = _SCORE_RE.fullmatch(text.strip())
    if match is None:
        return None
    whole, tenth, _zeros = match.groups()
    value = int(whole) * 10 + (int(tenth) if tenth else 0)
    return value if MIN_ITEM <= value <= MAX_ITEM else None


def is_valid_item(value: object) -> bool:
    """True for an answered item in range (an int 0..100, not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and MIN_ITEM <= value <= MAX_ITEM


def total(items: Sequence[int | None]) -> int | None:
    """The sum of the items in tenths, or ``None`` when any item was skipped.

    A total with a skipped item would not be comparable with the cut-offs or earlier totals,
    so a partly answered form has no total (its answered items still count item by item).
    """
    if any(item is None for item in items):
        return None
    for item in items:
        if not is_valid_item(item):
            raise ValueError(f"item score out of range 0..{MAX_ITEM} tenths: {item!r}")
    return sum(item for item in items if item is not None)
