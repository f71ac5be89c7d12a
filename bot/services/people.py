"""Who a Telegram user is to FIT-bot, and what a family member can do about their own data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.instruments import instrument
from bot.services.context import Services
from bot.storage.db import to_db_time
from bot.storage.models import Caseworker, Respondent


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


async def my_data(svc: Services, telegram_user_id: int) -> dict[str, Any]:
    """Everything stored about this person, as plain data (the handler renders it readable)."""
    async with svc.storage.transaction() as repo:
        respondents = await repo.respondents_of_user(telegram_user_id)
        caseworker = await repo.caseworker_by_user(telegram_user_id)
        out: dict[str, Any] = {"telegram_user_id": telegram_user_id, "participations": []}
        if caseworker:
            out["caseworker"] = {"name": caseworker.name, "team": caseworker.team, "role": caseworker.role}
        for r in respondents:
            consents = [
                {"given": bool(c["given"]), "text_version": c["text_version"], "at": c["at"]}
                for c in await repo.consents_of(r.id)
            ]
            questionnaires = []
            for q in await repo.questionnaires_of_respondent(r.id):
                meeting = await repo.meeting(q.meeting_id)
                answers = await repo.answers(q.id)
                ors, srs = instrument(q.ors_instrument), instrument(q.srs_instrument)
                items = [*((ors, i) for i in ors.items), *((srs, i) for i in srs.items)]
                questionnaires.append(
                    {
                        "meeting_at": meeting.held_at if meeting else None,
                        "status": q.status,
                        "answers": [
                            {
                                "instrument": inst.key,
                                "item": item.key,
                                "domain": item.domain,
                                "value_tenths": answers.get(pos),
                                "answered": pos in answers,
                            }
                            for pos, (inst, item) in enumerate(items)
                        ],
                    }
                )
            out["participations"].append(
                {
                    "role": r.role.value,
                    "status": r.status,
                    "language": r.language,
                    "joined_at": r.joined_at,
                    "consents": consents,
                    "questionnaires": questionnaires,
                }
            )
        await repo.audit(f"user:{telegram_user_id}", "own_data_exported", svc.now())
    return out


def to_json(data: dict[str, Any]) -> str:
    def default(value: object) -> str:
        if isinstance(value, datetime):
            return to_db_time(value)
        raise TypeError(type(value).__name__)

    return json.dumps(data, ensure_ascii=False, indent=2, default=default)
