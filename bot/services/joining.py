"""Joining by deep link: a caseworker's enrolment or a family member's invitation, then consent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot.domain.instruments import Role
from bot.services.context import Services
from bot.services.tokens import plausible, token_hash
from bot.storage.repository import Repository

log = logging.getLogger(__name__)


class JoinOutcome(Enum):
    CASEWORKER_LINKED = "caseworker_linked"
    ASK_CONSENT = "ask_consent"
    # The person's own invitation, opened again after they joined and said yes: nothing to do.
    ALREADY_JOINED = "already_joined"
    # Invalid, expired and used tokens look the same to the person: no hint about any case.
    INVALID = "invalid"
    THROTTLED = "throttled"
    DUPLICATE = "duplicate"  # the same update delivered twice
    ACCOUNT_IN_USE = "account_in_use"  # an enrolment link opened by another active caseworker's account


@dataclass(frozen=True)
class JoinResult:
    outcome: JoinOutcome
    respondent_id: int | None = None
    role: Role | None = None
    caseworker_id: int | None = None
    language: str | None = None


async def redeem(
    svc: Services, token: str, telegram_user_id: int, language: str, update_id: int | None = None
) -> JoinResult:
    now = svc.now()
    async with svc.storage.transaction() as repo:
        if update_id is not None and not await repo.claim_update(update_id, now):
            return JoinResult(JoinOutcome.DUPLICATE)
        recent_failures = await repo.token_failures_since(telegram_user_id, now - timedelta(hours=1))
        if recent_failures >= svc.policy.token_attempts_per_hour:
            log.warning("join refused: too many bad tokens from one user in the last hour")
            return JoinResult(JoinOutcome.THROTTLED)
        invitation = await repo.invitation_by_hash(token_hash(token)) if plausible(token) else None
        if invitation is not None and invitation.used_at and invitation.purpose == "respondent":
            # Their own link, opened again (from the caseworker's text, a QR code): not a bad token.
            again = await _own_invitation_again(repo, invitation.respondent_id, telegram_user_id)
            if again is not None:
                return again
        reason = (
            "unknown"
            if invitation is None
            else "revoked"
            if invitation.revoked_at
            else "used"
            if invitation.used_at
            else "expired"
            if invitation.expires_at <= now
            else None
        )
        if invitation is not None and reason is None and invitation.purpose == "caseworker":
            refused = await _caseworker_link_refused(repo, invitation.caseworker_id, telegram_user_id, now)
            if refused is not None:
                return refused
        if invitation is None or reason is not None or not await repo.use_invitation(invitation.id, now):
            await repo.record_token_failure(telegram_user_id, now)
            log.info("join refused: token %s", reason or "used")
            return JoinResult(JoinOutcome.INVALID)
        if invitation.purpose == "caseworker":
            assert invitation.caseworker_id is not None
            holder = await repo.caseworker_by_user(telegram_user_id)
            if holder is not None and holder.id != invitation.caseworker_id:
                # Only a disabled row gets here (see _caseworker_link_refused): the account moves to the
                # new row; the old one keeps its history and audit trail under its own id.
                await repo.unlink_caseworker_user(holder.id)
                await repo.audit(f"caseworker:{invitation.caseworker_id}", f"account_moved_from:{holder.id}", now)
            await repo.link_caseworker_user(invitation.caseworker_id, telegram_user_id, language, now)
            await repo.audit(f"caseworker:{invitation.caseworker_id}", "enrolled", now)
            return JoinResult(JoinOutcome.CASEWORKER_LINKED, caseworker_id=invitation.caseworker_id, language=language)
        assert invitation.respondent_id is not None
        respondent = await repo.respondent(invitation.respondent_id)
        assert respondent is not None
        await repo.bind_respondent(respondent.id, telegram_user_id, language)
        await repo.audit(f"respondent:{respondent.id}", "joined", now, case_id=respondent.case_id)
        return JoinResult(JoinOutcome.ASK_CONSENT, respondent_id=respondent.id, role=respondent.role, language=language)


async def _own_invitation_again(
    repo: Repository, respondent_id: int | None, telegram_user_id: int
) -> JoinResult | None:
    """A used invitation whose respondent is this Telegram user: ask for consent again if it is not yet
    given (not answered, or "no thanks" and now perhaps yes), else say they are already with us. Their
    case closed: the link does not work any more, but it is no guess either. None when it is not theirs."""
    respondent = await repo.respondent(respondent_id) if respondent_id is not None else None
    if respondent is None or respondent.telegram_user_id != telegram_user_id:
        return None
    case = await repo.case(respondent.case_id)
    if case is None or not case.is_open:
        log.info("join refused: own used token, case closed")
        return JoinResult(JoinOutcome.INVALID, language=respondent.language)
    if respondent.status == "active":
        return JoinResult(JoinOutcome.ALREADY_JOINED, respondent.id, respondent.role, language=respondent.language)
    if respondent.status in ("consenting", "declined"):
        return JoinResult(JoinOutcome.ASK_CONSENT, respondent.id, respondent.role, language=respondent.language)
    return None


async def _caseworker_link_refused(
    repo: Repository, caseworker_id: int | None, telegram_user_id: int, now: datetime
) -> JoinResult | None:
    """Why a valid enrolment link can't be redeemed by this account, or None when it can.

    A disabled caseworker's link is dead (like an expired one). An account already linked to another
    *active* caseworker is refused and the link is left unused: one account is one person's access,
    and silently moving it would take it away from the row it belongs to (and its cases). The person
    is told; the link still works for them once the other access is closed, or for its rightful owner.
    """
    target = await repo.caseworker(caseworker_id) if caseworker_id is not None else None
    if target is None or not target.active:
        await repo.record_token_failure(telegram_user_id, now)
        log.info("join refused: enrolment link of a disabled caseworker")
        return JoinResult(JoinOutcome.INVALID)
    holder = await repo.caseworker_by_user(telegram_user_id)
    if holder is not None and holder.id != target.id and holder.active:
        await repo.audit(f"caseworker:{holder.id}", f"enrolment_refused_account_in_use:{target.id}", now)
        log.info("join refused: the account already belongs to another active caseworker")
        return JoinResult(JoinOutcome.ACCOUNT_IN_USE, caseworker_id=holder.id, language=holder.language)
    return None


class ConsentOutcome(Enum):
    GIVEN = "given"
    DECLINED = "declined"
    NOT_YOURS = "not_yours"  # a forged or stale button: nothing changes
    DUPLICATE = "duplicate"  # the same update delivered twice: it was answered the first time


@dataclass(frozen=True)
class ConsentResult:
    outcome: ConsentOutcome
    language: str
    changed: bool = True  # False: the same answer again (a double tap, an old button), nothing stored


async def answer_consent(
    svc: Services,
    respondent_id: int,
    telegram_user_id: int,
    given: bool,
    text_version: str,
    update_id: int | None = None,
) -> ConsentResult:
    """Record a yes or no to taking part, with the version of the consent text the person was shown.
    The same answer again changes nothing; a different one (no, then yes after all) is a new record."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        if update_id is not None and not await repo.claim_update(update_id, now):
            return ConsentResult(ConsentOutcome.DUPLICATE, "da", changed=False)
        respondent = await repo.respondent(respondent_id)
        if (
            respondent is None
            or respondent.telegram_user_id != telegram_user_id
            or respondent.status not in ("consenting", "declined", "active")
        ):
            return ConsentResult(ConsentOutcome.NOT_YOURS, "da", changed=False)
        outcome = ConsentOutcome.GIVEN if given else ConsentOutcome.DECLINED
        if respondent.status == ("active" if given else "declined"):
            return ConsentResult(outcome, respondent.language, changed=False)
        await repo.insert_consent(respondent.id, given, text_version, respondent.language, now)
        await repo.set_respondent_status(respondent.id, "active" if given else "declined", now)
        await repo.audit(
            f"respondent:{respondent.id}",
            "consent_given" if given else "consent_declined",
            now,
            case_id=respondent.case_id,
        )
        return ConsentResult(outcome, respondent.language)
