"""What a caseworker should notice in one respondent's history: alerts and good news.

Each rule is a small pure function ``(history, band, thresholds, instruments) -> Finding | None``
that looks at the *latest* measurement against the earlier ones. Rules are stateless: a condition
that persists (not on track, improvement) is reported again at every meeting; deciding what to push
and what to repeat is the alerts service's job.

Messages are Danish msgids with ``{placeholders}``. Param conventions for the renderer:
  * a name ending in ``_tenths`` holds an int in tenths: format it as points ("27,5");
  * ``items`` holds a tuple of item-domain msgids: translate each and join them;
  * any other int is a plain count, any other str is machine data (not shown).
``format_finding`` applies exactly these conventions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from types import MappingProxyType

from .instruments import AgeBand, Instrument, Kind
from .interpretation import Course, Thresholds, classify, cutoff, srs_flags
from .scores import is_valid_item, total
from .text import N_


@dataclass(frozen=True)
class Measurement:
    """One meeting's answers from one respondent, items in instrument order (``None`` = skipped)."""

    meeting_at: datetime  # aware
    ors: tuple[int | None, ...] | None = None  # None: the ORS was not answered
    srs: tuple[int | None, ...] | None = None  # None: the SRS was not answered

    def __post_init__(self) -> None:
        if self.meeting_at.utcoffset() is None:
            raise ValueError("meeting_at: must be an aware datetime")
        for name in ("ors", "srs"):
            items = getattr(self, name)
            if items is None:
                continue
            items = tuple(items)  # accept any sequence but store a hashable tuple
            for value in items:
                if value is not None and not is_valid_item(value):
                    raise ValueError(f"{name}: item score out of range 0..100 tenths: {value!r}")
            object.__setattr__(self, name, items)

    @property
    def ors_total(self) -> int | None:
        return None if self.ors is None else total(self.ors)

    @property
    def srs_total(self) -> int | None:
        return None if self.srs is None else total(self.srs)


class AlertKind(Enum):
    ALLIANCE_LOW = "alliance_low"
    ALLIANCE_DROP = "alliance_drop"
    DETERIORATION_PREVIOUS = "deterioration_previous"
    DETERIORATION_FIRST = "deterioration_first"
    NOT_ON_TRACK = "not_on_track"
    LOW_ITEM = "low_item"
    IMPROVEMENT = "improvement"  # good news, not an alert
    NO_RESPONSE = "no_response"  # service level: no answer after the reminder
    UNREACHABLE = "unreachable"  # service level: the bot is blocked


class Severity(Enum):
    POSITIVE = "positive"
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"


SEVERITY: Mapping[AlertKind, Severity] = MappingProxyType(
    {
        AlertKind.DETERIORATION_PREVIOUS: Severity.HIGH,
        AlertKind.DETERIORATION_FIRST: Severity.HIGH,
        AlertKind.NOT_ON_TRACK: Severity.WARNING,
        AlertKind.LOW_ITEM: Severity.WARNING,
        AlertKind.ALLIANCE_LOW: Severity.WARNING,
        AlertKind.ALLIANCE_DROP: Severity.WARNING,
        AlertKind.UNREACHABLE: Severity.WARNING,
        AlertKind.NO_RESPONSE: Severity.INFO,
        AlertKind.IMPROVEMENT: Severity.POSITIVE,
    }
)
_RANK = {Severity.HIGH: 0, Severity.WARNING: 1, Severity.INFO: 2, Severity.POSITIVE: 3}

ParamValue = int | str | tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    kind: AlertKind
    severity: Severity
    message: str  # Danish msgid with {placeholders}
    # Left out of the hash (a mapping has none), so findings can still go in sets and dict keys.
    params: Mapping[str, ParamValue] = field(default_factory=lambda: MappingProxyType({}), hash=False)


def _finding(kind: AlertKind, message: str, **params: ParamValue) -> Finding:
    return Finding(kind, SEVERITY[kind], message, MappingProxyType(params))


# --- service-level findings -------------------------------------------------------------------------

NO_RESPONSE_MESSAGE = N_("Ingen svar efter påmindelsen.")
UNREACHABLE_MESSAGE = N_("Kan ikke nås: FIT-bot er blokeret i Telegram.")


def service_finding(kind: AlertKind) -> Finding:
    """The finding for a service-level event (NO_RESPONSE, UNREACHABLE)."""
    messages = {AlertKind.NO_RESPONSE: NO_RESPONSE_MESSAGE, AlertKind.UNREACHABLE: UNREACHABLE_MESSAGE}
    if kind not in messages:
        raise ValueError(f"{kind.value}: not a service-level finding")
    return _finding(kind, messages[kind])


# --- history helpers --------------------------------------------------------------------------------

History = Sequence[Measurement]
Rule = Callable[[History, AgeBand, Thresholds, tuple[Instrument, Instrument]], Finding | None]


def _ors_totals(history: History) -> list[int]:
    """Complete ORS totals in meeting order; forms with a skipped item have none."""
    return [t for m in history if (t := m.ors_total) is not None]


def _srs_totals(history: History) -> list[int]:
    return [t for m in history if (t := m.srs_total) is not None]


def _latest_ors(history: History) -> tuple[list[int], int] | None:
    """(earlier complete ORS totals, latest total) when the latest meeting has a complete ORS."""
    if not history or history[-1].ors_total is None:
        return None
    totals = _ors_totals(history)
    return totals[:-1], totals[-1]


def _domains(instrument: Instrument, keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(instrument.item(key).domain for key in keys)


# --- the rules --------------------------------------------------------------------------------------


def deterioration_previous(
    history: History, band: AgeBand, t: Thresholds, instruments: tuple[Instrument, Instrument]
) -> Finding | None:
    """Reliable deterioration since the previous complete ORS."""
    found = _latest_ors(history)
    if found is None or not found[0]:
        return None
    earlier, latest = found
    change = earlier[-1] - latest
    if change < t.reliable_change:
        return None
    return _finding(
        AlertKind.DETERIORATION_PREVIOUS,
        N_(
            "Sikker tilbagegang: ORS-totalen er faldet {change_tenths} point siden sidste møde "
            "(fra {previous_tenths} til {latest_tenths})."
        ),
        change_tenths=change,
        previous_tenths=earlier[-1],
        latest_tenths=latest,
    )


def deterioration_first(
    history: History, band: AgeBand, t: Thresholds, instruments: tuple[Instrument, Instrument]
) -> Finding | None:
    """Reliable deterioration since the first complete ORS.

    Silent when the first is also the previous one: ``deterioration_previous`` already says it.
    """
    found = _latest_ors(history)
    if found is None or len(found[0]) < 2:
        return None
    earlier, latest = found
    if classify(earlier[0], latest, cutoff(band, t), t.reliable_change) is not Course.DETERIORATED:
        return None
    return _finding(
        AlertKind.DETERIORATION_FIRST,
        N_(
            "Sikker tilbagegang: ORS-totalen er faldet {change_tenths} point siden første møde "
            "(fra {first_tenths} til {latest_tenths})."
        ),
        change_tenths=earlier[0] - latest,
        first_tenths=earlier[0],
        latest_tenths=latest,
    )


def not_on_track(
    history: History, band: AgeBand, t: Thresholds, instruments: tuple[Instrument, Instrument]
) -> Finding | None:
    """No reliable improvement after ``not_on_track_meetings`` complete ORS answers (counting the latest)."""
    found = _latest_ors(history)
    if found is None:
        return None
    earlier, latest = found
    meetings = len(earlier) + 1
    if meetings < t.not_on_track_meetings:
        return None
    course = classify(earlier[0], latest, cutoff(band, t), t.reliable_change)
    if course in (Course.IMPROVED, Course.RECOVERED):
        return None
    return _finding(
        AlertKind.NOT_ON_TRACK,
        N_(
            "Ikke i bedring efter {meetings} møder: ORS-totalen var {first_tenths} og er nu "
            "{latest_tenths}. Det kan være tid til at tale om hjælpen."
        ),
        meetings=meetings,
        first_tenths=earlier[0],
        latest_tenths=latest,
    )


def low_item(
    history: History, band: AgeBand, t: Thresholds, instruments: tuple[Instrument, Instrument]
) -> Finding | None:
    """Any answered ORS item at or below ``low_item`` in the latest answer (a convention)."""
    if not history or history[-1].ors is None:
        return None
    ors = instruments[0]
    keys = [k for k, v in zip(ors.item_keys, history[-1].ors, strict=True) if v is not None and v <= t.low_item]
    if not keys:
        return None
    return _finding(
        AlertKind.LOW_ITEM,
        N_("Meget lave ORS-svar ({threshold_tenths} eller lavere): {items}."),
        threshold_tenths=t.low_item,
        items=_domains(ors, keys),
    )


def alliance_low(
    history: History, band: AgeBand, t: Thresholds, instruments: tuple[Instrument, Instrument]
) -> Finding | None:
    """The latest SRS total below ``srs_total`` or any answered item below ``srs_item``."""
    if not history or history[-1].srs is None:
        return None
    srs = instruments[1]
    latest = history[-1]
    flags = srs_flags(latest.srs or (), t, srs.item_keys)
    items = _domains(srs, flags.low_items)
    srs_total = latest.srs_total
    if flags.total_low and srs_total is not None:
        if items:
            return _finding(
                AlertKind.ALLIANCE_LOW,
                N_(
                    "Samarbejdet kan være under pres: SRS-totalen er {total_tenths} (under "
                    "{threshold_tenths}). Lavest: {items}."
                ),
                total_tenths=srs_total,
                threshold_tenths=t.srs_total,
                items=items,
            )
        return _finding(
            AlertKind.ALLIANCE_LOW,
            N_("Samarbejdet kan være under pres: SRS-totalen er {total_tenths} (under {threshold_tenths})."),
            total_tenths=srs_total,
            threshold_tenths=t.srs_total,
        )
    if items:
        return _finding(
            AlertKind.ALLIANCE_LOW,
            N_("Samarbejdet kan være under pres: lave SRS-svar (under {threshold_tenths}) på {items}."),
            threshold_tenths=t.srs_item,
            items=items,
        )
    return None


def alliance_drop(
    history: History, band: AgeBand, t: Thresholds, instruments: tuple[Instrument, Instrument]
) -> Finding | None:
    """The SRS total fell at least ``srs_drop`` since the previous complete SRS, even above 36."""
    if not history or history[-1].srs_total is None:
        return None
    totals = _srs_totals(history)
    if len(totals) < 2:
        return None
    previous, latest = totals[-2], totals[-1]
    if previous - latest < t.srs_drop:
        return None
    return _finding(
        AlertKind.ALLIANCE_DROP,
        N_("SRS-totalen er faldet {drop_tenths} point siden sidste møde (fra {previous_tenths} til {latest_tenths})."),
        drop_tenths=previous - latest,
        previous_tenths=previous,
        latest_tenths=latest,
    )


def improvement(
    history: History, band: AgeBand, t: Thresholds, instruments: tuple[Instrument, Instrument]
) -> Finding | None:
    """Reliable improvement since the first complete ORS; RECOVERED gets its own message."""
    found = _latest_ors(history)
    if found is None or not found[0]:
        return None
    earlier, latest = found
    limit = cutoff(band, t)
    course = classify(earlier[0], latest, limit, t.reliable_change)
    params: dict[str, ParamValue] = {
        "change_tenths": latest - earlier[0],
        "first_tenths": earlier[0],
        "latest_tenths": latest,
        "course": course.value,
    }
    if course is Course.RECOVERED:
        return _finding(
            AlertKind.IMPROVEMENT,
            N_(
                "Sikker fremgang: ORS-totalen er steget {change_tenths} point siden første møde "
                "(fra {first_tenths} til {latest_tenths}) og er ikke længere under "
                "skæringspunktet ({cutoff_tenths})."
            ),
            cutoff_tenths=limit,
            **params,
        )
    if course is Course.IMPROVED:
        return _finding(
            AlertKind.IMPROVEMENT,
            N_(
                "Sikker fremgang: ORS-totalen er steget {change_tenths} point siden første møde "
                "(fra {first_tenths} til {latest_tenths})."
            ),
            **params,
        )
    return None


RULES: tuple[Rule, ...] = (
    deterioration_previous,
    deterioration_first,
    not_on_track,
    low_item,
    alliance_low,
    alliance_drop,
    improvement,
)


def evaluate(
    history: History,
    band: AgeBand,
    t: Thresholds,
    *,
    instruments: tuple[Instrument, Instrument],
) -> list[Finding]:
    """Run every rule on the latest meeting of one respondent's history, most severe first.

    ``history`` is ordered here by ``meeting_at`` (stable), so "latest" means the latest meeting.
    ``instruments`` is the respondent's (ORS-type, SRS-type) pair (``instruments_for(role, band)``); it
    names the items. ``band`` is the age band of the person being rated.
    """
    ors, srs = instruments
    if ors.kind is not Kind.ORS or srs.kind is not Kind.SRS:
        raise ValueError("instruments: expected an (ORS, SRS) pair")
    for m in history:
        for items, inst in ((m.ors, ors), (m.srs, srs)):
            if items is not None and len(items) != len(inst.items):
                raise ValueError(f"{inst.key}: expected {len(inst.items)} items, got {len(items)}")
    ordered = sorted(history, key=lambda m: m.meeting_at)
    findings = [f for rule in RULES if (f := rule(ordered, band, t, instruments)) is not None]
    return sorted(findings, key=lambda f: _RANK[f.severity])


def format_finding(
    finding: Finding,
    *,
    translate: Callable[[str], str],
    points: Callable[[int], str],
    join: Callable[[Sequence[str]], str],
) -> str:
    """Render a finding with the caller's translator, points formatter (tenths in) and list joiner."""
    values: dict[str, str] = {}
    for name, value in finding.params.items():
        if isinstance(value, tuple):
            values[name] = join([translate(v) for v in value])
        elif name.endswith("_tenths") and isinstance(value, int):
            values[name] = points(value)
        else:
            values[name] = str(value)
    return translate(finding.message).format(**values)
