"""Rows as plain frozen dataclasses: what the repository hands to services."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.instruments import AgeBand, Role
from bot.storage.db import Row, from_db_time


def _t(row: Row, key: str) -> datetime | None:
    return from_db_time(row[key])


def _tt(row: Row, key: str) -> datetime:
    value = from_db_time(row[key])
    assert value is not None, key
    return value


@dataclass(frozen=True)
class Caseworker:
    id: int
    name: str
    team: str
    role: str  # "caseworker" | "leader"
    telegram_user_id: int | None
    language: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_leader(self) -> bool:
        return self.role == "leader"

    @classmethod
    def from_row(cls, row: Row) -> Caseworker:
        return cls(
            id=row["id"],
            name=row["name"],
            team=row["team"],
            role=row["role"],
            telegram_user_id=row["telegram_user_id"],
            language=row["language"],
            created_at=_tt(row, "created_at"),
            disabled_at=_t(row, "disabled_at"),
        )


@dataclass(frozen=True)
class Channel:
    id: int
    caseworker_id: int
    chat_id: int
    chat_type: str
    title: str
    linked_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Channel:
        return cls(
            id=row["id"],
            caseworker_id=row["caseworker_id"],
            chat_id=row["chat_id"],
            chat_type=row["chat_type"],
            title=row["title"],
            linked_at=_tt(row, "linked_at"),
        )


@dataclass(frozen=True)
class Case:
    id: int
    caseworker_id: int
    label: str
    age_band: AgeBand
    status: str  # "open" | "closed"
    created_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @classmethod
    def from_row(cls, row: Row) -> Case:
        return cls(
            id=row["id"],
            caseworker_id=row["caseworker_id"],
            label=row["label"],
            age_band=AgeBand(row["age_band"]),
            status=row["status"],
            created_at=_tt(row, "created_at"),
            closed_at=_t(row, "closed_at"),
        )


@dataclass(frozen=True)
class Respondent:
    id: int
    case_id: int
    role: Role
    telegram_user_id: int | None
    language: str
    status: str  # invited | consenting | active | declined | withdrawn
    created_at: datetime
    joined_at: datetime | None
    withdrawn_at: datetime | None
    unreachable_since: datetime | None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @classmethod
    def from_row(cls, row: Row) -> Respondent:
        return cls(
            id=row["id"],
            case_id=row["case_id"],
            role=Role(row["role"]),
            telegram_user_id=row["telegram_user_id"],
            language=row["language"],
            status=row["status"],
            created_at=_tt(row, "created_at"),
            joined_at=_t(row, "joined_at"),
            withdrawn_at=_t(row, "withdrawn_at"),
            unreachable_since=_t(row, "unreachable_since"),
        )


@dataclass(frozen=True)
class Invitation:
    id: int
    purpose: str  # "respondent" | "caseworker"
    respondent_id: int | None
    caseworker_id: int | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Invitation:
        return cls(
            id=row["id"],
            purpose=row["purpose"],
            respondent_id=row["respondent_id"],
            caseworker_id=row["caseworker_id"],
            created_at=_tt(row, "created_at"),
            expires_at=_tt(row, "expires_at"),
            used_at=_t(row, "used_at"),
            revoked_at=_t(row, "revoked_at"),
        )


@dataclass(frozen=True)
class Meeting:
    id: int
    case_id: int
    held_at: datetime
    created_by: int

    @classmethod
    def from_row(cls, row: Row) -> Meeting:
        return cls(id=row["id"], case_id=row["case_id"], held_at=_tt(row, "held_at"), created_by=row["created_by"])


@dataclass(frozen=True)
class Questionnaire:
    id: int
    meeting_id: int
    respondent_id: int
    ors_instrument: str
    srs_instrument: str
    status: str  # scheduled | sent | in_progress | completed | declined | expired | cancelled
    position: int
    chat_id: int | None
    message_id: int | None
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None
    reminded_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None

    @property
    def open(self) -> bool:
        """Can still be answered."""
        return self.status in ("sent", "in_progress")

    @classmethod
    def from_row(cls, row: Row) -> Questionnaire:
        return cls(
            id=row["id"],
            meeting_id=row["meeting_id"],
            respondent_id=row["respondent_id"],
            ors_instrument=row["ors_instrument"],
            srs_instrument=row["srs_instrument"],
            status=row["status"],
            position=row["position"],
            chat_id=row["chat_id"],
            message_id=row["message_id"],
            created_at=_tt(row, "created_at"),
            due_at=_tt(row, "due_at"),
            sent_at=_t(row, "sent_at"),
            reminded_at=_t(row, "reminded_at"),
            completed_at=_t(row, "completed_at"),
            expires_at=_t(row, "expires_at"),
        )


@dataclass(frozen=True)
class Alert:
    id: int
    case_id: int
    respondent_id: int | None
    questionnaire_id: int | None
    kind: str
    severity: str
    params: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None

    @classmethod
    def from_row(cls, row: Row) -> Alert:
        return cls(
            id=row["id"],
            case_id=row["case_id"],
            respondent_id=row["respondent_id"],
            questionnaire_id=row["questionnaire_id"],
            kind=row["kind"],
            severity=row["severity"],
            params=json.loads(row["params"]),
            created_at=_tt(row, "created_at"),
            acknowledged_at=_t(row, "acknowledged_at"),
            acknowledged_by=row["acknowledged_by"],
        )


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    dedupe_key: str
    chat_id: int | None
    priority: int
    payload: dict[str, Any]
    due_at: datetime
    status: str
    attempts: int
    created_at: datetime | None = None
    # Rows of the same kind and chat handed to one job run together (the dispatcher fills this).
    siblings: tuple[OutboxRow, ...] = ()

    @classmethod
    def from_row(cls, row: Row) -> OutboxRow:
        return cls(
            id=row["id"],
            kind=row["kind"],
            dedupe_key=row["dedupe_key"],
            chat_id=row["chat_id"],
            priority=row["priority"],
            payload=json.loads(row["payload"]),
            due_at=_tt(row, "due_at"),
            status=row["status"],
            attempts=row["attempts"],
            created_at=_t(row, "created_at"),
        )
