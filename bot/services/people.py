"""Who a Telegram user is to FIT-bot, and what a family member can do about their own data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain.instruments import AgeBand, Instrument, Role, instrument
from bot.services.context import Services
from bot.storage.db import from_db_time
from bot.storage.models import Caseworker, Respondent
from bot.storage.repository import Repository


@dataclass(frozen=True)
class Person:
    telegram_user_id: int
    caseworker: Caseworker | None = None
    respondents: tuple[Respondent, ...] = field(default_factory=tuple)
    language: str | None = None

    @property
    def is_caseworker(self) -> bool:
        return self.caseworker is not None and self.caseworker.active

    @property
    def is_disabled_caseworker(self) -> bool:
        return self.caseworker is not None and not self.caseworker.active

    @property
    def active_respondents(self) -> tuple[Respondent, ...]:
        return tuple(r for r in self.respondents if r.active)

    @property
    def is_respondent(self) -> bool:
        """Linked to at least one case (whether or not consent is given yet)."""
        return any(r.status in ("consenting", "active", "declined") for r in self.respondents)

    @property
    def known(self) -> bool:
        return self.caseworker is not None or self.is_respondent


async def identify(svc: Services, telegram_user_id: int) -> Person:
    async with svc.storage.transaction() as repo:
        caseworker = await repo.caseworker_by_user(telegram_user_id)
        respondents = await repo.respondents_of_user(telegram_user_id)
    language = caseworker.language if caseworker else (respondents[-1].language if respondents else None)
    return Person(telegram_user_id, caseworker, tuple(respondents), language)


async def set_language(svc: Services, telegram_user_id: int, language: str) -> None:
    async with svc.storage.transaction() as repo:
        await repo.set_user_language(telegram_user_id, language)


@dataclass(frozen=True)
class Withdrawal:
    respondents: int
    answers_deleted: bool


async def withdraw(svc: Services, telegram_user_id: int) -> Withdrawal:
    """/stop: no more prompts, the Telegram link removed, answers kept or deleted as the policy says."""
    now = svc.now()
    delete = svc.policy.on_withdrawal == "delete_answers"
    async with svc.storage.transaction() as repo:
        respondents = [r for r in await repo.respondents_of_user(telegram_user_id) if r.status != "withdrawn"]
        for r in respondents:
            for qid in await repo.cancel_questionnaires_of_respondent(r.id):
                await repo.cancel_outbox(f"q:{qid}:", now)
            await repo.revoke_invitations_of_respondent(r.id, now)
            await repo.set_respondent_status(r.id, "withdrawn", now)
            await repo.insert_consent(r.id, False, "withdrawal", r.language, now)
            await repo.unlink_respondent_user(r.id)
            if delete:
                await repo.delete_answers_of_respondent(r.id)
            await repo.audit(
                f"respondent:{r.id}", "withdrew" + (" answers_deleted" if delete else ""), now, case_id=r.case_id
            )
    return Withdrawal(len(respondents), delete)


@dataclass(frozen=True)
class AnswerRecord:
    instrument: Instrument
    item_index: int
    answered: bool
    value: int | None  # tenths; None when skipped (answered) or not answered


@dataclass(frozen=True)
class QuestionnaireRecord:
    meeting_at: datetime | None
    status: str  # scheduled | sent | in_progress | completed | declined | expired | cancelled
    sent_at: datetime | None
    reminded_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None
    answers: tuple[AnswerRecord, ...]  # ORS items, then SRS items, in the order they were asked


@dataclass(frozen=True)
class InvitationRecord:
    """An invitation link (the token itself is never stored, only its hash, which is not shown)."""

    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ConsentRecord:
    given: bool
    text_version: str
    language: str
    at: datetime


@dataclass(frozen=True)
class Participation:
    """One invitation to answer for a case, and everything that followed it."""

    role: Role
    status: str  # consenting | active | declined
    language: str
    age_band: AgeBand | None
    joined_at: datetime | None
    unreachable_since: datetime | None
    invitations: tuple[InvitationRecord, ...]
    consents: tuple[ConsentRecord, ...]
    questionnaires: tuple[QuestionnaireRecord, ...]
    caseworker_told: tuple[tuple[datetime, str], ...]  # (when, alert kind) about this person's answers
    events: tuple[tuple[datetime, str], ...]  # (when, action) from the audit log, this person's own


@dataclass(frozen=True)
class MyData:
    telegram_user_id: int
    exported_at: datetime
    caseworker: Caseworker | None
    participations: tuple[Participation, ...]
    recent_bad_links: int  # bad /start tokens from this Telegram account, kept a day against guessing


async def my_data(svc: Services, telegram_user_id: int) -> MyData:
    """Everything stored about this person and only this person (the view renders it readable)."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        caseworker = await repo.caseworker_by_user(telegram_user_id)
        participations = [await _participation(repo, r) for r in await repo.respondents_of_user(telegram_user_id)]
        bad_links = await repo.token_failures_since(telegram_user_id, datetime(2000, 1, 1, tzinfo=UTC))
        await repo.audit(f"user:{telegram_user_id}", "own_data_exported", now)
    return MyData(telegram_user_id, now, caseworker, tuple(participations), bad_links)


async def _participation(repo: Repository, r: Respondent) -> Participation:
    case = await repo.case(r.case_id)
    questionnaires = []
    for q in await repo.questionnaires_of_respondent(r.id):
        meeting = await repo.meeting(q.meeting_id)
        answers = await repo.answers(q.id)
        ors, srs = instrument(q.ors_instrument), instrument(q.srs_instrument)
        items = [*((ors, i) for i in range(len(ors.items))), *((srs, i) for i in range(len(srs.items)))]
        questionnaires.append(
            QuestionnaireRecord(
                meeting_at=meeting.held_at if meeting else None,
                status=q.status,
                sent_at=q.sent_at,
                reminded_at=q.reminded_at,
                completed_at=q.completed_at,
                expires_at=q.expires_at,
                answers=tuple(
                    AnswerRecord(inst, index, pos in answers, answers.get(pos))
                    for pos, (inst, index) in enumerate(items)
                ),
            )
        )
    actor = f"respondent:{r.id}"
    return Participation(
        role=r.role,
        status=r.status,
        language=r.language,
        age_band=case.age_band if case else None,
        joined_at=r.joined_at,
        unreachable_since=r.unreachable_since,
        invitations=tuple(
            InvitationRecord(i.created_at, i.expires_at, i.used_at, i.revoked_at)
            for i in await repo.invitations_of_respondent(r.id)
        ),
        consents=tuple(
            ConsentRecord(bool(c["given"]), c["text_version"], c["language"], _time(c["at"]))
            for c in await repo.consents_of(r.id)
        ),
        questionnaires=tuple(questionnaires),
        caseworker_told=tuple(
            (a.created_at, a.kind) for a in await repo.alerts_of_case(r.case_id) if a.respondent_id == r.id
        ),
        events=tuple((_time(e["at"]), e["action"]) for e in await repo.audit_events(r.case_id) if e["actor"] == actor),
    )


def _time(value: str) -> datetime:
    at = from_db_time(value)
    assert at is not None
    return at
