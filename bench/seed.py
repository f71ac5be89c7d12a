"""A synthetic municipality, written straight into the bot's database through the Repository (and, for
the prompt burst, the services), before the bot under test starts. Nothing goes through chat, so setting up
10,000 families takes seconds, not hours.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bench.drive import BenchEmulator
from bot import config as config_module
from bot.app import policy_from
from bot.clock import SystemClock
from bot.config import Config
from bot.domain.instruments import AgeBand, Role, instruments_for
from bot.sandbox.emulator import SentMessage, SimChat, SimUser
from bot.services import cases
from bot.services.context import Services
from bot.storage import Storage, create_storage
from bot.storage.repository import Repository

BATCH = 500  # families per transaction while seeding
BANDS = ("6-12", "13-17", "adult")


@dataclass(frozen=True)
class CaseworkerSeed:
    id: int
    user_id: int
    channel_id: int | None


@dataclass(frozen=True)
class OpenQuestionnaire:
    """A family member's questionnaire, already prompted (status sent, or in progress when answered)."""

    user_id: int
    message_id: int
    answers: tuple[int | None, ...] = ()  # tenths for the first positions, already given
    history: int = 0  # earlier meetings with a completed questionnaire (FIT is a course of meetings)


async def open_storage(db_path: Path, now: datetime) -> Storage:
    storage = create_storage(db_path)
    await storage.open(now)
    return storage


async def add_caseworkers(
    repo: Repository, users: Sequence[tuple[int, int | None]], now: datetime, *, team: str = "Team Nord"
) -> list[CaseworkerSeed]:
    """Caseworkers linked to Telegram users, each with a channel when one is given."""
    seeds = []
    for n, (user_id, channel_id) in enumerate(users, 1):
        cw = await repo.insert_caseworker(f"Rådgiver {n}", team, "caseworker", now)
        await repo.link_caseworker_user(cw, user_id, "da", now)
        if channel_id is not None:
            await repo.link_channel(cw, channel_id, "channel", f"FIT {n}", now)
        seeds.append(CaseworkerSeed(cw, user_id, channel_id))
    return seeds


async def add_open_questionnaire(
    repo: Repository,
    caseworker_id: int,
    label: str,
    band: str,
    q: OpenQuestionnaire,
    now: datetime,
    policy_expire: timedelta,
) -> int:
    """A case with one active parent, one meeting an hour ago and its questionnaire, prompted already
    (with its reminder and expiry rows queued, as `questionnaire.prompt_sent` leaves them)."""
    case_id = await repo.insert_case(caseworker_id, label, band, now - timedelta(days=30))
    assert case_id is not None
    respondent_id = await repo.insert_respondent(case_id, Role.PARENT.value, "da", now - timedelta(days=30))
    await repo.bind_respondent(respondent_id, q.user_id, "da")
    await repo.set_respondent_status(respondent_id, "active", now - timedelta(days=29))
    ors, srs = instruments_for(Role.PARENT, AgeBand(band))
    for k in range(q.history, 0, -1):  # one meeting a fortnight, answered, a slowly rising course
        held = now - timedelta(days=14 * k)
        earlier = await repo.insert_meeting(case_id, held, caseworker_id, held)
        done = await repo.insert_questionnaire(earlier, respondent_id, ors.key, srs.key, held, held)
        assert done is not None
        for position in range(8):
            value = min(100, 40 + 5 * (q.history - k) + 3 * position) if position < 4 else 90 + position % 2 * 10
            await repo.upsert_answer(done, position, value, held)
        await repo.update_questionnaire(done, status="completed", position=8, sent_at=held, completed_at=held)
    meeting_id = await repo.insert_meeting(case_id, now - timedelta(hours=1), caseworker_id, now - timedelta(hours=1))
    sent_at = now - timedelta(minutes=30)
    qid = await repo.insert_questionnaire(meeting_id, respondent_id, ors.key, srs.key, sent_at, sent_at)
    assert qid is not None
    await repo.update_questionnaire(
        qid,
        status="in_progress" if q.answers else "sent",
        position=len(q.answers),
        sent_at=sent_at,
        chat_id=q.user_id,
        message_id=q.message_id,
        expires_at=sent_at + policy_expire,
    )
    for position, value in enumerate(q.answers):
        await repo.upsert_answer(qid, position, value, now)
    payload = {"questionnaire_id": qid}
    await repo.enqueue(
        "reminder", f"q:{qid}:reminder", sent_at + timedelta(hours=24), sent_at, payload=payload, priority=4
    )
    await repo.enqueue("expire", f"q:{qid}:expire", sent_at + policy_expire, sent_at, payload=payload, priority=3)
    return qid


async def seed_open(
    db_path: Path,
    config: Config,
    caseworker_users: Sequence[tuple[int, int | None]],
    questionnaires: Sequence[OpenQuestionnaire],
    *,
    rng: random.Random,
) -> tuple[list[CaseworkerSeed], list[int]]:
    """Caseworkers (with channels) and open questionnaires spread over them; returns the questionnaire ids
    in the order given."""
    now = SystemClock().now()
    storage = await open_storage(db_path, now)
    try:
        async with storage.transaction() as repo:
            workers = await add_caseworkers(repo, caseworker_users, now)
        qids: list[int] = []
        for start in range(0, len(questionnaires), BATCH):
            async with storage.transaction() as repo:
                for n, q in enumerate(questionnaires[start : start + BATCH], start):
                    worker = workers[n % len(workers)]
                    qids.append(
                        await add_open_questionnaire(
                            repo, worker.id, f"B{n:06d}", rng.choice(BANDS), q, now, config.expire_after
                        )
                    )
    finally:
        await storage.close()
    return workers, qids


def course(n: int) -> int:
    """Earlier answered meetings of family n: two in five have none (a new case), the rest 2-6. From the
    third answered questionnaire on, a family also gets its own chart when it finishes."""
    return 0 if n % 5 < 2 else 2 + (n // 5) % 5


@dataclass
class Town:
    """Families with delivered prompts, and caseworkers with channels, in the emulator and the database."""

    users: list[SimUser]
    work: dict[int, list[tuple[int, SentMessage]]]  # user id -> (questionnaire id, prompt message), in order
    caseworkers: list[tuple[SimUser, SimChat]]


async def prompted_families(
    emulator: BenchEmulator,
    families: int,
    per_family: int,
    caseworkers: int,
    env: dict[str, str] | None,
    rng: random.Random,
    *,
    answers: Callable[[int], tuple[int | None, ...]] = lambda _n: (),
    history: Callable[[int], int] = lambda _n: 0,
) -> Town:
    """`families` people with `per_family` prompted questionnaires each (one case each), spread over
    `caseworkers` caseworkers with channels. With `env` (FIT-bot's), the database is seeded too; without,
    questionnaire ids are simply numbered (the bare bot keeps no state)."""
    users = [emulator.family(f"Familie {i}") for i in range(families)]
    messages = [[emulator.fabricate_prompt(u) for _ in range(per_family)] for u in users]
    workers = [emulator.family(f"Rådgiver {i}") for i in range(caseworkers)]
    channels = [emulator.caseworker_channel(w, f"FIT {i}") for i, w in enumerate(workers)]
    # Questionnaire k of every family before k+1 of any, so caseworkers share the work evenly.
    order = [(u, ms[k]) for k in range(per_family) for u, ms in zip(users, messages, strict=True)]
    if env is not None:
        _seeds, qids = await seed_open(
            Path(env["FITBOT_DATABASE_PATH"]),
            config_module.load(None, env=env),
            [(w.id, c.id) for w, c in zip(workers, channels, strict=True)],
            [OpenQuestionnaire(u.id, m.message_id, answers(n), history(n)) for n, (u, m) in enumerate(order)],
            rng=rng,
        )
    else:
        qids = list(range(1, len(order) + 1))
    work: dict[int, list[tuple[int, SentMessage]]] = {u.id: [] for u in users}
    for (user, message), qid in zip(order, qids, strict=True):
        emulator.set_prompt_buttons(message, qid)
        work[user.id].append((qid, message))
    return Town(users, work, list(zip(workers, channels, strict=True)))


async def seed_prompt_burst(
    db_path: Path,
    config: Config,
    caseworker_users: Sequence[tuple[int, int | None]],
    family_users: Sequence[int],
) -> int:
    """One case per family, an active parent, and a meeting logged through `services.cases.log_meeting`
    just now: one prompt per family in the outbox, all due at once. Returns the prompts queued."""
    now = SystemClock().now()
    storage = await open_storage(db_path, now)
    svc = Services(storage=storage, clock=SystemClock().now, policy=policy_from(config))
    try:
        async with storage.transaction() as repo:
            workers = await add_caseworkers(repo, caseworker_users, now)
            caseworkers = [await repo.caseworker(w.id) for w in workers]
        case_ids: list[tuple[int, int]] = []
        for start in range(0, len(family_users), BATCH):
            async with storage.transaction() as repo:
                for n, user_id in enumerate(family_users[start : start + BATCH], start):
                    worker = workers[n % len(workers)]
                    case_id = await repo.insert_case(worker.id, f"P{n:06d}", BANDS[n % 3], now - timedelta(days=30))
                    assert case_id is not None
                    respondent_id = await repo.insert_respondent(case_id, "parent", "da", now)
                    await repo.bind_respondent(respondent_id, user_id, "da")
                    await repo.set_respondent_status(respondent_id, "active", now)
                    case_ids.append((n % len(workers), case_id))
        queued = 0
        for index, case_id in case_ids:
            caseworker = caseworkers[index]
            assert caseworker is not None
            # The meeting ended a moment ago; with no prompt delay the prompt is due now (the service's rule).
            logged = await cases.log_meeting(svc, caseworker, case_id, svc.now() - timedelta(minutes=1))
            assert not isinstance(logged, cases.CaseError), logged
            queued += len(logged.prompts_due)
    finally:
        await storage.close()
    return queued
