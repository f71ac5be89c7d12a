"""What caseworkers and leaders read: case overviews, one case in full, CSV export, digests, team reports.

Every read of one family's data is written to the audit log. Team reports hold aggregate figures only.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.instruments import AgeBand, instrument
from bot.domain.interpretation import Course, classify, cutoff
from bot.services.cases import audit_shown, own_case
from bot.services.context import Services
from bot.services.questionnaire import ITEM_COUNT, ORS_ITEMS, measurement
from bot.storage.models import Alert, Case, Caseworker, Meeting, Respondent


@dataclass(frozen=True)
class RespondentTrend:
    respondent: Respondent
    ors_totals: tuple[int | None, ...]
    srs_totals: tuple[int | None, ...]
    meeting_times: tuple[datetime, ...]
    last_status: str | None  # status of the latest sent questionnaire

    @property
    def latest_ors(self) -> int | None:
        return next((t for t in reversed(self.ors_totals) if t is not None), None)

    @property
    def latest_srs(self) -> int | None:
        return next((t for t in reversed(self.srs_totals) if t is not None), None)


@dataclass(frozen=True)
class CaseOverview:
    case: Case
    respondents: tuple[RespondentTrend, ...]
    open_alerts: int


async def overview(svc: Services, caseworker: Caseworker, *, audit: bool = True) -> list[CaseOverview]:
    """Every open case of this caseworker with the latest scores per respondent (batched queries)."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        cases = await repo.cases_of(caseworker.id)
        case_ids = [c.id for c in cases]
        respondents = [r for r in await repo.reports.respondents_of_cases(case_ids) if r.status != "invited"]
        ids = [r.id for r in respondents]
        history = await repo.history_of_respondents(ids)
        statuses = await repo.latest_questionnaire_status(ids)
        alerts = await repo.reports.open_alert_counts(case_ids)
        if audit:
            await audit_shown(repo, caseworker, "cases_listed", cases, now)
    trends = _trends(respondents, history, statuses)
    by_case: dict[int, list[RespondentTrend]] = defaultdict(list)
    for trend in trends:
        by_case[trend.respondent.case_id].append(trend)
    return [CaseOverview(c, tuple(by_case[c.id]), alerts.get(c.id, 0)) for c in cases]


def _trends(respondents, history, statuses) -> list[RespondentTrend]:  # type: ignore[no-untyped-def]
    rows_by_respondent = defaultdict(list)
    for row in history:
        if row.status == "completed":
            rows_by_respondent[row.respondent_id].append(row)
    trends = []
    for r in respondents:
        ms = [measurement(row) for row in rows_by_respondent[r.id]]
        trends.append(
            RespondentTrend(
                respondent=r,
                ors_totals=tuple(m.ors_total for m in ms),
                srs_totals=tuple(m.srs_total for m in ms),
                meeting_times=tuple(m.meeting_at for m in ms),
                last_status=statuses.get(r.id),
            )
        )
    return trends


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    respondents: tuple[RespondentTrend, ...]
    meetings: tuple[Meeting, ...]
    alerts: tuple[Alert, ...]


async def case_detail(svc: Services, caseworker: Caseworker, case_id: int) -> CaseDetail | None:
    now = svc.now()
    async with svc.storage.transaction() as repo:
        case = await own_case(repo, caseworker, case_id)
        if case is None:
            return None
        respondents = [r for r in await repo.respondents_of_case(case.id) if r.status != "invited"]
        ids = [r.id for r in respondents]
        history = await repo.history_of_respondents(ids)
        statuses = await repo.latest_questionnaire_status(ids)
        meetings = await repo.meetings_of_case(case.id)
        alerts = await repo.alerts_of_case(case.id)
        await repo.audit(f"caseworker:{caseworker.id}", "case_viewed", now, case_id=case.id)
    return CaseDetail(case, tuple(_trends(respondents, history, statuses)), tuple(meetings), tuple(alerts))


async def export_csv(svc: Services, caseworker: Caseworker, case_id: int) -> tuple[Case, str] | None:
    """One row per answered item: meeting, respondent role, instrument, item, score (decimal comma)."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        case = await own_case(repo, caseworker, case_id)
        if case is None:
            return None
        respondents = {r.id: r for r in await repo.respondents_of_case(case.id)}
        history = await repo.history_of_respondents(list(respondents))
        questionnaires = {q.id: q for rid in respondents for q in await repo.questionnaires_of_respondent(rid)}
        await repo.audit(f"caseworker:{caseworker.id}", "case_exported", now, case_id=case.id)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["sag", "møde", "respondent", "rolle", "status", "skema", "punkt", "position", "score"])
    for row in history:
        q = questionnaires[row.questionnaire_id]
        respondent = respondents[row.respondent_id]
        for position in range(ITEM_COUNT):
            if position not in row.values:
                continue
            inst = instrument(q.ors_instrument if position < ORS_ITEMS else q.srs_instrument)
            item = inst.items[position % ORS_ITEMS]
            value = row.values[position]
            writer.writerow(
                [
                    case.label,
                    row.meeting_at.astimezone(svc.policy.timezone).strftime("%Y-%m-%d %H:%M"),
                    respondent.id,
                    respondent.role.value,
                    row.status,
                    inst.key,
                    item.key,
                    position + 1,
                    "" if value is None else f"{value / 10:.1f}".replace(".", ","),
                ]
            )
    return case, out.getvalue()


# --- digests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    caseworker: Caseworker
    open_alerts: tuple[tuple[Case, Alert], ...]
    no_response: tuple[tuple[Case, RespondentTrend], ...]
    cases: tuple[CaseOverview, ...]

    @property
    def needs_attention(self) -> bool:
        return bool(self.open_alerts or self.no_response)


async def digest(svc: Services, caseworker: Caseworker) -> Digest:
    """First what needs attention (unacknowledged alerts, no response), then every open case."""
    cases = await overview(svc, caseworker, audit=False)
    async with svc.storage.transaction() as repo:
        alerts = await repo.open_alerts_of_caseworker(caseworker.id)
        # Every case in the digest (its alerts are of these cases only).
        await audit_shown(repo, caseworker, "digest_built", [o.case for o in cases], svc.now())
    by_id = {o.case.id: o.case for o in cases}
    return Digest(
        caseworker=caseworker,
        open_alerts=tuple((by_id[a.case_id], a) for a in alerts if a.case_id in by_id),
        no_response=tuple(
            (o.case, t) for o in cases for t in o.respondents if t.last_status in ("expired", "declined")
        ),
        cases=tuple(cases),
    )


# A figure computed from fewer people than this is not shown in a team report: with one family in a
# group, an "average" is that family's own answer.
MIN_GROUP = 5


@dataclass(frozen=True)
class CaseworkerFigures:
    name: str
    open_cases: int
    meetings: int
    sent: int | None  # None: from fewer than MIN_GROUP people, not shown
    answered: int | None


@dataclass(frozen=True)
class TeamReport:
    """Aggregates only. A figure from 1 to MIN_GROUP - 1 people is None (and named in `suppressed`)."""

    team: str
    since: datetime
    until: datetime
    sent: int | None
    answered: int | None
    courses: dict[Course, int] = field(default_factory=dict)  # empty when suppressed
    average_srs: float | None = None  # tenths
    per_caseworker: tuple[CaseworkerFigures, ...] = ()
    course_respondents: int = 0
    suppressed: frozenset[str] = frozenset()  # of "response", "srs", "courses"
    min_group: int = MIN_GROUP

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.sent if self.sent and self.answered is not None else None

    @property
    def respondents_with_course(self) -> int:
        return self.course_respondents


_SENT = ("sent", "in_progress", "completed", "declined", "expired")


def _too_few(people: int) -> bool:
    return 0 < people < MIN_GROUP


def _hidden_rows(people: dict[int, int]) -> set[int]:
    """Caseworkers whose response figures are not shown: each from too few people, and, when that
    leaves the hidden rows together with too few people, the next smallest rows too, so that no hidden
    row can be worked out by subtracting the shown rows from the team's total."""
    hidden = {cw for cw, n in people.items() if _too_few(n)}
    shown = sorted((n, cw) for cw, n in people.items() if cw not in hidden and n > 0)
    while hidden and shown and _too_few(sum(people[cw] for cw in hidden)):
        hidden.add(shown.pop(0)[1])
    return hidden


async def team_report(svc: Services, leader: Caseworker, *, days: int = 7, until: datetime | None = None) -> TeamReport:
    """Aggregates for the leader's team (everyone when the leader has no team): never a label or an answer,
    and no figure that comes from fewer than MIN_GROUP people."""
    until = until or svc.now()
    since = until - timedelta(days=days)
    t = svc.policy.thresholds
    async with svc.storage.transaction() as repo:
        staff = [c for c in await repo.reports.team_caseworkers(leader.team or None) if c.active]
        ids = [c.id for c in staff]
        counts = await repo.reports.questionnaire_counts(ids, since, until)
        people = await repo.reports.respondent_counts(ids, since, until, _SENT)
        srs = await repo.reports.srs_totals(ids, since, until)
        srs_people = await repo.reports.srs_respondent_count(ids, since, until)
        courses_raw = await repo.reports.first_and_latest_ors(ids)
        meetings = await repo.reports.meeting_counts(ids, since, until)
        open_cases = await repo.reports.open_case_counts(ids)
        await repo.audit(f"caseworker:{leader.id}", "team_report_built", until)
    courses: dict[Course, int] = dict.fromkeys(Course, 0)
    for _rid, first, latest, band in courses_raw:
        courses[classify(first, latest, cutoff(AgeBand(band), t), t.reliable_change)] += 1
    sent = {c.id: sum(counts.get((c.id, s), 0) for s in _SENT) for c in staff}
    answered = {c.id: counts.get((c.id, "completed"), 0) for c in staff}
    hidden = _hidden_rows({c.id: people.get(c.id, 0) for c in staff})
    figures = tuple(
        CaseworkerFigures(
            name=c.name,
            open_cases=open_cases.get(c.id, 0),
            meetings=meetings.get(c.id, 0),
            sent=None if c.id in hidden else sent[c.id],
            answered=None if c.id in hidden else answered[c.id],
        )
        for c in staff
    )
    suppressed = {
        name
        for name, n in (
            ("response", sum(people.values())),
            ("srs", srs_people),
            ("courses", len(courses_raw)),
        )
        if _too_few(n)
    }
    return TeamReport(
        team=leader.team,
        since=since,
        until=until,
        sent=None if "response" in suppressed else sum(sent.values()),
        answered=None if "response" in suppressed else sum(answered.values()),
        courses={} if "courses" in suppressed else courses,
        average_srs=sum(srs) / len(srs) if srs and "srs" not in suppressed else None,
        per_caseworker=figures,
        course_respondents=len(courses_raw),
        suppressed=frozenset(suppressed),
    )
