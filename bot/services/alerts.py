"""Acknowledging an alert: who saw it and when, recorded once."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.domain.instruments import Role
from bot.services.context import Services
from bot.storage.models import Alert, Case


class AckOutcome(Enum):
    ACKNOWLEDGED = "acknowledged"
    ALREADY = "already"
    NOT_YOURS = "not_yours"


@dataclass(frozen=True)
class Ack:
    outcome: AckOutcome
    alerts: tuple[Alert, ...] = ()  # everything in the post, as it stands now
    case: Case | None = None
    role: Role | None = None
    by_name: str | None = None


async def acknowledge(svc: Services, telegram_user_id: int, alert_id: int) -> Ack:
    """The case's caseworker marks a post's alerts as seen (all alerts of one answered questionnaire)."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        caseworker = await repo.caseworker_by_user(telegram_user_id)
        alert = await repo.alert(alert_id)
        case = await repo.case(alert.case_id) if alert else None
        if caseworker is None or not caseworker.active or alert is None or case is None:
            return Ack(AckOutcome.NOT_YOURS)
        if case.caseworker_id != caseworker.id:
            return Ack(AckOutcome.NOT_YOURS)
        changed = False
        for each in await repo.alerts_posted_with(alert):
            if await repo.acknowledge_alert(each.id, caseworker.id, now):
                changed = True
                await repo.audit(f"caseworker:{caseworker.id}", f"alert_acknowledged:{each.kind}", now, case_id=case.id)
        alerts = await repo.alerts_posted_with(alert)
        respondent = await repo.respondent(alert.respondent_id) if alert.respondent_id else None
        by_id = alerts[0].acknowledged_by if alerts else None
        by = await repo.caseworker(by_id) if by_id else None
    return Ack(
        AckOutcome.ACKNOWLEDGED if changed else AckOutcome.ALREADY,
        tuple(alerts),
        case,
        respondent.role if respondent else None,
        by.name if by else None,
    )
