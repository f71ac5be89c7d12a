"""Every query FIT-bot runs, in portable SQL, over one transaction's connection.

Services get a Repository from `Storage.transaction()`; everything they do inside that block commits
or rolls back together. Methods are grouped by table; names say what they return.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.storage.db import Connection, Row, from_db_time, to_db_time
from bot.storage.models import (
    Alert,
    Case,
    Caseworker,
    Channel,
    Invitation,
    Meeting,
    OutboxRow,
    Questionnaire,
    Respondent,
)


@dataclass(frozen=True)
class HistoryRow:
    """One finished (or partly finished) questionnaire of a respondent, with its meeting time."""

    questionnaire_id: int
    respondent_id: int
    meeting_at: datetime
    status: str
    values: dict[int, int | None]  # position -> tenths (None = skipped)


# The due outbox rows, most urgent first: what the dispatcher claims (a test and bench/scale_probe.py read
# its query plan: the choice is made from the outbox_due index alone).
DUE_ROWS = (
    "SELECT id FROM outbox WHERE due_at <= :now AND "
    "(status = 'pending' OR (status = 'sending' AND locked_until < :now)) "
    "ORDER BY priority, due_at, id LIMIT :limit"
)


class Repository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @property
    def reports(self) -> ReportQueries:
        return ReportQueries(self)

    async def _one(self, sql: str, params: dict[str, Any] | None = None) -> Row | None:
        return await self.conn.fetch_one(sql, params)

    async def _insert(self, sql: str, params: dict[str, Any]) -> int:
        row = await self.conn.fetch_one(sql + " RETURNING id", params)
        assert row is not None
        return int(row["id"])

    # --- updates seen --------------------------------------------------------------------------

    async def claim_update(self, update_id: int, now: datetime) -> bool:
        """True the first time an update id is seen; False when it was already applied."""
        changed = await self.conn.execute(
            "INSERT INTO processed_updates (update_id, at) VALUES (:u, :t) ON CONFLICT (update_id) DO NOTHING",
            {"u": update_id, "t": to_db_time(now)},
        )
        return changed == 1

    async def prune_processed_updates(self, before: datetime) -> int:
        return await self.conn.execute("DELETE FROM processed_updates WHERE at < :t", {"t": to_db_time(before)})

    # --- the inbox of updates ------------------------------------------------------------------

    async def store_updates(self, updates: Sequence[tuple[int, str]], now: datetime) -> set[int]:
        """Store (update id, payload) pairs; returns the ids stored now, leaving out those already there."""
        if not updates:
            return set()
        params: dict[str, Any] = {"t": to_db_time(now)}
        values = []
        for i, (update_id, payload) in enumerate(updates):
            params[f"u{i}"], params[f"p{i}"] = update_id, payload
            values.append(f"(:u{i}, :p{i}, :t)")
        rows = await self.conn.fetch_all(
            f"INSERT INTO inbox (update_id, payload, received_at) VALUES {', '.join(values)} "
            "ON CONFLICT (update_id) DO NOTHING RETURNING update_id",
            params,
        )
        return {int(r["update_id"]) for r in rows}

    async def mark_updates_handled(self, update_ids: Sequence[int], now: datetime) -> int:
        """Forget the handled updates' content; their ids stay, to recognise a second delivery."""
        if not update_ids:
            return 0
        names, placeholders = _in_list("u", update_ids)
        return await self.conn.execute(
            f"UPDATE inbox SET payload = NULL, handled_at = :t WHERE update_id IN ({placeholders}) "
            "AND handled_at IS NULL",
            {**names, "t": to_db_time(now)},
        )

    async def unhandled_updates(self) -> list[tuple[int, str]]:
        """What was stored and not handled (the bot stopped first), oldest first."""
        rows = await self.conn.fetch_all(
            "SELECT update_id, payload FROM inbox WHERE handled_at IS NULL ORDER BY update_id"
        )
        return [(int(r["update_id"]), str(r["payload"])) for r in rows]

    async def newest_update_id(self) -> int:
        row = await self._one("SELECT MAX(update_id) AS u FROM inbox")
        return int(row["u"]) if row and row["u"] is not None else -1

    async def prune_inbox(self, before: datetime) -> int:
        return await self.conn.execute("DELETE FROM inbox WHERE handled_at < :t", {"t": to_db_time(before)})

    # --- caseworkers ---------------------------------------------------------------------------

    async def insert_caseworker(self, name: str, team: str, role: str, now: datetime) -> int:
        return await self._insert(
            "INSERT INTO caseworkers (name, team, role, created_at) VALUES (:n, :team, :r, :t)",
            {"n": name, "team": team, "r": role, "t": to_db_time(now)},
        )

    async def caseworker(self, caseworker_id: int) -> Caseworker | None:
        row = await self._one("SELECT * FROM caseworkers WHERE id = :id", {"id": caseworker_id})
        return Caseworker.from_row(row) if row else None

    async def caseworker_by_user(self, telegram_user_id: int) -> Caseworker | None:
        row = await self._one("SELECT * FROM caseworkers WHERE telegram_user_id = :u", {"u": telegram_user_id})
        return Caseworker.from_row(row) if row else None

    async def caseworkers(self) -> list[Caseworker]:
        rows = await self.conn.fetch_all("SELECT * FROM caseworkers ORDER BY id")
        return [Caseworker.from_row(r) for r in rows]

    async def caseworker_by_name(self, name: str) -> list[Caseworker]:
        rows = await self.conn.fetch_all("SELECT * FROM caseworkers WHERE name = :n ORDER BY id", {"n": name})
        return [Caseworker.from_row(r) for r in rows]

    async def link_caseworker_user(
        self, caseworker_id: int, telegram_user_id: int, language: str, now: datetime
    ) -> None:
        await self.conn.execute(
            "UPDATE caseworkers SET telegram_user_id = :u, language = :l, linked_at = :t WHERE id = :id",
            {"u": telegram_user_id, "l": language, "t": to_db_time(now), "id": caseworker_id},
        )

    async def disable_caseworker(self, caseworker_id: int, now: datetime) -> bool:
        return (
            await self.conn.execute(
                "UPDATE caseworkers SET disabled_at = :t WHERE id = :id AND disabled_at IS NULL",
                {"t": to_db_time(now), "id": caseworker_id},
            )
            == 1
        )

    async def enable_caseworker(self, caseworker_id: int) -> bool:
        return (
            await self.conn.execute(
                "UPDATE caseworkers SET disabled_at = NULL WHERE id = :id AND disabled_at IS NOT NULL",
                {"id": caseworker_id},
            )
            == 1
        )

    async def unlink_caseworker_user(self, caseworker_id: int) -> None:
        """Free the Telegram account of a caseworker row (it moves to another row)."""
        await self.conn.execute("UPDATE caseworkers SET telegram_user_id = NULL WHERE id = :id", {"id": caseworker_id})

    async def set_caseworker_language(self, caseworker_id: int, language: str) -> None:
        await self.conn.execute(
            "UPDATE caseworkers SET language = :l WHERE id = :id", {"l": language, "id": caseworker_id}
        )

    # --- channels ------------------------------------------------------------------------------

    async def active_channel(self, caseworker_id: int) -> Channel | None:
        row = await self._one(
            "SELECT * FROM channels WHERE caseworker_id = :c AND unlinked_at IS NULL", {"c": caseworker_id}
        )
        return Channel.from_row(row) if row else None

    async def channel_by_chat(self, chat_id: int) -> Channel | None:
        row = await self._one("SELECT * FROM channels WHERE chat_id = :c AND unlinked_at IS NULL", {"c": chat_id})
        return Channel.from_row(row) if row else None

    async def link_channel(self, caseworker_id: int, chat_id: int, chat_type: str, title: str, now: datetime) -> int:
        await self.unlink_channels_of(caseworker_id, now)
        await self.conn.execute(
            "UPDATE channels SET unlinked_at = :t WHERE chat_id = :c AND unlinked_at IS NULL",
            {"t": to_db_time(now), "c": chat_id},
        )
        return await self._insert(
            "INSERT INTO channels (caseworker_id, chat_id, chat_type, title, linked_at) "
            "VALUES (:cw, :c, :type, :title, :t)",
            {"cw": caseworker_id, "c": chat_id, "type": chat_type, "title": title, "t": to_db_time(now)},
        )

    async def unlink_channels_of(self, caseworker_id: int, now: datetime) -> int:
        return await self.conn.execute(
            "UPDATE channels SET unlinked_at = :t WHERE caseworker_id = :cw AND unlinked_at IS NULL",
            {"t": to_db_time(now), "cw": caseworker_id},
        )

    async def unlink_chat(self, chat_id: int, now: datetime) -> Channel | None:
        channel = await self.channel_by_chat(chat_id)
        if channel:
            await self.conn.execute(
                "UPDATE channels SET unlinked_at = :t WHERE id = :id", {"t": to_db_time(now), "id": channel.id}
            )
        return channel

    # --- cases ---------------------------------------------------------------------------------

    async def insert_case(self, caseworker_id: int, label: str, age_band: str, now: datetime) -> int | None:
        """None when the caseworker already has a case with this label (in any letter case)."""
        row = await self._one(
            "INSERT INTO cases (caseworker_id, label, label_key, age_band, created_at) VALUES (:cw, :l, :k, :a, :t) "
            "ON CONFLICT (caseworker_id, label_key) DO NOTHING RETURNING id",
            {"cw": caseworker_id, "l": label, "k": label.casefold(), "a": age_band, "t": to_db_time(now)},
        )
        return int(row["id"]) if row else None

    async def case(self, case_id: int) -> Case | None:
        row = await self._one("SELECT * FROM cases WHERE id = :id", {"id": case_id})
        return Case.from_row(row) if row else None

    async def case_by_label(self, caseworker_id: int, label: str) -> Case | None:
        """A caseworker's case by label, in any letter case."""
        row = await self._one(
            "SELECT * FROM cases WHERE caseworker_id = :cw AND label_key = :k",
            {"cw": caseworker_id, "k": label.casefold()},
        )
        return Case.from_row(row) if row else None

    async def cases_of(self, caseworker_id: int, *, open_only: bool = True) -> list[Case]:
        rows = await self.conn.fetch_all(
            "SELECT * FROM cases WHERE caseworker_id = :cw"
            + (" AND status = 'open'" if open_only else "")
            + " ORDER BY label",
            {"cw": caseworker_id},
        )
        return [Case.from_row(r) for r in rows]

    async def close_case(self, case_id: int, now: datetime) -> bool:
        return (
            await self.conn.execute(
                "UPDATE cases SET status = 'closed', closed_at = :t WHERE id = :id AND status = 'open'",
                {"t": to_db_time(now), "id": case_id},
            )
            == 1
        )

    async def move_case(self, case_id: int, caseworker_id: int) -> None:
        await self.conn.execute(
            "UPDATE cases SET caseworker_id = :cw WHERE id = :id", {"cw": caseworker_id, "id": case_id}
        )

    # --- respondents ---------------------------------------------------------------------------

    async def insert_respondent(self, case_id: int, role: str, language: str, now: datetime) -> int:
        return await self._insert(
            "INSERT INTO respondents (case_id, role, language, created_at) VALUES (:c, :r, :l, :t)",
            {"c": case_id, "r": role, "l": language, "t": to_db_time(now)},
        )

    async def respondent(self, respondent_id: int) -> Respondent | None:
        row = await self._one("SELECT * FROM respondents WHERE id = :id", {"id": respondent_id})
        return Respondent.from_row(row) if row else None

    async def respondents_of_case(self, case_id: int) -> list[Respondent]:
        rows = await self.conn.fetch_all("SELECT * FROM respondents WHERE case_id = :c ORDER BY id", {"c": case_id})
        return [Respondent.from_row(r) for r in rows]

    async def respondents_of_user(self, telegram_user_id: int) -> list[Respondent]:
        rows = await self.conn.fetch_all(
            "SELECT * FROM respondents WHERE telegram_user_id = :u ORDER BY id", {"u": telegram_user_id}
        )
        return [Respondent.from_row(r) for r in rows]

    async def bind_respondent(self, respondent_id: int, telegram_user_id: int, language: str) -> None:
        await self.conn.execute(
            "UPDATE respondents SET telegram_user_id = :u, language = :l, status = 'consenting' WHERE id = :id",
            {"u": telegram_user_id, "l": language, "id": respondent_id},
        )

    async def set_respondent_status(self, respondent_id: int, status: str, now: datetime) -> None:
        column = {"active": "joined_at", "withdrawn": "withdrawn_at"}.get(status)
        extra = f", {column} = :t" if column else ""
        await self.conn.execute(
            f"UPDATE respondents SET status = :s{extra} WHERE id = :id",
            {"s": status, "t": to_db_time(now), "id": respondent_id},
        )

    async def unlink_respondent_user(self, respondent_id: int) -> None:
        await self.conn.execute("UPDATE respondents SET telegram_user_id = NULL WHERE id = :id", {"id": respondent_id})

    async def set_user_language(self, telegram_user_id: int, language: str) -> None:
        await self.conn.execute(
            "UPDATE respondents SET language = :l WHERE telegram_user_id = :u", {"l": language, "u": telegram_user_id}
        )
        await self.conn.execute(
            "UPDATE caseworkers SET language = :l WHERE telegram_user_id = :u", {"l": language, "u": telegram_user_id}
        )

    async def mark_unreachable(self, telegram_user_id: int, now: datetime) -> list[Respondent]:
        """Respondents of this user who were reachable until now (so the caseworker is told once)."""
        rows = await self.conn.fetch_all(
            "UPDATE respondents SET unreachable_since = :t "
            "WHERE telegram_user_id = :u AND unreachable_since IS NULL AND status = 'active' RETURNING *",
            {"t": to_db_time(now), "u": telegram_user_id},
        )
        return [Respondent.from_row(r) for r in rows]

    async def mark_reachable(self, telegram_user_id: int) -> None:
        await self.conn.execute(
            "UPDATE respondents SET unreachable_since = NULL WHERE telegram_user_id = "
            ":u AND unreachable_since IS NOT NULL",
            {"u": telegram_user_id},
        )

    async def unreachable_count(self) -> int:
        """Family members who blocked the bot while taking part."""
        row = await self._one(
            "SELECT COUNT(*) AS n FROM respondents WHERE unreachable_since IS NOT NULL AND status = 'active'"
        )
        return int(row["n"]) if row else 0

    async def delete_answers_of_respondent(self, respondent_id: int) -> int:
        """The answers and what was read out of them: alerts carry totals and changes in their params."""
        await self.conn.execute("DELETE FROM alerts WHERE respondent_id = :r", {"r": respondent_id})
        return await self.conn.execute(
            "DELETE FROM answers WHERE questionnaire_id IN (SELECT id FROM questionnaires WHERE respondent_id = :r)",
            {"r": respondent_id},
        )

    # --- invitations ---------------------------------------------------------------------------

    async def insert_invitation(
        self,
        token_hash: str,
        purpose: str,
        *,
        respondent_id: int | None,
        caseworker_id: int | None,
        created_by: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        return await self._insert(
            "INSERT INTO invitations (token_hash, purpose, respondent_id, caseworker_id, "
            "created_by, created_at, expires_at) "
            "VALUES (:h, :p, :r, :cw, :by, :t, :e)",
            {
                "h": token_hash,
                "p": purpose,
                "r": respondent_id,
                "cw": caseworker_id,
                "by": created_by,
                "t": to_db_time(now),
                "e": to_db_time(expires_at),
            },
        )

    async def invitation_by_hash(self, token_hash: str) -> Invitation | None:
        row = await self._one("SELECT * FROM invitations WHERE token_hash = :h", {"h": token_hash})
        return Invitation.from_row(row) if row else None

    async def invitations_of_respondent(self, respondent_id: int) -> list[Invitation]:
        rows = await self.conn.fetch_all(
            "SELECT * FROM invitations WHERE respondent_id = :r ORDER BY id", {"r": respondent_id}
        )
        return [Invitation.from_row(r) for r in rows]

    async def use_invitation(self, invitation_id: int, now: datetime) -> bool:
        """Atomically mark used; False when someone else used it first."""
        return (
            await self.conn.execute(
                "UPDATE invitations SET used_at = :t WHERE id = :id AND used_at IS NULL AND revoked_at IS NULL",
                {"t": to_db_time(now), "id": invitation_id},
            )
            == 1
        )

    async def revoke_invitations_of_respondent(self, respondent_id: int, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE invitations SET revoked_at = :t WHERE respondent_id = :r AND "
            "used_at IS NULL AND revoked_at IS NULL",
            {"t": to_db_time(now), "r": respondent_id},
        )

    async def revoke_invitations_of_caseworker(self, caseworker_id: int, now: datetime) -> int:
        """Unused enrolment links of a caseworker (not the family invitations they made)."""
        return await self.conn.execute(
            "UPDATE invitations SET revoked_at = :t WHERE purpose = 'caseworker' AND caseworker_id = :cw AND "
            "used_at IS NULL AND revoked_at IS NULL",
            {"t": to_db_time(now), "cw": caseworker_id},
        )

    async def record_token_failure(self, telegram_user_id: int, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO token_failures (telegram_user_id, at) VALUES (:u, :t)",
            {"u": telegram_user_id, "t": to_db_time(now)},
        )

    async def token_failures_since(self, telegram_user_id: int, since: datetime) -> int:
        row = await self._one(
            "SELECT COUNT(*) AS n FROM token_failures WHERE telegram_user_id = :u AND at >= :t",
            {"u": telegram_user_id, "t": to_db_time(since)},
        )
        return int(row["n"]) if row else 0

    async def prune_token_failures(self, before: datetime) -> None:
        await self.conn.execute("DELETE FROM token_failures WHERE at < :t", {"t": to_db_time(before)})

    # --- consents ------------------------------------------------------------------------------

    async def insert_consent(
        self, respondent_id: int, given: bool, text_version: str, language: str, now: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO consents (respondent_id, given, text_version, language, at) VALUES (:r, :g, :v, :l, :t)",
            {"r": respondent_id, "g": int(given), "v": text_version, "l": language, "t": to_db_time(now)},
        )

    async def consents_of(self, respondent_id: int) -> list[Row]:
        return await self.conn.fetch_all(
            "SELECT given, text_version, language, at FROM consents WHERE respondent_id = :r ORDER BY id",
            {"r": respondent_id},
        )

    # --- meetings ------------------------------------------------------------------------------

    async def insert_meeting(self, case_id: int, held_at: datetime, created_by: int, now: datetime) -> int:
        return await self._insert(
            "INSERT INTO meetings (case_id, held_at, created_by, created_at) VALUES (:c, :h, :by, :t)",
            {"c": case_id, "h": to_db_time(held_at), "by": created_by, "t": to_db_time(now)},
        )

    async def meeting(self, meeting_id: int) -> Meeting | None:
        row = await self._one("SELECT * FROM meetings WHERE id = :id", {"id": meeting_id})
        return Meeting.from_row(row) if row else None

    async def meetings_of_case(self, case_id: int) -> list[Meeting]:
        rows = await self.conn.fetch_all(
            "SELECT * FROM meetings WHERE case_id = :c ORDER BY held_at, id", {"c": case_id}
        )
        return [Meeting.from_row(r) for r in rows]

    # --- questionnaires and answers --------------------------------------------------------------

    async def insert_questionnaire(
        self, meeting_id: int, respondent_id: int, ors: str, srs: str, due_at: datetime, now: datetime
    ) -> int | None:
        """None when this respondent already has a questionnaire for this meeting."""
        row = await self._one(
            "INSERT INTO questionnaires (meeting_id, respondent_id, ors_instrument, "
            "srs_instrument, created_at, due_at) "
            "VALUES (:m, :r, :o, :s, :t, :d) ON CONFLICT (meeting_id, respondent_id) DO NOTHING RETURNING id",
            {"m": meeting_id, "r": respondent_id, "o": ors, "s": srs, "t": to_db_time(now), "d": to_db_time(due_at)},
        )
        return int(row["id"]) if row else None

    async def questionnaire(self, questionnaire_id: int) -> Questionnaire | None:
        row = await self._one("SELECT * FROM questionnaires WHERE id = :id", {"id": questionnaire_id})
        return Questionnaire.from_row(row) if row else None

    async def open_questionnaires_of_user(self, telegram_user_id: int) -> list[Questionnaire]:
        """Questionnaires this person can answer now, the most recently sent first."""
        rows = await self.conn.fetch_all(
            "SELECT q.* FROM questionnaires q JOIN respondents r ON r.id = q.respondent_id "
            "WHERE r.telegram_user_id = :u AND r.status = 'active' AND q.status IN ('sent', 'in_progress') "
            "ORDER BY q.sent_at DESC, q.id DESC",
            {"u": telegram_user_id},
        )
        return [Questionnaire.from_row(r) for r in rows]

    async def questionnaires_of_respondent(self, respondent_id: int) -> list[Questionnaire]:
        rows = await self.conn.fetch_all(
            "SELECT * FROM questionnaires WHERE respondent_id = :r ORDER BY due_at, id", {"r": respondent_id}
        )
        return [Questionnaire.from_row(r) for r in rows]

    async def update_questionnaire(self, questionnaire_id: int, **fields: Any) -> None:
        allowed = {
            "status",
            "position",
            "chat_id",
            "message_id",
            "sent_at",
            "reminded_at",
            "completed_at",
            "expires_at",
        }
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"cannot update {sorted(set(fields) - allowed)}")
        values = {k: to_db_time(v) if isinstance(v, datetime) else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = :{k}" for k in values)
        await self.conn.execute(
            f"UPDATE questionnaires SET {assignments} WHERE id = :id",
            {**values, "id": questionnaire_id},
        )

    async def move_position(self, questionnaire_id: int, expected: int, new: int, status: str) -> bool:
        """Compare-and-set of the current item: a stale or double press finds `expected` gone."""
        return (
            await self.conn.execute(
                "UPDATE questionnaires SET position = :new, status = :s "
                "WHERE id = :id AND position = :old AND status IN ('sent', 'in_progress')",
                {"new": new, "s": status, "id": questionnaire_id, "old": expected},
            )
            == 1
        )

    async def cancel_questionnaires_of_case(self, case_id: int) -> list[int]:
        rows = await self.conn.fetch_all(
            "UPDATE questionnaires SET status = 'cancelled' WHERE status IN ('scheduled', 'sent', 'in_progress') "
            "AND meeting_id IN (SELECT id FROM meetings WHERE case_id = :c) RETURNING id",
            {"c": case_id},
        )
        return [int(r["id"]) for r in rows]

    async def cancel_questionnaires_of_respondent(self, respondent_id: int) -> list[int]:
        rows = await self.conn.fetch_all(
            "UPDATE questionnaires SET status = 'cancelled' WHERE status IN ('scheduled', 'sent', 'in_progress') "
            "AND respondent_id = :r RETURNING id",
            {"r": respondent_id},
        )
        return [int(r["id"]) for r in rows]

    async def upsert_answer(self, questionnaire_id: int, position: int, value: int | None, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO answers (questionnaire_id, position, value, answered_at) VALUES (:q, :p, :v, :t) "
            "ON CONFLICT (questionnaire_id, position) DO UPDATE SET value = "
            "excluded.value, answered_at = excluded.answered_at",
            {"q": questionnaire_id, "p": position, "v": value, "t": to_db_time(now)},
        )

    async def answers(self, questionnaire_id: int) -> dict[int, int | None]:
        rows = await self.conn.fetch_all(
            "SELECT position, value FROM answers WHERE questionnaire_id = :q", {"q": questionnaire_id}
        )
        return {int(r["position"]): r["value"] for r in rows}

    async def history_of_respondents(self, respondent_ids: Sequence[int]) -> list[HistoryRow]:
        """Answered (completed or expired with answers) questionnaires, in meeting order."""
        if not respondent_ids:
            return []
        names, placeholders = _in_list("r", respondent_ids)
        rows = await self.conn.fetch_all(
            "SELECT q.id AS qid, q.respondent_id, q.status, m.held_at, a.position, a.value "
            "FROM questionnaires q JOIN meetings m ON m.id = q.meeting_id "
            "JOIN answers a ON a.questionnaire_id = q.id "
            f"WHERE q.respondent_id IN ({placeholders}) AND q.status IN ('completed', 'expired', 'in_progress') "
            "ORDER BY m.held_at, q.id, a.position",
            names,
        )
        history: dict[int, HistoryRow] = {}
        for r in rows:
            item = history.get(r["qid"])
            if item is None:
                item = history[r["qid"]] = HistoryRow(
                    questionnaire_id=r["qid"],
                    respondent_id=r["respondent_id"],
                    meeting_at=to_datetime(r["held_at"]),
                    status=r["status"],
                    values={},
                )
            item.values[int(r["position"])] = r["value"]
        return list(history.values())

    async def latest_questionnaire_status(self, respondent_ids: Sequence[int]) -> dict[int, str]:
        if not respondent_ids:
            return {}
        names, placeholders = _in_list("r", respondent_ids)
        rows = await self.conn.fetch_all(
            "SELECT q.respondent_id, q.status FROM questionnaires q "
            f"WHERE q.respondent_id IN ({placeholders}) AND q.status <> 'scheduled' "
            "ORDER BY q.due_at, q.id",
            names,
        )
        return {int(r["respondent_id"]): r["status"] for r in rows}

    # --- alerts --------------------------------------------------------------------------------

    async def insert_alert(
        self,
        case_id: int,
        respondent_id: int | None,
        questionnaire_id: int | None,
        kind: str,
        severity: str,
        params: dict[str, Any],
        now: datetime,
    ) -> int:
        return await self._insert(
            "INSERT INTO alerts (case_id, respondent_id, questionnaire_id, kind, severity, params, created_at) "
            "VALUES (:c, :r, :q, :k, :s, :p, :t)",
            {
                "c": case_id,
                "r": respondent_id,
                "q": questionnaire_id,
                "k": kind,
                "s": severity,
                "p": json.dumps(params, sort_keys=True),
                "t": to_db_time(now),
            },
        )

    async def alert(self, alert_id: int) -> Alert | None:
        row = await self._one("SELECT * FROM alerts WHERE id = :id", {"id": alert_id})
        return Alert.from_row(row) if row else None

    async def alerts_posted_with(self, alert: Alert) -> list[Alert]:
        """The alerts shown in one post with `alert`: every alert of the same answered questionnaire."""
        if alert.questionnaire_id is None:
            return [alert]
        rows = await self.conn.fetch_all(
            "SELECT * FROM alerts WHERE questionnaire_id = :q AND severity <> 'positive' ORDER BY id",
            {"q": alert.questionnaire_id},
        )
        return [Alert.from_row(r) for r in rows]

    async def acknowledge_alert(self, alert_id: int, caseworker_id: int, now: datetime) -> bool:
        return (
            await self.conn.execute(
                "UPDATE alerts SET acknowledged_at = :t, acknowledged_by = :cw WHERE id "
                "= :id AND acknowledged_at IS NULL",
                {"t": to_db_time(now), "cw": caseworker_id, "id": alert_id},
            )
            == 1
        )

    async def open_alerts_of_caseworker(self, caseworker_id: int) -> list[Alert]:
        rows = await self.conn.fetch_all(
            "SELECT a.* FROM alerts a JOIN cases c ON c.id = a.case_id "
            "WHERE c.caseworker_id = :cw AND c.status = 'open' AND a.acknowledged_at IS NULL "
            "AND a.severity <> 'positive' ORDER BY a.created_at, a.id",
            {"cw": caseworker_id},
        )
        return [Alert.from_row(r) for r in rows]

    async def alerts_of_case(self, case_id: int) -> list[Alert]:
        rows = await self.conn.fetch_all(
            "SELECT * FROM alerts WHERE case_id = :c ORDER BY created_at, id", {"c": case_id}
        )
        return [Alert.from_row(r) for r in rows]

    # --- outbox --------------------------------------------------------------------------------

    async def enqueue(
        self,
        kind: str,
        dedupe_key: str,
        due_at: datetime,
        now: datetime,
        *,
        chat_id: int | None = None,
        payload: dict[str, Any] | None = None,
        priority: int = 5,
    ) -> bool:
        """Add a send or timed action; False when one with this key already exists (by construction)."""
        return (
            await self.conn.execute(
                "INSERT INTO outbox (kind, dedupe_key, chat_id, priority, payload, due_at, created_at) "
                "VALUES (:k, :d, :c, :p, :pl, :due, :t) ON CONFLICT (dedupe_key) DO NOTHING",
                {
                    "k": kind,
                    "d": dedupe_key,
                    "c": chat_id,
                    "p": priority,
                    "pl": json.dumps(payload or {}, sort_keys=True),
                    "due": to_db_time(due_at),
                    "t": to_db_time(now),
                },
            )
            == 1
        )

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxRow]:
        """Take up to `limit` due rows (pending, or sending with an expired lease after a crash).

        Two dispatchers never send the same row: SQLite's write lock makes them take turns; PostgreSQL
        skips rows another transaction is claiming (no waiting, so no deadlock between instances),
        and the outer status check drops a row whose claim committed meanwhile.

        The lease (`locked_until`) is also the claim's token: a claim taken again after the lease ran out
        gets a later lease, so `finish`, `reschedule` and `renew` given the old one change nothing.
        """
        rows = await self.conn.fetch_all(
            "UPDATE outbox SET status = 'sending', locked_until = :lease, attempts = attempts + 1 "
            f"WHERE id IN ({DUE_ROWS} /*pg: FOR UPDATE SKIP LOCKED*/) "
            "AND (status = 'pending' OR (status = 'sending' AND locked_until < :now)) RETURNING *",
            {"now": to_db_time(now), "lease": to_db_time(lease_until), "limit": limit},
        )
        claimed = [OutboxRow.from_row(r) for r in rows]
        claimed.sort(key=lambda r: (r.priority, r.due_at, r.id))
        return claimed

    @staticmethod
    def _held(claim: datetime | None) -> tuple[str, dict[str, str]]:
        """SQL and parameters that limit an update to the holder of a claim (None: whoever holds it)."""
        if claim is None:
            return "", {}
        return " AND status = 'sending' AND locked_until = :claim", {"claim": to_db_time(claim)}

    async def renew(self, outbox_id: int, claim: datetime, lease_until: datetime) -> bool:
        """Extend a claim's lease (the new lease is the new token); False when the claim is no longer ours."""
        return (
            await self.conn.execute(
                "UPDATE outbox SET locked_until = :lease WHERE id = :id AND status = 'sending' "
                "AND locked_until = :claim",
                {"lease": to_db_time(lease_until), "id": outbox_id, "claim": to_db_time(claim)},
            )
            == 1
        )

    async def finish(
        self, outbox_id: int, status: str, outcome: str, now: datetime, *, claim: datetime | None = None
    ) -> bool:
        """Mark a row done, failed or cancelled; with `claim`, only while that claim still holds it."""
        held, params = self._held(claim)
        return (
            await self.conn.execute(
                "UPDATE outbox SET status = :s, outcome = :o, done_at = :t, locked_until = NULL WHERE id = :id" + held,
                {"s": status, "o": outcome[:200], "t": to_db_time(now), "id": outbox_id, **params},
            )
            == 1
        )

    async def reschedule(
        self,
        outbox_id: int,
        due_at: datetime,
        outcome: str,
        *,
        claim: datetime | None = None,
        tried: bool = True,
    ) -> bool:
        """Put a row back as pending, due at `due_at`. `tried=False` gives the claim's attempt back (a wait
        is not a failed try). With `claim`, only while that claim still holds the row."""
        held, params = self._held(claim)
        give_back = "" if tried else ", attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
        return (
            await self.conn.execute(
                "UPDATE outbox SET status = 'pending', due_at = :d, outcome = :o, locked_until = NULL"
                + give_back
                + " WHERE id = :id"
                + held,
                {"d": to_db_time(due_at), "o": outcome[:200], "id": outbox_id, **params},
            )
            == 1
        )

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> Channel | None:
        """A group became a supergroup (a new chat id): its channel link and the rows queued for it follow."""
        channel = await self.channel_by_chat(old_chat_id)
        if channel is None:
            return None
        await self.conn.execute(
            "UPDATE channels SET chat_id = :new WHERE id = :id", {"new": new_chat_id, "id": channel.id}
        )
        await self.conn.execute(
            "UPDATE outbox SET chat_id = :new WHERE chat_id = :old AND status IN ('pending', 'sending')",
            {"new": new_chat_id, "old": old_chat_id},
        )
        return await self.channel_by_chat(new_chat_id)

    async def cancel_outbox(self, dedupe_prefix: str, now: datetime) -> int:
        return await self.conn.execute(
            # Not LIKE: '_' and '%' in keys would be wildcards, and SQLite's LIKE ignores case.
            "UPDATE outbox SET status = 'cancelled', done_at = :t "
            "WHERE status = 'pending' AND substr(dedupe_key, 1, :n) = :p",
            {"t": to_db_time(now), "n": len(dedupe_prefix), "p": dedupe_prefix},
        )

    async def cancel_pending(self, dedupe_keys: Sequence[str], now: datetime) -> int:
        """Cancel these rows (exact keys) if still pending: found by the unique key's index, where a prefix
        reads every pending row (tens of thousands at 100,000 cases), at every questionnaire's end."""
        if not dedupe_keys:
            return 0
        names, placeholders = _in_list("k", dedupe_keys)
        return await self.conn.execute(
            "UPDATE outbox SET status = 'cancelled', done_at = :t "
            f"WHERE dedupe_key IN ({placeholders}) AND status = 'pending'",
            {**names, "t": to_db_time(now)},
        )

    async def next_due_at(self) -> datetime | None:
        row = await self._one("SELECT MIN(due_at) AS d FROM outbox WHERE status = 'pending'")
        return to_datetime(row["d"]) if row and row["d"] else None

    async def outbox_stats(self, now: datetime) -> dict[str, Any]:
        """For `fitbot status`. `retrying`: rows that failed at least once (network, 5xx) and wait for their
        next try (their due time moved ahead, so they are not "overdue"); `failed_no_destination`: posts for
        a caseworker who is disabled or has no chat (outcome 'no destination: ...'), part of `failed`."""
        row = await self._one(
            "SELECT COUNT(*) AS pending, MIN(due_at) AS oldest_due, "
            "SUM(CASE WHEN due_at <= :now THEN 1 ELSE 0 END) AS overdue, "
            "SUM(CASE WHEN status = 'pending' AND attempts > 0 THEN 1 ELSE 0 END) AS retrying FROM outbox "
            "WHERE status IN ('pending', 'sending')",
            {"now": to_db_time(now)},
        )
        failed = await self._one(
            "SELECT COUNT(*) AS n, SUM(CASE WHEN substr(outcome, 1, 15) = 'no destination:' THEN 1 ELSE 0 END) "
            "AS no_destination FROM outbox WHERE status = 'failed'"
        )
        return {
            "pending": int(row["pending"]) if row else 0,
            "overdue": int(row["overdue"] or 0) if row else 0,
            "oldest_due": to_datetime(row["oldest_due"]) if row and row["oldest_due"] else None,
            "retrying": int(row["retrying"] or 0) if row else 0,
            "failed": int(failed["n"]) if failed else 0,
            "failed_no_destination": int(failed["no_destination"] or 0) if failed else 0,
        }

    async def outbox_rows(self, kind: str | None = None) -> list[OutboxRow]:
        rows = await self.conn.fetch_all(
            "SELECT * FROM outbox" + (" WHERE kind = :k" if kind else "") + " ORDER BY id", {"k": kind}
        )
        return [OutboxRow.from_row(r) for r in rows]

    # --- audit and health ------------------------------------------------------------------------

    async def audit(
        self, actor: str, action: str, now: datetime, *, case_id: int | None = None, detail: str = ""
    ) -> None:
        await self.conn.execute(
            "INSERT INTO audit_events (at, actor, action, case_id, detail) VALUES (:t, :a, :ac, :c, :d)",
            {"t": to_db_time(now), "a": actor, "ac": action, "c": case_id, "d": detail},
        )

    async def audit_events(self, case_id: int | None = None) -> list[Row]:
        return await self.conn.fetch_all(
            "SELECT at, actor, action, case_id, detail FROM audit_events"
            + (" WHERE case_id = :c" if case_id is not None else "")
            + " ORDER BY id",
            {"c": case_id},
        )

    async def set_health(self, name: str, value: str, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO health (name, value, updated_at) VALUES (:n, :v, :t) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            {"n": name, "v": value, "t": to_db_time(now)},
        )

    async def health(self) -> dict[str, tuple[str, datetime]]:
        rows = await self.conn.fetch_all("SELECT name, value, updated_at FROM health")
        return {r["name"]: (r["value"], to_datetime(r["updated_at"])) for r in rows}


def to_datetime(text: str) -> datetime:
    value = from_db_time(text)
    assert value is not None
    return value


class ReportQueries:
    """Read-only queries over many cases at once (overviews, digests, team reports, exports)."""

    def __init__(self, repo: Repository) -> None:
        self.conn = repo.conn

    async def respondents_of_cases(self, case_ids: Sequence[int]) -> list[Respondent]:
        if not case_ids:
            return []
        names, placeholders = _in_list("c", case_ids)
        rows = await self.conn.fetch_all(
            f"SELECT * FROM respondents WHERE case_id IN ({placeholders}) ORDER BY case_id, id",
            names,
        )
        return [Respondent.from_row(r) for r in rows]

    async def open_alert_counts(self, case_ids: Sequence[int]) -> dict[int, int]:
        if not case_ids:
            return {}
        names, placeholders = _in_list("c", case_ids)
        rows = await self.conn.fetch_all(
            f"SELECT case_id, COUNT(*) AS n FROM alerts WHERE case_id IN ({placeholders}) "
            "AND acknowledged_at IS NULL AND severity <> 'positive' GROUP BY case_id",
            names,
        )
        return {int(r["case_id"]): int(r["n"]) for r in rows}

    async def team_caseworkers(self, team: str | None) -> list[Caseworker]:
        rows = await self.conn.fetch_all(
            "SELECT * FROM caseworkers WHERE role = 'caseworker'"
            + (" AND team = :t" if team else "")
            + " ORDER BY name, id",
            {"t": team},
        )
        return [Caseworker.from_row(r) for r in rows]

    async def questionnaire_counts(
        self, caseworker_ids: Sequence[int], since: datetime, until: datetime
    ) -> dict[tuple[int, str], int]:
        """(caseworker, questionnaire status) -> count, for questionnaires due in [since, until)."""
        if not caseworker_ids:
            return {}
        names, placeholders = _in_list("w", caseworker_ids)
        rows = await self.conn.fetch_all(
            "SELECT c.caseworker_id AS cw, q.status, COUNT(*) AS n FROM questionnaires q "
            "JOIN meetings m ON m.id = q.meeting_id JOIN cases c ON c.id = m.case_id "
            f"WHERE c.caseworker_id IN ({placeholders}) AND q.due_at >= :since AND q.due_at < :until "
            "GROUP BY c.caseworker_id, q.status",
            {**names, "since": to_db_time(since), "until": to_db_time(until)},
        )
        return {(int(r["cw"]), r["status"]): int(r["n"]) for r in rows}

    async def srs_totals(self, caseworker_ids: Sequence[int], since: datetime, until: datetime) -> list[int]:
        """Complete SRS totals (tenths) of questionnaires completed in [since, until)."""
        if not caseworker_ids:
            return []
        names, placeholders = _in_list("w", caseworker_ids)
        rows = await self.conn.fetch_all(
            "SELECT SUM(a.value) AS total FROM questionnaires q JOIN answers a ON a.questionnaire_id = q.id "
            "JOIN meetings m ON m.id = q.meeting_id JOIN cases c ON c.id = m.case_id "
            f"WHERE c.caseworker_id IN ({placeholders}) AND q.status = 'completed' "
            "AND q.completed_at >= :since AND q.completed_at < :until AND a.position >= 4 "
            "GROUP BY q.id HAVING COUNT(a.value) = 4",
            {**names, "since": to_db_time(since), "until": to_db_time(until)},
        )
        return [int(r["total"]) for r in rows]

    async def respondent_counts(
        self, caseworker_ids: Sequence[int], since: datetime, until: datetime, statuses: Sequence[str]
    ) -> dict[int, int]:
        """caseworker -> distinct respondents with a questionnaire in `statuses` due in [since, until)
        (the people a response rate is about; for the minimum group size of team reports)."""
        if not caseworker_ids or not statuses:
            return {}
        names, placeholders = _in_list("w", caseworker_ids)
        status_names = {f"s{i}": v for i, v in enumerate(statuses)}
        rows = await self.conn.fetch_all(
            "SELECT c.caseworker_id AS cw, COUNT(DISTINCT q.respondent_id) AS n FROM questionnaires q "
            "JOIN meetings m ON m.id = q.meeting_id JOIN cases c ON c.id = m.case_id "
            f"WHERE c.caseworker_id IN ({placeholders}) AND q.due_at >= :since AND q.due_at < :until "
            f"AND q.status IN ({', '.join(':' + n for n in status_names)}) GROUP BY c.caseworker_id",
            {**names, **status_names, "since": to_db_time(since), "until": to_db_time(until)},
        )
        return {int(r["cw"]): int(r["n"]) for r in rows}

    async def srs_respondent_count(self, caseworker_ids: Sequence[int], since: datetime, until: datetime) -> int:
        """Distinct respondents behind `srs_totals` (same questionnaires)."""
        if not caseworker_ids:
            return 0
        names, placeholders = _in_list("w", caseworker_ids)
        row = await self.conn.fetch_one(
            "SELECT COUNT(DISTINCT t.rid) AS n FROM (SELECT q.respondent_id AS rid FROM questionnaires q "
            "JOIN answers a ON a.questionnaire_id = q.id "
            "JOIN meetings m ON m.id = q.meeting_id JOIN cases c ON c.id = m.case_id "
            f"WHERE c.caseworker_id IN ({placeholders}) AND q.status = 'completed' "
            "AND q.completed_at >= :since AND q.completed_at < :until AND a.position >= 4 "
            "GROUP BY q.id, q.respondent_id HAVING COUNT(a.value) = 4) t",
            {**names, "since": to_db_time(since), "until": to_db_time(until)},
        )
        return int(row["n"]) if row else 0

    async def first_and_latest_ors(self, caseworker_ids: Sequence[int]) -> list[tuple[int, int, int, str]]:
        """(respondent, first ORS total, latest ORS total, age band) for respondents of open cases
        with at least two complete ORS totals."""
        if not caseworker_ids:
            return []
        names, placeholders = _in_list("w", caseworker_ids)
        rows = await self.conn.fetch_all(
            "WITH totals AS ("
            " SELECT q.id AS qid, q.respondent_id AS rid, c.age_band AS band, m.held_at AS at, SUM(a.value) AS total"
            " FROM questionnaires q JOIN answers a ON a.questionnaire_id = q.id"
            " JOIN meetings m ON m.id = q.meeting_id JOIN cases c ON c.id = m.case_id"
            f" WHERE c.caseworker_id IN ({placeholders}) AND c.status = 'open' AND q.status = 'completed'"
            " AND a.position < 4 GROUP BY q.id, q.respondent_id, c.age_band, m.held_at HAVING COUNT(a.value) = 4),"
            " ranked AS (SELECT rid, band, total,"
            # Ties in meeting time go by questionnaire id, so first and latest are never the same row.
            " ROW_NUMBER() OVER (PARTITION BY rid ORDER BY at, qid) AS first_rank,"
            " ROW_NUMBER() OVER (PARTITION BY rid ORDER BY at DESC, qid DESC) AS last_rank,"
            " COUNT(*) OVER (PARTITION BY rid) AS n FROM totals)"
            " SELECT rid, band, MAX(CASE WHEN first_rank = 1 THEN total END) AS first_total,"
            " MAX(CASE WHEN last_rank = 1 THEN total END) AS latest_total"
            " FROM ranked WHERE n >= 2 GROUP BY rid, band",
            names,
        )
        return [(int(r["rid"]), int(r["first_total"]), int(r["latest_total"]), r["band"]) for r in rows]

    async def meeting_counts(self, caseworker_ids: Sequence[int], since: datetime, until: datetime) -> dict[int, int]:
        if not caseworker_ids:
            return {}
        names, placeholders = _in_list("w", caseworker_ids)
        rows = await self.conn.fetch_all(
            "SELECT c.caseworker_id AS cw, COUNT(*) AS n FROM meetings m JOIN cases c ON c.id = m.case_id "
            f"WHERE c.caseworker_id IN ({placeholders}) AND m.held_at >= :since AND m.held_at < :until "
            "GROUP BY c.caseworker_id",
            {**names, "since": to_db_time(since), "until": to_db_time(until)},
        )
        return {int(r["cw"]): int(r["n"]) for r in rows}

    async def open_case_counts(self, caseworker_ids: Sequence[int]) -> dict[int, int]:
        if not caseworker_ids:
            return {}
        names, placeholders = _in_list("w", caseworker_ids)
        rows = await self.conn.fetch_all(
            f"SELECT caseworker_id AS cw, COUNT(*) AS n FROM cases WHERE caseworker_id IN ({placeholders}) "
            "AND status = 'open' GROUP BY caseworker_id",
            names,
        )
        return {int(r["cw"]): int(r["n"]) for r in rows}


def _in_list(prefix: str, values: Sequence[int] | Sequence[str]) -> tuple[dict[str, int | str], str]:
    names = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return names, ", ".join(f":{n}" for n in names)
