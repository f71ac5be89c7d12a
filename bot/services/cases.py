"""A caseworker's cases: create, invite, log meetings, close, hand over. Only ever their own cases."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.domain.instruments import AgeBand, Role, instruments_for
from bot.domain.labels import LabelProblem, normalize_case_label, validate_case_label
from bot.services.context import Services
from bot.services.tokens import new_token, token_hash
from bot.storage.models import Case, Caseworker
from bot.storage.repository import Repository

log = logging.getLogger(__name__)

# Labels travel in button data ("nb:<band>:<label>", 64 bytes in UTF-8): at most 24 characters and at
# most 55 bytes, so any 24 letters of Danish, Arabic or Cyrillic fit, and 18 of Thai or Chinese.
MAX_LABEL_CHARS = 24
MAX_LABEL_BYTES = 64 - len("nb:adult:")


class CaseError(Enum):
    NOT_FOUND = "not_found"  # also for another caseworker's case: nothing is revealed
    CLOSED = "closed"
    EXISTS = "exists"
    ROLE_DOES_NOT_FIT = "role_does_not_fit"
    NO_RESPONDENTS = "no_respondents"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class LabelRefused:
    problem: LabelProblem
    max_length: int = MAX_LABEL_CHARS


def check_label(text: str) -> tuple[str, LabelRefused | None]:
    label = normalize_case_label(text)
    problem = validate_case_label(label)
    if problem is None and (len(label) > MAX_LABEL_CHARS or len(label.encode()) > MAX_LABEL_BYTES):
        return label, LabelRefused(LabelProblem.TOO_LONG, _chars_that_fit(label))
    return label, (LabelRefused(problem) if problem else None)


def _chars_that_fit(label: str) -> int:
    """How many characters of this label's kind fit: 24, fewer for scripts of 3 or 4 bytes a letter."""
    size = 0
    for count, char in enumerate(label):
        size += len(char.encode())
        if size > MAX_LABEL_BYTES or count >= MAX_LABEL_CHARS:
            return min(count, MAX_LABEL_CHARS)
    return MAX_LABEL_CHARS


async def own_case(repo: Repository, caseworker: Caseworker, case_id: int) -> Case | None:
    """The case if it is this caseworker's; None otherwise (never another caseworker's)."""
    case = await repo.case(case_id)
    return case if case is not None and case.caseworker_id == caseworker.id else None


async def create_case(
    svc: Services, caseworker: Caseworker, label_text: str, band: AgeBand, update_id: int | None = None
) -> Case | LabelRefused | CaseError:
    label, refused = check_label(label_text)
    if refused:
        return refused
    now = svc.now()
    async with svc.storage.transaction() as repo:
        if update_id is not None and not await repo.claim_update(update_id, now):
            return CaseError.DUPLICATE
        case_id = await repo.insert_case(caseworker.id, label, band.value, now)
        if case_id is None:
            return CaseError.EXISTS
        await repo.audit(f"caseworker:{caseworker.id}", "case_created", now, case_id=case_id)
        case = await repo.case(case_id)
    assert case is not None
    return case


async def find_case(svc: Services, caseworker: Caseworker, label: str) -> Case | None:
    async with svc.storage.transaction() as repo:
        return await repo.case_by_label(caseworker.id, normalize_case_label(label))


async def get_case(svc: Services, caseworker: Caseworker, case_id: int) -> Case | None:
    async with svc.storage.transaction() as repo:
        return await own_case(repo, caseworker, case_id)


async def cases_to_pick(svc: Services, caseworker: Caseworker, limit: int) -> list[Case]:
    """The open cases offered as buttons (the first `limit`), each one audited as shown."""
    async with svc.storage.transaction() as repo:
        offered = (await repo.cases_of(caseworker.id))[:limit]
        await audit_shown(repo, caseworker, "case_pick_shown", offered, svc.now())
    return offered


async def audit_shown(repo: Repository, caseworker: Caseworker, action: str, shown: list[Case], now: datetime) -> None:
    """One audit row per case whose label or data a caseworker is shown (so "who saw case X" is a
    lookup by case); one row without a case when the list was empty."""
    actor = f"caseworker:{caseworker.id}"
    for case in shown:
        await repo.audit(actor, action, now, case_id=case.id)
    if not shown:
        await repo.audit(actor, action, now, detail="none")


def role_fits(role: Role, band: AgeBand) -> bool:
    """A young person answers for themselves only at 13-17, a child only at 6-12; parents always."""
    return (
        role is Role.PARENT
        or (role is Role.YOUTH and band is AgeBand.YOUTH)
        or (role is Role.CHILD and band is AgeBand.CHILD)
    )


@dataclass(frozen=True)
class Invitation:
    token: str  # shown once, never stored
    respondent_id: int
    role: Role
    expires_at: datetime
    case: Case


async def invite(
    svc: Services, caseworker: Caseworker, case_id: int, role: Role, update_id: int | None = None
) -> Invitation | CaseError:
    now = svc.now()
    async with svc.storage.transaction() as repo:
        if update_id is not None and not await repo.claim_update(update_id, now):
            return CaseError.DUPLICATE
        case = await own_case(repo, caseworker, case_id)
        if case is None:
            return CaseError.NOT_FOUND
        if not case.is_open:
            return CaseError.CLOSED
        if not role_fits(role, case.age_band):
            return CaseError.ROLE_DOES_NOT_FIT
        respondent_id = await repo.insert_respondent(case.id, role.value, svc.policy.language, now)
        token = new_token(svc.random_bytes)
        expires_at = now + svc.policy.family_invite_ttl
        await repo.insert_invitation(
            token_hash(token),
            "respondent",
            respondent_id=respondent_id,
            caseworker_id=None,
            created_by=caseworker.id,
            now=now,
            expires_at=expires_at,
        )
        await repo.audit(f"caseworker:{caseworker.id}", f"invited:{role.value}", now, case_id=case.id)
    return Invitation(token, respondent_id, role, expires_at, case)


@dataclass(frozen=True)
class MeetingLogged:
    meeting_id: int
    case: Case
    held_at: datetime
    prompts_due: tuple[datetime, ...]  # one per respondent who will be asked
    waiting_for_consent: int  # invited or consenting respondents who will not be asked (yet)


async def log_meeting(
    svc: Services, caseworker: Caseworker, case_id: int, held_at: datetime, update_id: int | None = None
) -> MeetingLogged | CaseError:
    """Store the meeting and, for each active respondent, the questionnaire and its prompt's due time.

    The prompt falls due at the meeting's end plus the delay, moved out of the family's quiet hours.
    One questionnaire per meeting and respondent (a unique key), so a prompt can't be sent twice.
    """
    now = svc.now()
    async with svc.storage.transaction() as repo:
        if update_id is not None and not await repo.claim_update(update_id, now):
            return CaseError.DUPLICATE
        case = await own_case(repo, caseworker, case_id)
        if case is None:
            return CaseError.NOT_FOUND
        if not case.is_open:
            return CaseError.CLOSED
        meeting_id = await repo.insert_meeting(case.id, held_at, caseworker.id, now)
        respondents = await repo.respondents_of_case(case.id)
        due_times = []
        for respondent in (r for r in respondents if r.active):
            ors, srs = instruments_for(respondent.role, case.age_band)
            due = svc.policy.family_time(max(held_at + svc.policy.prompt_delay, now))
            qid = await repo.insert_questionnaire(meeting_id, respondent.id, ors.key, srs.key, due, now)
            if qid is not None:
                await repo.enqueue("prompt", f"q:{qid}:prompt", due, now, payload={"questionnaire_id": qid}, priority=4)
                due_times.append(due)
        await repo.audit(f"caseworker:{caseworker.id}", "meeting_logged", now, case_id=case.id)
        waiting = sum(1 for r in respondents if r.status in ("invited", "consenting"))
    svc.wake()
    return MeetingLogged(meeting_id, case, held_at, tuple(due_times), waiting)


async def close_case(svc: Services, caseworker: Caseworker, case_id: int) -> Case | CaseError:
    now = svc.now()
    async with svc.storage.transaction() as repo:
        case = await own_case(repo, caseworker, case_id)
        if case is None:
            return CaseError.NOT_FOUND
        if not await repo.close_case(case.id, now):
            return CaseError.CLOSED
        for qid in await repo.cancel_questionnaires_of_case(case.id):
            await repo.cancel_outbox(f"q:{qid}:", now)
        for respondent in await repo.respondents_of_case(case.id):
            await repo.revoke_invitations_of_respondent(respondent.id, now)
        await repo.audit(f"caseworker:{caseworker.id}", "case_closed", now, case_id=case.id)
    return case


async def hand_over(svc: Services, case_id: int, to_caseworker_id: int) -> Case | CaseError:
    """Give a case to another caseworker with its whole history; their channel gets it from now on."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        case = await repo.case(case_id)
        target = await repo.caseworker(to_caseworker_id)
        if case is None or target is None or not target.active:
            return CaseError.NOT_FOUND
        if await repo.case_by_label(target.id, case.label):
            return CaseError.EXISTS
        await repo.move_case(case.id, target.id)
        await repo.audit("operator", f"case_handed_over:{case.caseworker_id}->{target.id}", now, case_id=case.id)
        moved = await repo.case(case.id)
    assert moved is not None
    return moved
