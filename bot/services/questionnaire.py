"""A family member's questionnaire after a meeting: prompt, items one by one, reminder, expiry.

Every answer is committed when given. The current item lives in the database (`position`), moved by
compare-and-set, so a double tap or a tap on an old keyboard finds its item already answered and
changes nothing. When the last item lands, the same transaction runs the domain's rules and queues
the caseworker's summary and alerts: an answer is never stored without its caseworker being told.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.domain.instruments import AgeBand, Instrument, Kind, Role, instrument
from bot.domain.rules import AlertKind, Measurement, evaluate, service_finding
from bot.domain.scores import parse_score
from bot.services.context import Services
from bot.storage.models import Case, Questionnaire, Respondent
from bot.storage.repository import HistoryRow, Repository

log = logging.getLogger(__name__)

ORS_ITEMS = 4
SRS_ITEMS = 4
ITEM_COUNT = ORS_ITEMS + SRS_ITEMS


class Stale(Enum):
    """Why a press or a typed answer changed nothing."""

    ALREADY_ANSWERED = "already_answered"  # double tap, or a tap on an earlier item's keyboard
    FINISHED = "finished"  # the questionnaire is complete
    CLOSED = "closed"  # expired, declined, cancelled or never sent
    NOT_YOURS = "not_yours"  # a forged button or someone else's questionnaire
    DUPLICATE = "duplicate"  # the same update delivered twice


@dataclass(frozen=True)
class ItemView:
    """What the person sees now: one item of the questionnaire."""

    questionnaire_id: int
    position: int  # 0..7; ORS first, then SRS
    instrument: Instrument
    item_index: int  # within its instrument
    current: int | None  # an answer already given (when going back), in tenths
    answered: bool
    role: Role
    language: str
    chat_id: int | None
    message_id: int | None

    @property
    def kind(self) -> Kind:
        return self.instrument.kind

    @property
    def number(self) -> int:
        return self.position + 1

    @property
    def count(self) -> int:
        return ITEM_COUNT


@dataclass(frozen=True)
class Finished:
    questionnaire_id: int
    language: str
    role: Role
    ors_totals: tuple[int | None, ...]  # own ORS totals, meeting order, this one last
    meeting_times: tuple[datetime, ...]
    srs_total: int | None
    band: AgeBand
    chat_id: int | None
    message_id: int | None


@dataclass(frozen=True)
class Prompt:
    questionnaire_id: int
    chat_id: int
    language: str
    role: Role
    meeting_at: datetime


def _instrument_at(q: Questionnaire, position: int) -> tuple[Instrument, int]:
    if position < ORS_ITEMS:
        return instrument(q.ors_instrument), position
    return instrument(q.srs_instrument), position - ORS_ITEMS


async def _view(repo: Repository, q: Questionnaire, respondent: Respondent, position: int) -> ItemView:
    answers = await repo.answers(q.id)
    inst, index = _instrument_at(q, position)
    return ItemView(
        questionnaire_id=q.id,
        position=position,
        instrument=inst,
        item_index=index,
        current=answers.get(position),
        answered=position in answers,
        role=respondent.role,
        language=respondent.language,
        chat_id=q.chat_id,
        message_id=q.message_id,
    )


async def _owned(
    repo: Repository, questionnaire_id: int, telegram_user_id: int
) -> tuple[Questionnaire, Respondent] | Stale:
    q = await repo.questionnaire(questionnaire_id)
    if q is None:
        return Stale.NOT_YOURS
    respondent = await repo.respondent(q.respondent_id)
    if respondent is None or respondent.telegram_user_id != telegram_user_id:
        return Stale.NOT_YOURS
    if q.status == "completed":
        return Stale.FINISHED
    if not q.open or not respondent.active:
        return Stale.CLOSED
    return q, respondent


# --- the prompt -----------------------------------------------------------------------------------


async def prepare_prompt(svc: Services, questionnaire_id: int) -> Prompt | None:
    """The prompt to send now, or None when it should not go (closed case, withdrawn, past expiry)."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        q = await repo.questionnaire(questionnaire_id)
        if q is None or q.status != "scheduled":
            return None
        respondent = await repo.respondent(q.respondent_id)
        meeting = await repo.meeting(q.meeting_id)
        case = await repo.case(meeting.case_id) if meeting else None
        if respondent is None or meeting is None or case is None:
            return None
        if not case.is_open or not respondent.active or respondent.telegram_user_id is None:
            await repo.update_questionnaire(q.id, status="cancelled")
            return None
        if now >= q.due_at + svc.policy.expire_after:
            # Down for longer than a questionnaire lives: record it as missed, don't ask days late.
            await repo.update_questionnaire(q.id, status="expired", expires_at=q.due_at + svc.policy.expire_after)
            await repo.audit("system", "prompt_missed", now, case_id=case.id)
            return None
        return Prompt(q.id, respondent.telegram_user_id, respondent.language, respondent.role, meeting.held_at)


async def prompt_sent(svc: Services, questionnaire_id: int, chat_id: int, message_id: int) -> None:
    """Record the sent prompt and queue its reminder and expiry, in one transaction."""
    now = svc.now()
    expires_at = now + svc.policy.expire_after
    remind_at = svc.policy.family_time(now + svc.policy.reminder_after)
    async with svc.storage.transaction() as repo:
        await repo.update_questionnaire(
            questionnaire_id, status="sent", sent_at=now, chat_id=chat_id, message_id=message_id, expires_at=expires_at
        )
        if remind_at < expires_at:
            await repo.enqueue(
                "reminder",
                f"q:{questionnaire_id}:reminder",
                remind_at,
                now,
                payload={"questionnaire_id": questionnaire_id},
                priority=4,
            )
        await repo.enqueue(
            "expire",
            f"q:{questionnaire_id}:expire",
            expires_at,
            now,
            payload={"questionnaire_id": questionnaire_id},
            priority=3,
        )


# --- answering ------------------------------------------------------------------------------------


async def start(svc: Services, questionnaire_id: int, telegram_user_id: int) -> ItemView | Stale:
    """Show the current item (the first one, or where the person stopped)."""
    async with svc.storage.transaction() as repo:
        owned = await _owned(repo, questionnaire_id, telegram_user_id)
        if isinstance(owned, Stale):
            return owned
        q, respondent = owned
        if q.status == "sent":
            await repo.update_questionnaire(q.id, status="in_progress")
        return await _view(repo, q, respondent, q.position)


async def answer(
    svc: Services,
    questionnaire_id: int,
    position: int,
    value: int | None,
    telegram_user_id: int,
    update_id: int | None = None,
) -> ItemView | Finished | Stale:
    """Record `value` (tenths, None = skip) for the item at `position` and move on."""
    if not 0 <= position < ITEM_COUNT or (value is not None and not 0 <= value <= 100):
        return Stale.NOT_YOURS
    now = svc.now()
    async with svc.storage.transaction() as repo:
        if update_id is not None and not await repo.claim_update(update_id, now):
            return Stale.DUPLICATE
        owned = await _owned(repo, questionnaire_id, telegram_user_id)
        if isinstance(owned, Stale):
            return owned
        q, respondent = owned
        if q.position != position:
            return Stale.ALREADY_ANSWERED
        following = position + 1
        if not await repo.move_position(q.id, position, following, "in_progress"):
            return Stale.ALREADY_ANSWERED
        await repo.upsert_answer(q.id, position, value, now)
        if following < ITEM_COUNT:
            return await _view(repo, q, respondent, following)
        result = await _complete(svc, repo, q, respondent, now)
    svc.wake()
    return result


async def back(svc: Services, questionnaire_id: int, position: int, telegram_user_id: int) -> ItemView | Stale:
    """Go back to the previous item; its answer stays until a new one is given."""
    async with svc.storage.transaction() as repo:
        owned = await _owned(repo, questionnaire_id, telegram_user_id)
        if isinstance(owned, Stale):
            return owned
        q, respondent = owned
        if q.position != position or position == 0:
            return Stale.ALREADY_ANSWERED
        if not await repo.move_position(q.id, position, position - 1, "in_progress"):
            return Stale.ALREADY_ANSWERED
        return await _view(repo, q, respondent, position - 1)


async def decline(svc: Services, questionnaire_id: int, telegram_user_id: int) -> bool | Stale:
    """ "Not this time": recorded as not answered, no reminder."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        owned = await _owned(repo, questionnaire_id, telegram_user_id)
        if isinstance(owned, Stale):
            return owned
        q, respondent = owned
        await repo.update_questionnaire(q.id, status="declined")
        await repo.cancel_pending([f"q:{q.id}:reminder", f"q:{q.id}:expire"], now)
        meeting = await repo.meeting(q.meeting_id)
        await repo.audit(
            f"respondent:{respondent.id}", "questionnaire_declined", now, case_id=meeting.case_id if meeting else None
        )
        return True


async def set_message(svc: Services, questionnaire_id: int, chat_id: int, message_id: int) -> None:
    """The message that now shows the questionnaire (after a typed answer it is a new one)."""
    async with svc.storage.transaction() as repo:
        await repo.update_questionnaire(questionnaire_id, chat_id=chat_id, message_id=message_id)


class TypedOutcome(Enum):
    NO_QUESTIONNAIRE = "no_questionnaire"
    NOT_A_SCORE = "not_a_score"
    STARTED = "started"  # a number typed before pressing start: show the first item
    ANSWERED = "answered"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Typed:
    outcome: TypedOutcome
    result: ItemView | Finished | None = None
    previous_message_id: int | None = None  # the old questionnaire message, to clear its buttons


async def typed(svc: Services, telegram_user_id: int, text: str, update_id: int | None = None) -> Typed:
    """A typed message from a family member: an answer to their current item, or a hint."""
    async with svc.storage.transaction() as repo:
        open_ones = await repo.open_questionnaires_of_user(telegram_user_id)
    if not open_ones:
        return Typed(TypedOutcome.NO_QUESTIONNAIRE)
    q = open_ones[0]
    value = parse_score(text)
    if q.status == "sent":
        view = await start(svc, q.id, telegram_user_id)
        started = view if isinstance(view, ItemView) else None
        return Typed(TypedOutcome.STARTED, started, q.message_id)
    if value is None:
        async with svc.storage.transaction() as repo:
            respondent = await repo.respondent(q.respondent_id)
            assert respondent is not None
            return Typed(TypedOutcome.NOT_A_SCORE, await _view(repo, q, respondent, q.position))
    result = await answer(svc, q.id, q.position, value, telegram_user_id, update_id)
    if result is Stale.DUPLICATE:
        return Typed(TypedOutcome.DUPLICATE)
    if isinstance(result, Stale):
        return Typed(TypedOutcome.NO_QUESTIONNAIRE)
    return Typed(TypedOutcome.ANSWERED, result, q.message_id)


# --- completion -----------------------------------------------------------------------------------


def measurement(row: HistoryRow) -> Measurement:
    ors = tuple(row.values.get(p) for p in range(ORS_ITEMS))
    srs = tuple(row.values.get(p) for p in range(ORS_ITEMS, ITEM_COUNT))
    has_ors = any(p in row.values for p in range(ORS_ITEMS))
    has_srs = any(p in row.values for p in range(ORS_ITEMS, ITEM_COUNT))
    return Measurement(row.meeting_at, ors if has_ors else None, srs if has_srs else None)


async def _complete(
    svc: Services, repo: Repository, q: Questionnaire, respondent: Respondent, now: datetime
) -> Finished:
    await repo.update_questionnaire(q.id, status="completed", completed_at=now)
    await repo.cancel_pending([f"q:{q.id}:reminder", f"q:{q.id}:expire"], now)
    case = await repo.case(respondent.case_id)
    assert case is not None
    history = [h for h in await repo.history_of_respondents([respondent.id]) if h.status == "completed"]
    measurements = [measurement(h) for h in history]
    pair = (instrument(q.ors_instrument), instrument(q.srs_instrument))
    findings = evaluate(measurements, case.age_band, svc.policy.thresholds, instruments=pair)
    alert_ids = []
    for finding in findings:
        alert_id = await repo.insert_alert(
            case.id,
            respondent.id,
            q.id,
            finding.kind.value,
            finding.severity.value,
            _params(finding.params, finding.message),
            now,
        )
        if finding.severity.value != "positive":
            alert_ids.append(alert_id)
    if alert_ids:
        # One alert post per answered questionnaire, listing every rule that fired, one button for all.
        await _enqueue_alert(repo, case, alert_ids, now, key=f"alerts:q{q.id}")
    await _enqueue_for_caseworker(repo, case, "summary", f"summary:{q.id}", now, {"questionnaire_id": q.id})
    await repo.audit(f"respondent:{respondent.id}", "questionnaire_completed", now, case_id=case.id)
    latest = measurements[-1] if measurements else None
    return Finished(
        questionnaire_id=q.id,
        language=respondent.language,
        role=respondent.role,
        ors_totals=tuple(m.ors_total for m in measurements),
        meeting_times=tuple(m.meeting_at for m in measurements),
        srs_total=latest.srs_total if latest else None,
        band=case.age_band,
        chat_id=q.chat_id,
        message_id=q.message_id,
    )


def _params(params: object, message: str) -> dict[str, object]:
    """Alert params as stored: JSON-friendly, with the message id so the text can be rendered later."""
    out: dict[str, object] = {"message": message}
    for name, value in dict(params).items():  # type: ignore[call-overload]
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


async def _enqueue_for_caseworker(
    repo: Repository, case: Case, kind: str, key: str, now: datetime, payload: dict[str, object], priority: int = 5
) -> None:
    """Queue a post for the case's caseworker; the chat is their channel, else their private chat."""
    channel = await repo.active_channel(case.caseworker_id)
    caseworker = await repo.caseworker(case.caseworker_id)
    chat_id = channel.chat_id if channel else (caseworker.telegram_user_id if caseworker else None)
    await repo.enqueue(
        kind,
        f"cw:{case.caseworker_id}:{key}",
        now,
        now,
        chat_id=chat_id,
        payload={**payload, "caseworker_id": case.caseworker_id},
        priority=priority,
    )


async def _enqueue_alert(repo: Repository, case: Case, alert_ids: list[int], now: datetime, *, key: str) -> None:
    await _enqueue_for_caseworker(repo, case, "alert", key, now, {"alert_ids": alert_ids}, priority=2)


async def raise_service_alert(
    repo: Repository,
    case: Case,
    respondent_id: int,
    kind: AlertKind,
    now: datetime,
    questionnaire_id: int | None = None,
) -> None:
    finding = service_finding(kind)
    alert_id = await repo.insert_alert(
        case.id,
        respondent_id,
        questionnaire_id,
        kind.value,
        finding.severity.value,
        _params(finding.params, finding.message),
        now,
    )
    await _enqueue_alert(repo, case, [alert_id], now, key=f"alert:{alert_id}")


# --- reminder and expiry --------------------------------------------------------------------------


async def prepare_reminder(svc: Services, questionnaire_id: int) -> Prompt | None:
    """A reminder only when nothing has been answered yet, only once, and only while it can be answered
    (a reminder held back by an outage or quiet hours past the questionnaire's expiry is not sent)."""
    async with svc.storage.transaction() as repo:
        q = await repo.questionnaire(questionnaire_id)
        if q is None or q.status != "sent" or q.reminded_at is not None:
            return None
        if q.expires_at is not None and svc.now() >= q.expires_at:
            return None
        respondent = await repo.respondent(q.respondent_id)
        meeting = await repo.meeting(q.meeting_id)
        if respondent is None or meeting is None or not respondent.active or respondent.telegram_user_id is None:
            return None
        return Prompt(q.id, respondent.telegram_user_id, respondent.language, respondent.role, meeting.held_at)


async def reminder_sent(svc: Services, questionnaire_id: int, chat_id: int, message_id: int) -> None:
    async with svc.storage.transaction() as repo:
        await repo.update_questionnaire(questionnaire_id, reminded_at=svc.now(), chat_id=chat_id, message_id=message_id)


@dataclass(frozen=True)
class Expired:
    questionnaire_id: int
    chat_id: int | None
    message_id: int | None
    language: str
    nothing_answered: bool


async def expire(svc: Services, questionnaire_id: int) -> Expired | None:
    """Close an unfinished questionnaire as not answered; tell the caseworker when nothing came."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        q = await repo.questionnaire(questionnaire_id)
        if q is None or not q.open:
            return None
        respondent = await repo.respondent(q.respondent_id)
        meeting = await repo.meeting(q.meeting_id)
        case = await repo.case(meeting.case_id) if meeting else None
        if respondent is None or case is None:
            return None
        answered = await repo.answers(q.id)
        await repo.update_questionnaire(q.id, status="expired")
        if not answered and case.is_open:
            await raise_service_alert(repo, case, respondent.id, AlertKind.NO_RESPONSE, now, q.id)
        await repo.audit("system", "questionnaire_expired", now, case_id=case.id)
    svc.wake()
    return Expired(q.id, q.chat_id, q.message_id, respondent.language, not answered)


async def mark_unreachable(svc: Services, telegram_user_id: int) -> int:
    """The person blocked the bot: tell each of their caseworkers once. Returns the alerts raised."""
    now = svc.now()
    raised = 0
    async with svc.storage.transaction() as repo:
        for respondent in await repo.mark_unreachable(telegram_user_id, now):
            case = await repo.case(respondent.case_id)
            if case is not None and case.is_open:
                await raise_service_alert(repo, case, respondent.id, AlertKind.UNREACHABLE, now)
                raised += 1
    if raised:
        svc.wake()
    return raised


async def cancel_unsent(svc: Services, questionnaire_id: int) -> None:
    """A prompt that could not be delivered (the person blocked the bot): the questionnaire is closed."""
    async with svc.storage.transaction() as repo:
        q = await repo.questionnaire(questionnaire_id)
        if q is not None and q.status == "scheduled":
            await repo.update_questionnaire(q.id, status="cancelled")
            await repo.audit("system", "prompt_undeliverable", svc.now())


async def mark_reachable(svc: Services, telegram_user_id: int) -> None:
    async with svc.storage.transaction() as repo:
        await repo.mark_reachable(telegram_user_id)
