"""Every Repository method the services use, round-tripped on both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.instruments import AgeBand, Role
from bot.storage import Storage
from bot.storage.repository import HistoryRow
from tests.conftest import START
from tests.storage.seed import INTEGRITY_ERRORS, answer_all, at, count, family, race

# --- processed updates -------------------------------------------------------------------------------


async def test_claim_update_is_idempotent(storage: Storage) -> None:
    async with storage.transaction() as repo:
        assert await repo.claim_update(10, at()) is True
        assert await repo.claim_update(10, at(1)) is False
        assert await repo.claim_update(11, at(1)) is True
    async with storage.transaction() as repo:
        assert await repo.claim_update(10, at(2)) is False
        # Telegram update ids exceed 32 bits in practice.
        assert await repo.claim_update(2**40, at(2)) is True
        assert await repo.prune_processed_updates(at(1)) == 1  # only update 10 is older
        assert await repo.claim_update(10, at(3)) is True


async def test_inbox_stores_each_update_once_and_forgets_its_content_once_handled(storage: Storage) -> None:
    big = 2**40  # Telegram update ids exceed 32 bits in practice
    async with storage.transaction() as repo:
        assert await repo.newest_update_id() == -1
        assert await repo.store_updates([(10, '{"a": 1}'), (big, '{"b": "æøå"}')], at()) == {10, big}
        assert await repo.newest_update_id() == big
        # Sent again (with one new): only the new one is stored; the first copy's content stays.
        assert await repo.store_updates([(10, '{"a": 2}'), (12, '{"c": 3}')], at(1)) == {12}
        assert await repo.store_updates([], at(1)) == set()
        assert await repo.unhandled_updates() == [(10, '{"a": 1}'), (12, '{"c": 3}'), (big, '{"b": "æøå"}')]
        assert await repo.mark_updates_handled([10, big], at(2)) == 2
        assert await repo.mark_updates_handled([10], at(3)) == 0  # marked once, at the first time
        assert await repo.unhandled_updates() == [(12, '{"c": 3}')]
        rows = await repo.conn.fetch_all("SELECT update_id, payload FROM inbox WHERE handled_at IS NOT NULL")
        assert {(int(r["update_id"]), r["payload"]) for r in rows} == {(10, None), (big, None)}
        # A handled update's id still keeps a second delivery out, until it is pruned.
        assert await repo.store_updates([(big, "{}")], at(4)) == set()
        assert await repo.prune_inbox(at(2)) == 0  # handled at 2, not before
        assert await repo.prune_inbox(at(2.5)) == 2  # the unhandled one stays, whatever its age
        assert await repo.unhandled_updates() == [(12, '{"c": 3}')]
        assert await repo.store_updates([(10, "{}")], at(5)) == {10}


async def test_claim_update_rolled_back_with_its_transaction(storage: Storage) -> None:
    async def handle() -> None:
        async with storage.transaction() as repo:
            assert await repo.claim_update(7, at())
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        await handle()
    async with storage.transaction() as repo:
        assert await repo.claim_update(7, at())  # the update may be retried


# --- caseworkers and channels -----------------------------------------------------------------------


async def test_caseworkers_round_trip(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await repo.insert_caseworker("Lone Holm", "Nord", "caseworker", at())
        b = await repo.insert_caseworker("Bo", "", "leader", at(1))
        c = await repo.insert_caseworker("Lone Holm", "Syd", "caseworker", at(2))
        await repo.link_caseworker_user(a, 2**35, "en", at(3))
    async with storage.transaction() as repo:
        lone = await repo.caseworker(a)
        assert lone is not None
        assert (lone.name, lone.team, lone.role, lone.telegram_user_id, lone.language) == (
            "Lone Holm",
            "Nord",
            "caseworker",
            2**35,
            "en",
        )
        assert lone.created_at == at()
        assert lone.created_at.tzinfo is UTC
        assert lone.active
        assert not lone.is_leader
        assert await repo.caseworker(999) is None
        assert (await repo.caseworker_by_user(2**35)) == lone
        assert await repo.caseworker_by_user(1) is None
        assert [x.id for x in await repo.caseworkers()] == [a, b, c]
        assert [x.id for x in await repo.caseworker_by_name("Lone Holm")] == [a, c]
        assert await repo.caseworker_by_name("lone holm") == []
        leader = await repo.caseworker(b)
        assert leader is not None
        assert leader.is_leader
        assert leader.telegram_user_id is None
        assert await repo.disable_caseworker(a, at(4)) is True
        assert await repo.disable_caseworker(a, at(5)) is False
        await repo.set_caseworker_language(b, "en")
    async with storage.transaction() as repo:
        lone = await repo.caseworker(a)
        assert lone is not None
        assert lone.disabled_at == at(4)
        assert not lone.active
        assert (await repo.caseworker(b)).language == "en"  # type: ignore[union-attr]


async def test_a_telegram_user_is_one_caseworker(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await repo.insert_caseworker("A", "", "caseworker", at())
        b = await repo.insert_caseworker("B", "", "caseworker", at())
        await repo.link_caseworker_user(a, 42, "da", at())
    with pytest.raises(INTEGRITY_ERRORS):
        async with storage.transaction() as repo:
            await repo.link_caseworker_user(b, 42, "da", at())


async def test_channels_one_active_per_caseworker_and_relinking(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await repo.insert_caseworker("A", "", "caseworker", at())
        b = await repo.insert_caseworker("B", "", "caseworker", at())
        first = await repo.link_channel(a, -100111, "group", "Team A", at(1))
    async with storage.transaction() as repo:
        channel = await repo.active_channel(a)
        assert channel is not None
        assert (channel.id, channel.caseworker_id, channel.chat_id, channel.chat_type, channel.title) == (
            first,
            a,
            -100111,
            "group",
            "Team A",
        )
        assert channel.linked_at == at(1)
        assert await repo.channel_by_chat(-100111) == channel
        assert await repo.active_channel(b) is None
        # Relinking to another chat replaces the old channel.
        second = await repo.link_channel(a, 5001, "private", "", at(2))
        assert second != first
        assert (await repo.active_channel(a)).chat_id == 5001  # type: ignore[union-attr]
        assert await repo.channel_by_chat(-100111) is None
        # Another caseworker taking over a chat takes it from the first.
        await repo.link_channel(b, 5001, "private", "", at(3))
        assert await repo.active_channel(a) is None
        assert (await repo.channel_by_chat(5001)).caseworker_id == b  # type: ignore[union-attr]
        # Unlinking a chat returns the channel it was.
        lost = await repo.unlink_chat(5001, at(4))
        assert lost is not None
        assert lost.caseworker_id == b
        assert await repo.unlink_chat(5001, at(5)) is None
        assert await repo.active_channel(b) is None
        await repo.link_channel(a, 7, "private", "", at(6))
        assert await repo.unlink_channels_of(a, at(7)) == 1
        assert await repo.unlink_channels_of(a, at(7)) == 0
    assert await count(storage, "channels") == 4


async def test_the_database_refuses_a_second_active_channel(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await repo.insert_caseworker("A", "", "caseworker", at())
        await repo.link_channel(a, 1, "private", "", at())
    with pytest.raises(INTEGRITY_ERRORS):
        async with storage.transaction() as repo:
            await repo.conn.execute(
                "INSERT INTO channels (caseworker_id, chat_id, chat_type, linked_at) VALUES (:a, 2, 'group', 't')",
                {"a": a},
            )
    async with storage.transaction() as repo:
        # An unlinked channel does not count against the index.
        await repo.conn.execute(
            "INSERT INTO channels (caseworker_id, chat_id, chat_type, linked_at, unlinked_at) "
            "VALUES (:a, 2, 'group', 't', 't')",
            {"a": a},
        )


# --- cases ---------------------------------------------------------------------------------------------


async def test_cases_round_trip(storage: Storage) -> None:
    async with storage.transaction() as repo:
        cw = await repo.insert_caseworker("A", "", "caseworker", at())
        other = await repo.insert_caseworker("B", "", "caseworker", at())
        c1 = await repo.insert_case(cw, "Sag B-7", "13-17", at(1))
        c2 = await repo.insert_case(cw, "Sag A-2", "6-12", at(2))
        assert c1 is not None
        assert c2 is not None
        assert await repo.insert_case(cw, "Sag B-7", "adult", at(3)) is None  # duplicate label
        assert await repo.insert_case(other, "Sag B-7", "adult", at(3)) is not None  # another caseworker's
        assert await repo.insert_case(other, "Sag C-1", "adult", at(3)) is not None
    async with storage.transaction() as repo:
        case = await repo.case(c1)
        assert case is not None
        assert (case.caseworker_id, case.label, case.age_band, case.status, case.closed_at) == (
            cw,
            "Sag B-7",
            AgeBand("13-17"),
            "open",
            None,
        )
        assert case.created_at == at(1)
        assert case.is_open
        assert await repo.case(999) is None
        assert [c.label for c in await repo.cases_of(cw)] == ["Sag A-2", "Sag B-7"]
        assert await repo.close_case(c2, at(4)) is True
        assert await repo.close_case(c2, at(5)) is False
        assert [c.id for c in await repo.cases_of(cw)] == [c1]
        assert [c.id for c in await repo.cases_of(cw, open_only=False)] == [c2, c1]
        closed = await repo.case(c2)
        assert closed is not None
        assert (closed.status, closed.closed_at) == ("closed", at(4))
        await repo.move_case(c2, other)
        assert [c.label for c in await repo.cases_of(other, open_only=False)] == ["Sag A-2", "Sag B-7", "Sag C-1"]
        assert [c.id for c in await repo.cases_of(cw, open_only=False)] == [c1]
    assert await count(storage, "cases") == 4


@pytest.mark.parametrize(
    ("stored", "asked"),
    [("Sag B-7", "sag b-7"), ("sag b-7", "SAG B-7"), ("Ærø-12", "ærø-12"), ("åse Øst", "ÅSE øST"), ("É 1", "é 1")],
)
async def test_case_by_label_ignores_case_including_danish_letters(storage: Storage, stored: str, asked: str) -> None:
    async with storage.transaction() as repo:
        cw = await repo.insert_caseworker("A", "", "caseworker", at())
        other = await repo.insert_caseworker("B", "", "caseworker", at())
        case_id = await repo.insert_case(cw, stored, "adult", at())
        found = await repo.case_by_label(cw, asked)
        assert found is not None
        assert found.id == case_id
        assert found.label == stored
        assert await repo.case_by_label(other, asked) is None
        assert await repo.case_by_label(cw, asked + "x") is None


async def test_a_label_differing_only_in_letter_case_is_the_same_case(storage: Storage) -> None:
    """Labels are unique per caseworker in any letter case ("a12" is "A12"), æøå included."""
    async with storage.transaction() as repo:
        cw = await repo.insert_caseworker("A", "", "caseworker", at())
        upper = await repo.insert_case(cw, "ÆBLE-1", "adult", at())
        assert upper is not None
        assert await repo.insert_case(cw, "æble-1", "adult", at()) is None
        found = await repo.case_by_label(cw, "Æble-1")
        assert found is not None
        assert found.id == upper
        assert found.label == "ÆBLE-1"


# --- respondents ---------------------------------------------------------------------------------------


async def test_respondents_round_trip(storage: Storage) -> None:
    async with storage.transaction() as repo:
        cw = await repo.insert_caseworker("A", "", "caseworker", at())
        case_id = await repo.insert_case(cw, "S", "6-12", at())
        assert case_id is not None
        parent = await repo.insert_respondent(case_id, "parent", "da", at(1))
        child = await repo.insert_respondent(case_id, "child", "en", at(2))
    async with storage.transaction() as repo:
        r = await repo.respondent(parent)
        assert r is not None
        assert (r.case_id, r.role, r.telegram_user_id, r.language, r.status) == (
            case_id,
            Role("parent"),
            None,
            "da",
            "invited",
        )
        assert (r.created_at, r.joined_at, r.withdrawn_at, r.unreachable_since) == (at(1), None, None, None)
        assert await repo.respondent(999) is None
        assert [x.id for x in await repo.respondents_of_case(case_id)] == [parent, child]
        await repo.bind_respondent(parent, 777, "en")
        await repo.bind_respondent(child, 777, "da")
        assert [x.status for x in await repo.respondents_of_user(777)] == ["consenting", "consenting"]
        await repo.set_respondent_status(parent, "active", at(3))
        await repo.set_respondent_status(child, "declined", at(3))
        r = await repo.respondent(parent)
        assert r is not None
        assert (r.status, r.joined_at, r.active) == ("active", at(3), True)
        assert (await repo.respondent(child)).joined_at is None  # type: ignore[union-attr]
        await repo.set_user_language(777, "uk")
    async with storage.transaction() as repo:
        assert [x.language for x in await repo.respondents_of_user(777)] == ["uk", "uk"]
        # Unreachable is reported once, for active respondents only.
        assert [x.id for x in await repo.mark_unreachable(777, at(4))] == [parent]
        assert await repo.mark_unreachable(777, at(5)) == []
        assert (await repo.respondent(parent)).unreachable_since == at(4)  # type: ignore[union-attr]
        assert await repo.unreachable_count() == 1
        await repo.mark_reachable(777)
        assert (await repo.respondent(parent)).unreachable_since is None  # type: ignore[union-attr]
        assert await repo.unreachable_count() == 0
        await repo.set_respondent_status(parent, "withdrawn", at(6))
        await repo.unlink_respondent_user(parent)
        r = await repo.respondent(parent)
        assert r is not None
        assert (r.status, r.withdrawn_at, r.telegram_user_id) == ("withdrawn", at(6), None)
        assert [x.id for x in await repo.respondents_of_user(777)] == [child]


async def test_set_user_language_reaches_caseworkers_too(storage: Storage) -> None:
    async with storage.transaction() as repo:
        cw = await repo.insert_caseworker("A", "", "caseworker", at())
        await repo.link_caseworker_user(cw, 9, "da", at())
        await repo.set_user_language(9, "en")
        assert (await repo.caseworker(cw)).language == "en"  # type: ignore[union-attr]


async def test_delete_answers_of_respondent(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await family(repo, user=1)
        b = await family(repo, caseworker_id=a.caseworker_id, label="Other", user=2)
        await answer_all(repo, a.questionnaire_id, [10, 20, 30, 40, 50, 60, 70, 80], at())
        await answer_all(repo, b.questionnaire_id, [1, 2], at(), complete=False)
        assert await repo.delete_answers_of_respondent(a.respondent_id) == 8
        assert await repo.answers(a.questionnaire_id) == {}
        assert await repo.answers(b.questionnaire_id) == {0: 1, 1: 2}


# --- invitations and token failures --------------------------------------------------------------------


async def test_invitations_round_trip(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo, user=None)
        inv = await repo.insert_invitation(
            "h" * 64,
            "respondent",
            respondent_id=fam.respondent_id,
            caseworker_id=None,
            created_by=fam.caseworker_id,
            now=at(),
            expires_at=at(days=14),
        )
        enrol = await repo.insert_invitation(
            "e" * 64,
            "caseworker",
            respondent_id=None,
            caseworker_id=fam.caseworker_id,
            created_by=None,
            now=at(),
            expires_at=at(days=1),
        )
    async with storage.transaction() as repo:
        invitation = await repo.invitation_by_hash("h" * 64)
        assert invitation is not None
        assert (invitation.id, invitation.purpose, invitation.respondent_id, invitation.caseworker_id) == (
            inv,
            "respondent",
            fam.respondent_id,
            None,
        )
        assert (invitation.created_at, invitation.expires_at, invitation.used_at, invitation.revoked_at) == (
            at(),
            at(days=14),
            None,
            None,
        )
        assert (await repo.invitation_by_hash("e" * 64)).caseworker_id == fam.caseworker_id  # type: ignore[union-attr]
        assert await repo.invitation_by_hash("x") is None
        assert await repo.use_invitation(enrol, at(1)) is True
        assert await repo.use_invitation(enrol, at(2)) is False
        assert (await repo.invitation_by_hash("e" * 64)).used_at == at(1)  # type: ignore[union-attr]
        await repo.revoke_invitations_of_respondent(fam.respondent_id, at(3))
        assert (await repo.invitation_by_hash("h" * 64)).revoked_at == at(3)  # type: ignore[union-attr]
        assert await repo.use_invitation(inv, at(4)) is False  # revoked


async def test_token_hashes_are_unique(storage: Storage) -> None:
    async with storage.transaction() as repo:
        await repo.insert_invitation(
            "h", "caseworker", respondent_id=None, caseworker_id=None, created_by=None, now=at(), expires_at=at(1)
        )
    with pytest.raises(INTEGRITY_ERRORS):
        async with storage.transaction() as repo:
            await repo.insert_invitation(
                "h", "caseworker", respondent_id=None, caseworker_id=None, created_by=None, now=at(), expires_at=at(1)
            )


async def test_an_invitation_is_used_once_under_concurrency(
    storage: Storage, make_storage: Callable[[], Storage], dialect: str
) -> None:
    """Two people (two instances) redeem one token at the same moment: exactly one wins."""
    other = make_storage()
    await other.open(START)
    for attempt in range(10):
        async with storage.transaction() as repo:
            inv = await repo.insert_invitation(
                f"race{attempt}",
                "caseworker",
                respondent_id=None,
                caseworker_id=None,
                created_by=None,
                now=at(),
                expires_at=at(days=1),
            )
        results = await race(dialect, [storage, other], lambda repo, inv=inv: repo.use_invitation(inv, at(1)))
        assert sorted(results) == [False, True]


async def test_token_failures(storage: Storage) -> None:
    async with storage.transaction() as repo:
        for minutes in (0, 10, 20):
            await repo.record_token_failure(5, at(minutes))
        await repo.record_token_failure(6, at(20))
        assert await repo.token_failures_since(5, at(10)) == 2
        assert await repo.token_failures_since(5, at(21)) == 0
        assert await repo.token_failures_since(7, at()) == 0
        await repo.prune_token_failures(at(15))
        assert await repo.token_failures_since(5, at(-60)) == 1
        assert await repo.token_failures_since(6, at(-60)) == 1


# --- consents and meetings ------------------------------------------------------------------------------


async def test_consents_round_trip(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
        await repo.insert_consent(fam.respondent_id, True, "v1", "da", at(1))
        await repo.insert_consent(fam.respondent_id, False, "withdrawal", "en", at(2))
        rows = await repo.consents_of(fam.respondent_id)
    assert [(bool(r["given"]), r["text_version"], r["language"], r["at"]) for r in rows] == [
        (True, "v1", "da", "2026-11-24T09:01:00.000000Z"),
        (False, "withdrawal", "en", "2026-11-24T09:02:00.000000Z"),
    ]


async def test_meetings_round_trip(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo, held_at=at(days=2))
        earlier = await repo.insert_meeting(fam.case_id, at(days=1), fam.caseworker_id, at())
        meeting = await repo.meeting(fam.meeting_id)
        assert meeting is not None
        assert (meeting.case_id, meeting.held_at, meeting.created_by) == (fam.case_id, at(days=2), fam.caseworker_id)
        assert await repo.meeting(999) is None
        assert [m.id for m in await repo.meetings_of_case(fam.case_id)] == [earlier, fam.meeting_id]


# --- questionnaires and answers --------------------------------------------------------------------------


async def test_questionnaires_round_trip(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo, user=31)
        q = await repo.questionnaire(fam.questionnaire_id)
        assert q is not None
        assert (q.meeting_id, q.respondent_id, q.ors_instrument, q.srs_instrument, q.status, q.position) == (
            fam.meeting_id,
            fam.respondent_id,
            "ors",
            "srs",
            "scheduled",
            0,
        )
        assert (q.due_at, q.created_at, q.sent_at, q.chat_id, q.message_id) == (at(90), at(), None, None, None)
        assert not q.open
        assert await repo.questionnaire(999) is None
        # One questionnaire per meeting and respondent.
        assert await repo.insert_questionnaire(fam.meeting_id, fam.respondent_id, "ors", "srs", at(), at()) is None
        assert await repo.open_questionnaires_of_user(31) == []
        await repo.update_questionnaire(
            fam.questionnaire_id, status="sent", sent_at=at(91), chat_id=31, message_id=2**33, expires_at=at(days=3)
        )
        q = await repo.questionnaire(fam.questionnaire_id)
        assert q is not None
        assert (q.status, q.sent_at, q.chat_id, q.message_id, q.expires_at) == ("sent", at(91), 31, 2**33, at(days=3))
        assert q.open
        assert [x.id for x in await repo.open_questionnaires_of_user(31)] == [q.id]
        with pytest.raises(ValueError, match="respondent_id"):
            await repo.update_questionnaire(q.id, respondent_id=1)


async def test_open_questionnaires_of_user_newest_first_and_only_active(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await family(repo, user=31)
        b = await family(repo, caseworker_id=a.caseworker_id, label="B", user=31)
        c = await family(repo, caseworker_id=a.caseworker_id, label="C", user=31)
        await repo.update_questionnaire(a.questionnaire_id, status="sent", sent_at=at(1))
        await repo.update_questionnaire(b.questionnaire_id, status="in_progress", sent_at=at(2))
        await repo.update_questionnaire(c.questionnaire_id, status="sent", sent_at=at(3))
        await repo.set_respondent_status(c.respondent_id, "withdrawn", at(4))
        assert [q.id for q in await repo.open_questionnaires_of_user(31)] == [b.questionnaire_id, a.questionnaire_id]


async def test_questionnaires_of_respondent_in_due_order(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
        m2 = await repo.insert_meeting(fam.case_id, at(days=-7), fam.caseworker_id, at())
        q2 = await repo.insert_questionnaire(m2, fam.respondent_id, "ors", "srs", at(days=-7), at())
        assert [q.id for q in await repo.questionnaires_of_respondent(fam.respondent_id)] == [q2, fam.questionnaire_id]


async def test_move_position_is_compare_and_set(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
        qid = fam.questionnaire_id
        assert await repo.move_position(qid, 0, 1, "in_progress") is False  # not sent yet
        await repo.update_questionnaire(qid, status="sent")
        assert await repo.move_position(qid, 0, 1, "in_progress") is True
        assert await repo.move_position(qid, 0, 1, "in_progress") is False  # a double press
        assert await repo.move_position(qid, 1, 2, "in_progress") is True
        assert await repo.move_position(qid, 2, 8, "completed") is True
        assert await repo.move_position(qid, 8, 8, "completed") is False  # completed is closed
        q = await repo.questionnaire(qid)
        assert q is not None
        assert (q.position, q.status) == (8, "completed")


async def test_move_position_races_have_one_winner(
    storage: Storage, make_storage: Callable[[], Storage], dialect: str
) -> None:
    other = make_storage()
    await other.open(START)
    async with storage.transaction() as repo:
        fam = await family(repo)
        await repo.update_questionnaire(fam.questionnaire_id, status="in_progress")
    for position in range(5):
        results = await race(
            dialect,
            [storage, other],
            lambda repo, p=position: repo.move_position(fam.questionnaire_id, p, p + 1, "in_progress"),
        )
        assert sorted(results) == [False, True]


async def test_answers_upsert(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
        qid = fam.questionnaire_id
        await repo.upsert_answer(qid, 0, 55, at(1))
        await repo.upsert_answer(qid, 1, None, at(1))
        await repo.upsert_answer(qid, 0, 70, at(2))  # changed their mind
        await repo.upsert_answer(qid, 7, 100, at(2))
        await repo.upsert_answer(qid, 6, 0, at(2))
        assert await repo.answers(qid) == {0: 70, 1: None, 6: 0, 7: 100}
        row = await repo.conn.fetch_one(
            "SELECT answered_at FROM answers WHERE questionnaire_id = :q AND position = 0", {"q": qid}
        )
        assert row is not None
        assert row["answered_at"] == "2026-11-24T09:02:00.000000Z"
    assert await count(storage, "answers") == 4


async def test_cancel_questionnaires_of_case_and_respondent(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await family(repo)
        m2 = await repo.insert_meeting(a.case_id, at(days=7), a.caseworker_id, at())
        second = await repo.insert_respondent(a.case_id, "youth", "da", at())
        q2 = await repo.insert_questionnaire(m2, a.respondent_id, "ors", "srs", at(days=7), at())
        q3 = await repo.insert_questionnaire(m2, second, "ors", "srs", at(days=7), at())
        done = await repo.insert_questionnaire(a.meeting_id, second, "ors", "srs", at(), at())
        assert q2 is not None
        assert q3 is not None
        assert done is not None
        await repo.update_questionnaire(done, status="completed")
        other = await family(repo, caseworker_id=a.caseworker_id, label="Other")
        assert sorted(await repo.cancel_questionnaires_of_respondent(second)) == [q3]
        assert sorted(await repo.cancel_questionnaires_of_case(a.case_id)) == sorted([a.questionnaire_id, q2])
        assert await repo.cancel_questionnaires_of_case(a.case_id) == []
        assert (await repo.questionnaire(done)).status == "completed"  # type: ignore[union-attr]
        assert (await repo.questionnaire(other.questionnaire_id)).status == "scheduled"  # type: ignore[union-attr]


async def test_history_of_respondents(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await family(repo, held_at=at(days=14))
        # An earlier meeting of the same respondent, created later: history is in meeting order.
        m0 = await repo.insert_meeting(a.case_id, at(days=7), a.caseworker_id, at())
        q0 = await repo.insert_questionnaire(m0, a.respondent_id, "ors", "srs", at(days=7), at())
        assert q0 is not None
        await answer_all(repo, a.questionnaire_id, [50, 50, 50, 50, 90, 90, 90, 90], at(days=14))
        await answer_all(repo, q0, [10, None, 30, 40, 80, 80, 80, 80], at(days=7))
        # Expired with some answers counts; scheduled or cancelled with answers does not.
        m1 = await repo.insert_meeting(a.case_id, at(days=21), a.caseworker_id, at())
        q1 = await repo.insert_questionnaire(m1, a.respondent_id, "ors", "srs", at(days=21), at())
        assert q1 is not None
        await answer_all(repo, q1, [20, 20], at(days=21), complete=False)
        await repo.update_questionnaire(q1, status="expired")
        m3 = await repo.insert_meeting(a.case_id, at(days=28), a.caseworker_id, at())
        q3 = await repo.insert_questionnaire(m3, a.respondent_id, "ors", "srs", at(days=28), at())
        assert q3 is not None
        await answer_all(repo, q3, [20], at(days=28), complete=False)
        await repo.update_questionnaire(q3, status="cancelled")
        b = await family(repo, caseworker_id=a.caseworker_id, label="B", held_at=at(days=10))
        await answer_all(repo, b.questionnaire_id, [1, 2, 3, 4], at(days=10), complete=False)
        await repo.update_questionnaire(b.questionnaire_id, status="in_progress")

        history = await repo.history_of_respondents([a.respondent_id, b.respondent_id])
        assert await repo.history_of_respondents([]) == []
    q0_values = {0: 10, 1: None, 2: 30, 3: 40, 4: 80, 5: 80, 6: 80, 7: 80}
    a_values = dict.fromkeys(range(4), 50) | dict.fromkeys(range(4, 8), 90)
    assert history == [
        HistoryRow(q0, a.respondent_id, at(days=7), "completed", q0_values),
        HistoryRow(b.questionnaire_id, b.respondent_id, at(days=10), "in_progress", {0: 1, 1: 2, 2: 3, 3: 4}),
        HistoryRow(a.questionnaire_id, a.respondent_id, at(days=14), "completed", a_values),
        HistoryRow(q1, a.respondent_id, at(days=21), "expired", {0: 20, 1: 20}),
    ]


async def test_latest_questionnaire_status(storage: Storage) -> None:
    async with storage.transaction() as repo:
        a = await family(repo)
        m2 = await repo.insert_meeting(a.case_id, at(days=7), a.caseworker_id, at())
        q2 = await repo.insert_questionnaire(m2, a.respondent_id, "ors", "srs", at(days=7), at())
        m3 = await repo.insert_meeting(a.case_id, at(days=14), a.caseworker_id, at())
        await repo.insert_questionnaire(m3, a.respondent_id, "ors", "srs", at(days=14), at())  # still scheduled
        await repo.update_questionnaire(a.questionnaire_id, status="completed")
        assert q2 is not None
        await repo.update_questionnaire(q2, status="expired")
        b = await family(repo, caseworker_id=a.caseworker_id, label="B")
        statuses = await repo.latest_questionnaire_status([a.respondent_id, b.respondent_id])
        assert statuses == {a.respondent_id: "expired"}
        assert await repo.latest_questionnaire_status([]) == {}


# --- alerts ------------------------------------------------------------------------------------------------


async def test_alerts_round_trip_and_acknowledge_once(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
        other_cw = await repo.insert_caseworker("B", "", "caseworker", at())
        first = await repo.insert_alert(
            fam.case_id,
            fam.respondent_id,
            fam.questionnaire_id,
            "ors_drop",
            "warning",
            {"drop": 52, "instrument": "ors", "æ": "ø"},
            at(2),
        )
        positive = await repo.insert_alert(fam.case_id, None, None, "improved", "positive", {}, at(1))
        urgent = await repo.insert_alert(fam.case_id, fam.respondent_id, None, "risk", "urgent", {}, at(1))
    async with storage.transaction() as repo:
        alert = await repo.alert(first)
        assert alert is not None
        assert (alert.case_id, alert.respondent_id, alert.questionnaire_id, alert.kind, alert.severity) == (
            fam.case_id,
            fam.respondent_id,
            fam.questionnaire_id,
            "ors_drop",
            "warning",
        )
        assert alert.params == {"drop": 52, "instrument": "ors", "æ": "ø"}
        assert (alert.created_at, alert.acknowledged_at, alert.acknowledged_by) == (at(2), None, None)
        assert await repo.alert(999) is None
        # Oldest first, ties by id; positive findings are not "open".
        assert [a.id for a in await repo.alerts_of_case(fam.case_id)] == [positive, urgent, first]
        assert [a.id for a in await repo.open_alerts_of_caseworker(fam.caseworker_id)] == [urgent, first]
        assert await repo.open_alerts_of_caseworker(other_cw) == []
        assert await repo.acknowledge_alert(urgent, fam.caseworker_id, at(3)) is True
        assert await repo.acknowledge_alert(urgent, other_cw, at(4)) is False
        acknowledged = await repo.alert(urgent)
        assert acknowledged is not None
        assert (acknowledged.acknowledged_at, acknowledged.acknowledged_by) == (at(3), fam.caseworker_id)
        assert [a.id for a in await repo.open_alerts_of_caseworker(fam.caseworker_id)] == [first]
        await repo.close_case(fam.case_id, at(5))
        assert await repo.open_alerts_of_caseworker(fam.caseworker_id) == []


async def test_alerts_posted_with_are_the_questionnaires_non_positive_alerts(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
        other = await family(repo, caseworker_id=fam.caseworker_id, label="Other", user=77)
        q = fam.questionnaire_id
        drop = await repo.insert_alert(fam.case_id, fam.respondent_id, q, "ors_drop", "warning", {}, at(1))
        await repo.insert_alert(fam.case_id, fam.respondent_id, q, "improved", "positive", {}, at(1))
        low = await repo.insert_alert(fam.case_id, fam.respondent_id, q, "srs_low", "warning", {}, at(2))
        await repo.insert_alert(other.case_id, None, other.questionnaire_id, "risk", "urgent", {}, at(1))
        loose = await repo.insert_alert(fam.case_id, None, None, "no_response", "warning", {}, at(3))
        alert = await repo.alert(low)
        lone = await repo.alert(loose)
        assert alert is not None
        assert lone is not None
        assert [a.id for a in await repo.alerts_posted_with(alert)] == [drop, low]
        assert await repo.alerts_posted_with(lone) == [lone]


# --- audit and health -----------------------------------------------------------------------------------------


async def test_audit_events(storage: Storage) -> None:
    async with storage.transaction() as repo:
        fam = await family(repo)
        await repo.audit("caseworker:1", "case_viewed", at(1), case_id=fam.case_id)
        await repo.audit("system", "started", at(2))
        await repo.audit("respondent:1", "joined", at(3), case_id=fam.case_id, detail="via link")
        everything = await repo.audit_events()
        of_case = await repo.audit_events(fam.case_id)
    assert [(r["actor"], r["action"], r["case_id"], r["detail"], r["at"]) for r in everything] == [
        ("caseworker:1", "case_viewed", fam.case_id, "", "2026-11-24T09:01:00.000000Z"),
        ("system", "started", None, "", "2026-11-24T09:02:00.000000Z"),
        ("respondent:1", "joined", fam.case_id, "via link", "2026-11-24T09:03:00.000000Z"),
    ]
    assert [r["action"] for r in of_case] == ["case_viewed", "joined"]


async def test_health_upserts(storage: Storage) -> None:
    async with storage.transaction() as repo:
        assert await repo.health() == {}
        await repo.set_health("last_poll", "ok", at(1))
        await repo.set_health("bot_username", "fitbot", at(1))
        await repo.set_health("last_poll", "timeout", at(2))
        assert await repo.health() == {"last_poll": ("timeout", at(2)), "bot_username": ("fitbot", at(1))}


# --- timestamps -------------------------------------------------------------------------------------------------


async def test_timestamps_come_back_as_aware_utc_and_sort_as_text(storage: Storage) -> None:
    copenhagen = timezone_offset(hours=1)
    # Given in other zones, with microseconds, across a year boundary; text order is time order.
    times = [
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 30, tzinfo=copenhagen),  # 2026-12-31 23:30 UTC
        datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 9, 0, 0, 500, tzinfo=timezone_offset(hours=-5)),
    ]
    async with storage.transaction() as repo:
        fam = await family(repo)
        for i, when in enumerate(times):
            await repo.insert_meeting(fam.case_id, when, fam.caseworker_id, at())
            await repo.enqueue("k", f"t:{i}", when, at())
        meetings = [m for m in await repo.meetings_of_case(fam.case_id) if m.id != fam.meeting_id]
        due_first = await repo.next_due_at()
    assert [m.held_at for m in meetings] == sorted(times)
    for m in meetings:
        assert m.held_at.tzinfo is UTC
        assert m.held_at.utcoffset() == timedelta(0)
    assert due_first == min(times)
    assert due_first.tzinfo is UTC  # type: ignore[union-attr]


def timezone_offset(*, hours: int):  # -> tzinfo
    from datetime import timezone

    return timezone(timedelta(hours=hours))


async def test_naive_datetimes_are_refused(storage: Storage) -> None:
    async with storage.transaction() as repo:
        with pytest.raises(ValueError, match="naive"):
            await repo.insert_caseworker("A", "", "caseworker", datetime(2026, 1, 1))  # noqa: DTZ001
