"""A one-line text trend of totals for a chat message: ``… 18,0 ↑ 23,5 → 24,0 · – · 22,0``.

The sign between two totals tells the direction judged by the reliable change, so a caseworker
reads "↑" as *sikker fremgang* and "→" as "no reliable change", not as any wobble.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum

SKIPPED = "–"  # a meeting without a complete total
GAP = "·"  # between a total and a skipped one: no direction to tell
MORE = "…"  # earlier totals exist but are not shown


class Arrow(Enum):
    UP = "↑"  # reliable improvement
    DOWN = "↓"  # reliable deterioration
    FLAT = "→"  # change smaller than the reliable change


def arrow(previous: int, current: int, reliable_change: int) -> Arrow:
    """The direction from one total to the next; a change of exactly ``reliable_change`` counts."""
    change = current - previous
    if change >= reliable_change:
        return Arrow.UP
    if change <= -reliable_change:
        return Arrow.DOWN
    return Arrow.FLAT


def text_trend(
    totals: Sequence[int | None],
    reliable_change: int,
    fmt: Callable[[int], str],
    *,
    last: int = 6,
) -> str:
    """The last ``last`` totals (tenths) in meeting order, ``fmt`` formatting a total as points.

    Empty history gives "". Arrows compare neighbours only; around a skipped total the separator
    is a neutral dot, because a direction across a gap would hide that something is missing.
    """
    if last < 1:
        raise ValueError(f"last: must be at least 1, got {last}")
    shown = list(totals[-last:])
    parts: list[str] = [MORE] if len(totals) > last else []
    for i, value in enumerate(shown):
        if i > 0:
            previous = shown[i - 1]
            if previous is None or value is None:
                parts.append(GAP)
            else:
                parts.append(arrow(previous, value, reliable_change).value)
        parts.append(SKIPPED if value is None else fmt(value))
    return " ".join(parts)
