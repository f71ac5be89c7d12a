"""ReportQueries (overviews, digests, team reports) on both backends: aggregates over many cases."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage import Storage
from bot.storage.repository import Repository
from tests.storage.seed import answer_all, at, family


@dataclass
class Team:
    a: int
    b: int
    leader: int
    syd: int


async def team(repo: Repository) -> Team:
    b = await repo.insert_caseworker("Bente", "Nord", "caseworker", at())
    a = await repo.insert_caseworker("Anne", "Nord", "caseworker", at())
    leader = await repo.insert_caseworker("Lis", "Nord", "leader", at())
    syd = await repo.insert_caseworker("Carl", "Syd", "caseworker", at())
    return Team(a, b, leader, syd)


async def completed(
    repo: Repository, case_id: int, respondent_id: int, caseworker_id: int, days: float, values: list[int | None]
) -> int:
    meeting = await repo.insert_meeting(case_id, at(days=days), caseworker_id, at())
    qid = await repo.insert_questionnaire(meeting, respondent_id, "ors", "srs", at(days=days), at())
    assert qid is not None
    await answer_all(repo, qid, values, at(days=days, minutes=30))
    return qid


async def test_team_caseworkers(storage: Storage) -> None:
    async with storage.transaction() as repo:
        t = await team(repo)
        assert [c.id for c in await repo.reports.team_caseworkers("Nord")] == [t.a, t.b]
        assert [c.id for c in await repo.reports.team_caseworkers(None)] == [t.a, t.b, t.syd]
        assert await repo.reports.team_caseworkers("Vest") == []


async def test_respondents_of_cases_and_open_alert_counts(storage: Storage) -> None:
    async with storage.transaction() as repo:
        x = await family(repo, user=1)
        y = await family(repo, caseworker_id=x.caseworker_id, label="Y", user=2)
        x2 = await repo.insert_respondent(x.case_id, "youth", "da", at())
        empty = await repo.insert_case(x.caseworker_id, "Empty", "adult", at())
        assert empty is not None
        respondents = await repo.reports.respondents_of_cases([y.case_id, x.case_id, empty])
        assert [r.id for r in respondents] == [x.respondent_id, x2, y.respondent_id]
        assert await repo.reports.respondents_of_cases([]) == []

        await repo.insert_alert(x.case_id, None, None, "drop", "warning", {}, at())
        await repo.insert_alert(x.case_id, None, None, "risk", "urgent", {}, at())
        await repo.insert_alert(x.case_id, None, None, "better", "positive", {}, at())
        seen = await repo.insert_alert(y.case_id, None, None, "drop", "warning", {}, at())
        await repo.acknowledge_alert(seen, x.caseworker_id, at(1))
        assert await repo.reports.open_alert_counts([x.case_id, y.case_id, empty]) == {x.case_id: 2}
        assert await repo.reports.open_alert_counts([]) == {}


async def test_questionnaire_counts_meeting_counts_and_open_cases_in_a_window(storage: Storage) -> None:
    since, until = at(days=-7), at()
    async with storage.transaction() as repo:
        t = await team(repo)
        ids = [t.a, t.b, t.syd]
        fam = await family(repo, caseworker_id=t.a, label="A1", held_at=at(days=-7))
        await repo.update_questionnaire(fam.questionnaire_id, status="completed")
        for days, status in ((-7, "completed"), (-3, "expired"), (-1, "sent"), (0, "completed"), (-8, "sent")):
            meeting = await repo.insert_meeting(fam.case_id, at(days=days), t.a, at())
            other = await repo.insert_respondent(fam.case_id, "youth", "da", at())
            qid = await repo.insert_questionnaire(meeting, other, "ors", "srs", at(days=days), at())
            assert qid is not None
            await repo.update_questionnaire(qid, status=status)
        b_fam = await family(repo, caseworker_id=t.b, label="B1", held_at=at(days=-2))
        closed = await repo.insert_case(t.b, "B2", "adult", at())
        assert closed is not None
        await repo.close_case(closed, at())

        counts = await repo.reports.questionnaire_counts(ids, since, until)
        meetings = await repo.reports.meeting_counts(ids, since, until)
        open_cases = await repo.reports.open_case_counts(ids)
        assert await repo.reports.questionnaire_counts([], since, until) == {}
        assert await repo.reports.meeting_counts([], since, until) == {}
        assert await repo.reports.open_case_counts([]) == {}
    # Due times in [since, until): day -7 counts, day 0 (= until) and day -8 do not. family() makes
    # its questionnaire due 90 minutes after START - 0 days, i.e. after `until`: not counted.
    assert b_fam.questionnaire_id
    assert counts == {(t.a, "completed"): 1, (t.a, "expired"): 1, (t.a, "sent"): 1}
    # Meetings held in the window: A's at -7 (family), -7, -3, -1; B's at -2.
    assert meetings == {t.a: 4, t.b: 1}
    assert open_cases == {t.a: 1, t.b: 1}


async def test_srs_totals_of_complete_srs_answers_completed_in_the_window(storage: Storage) -> None:
    async with storage.transaction() as repo:
        t = await team(repo)
        fam = await family(repo, caseworker_id=t.a)
        await completed(repo, fam.case_id, fam.respondent_id, t.a, -3, [10, 10, 10, 10, 90, 95, 100, 85])
        await completed(repo, fam.case_id, fam.respondent_id, t.a, -2, [10, 10, 10, 10, 50, None, 50, 50])  # skip
        await completed(repo, fam.case_id, fam.respondent_id, t.a, -1, [10, 10, 10, 10, 80, 80, 80, 80])
        await completed(repo, fam.case_id, fam.respondent_id, t.a, -9, [10, 10, 10, 10, 10, 10, 10, 10])  # before
        other = await family(repo, caseworker_id=t.syd, label="S")
        await completed(repo, other.case_id, other.respondent_id, t.syd, -1, [0, 0, 0, 0, 1, 1, 1, 1])
        totals = await repo.reports.srs_totals([t.a, t.b], at(days=-7), at())
        assert await repo.reports.srs_totals([], at(days=-7), at()) == []
    assert sorted(totals) == [320, 370]


async def test_first_and_latest_ors(storage: Storage) -> None:
    async with storage.transaction() as repo:
        t = await team(repo)
        # Meetings inserted out of time order: first/latest go by meeting time, not by id.
        x = await family(repo, caseworker_id=t.a, label="X", band="6-12", held_at=at(days=-30))
        await repo.update_questionnaire(x.questionnaire_id, status="cancelled")
        await completed(repo, x.case_id, x.respondent_id, t.a, -10, [50, 50, 50, 50, 90, 90, 90, 90])  # latest
        await completed(repo, x.case_id, x.respondent_id, t.a, -20, [60, 60, 60, 60, 90, 90, 90, 90])
        await completed(repo, x.case_id, x.respondent_id, t.a, -40, [20, 20, 20, 20, 90, 90, 90, 90])  # first
        await completed(repo, x.case_id, x.respondent_id, t.a, -5, [99, None, 99, 99, 90, 90, 90, 90])  # skip
        # Only one complete ORS: no course yet.
        y = await family(repo, caseworker_id=t.b, label="Y", band="adult", user=2)
        await repo.update_questionnaire(y.questionnaire_id, status="cancelled")
        await completed(repo, y.case_id, y.respondent_id, t.b, -3, [70, 70, 70, 70, 90, 90, 90, 90])
        await completed(repo, y.case_id, y.respondent_id, t.b, -2, [70, None, 70, 70, 90, 90, 90, 90])
        # A closed case counts no more.
        z = await family(repo, caseworker_id=t.b, label="Z", user=3)
        await repo.update_questionnaire(z.questionnaire_id, status="cancelled")
        await completed(repo, z.case_id, z.respondent_id, t.b, -3, [10, 10, 10, 10, 90, 90, 90, 90])
        await completed(repo, z.case_id, z.respondent_id, t.b, -2, [20, 20, 20, 20, 90, 90, 90, 90])
        await repo.close_case(z.case_id, at())
        # Another team's case.
        s = await family(repo, caseworker_id=t.syd, label="S", user=4)
        await repo.update_questionnaire(s.questionnaire_id, status="cancelled")
        await completed(repo, s.case_id, s.respondent_id, t.syd, -3, [10, 10, 10, 10, 90, 90, 90, 90])
        await completed(repo, s.case_id, s.respondent_id, t.syd, -2, [20, 20, 20, 20, 90, 90, 90, 90])
        # A second respondent in X, answered twice (expired answers do not count).
        x2 = await repo.insert_respondent(x.case_id, "child", "da", at())
        await completed(repo, x.case_id, x2, t.a, -12, [30, 30, 30, 30, 90, 90, 90, 90])
        await completed(repo, x.case_id, x2, t.a, -11, [35, 35, 35, 35, 90, 90, 90, 90])
        late = await completed(repo, x.case_id, x2, t.a, -1, [0, 0, 0, 0, 90, 90, 90, 90])
        await repo.update_questionnaire(late, status="expired")

        rows = await repo.reports.first_and_latest_ors([t.a, t.b])
        assert await repo.reports.first_and_latest_ors([]) == []
    assert sorted(rows) == sorted([(x.respondent_id, 80, 200, "6-12"), (x2, 120, 140, "6-12")])


async def test_first_and_latest_ors_with_two_meetings_at_the_same_time(storage: Storage) -> None:
    """Ties in meeting time are broken by questionnaire order: first and latest are never the same row."""
    async with storage.transaction() as repo:
        t = await team(repo)
        x = await family(repo, caseworker_id=t.a, label="X", band="adult")
        await repo.update_questionnaire(x.questionnaire_id, status="cancelled")
        for values in ([10] * 4, [20] * 4, [30] * 4):
            await completed(repo, x.case_id, x.respondent_id, t.a, -3, [*values, 90, 90, 90, 90])
        rows = await repo.reports.first_and_latest_ors([t.a])
    assert rows == [(x.respondent_id, 40, 120, "adult")]
