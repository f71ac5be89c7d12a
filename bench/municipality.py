"""A synthetic municipality of a given size, written with executemany in plain sqlite3 after FIT-bot's
own migrations (benchmark 5). Two years of operation:

* caseworkers with 60 open cases each (and closed ones), teams of 10 with a leader, a channel each;
* cases 60 % open; 1-2 respondents per case; meetings spread over two years, one questionnaire per
  meeting and respondent: 64 % completed (8 answers), the rest expired, declined or still open;
  answers in total about ten per case (1,000,000 for 100,000 cases);
* alerts on a quarter of the completed questionnaires (most acknowledged), consents, invitations,
  audit events, processed updates of the last week;
* the outbox as two years leave it: every prompt, reminder, expiry, summary and alert row, and every
  caseworker's daily digest, done; the open questionnaires' reminders and expiries and the next digests
  pending, in the future.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.seed import open_storage
from bot.domain.instruments import AgeBand, Role, instrument, instruments_for
from bot.domain.interpretation import Thresholds
from bot.domain.rules import Measurement, evaluate
from bot.storage.db import to_db_time

CASES_PER_CASEWORKER = 60  # open cases
TEAM = 10
OPEN_SHARE = 0.6
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Built:
    path: Path
    counts: dict[str, int]
    caseworker_id: int  # one with exactly 60 open cases
    leader_id: int
    user_base: int  # telegram ids of caseworkers are user_base + caseworker id


def _alert_templates() -> list[tuple[str, str, str]]:
    """(kind, severity, params JSON) of real findings, from the domain's own rules."""
    t = Thresholds()
    pair = (instrument("ors"), instrument("srs"))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    histories = [
        [Measurement(at, (20, 60, 60, 60), (100, 70, 100, 100))],
        [Measurement(at, (80, 80, 80, 80), (100,) * 4), Measurement(at + DAY, (30, 30, 30, 30), (100,) * 4)],
    ]
    templates = []
    for history in histories:
        for f in evaluate(history, AgeBand.ADULT, t, instruments=pair):
            params = {"message": f.message, **{k: list(v) if isinstance(v, tuple) else v for k, v in f.params.items()}}
            templates.append((f.kind.value, f.severity.value, json.dumps(params, sort_keys=True)))
    return templates


async def build(path: Path, cases: int, now: datetime, *, seed: int = 5) -> Built:
    """Write the municipality to `path` (a new file); answers come to about ten per case."""
    storage = await open_storage(path, now)
    await storage.close()
    rng = random.Random(seed)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("BEGIN")
    t = to_db_time
    ago = now - timedelta(days=730)
    counts: dict[str, int] = {}

    def put(table: str, columns: str, rows: list[tuple[object, ...]]) -> None:
        marks = ", ".join("?" * len(columns.split(",")))
        db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
        counts[table] = counts.get(table, 0) + len(rows)

    open_cases = round(cases * OPEN_SHARE)
    n_workers = max(1, math.ceil(open_cases / CASES_PER_CASEWORKER))
    n_teams = max(1, math.ceil(n_workers / TEAM))
    user_base = 500_000_000
    workers = [
        (i, f"Rådgiver {i}", f"Team {(i - 1) // TEAM + 1}", "caseworker", user_base + i, "da", t(ago), t(ago))
        for i in range(1, n_workers + 1)
    ]
    leaders = [
        (n_workers + k, f"Leder {k}", f"Team {k}", "leader", user_base + n_workers + k, "da", t(ago), t(ago))
        for k in range(1, n_teams + 1)
    ]
    put("caseworkers", "id, name, team, role, telegram_user_id, language, created_at, linked_at", workers + leaders)
    put(
        "channels",
        "id, caseworker_id, chat_id, chat_type, title, linked_at",
        [(w[0], w[0], -1_000_000_000_000 - w[0], "channel", f"FIT {w[0]}", t(ago)) for w in workers],
    )

    # Cases: open ones 60 per caseworker in turn, closed ones spread over the caseworkers.
    case_rows, case_open = [], []
    for c in range(1, cases + 1):
        is_open = c <= open_cases
        worker = (c - 1) % n_workers + 1 if is_open else rng.randint(1, n_workers)
        created = ago + timedelta(days=rng.uniform(0, 700))
        band = rng.choice(("6-12", "13-17", "adult"))
        closed = None if is_open else t(created + timedelta(days=rng.uniform(30, 300)))
        label = f"S{c:07d}"
        case_rows.append(
            (c, worker, label, band, "open" if is_open else "closed", t(created), closed, label.casefold())
        )
        case_open.append((c, worker, band, is_open, created))
    case_columns = "id, caseworker_id, label, age_band, status, created_at, closed_at"
    if "label_key" in {row[1] for row in db.execute("PRAGMA table_info(cases)")}:
        case_columns += ", label_key"  # the casefolded label, where the schema has it
    else:
        case_rows = [row[:-1] for row in case_rows]
    put("cases", case_columns, case_rows)

    templates = _alert_templates()
    respondents, consents, invitations, meetings, questionnaires = [], [], [], [], []
    answers, alerts, outbox, audit, updates = [], [], [], [], []
    r_id = m_id = q_id = a_id = o_id = 0
    user = 800_000_000
    recent = now - timedelta(days=7)

    def ob(kind: str, key: str, due: datetime, status: str, payload: dict[str, int], chat: int | None = None) -> None:
        nonlocal o_id
        o_id += 1
        done = t(due + timedelta(seconds=2)) if status != "pending" else None
        outbox.append(
            (
                o_id,
                kind,
                key,
                chat,
                5,
                json.dumps(payload),
                t(due),
                status,
                1 if done else 0,
                done,
                "sent" if done else None,
                t(due),
            )
        )

    for case_id, worker, band, is_open, created in case_open:
        people = []
        roles = [Role.PARENT] + (
            [Role.YOUTH if band == "13-17" else Role.CHILD if band == "6-12" else Role.PARENT]
            if rng.random() < 0.3
            else []
        )
        for role in roles:
            r_id += 1
            user += 1
            status = "active" if rng.random() < 0.95 else "withdrawn"
            respondents.append(
                (
                    r_id,
                    case_id,
                    role.value,
                    user if status == "active" else None,
                    "da",
                    status,
                    t(created),
                    t(created + DAY),
                )
            )
            consents.append((r_id, 1, "v1", "da", t(created + DAY)))
            invitations.append(
                (f"{r_id:064x}", "respondent", r_id, worker, t(created), t(created + 14 * DAY), t(created + DAY))
            )
            people.append((r_id, role, user, status))
        meetings_here = rng.choice((0, 1, 2, 3))
        for k in range(meetings_here):
            m_id += 1
            held = created + timedelta(days=14 * (k + 1) + rng.uniform(0, 10))
            if held > now - timedelta(hours=2):
                held = now - timedelta(hours=rng.uniform(2, 48))
            meetings.append((m_id, case_id, t(held), worker, t(held)))
            latest = k == meetings_here - 1
            for r, role, chat, rstatus in people:
                q_id += 1
                ors, srs = instruments_for(role, AgeBand(band))
                due = held + timedelta(minutes=30)
                roll = rng.random()
                if latest and is_open and held > now - timedelta(days=2.5) and rstatus == "active":
                    status = "in_progress" if roll < 0.3 else "sent"
                elif roll < 0.64:
                    status = "completed"
                elif roll < 0.90:
                    status = "expired"
                else:
                    status = "declined"
                given = 8 if status == "completed" else rng.randint(1, 7) if status == "in_progress" else 0
                done_at = due + timedelta(minutes=rng.uniform(1, 600))
                questionnaires.append(
                    (
                        q_id,
                        m_id,
                        r,
                        ors.key,
                        srs.key,
                        status,
                        given if given < 8 else 0,
                        chat,
                        q_id,
                        t(due),
                        t(due),
                        t(due),
                        t(done_at) if status == "completed" else None,
                        t(due + timedelta(hours=72)),
                    )
                )
                for p in range(given):
                    value = rng.randint(30, 90) if p < 4 else rng.randint(70, 100)
                    answers.append((q_id, p, value, t(done_at)))
                payload = {"questionnaire_id": q_id}
                ob("prompt", f"q:{q_id}:prompt", due, "done", payload)
                open_q = status in ("sent", "in_progress")
                reminder_due = open_q and due + DAY > now  # else sent already
                ob("reminder", f"q:{q_id}:reminder", due + DAY, "pending" if reminder_due else "done", payload)
                ob("expire", f"q:{q_id}:expire", due + 3 * DAY, "pending" if open_q else "done", payload)
                if status == "completed":
                    ob("summary", f"cw:{worker}:summary:{q_id}", done_at, "done", {**payload, "caseworker_id": worker})
                    audit.append((t(done_at), f"respondent:{r}", "questionnaire_completed", case_id, ""))
                    if rng.random() < 0.25:
                        a_id += 1
                        kind, severity, params = rng.choice(templates)
                        acked = rng.random() < 0.85
                        alerts.append(
                            (
                                a_id,
                                case_id,
                                r,
                                q_id,
                                kind,
                                severity,
                                params,
                                t(done_at),
                                t(done_at + DAY) if acked else None,
                                worker if acked else None,
                            )
                        )
                        ob(
                            "alert",
                            f"cw:{worker}:alert:{a_id}",
                            done_at,
                            "done",
                            {"alert_id": a_id, "caseworker_id": worker},
                        )
                    if done_at > recent:
                        updates.extend((q_id * 10 + p, t(done_at)) for p in range(9))
                audit.append((t(held), f"caseworker:{worker}", "meeting_logged", case_id, ""))

    put(
        "respondents",
        "id, case_id, role, telegram_user_id, language, status, created_at, joined_at",
        respondents,
    )
    put("consents", "respondent_id, given, text_version, language, at", consents)
    put(
        "invitations",
        "token_hash, purpose, respondent_id, created_by, created_at, expires_at, used_at",
        invitations,
    )
    put("meetings", "id, case_id, held_at, created_by, created_at", meetings)
    put(
        "questionnaires",
        "id, meeting_id, respondent_id, ors_instrument, srs_instrument, status, position, chat_id, message_id, "
        "created_at, due_at, sent_at, completed_at, expires_at",
        questionnaires,
    )
    put("answers", "questionnaire_id, position, value, answered_at", answers)
    put(
        "alerts",
        "id, case_id, respondent_id, questionnaire_id, kind, severity, params, created_at, acknowledged_at, "
        "acknowledged_by",
        alerts,
    )
    # Every caseworker's digest, each weekday for two years (done), and the next one (pending).
    day = ago.replace(hour=7, minute=0, second=0, microsecond=0)
    while day < now:
        if day.weekday() < 5:
            for w in workers:
                ob("digest", f"cw:{w[0]}:digest:{day.date().isoformat()}", day, "done", {"caseworker_id": w[0]})
        day += DAY
    for w in workers:
        ob(
            "digest",
            f"cw:{w[0]}:digest:{(now + DAY).date().isoformat()}",
            now + DAY,
            "pending",
            {"caseworker_id": w[0]},
        )
    put(
        "outbox",
        "id, kind, dedupe_key, chat_id, priority, payload, due_at, status, attempts, done_at, outcome, created_at",
        outbox,
    )
    put("audit_events", "at, actor, action, case_id, detail", audit)
    put("processed_updates", "update_id, at", updates)
    db.execute("COMMIT")  # no ANALYZE: FIT-bot never runs it, so the planner works without statistics
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    counts["outbox_pending"] = sum(1 for row in outbox if row[7] == "pending")
    return Built(path, counts, caseworker_id=1, leader_id=n_workers + 1, user_base=user_base)


def main() -> None:
    """`python -m bench.municipality --cases N --out PATH`: build in a process of its own (the benchmark's
    process stays small, so the bot processes it starts do not inherit a big memory high-water mark)."""
    import argparse
    import asyncio
    import dataclasses
    import time

    from bot.clock import SystemClock

    parser = argparse.ArgumentParser(prog="python -m bench.municipality")
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    built = asyncio.run(build(args.out, args.cases, SystemClock().now()))
    result = {**dataclasses.asdict(built), "path": str(built.path), "build_s": time.perf_counter() - started}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
