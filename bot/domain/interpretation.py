"""Reading a score: cut-offs, reliable change and the SRS alliance thresholds (fit-domain.md).

All values are tenths. The defaults are the published FIT/PCOMS figures; the ones marked
"convention" are FIT-bot's own choices and configurable like the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import Enum

from .instruments import SRS_ITEM_KEYS, AgeBand
from .scores import MAX_ITEM, MAX_TOTAL, total


@dataclass(frozen=True)
class Thresholds:
    cutoff_adult: int = 250  # ORS clinical cut-off, adults
    cutoff_youth: int = 280  # ORS clinical cut-off, 13-17
    cutoff_child: int = 320  # CORS clinical cut-off, 6-12
    reliable_change: int = 50  # ORS total change that counts as reliable, both directions
    srs_total: int = 360  # an SRS total *below* this signals an alliance problem
    srs_item: int = 90  # an SRS item *below* this points to where
    srs_drop: int = 10  # convention: an SRS fall of at least 1.0 point since last time is a warning
    not_on_track_meetings: int = 4  # no reliable improvement after this many ORS answers: talk
    low_item: int = 20  # convention: an ORS item at or below 2.0 is "very low"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError("<field>: <what is wrong>")`` for the first out-of-range value."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{f.name}: must be a whole number, got {value!r}")
        ranges = {
            "cutoff_adult": (1, MAX_TOTAL - 1),
            "cutoff_youth": (1, MAX_TOTAL - 1),
            "cutoff_child": (1, MAX_TOTAL - 1),
            "reliable_change": (1, MAX_TOTAL),
            "srs_total": (1, MAX_TOTAL),
            "srs_item": (1, MAX_ITEM),
            "srs_drop": (1, MAX_TOTAL),
            "low_item": (0, MAX_ITEM),
            "not_on_track_meetings": (2, 52),
        }
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name}: must be between {low} and {high}, got {value}")


DEFAULT_THRESHOLDS = Thresholds()


def cutoff(band: AgeBand, t: Thresholds) -> int:
    """The ORS cut-off for the person being rated (a parent rating a 9-year-old: the child's)."""
    return {
        AgeBand.CHILD: t.cutoff_child,
        AgeBand.YOUTH: t.cutoff_youth,
        AgeBand.ADULT: t.cutoff_adult,
    }[band]


def is_clinical(ors_total: int, cutoff_tenths: int) -> bool:
    """Below the cut-off looks like people in help; at or above it like people not in help."""
    return ors_total < cutoff_tenths


class Course(Enum):
    RECOVERED = "recovered"  # reliable improvement from below the cut-off to at/above it
    IMPROVED = "improved"  # reliable improvement
    UNCHANGED = "unchanged"  # change smaller than the reliable change
    DETERIORATED = "deteriorated"  # reliable deterioration


def classify(first_total: int, latest_total: int, cutoff: int, reliable_change: int) -> Course:
    """The course from the first to the latest ORS total.

    A change of exactly ``reliable_change`` counts as reliable. RECOVERED (clinically significant
    change, Jacobson & Truax) needs the start below the cut-off: someone who started at or above
    it, as mandated families sometimes do, can improve but not "recover".
    """
    change = latest_total - first_total
    if change >= reliable_change:
        crossed = is_clinical(first_total, cutoff) and not is_clinical(latest_total, cutoff)
        return Course.RECOVERED if crossed else Course.IMPROVED
    if change <= -reliable_change:
        return Course.DETERIORATED
    return Course.UNCHANGED


@dataclass(frozen=True)
class SrsFlags:
    total_low: bool  # a complete total below srs_total
    low_items: tuple[str, ...]  # keys of answered items below srs_item, in instrument order

    @property
    def any(self) -> bool:
        return self.total_low or bool(self.low_items)


def srs_flags(items: Sequence[int | None], t: Thresholds, keys: Sequence[str] = SRS_ITEM_KEYS) -> SrsFlags:
    """Flag an SRS: "below" is strict, so exactly 36.0 and exactly 9.0 are fine.

    A skipped item has no total (see ``scores.total``); the answered items are still checked.
    """
    if len(items) != len(keys):
        raise ValueError(f"expected {len(keys)} SRS items, got {len(items)}")
    srs_total = total(items)
    low = tuple(key for key, value in zip(keys, items, strict=True) if value is not None and value < t.srs_item)
    return SrsFlags(total_low=srs_total is not None and srs_total < t.srs_total, low_items=low)
