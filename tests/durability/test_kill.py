"""`kill -9` at random moments, then SIGTERM: FIT-bot in its own process against the standalone emulator.

The emulator (``python -m bot.sandbox.emulator``) runs as a subprocess too; people act through its control
API (``/_sim/``). FIT-bot is started exactly as an operator starts it (``python -m bot.cli run``) with its
settings in the environment. While families answer and meetings are logged, the bot is killed with SIGKILL
at moments drawn from a seeded random source across the whole of a round, and restarted at once. People
never press or type anything twice: the bot confirms updates to Telegram only after it has stored them in
its inbox (``bot/handlers/inbox.py``), so whatever arrived while it was down is delivered again after the
restart, and whatever was cut off by the kill is handled again from the inbox, then. A press or a command
that gets no answer is lost.

Some rounds are downtime rounds: meetings are logged for the next whole minute, the bot is killed before
their prompts fall due and stays down past that time (a caseworker's command arrives meanwhile), then it
is started and catches up by itself; sometimes it is killed again during the catch-up.

At the end:
- no tap and no command was lost (each got its answer without being sent again), and none was applied
  twice: every caseworker command made exactly one meeting;
- every answer the bot acknowledged (the item message moved past it) is in the database, with its value;
- every prompt was delivered; a questionnaire got a second copy of its prompt only if that prompt's outbox
  row was in flight ('sending' in the database) at a kill, and no more copies than such kills; the bot's
  own start-up report ("N send(s) were in flight at the last stop") matches the database each time;
- prompts that fell due while the bot was down went out after the restart, without anyone doing anything;
- every questionnaire was finished, and every one's summary (and its alert post, where a rule fired)
  reached the caseworker, with nothing left pending;
- after each kill the bot's child processes (the chart worker of ``bot/charts.py`` and multiprocessing's
  helper) ended by themselves within a few seconds;
- SIGTERM ends the bot cleanly (exit code 0) within seconds, with nothing left in flight, and
  ``fitbot status`` on the running bot says ``ok``.

``FITBOT_KILL_ROUNDS`` (default 8) sets the number of rounds for a longer soak (a downtime round is due six
rounds after the last and goes where the wall clock is near a whole minute, so its wait is short; there is
at least one); ``FITBOT_KILL_SEED`` the random seed. Real-time waits here are failure guards, the time a
real process takes, or the wall clock reaching a prompt's due minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.storage.db import to_db_time
from tests.durability.procs import (
    IN_FLIGHT,
    PROMPT_LINE,
    Family,
    db_rows,
    finish,
    open_questionnaires,
    running,
    until,
    world,
)

ROUNDS = int(os.environ.get("FITBOT_KILL_ROUNDS", "8"))
SEED = int(os.environ.get("FITBOT_KILL_SEED", "20261124"))
DOWNTIME_EVERY = 6  # rounds
CHILDREN_GRACE = 5.0  # seconds the bot's child processes may take to notice it is gone
SUMMARY_LINE = "Nye svar i sag"
TZ = ZoneInfo("Europe/Copenhagen")  # the bot's default timezone: meeting times are typed in it

pytestmark = pytest.mark.slow


def next_whole_minute(margin: float) -> datetime:
    """The first whole minute at least `margin` seconds from now."""
    soon = datetime.now(TZ) + timedelta(seconds=margin)
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


def db_now() -> str:
    return to_db_time(datetime.now(UTC))


async def test_kill_9_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    started_at = time.monotonic()
    rng = random.Random(SEED)
    async with world(tmp_path) as w:
        sim, db, bot = w.sim, w.db, w.bot
        # --- set-up, as an operator and a caseworker do it ------------------------------------------------
        await bot.start()
        await bot.started()
        code, out, err = await w.cli("status")
        assert code == 0, out + err
        worker = await w.enrol_caseworker("Rikke")
        cases = {"K1": ("6-12", ["forælder"]), "K2": ("13-17", ["forælder", "ung"]), "K3": ("voksen", ["forælder"])}
        families = await w.families(worker, cases, rng)

        commands: Counter[str] = Counter()  # /moede sent per case
        in_flight: Counter[int] = Counter()  # outbox row id -> kills at which it was 'sending'
        kills = 0
        kills_with_children = 0
        caught_up = 0  # prompts that fell due while the bot was down

        def held(label: str) -> int:
            sql = "SELECT COUNT(*) FROM meetings m JOIN cases c ON c.id = m.case_id WHERE c.label = ?"
            return int(db_rows(db, sql, (label,))[0][0])

        async def meeting(label: str, when: str = "") -> None:
            before = held(label)
            await sim.send(worker, f"/moede {label} {when}".strip())
            commands[label] += 1
            await until(lambda: held(label) > before, f"the meeting of {label} (a lost command?)")

        async def kill() -> int:
            """kill -9; what it left in flight is recorded, and its child processes must end by themselves."""
            nonlocal kills, kills_with_children
            children = await bot.kill()
            kills += 1
            sending = [i for (i,) in db_rows(db, "SELECT id FROM outbox WHERE status = 'sending'")]
            in_flight.update(sending)
            if children:
                kills_with_children += 1
            await until(
                lambda: not running(children), f"the bot's child processes {children} to end", timeout=CHILDREN_GRACE
            )
            return len(sending)

        async def restart(left_in_flight: int) -> None:
            await bot.start()
            await bot.started()
            assert bot.count_in_flight() == left_in_flight, bot.log()[-2000:]

        async def answer_everything() -> None:
            # Every prompt due so far has gone out (at least once)...
            await until(
                lambda: (
                    not db_rows(
                        db, "SELECT id FROM questionnaires WHERE status = 'scheduled' AND due_at <= ?", (db_now(),)
                    )
                ),
                "the prompts",
            )

            async def one(family: Family) -> None:
                seen: set[int] = set()
                while True:
                    todo = [q for q in await open_questionnaires(db, family.user_id) if q not in seen]
                    if not todo:
                        return
                    for qid in todo:
                        await finish(sim, db, family, qid)
                        seen.add(qid)

            await asyncio.gather(*(one(f) for f in families))

        round_took = 3.0  # seconds, the last round's: kills fall anywhere in a round

        async def kill_round() -> None:
            nonlocal round_took
            began = time.monotonic()

            async def kill_at_random() -> None:
                await asyncio.sleep(rng.uniform(0.05, round_took))
                await restart(await kill())

            killer = asyncio.create_task(kill_at_random())
            for label in cases:
                await meeting(label)
            await answer_everything()
            await killer
            round_took = max(1.0, time.monotonic() - began)

        async def downtime_round() -> None:
            nonlocal caught_up
            due = next_whole_minute(margin=8)
            known = {q for (q,) in db_rows(db, "SELECT id FROM questionnaires")}
            for label in cases:
                await meeting(label, f"{due:%d.%m.%Y %H:%M}")
            planned = [q for (q,) in db_rows(db, "SELECT id FROM questionnaires") if q not in known]
            left = await kill()
            waiting = db_rows(
                db,
                "SELECT o.status, o.due_at > ? FROM questionnaires q "
                "JOIN outbox o ON o.dedupe_key = 'q:' || q.id || ':prompt' "
                f"WHERE q.id IN ({','.join('?' * len(planned))})",
                (db_now(), *planned),
            )
            assert waiting == [("pending", 1)] * len(planned), waiting  # not yet due at the kill
            # A command while the bot is down, answered after the restart.
            before = held("K1")
            await sim.send(worker, "/moede K1")
            commands["K1"] += 1
            await asyncio.sleep(max(0.0, (due - datetime.now(TZ)).total_seconds()) + 1.0)
            await restart(left)
            if rng.random() < 0.5:  # killed again while catching up
                await asyncio.sleep(rng.uniform(0.0, 0.5))
                await restart(await kill())
            await until(lambda: held("K1") > before, "the command sent while the bot was down (lost?)")
            # The prompts go out by themselves: nobody has pressed anything.
            marks = ",".join("?" * len(planned))
            await until(
                lambda: (
                    not db_rows(
                        db,
                        f"SELECT id FROM questionnaires WHERE status = 'scheduled' AND id IN ({marks})",
                        tuple(planned),
                    )
                ),
                "the prompts due while the bot was down",
            )
            sent = db_rows(db, f"SELECT sent_at FROM questionnaires WHERE id IN ({marks})", tuple(planned))
            assert all(at >= to_db_time(due) for (at,) in sent), (sent, due)
            caught_up += len(planned)
            await answer_everything()

        # --- rounds: meetings, answers, and a kill -9 somewhere in each -----------------------------------
        last_downtime = -DOWNTIME_EVERY + 1  # the first downtime round is wanted from round 2 on
        downtimes = 0
        for n in range(ROUNDS):
            # A downtime round waits for the wall clock to reach a whole minute; it goes where that wait is short.
            wait = (next_whole_minute(margin=8) - datetime.now(TZ)).total_seconds()
            if n - last_downtime >= DOWNTIME_EVERY and wait <= 25:
                await downtime_round()
                last_downtime, downtimes = n, downtimes + 1
            else:
                await kill_round()
        if downtimes == 0:
            await downtime_round()
            downtimes += 1

        # --- SIGTERM mid-traffic: a clean exit, nothing in flight --------------------------------------------
        for label in cases:
            await meeting(label)
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        children = bot.descendants()
        code, took = await bot.terminate()
        assert code == 0, bot.log()[-3000:]
        assert took < 10, f"SIGTERM took {took:.1f} s"
        assert "Traceback" not in bot.log(), bot.log()[-3000:]
        await until(lambda: not running(children), "the bot's child processes to end", timeout=CHILDREN_GRACE)
        sending = db_rows(db, "SELECT COUNT(*) FROM outbox WHERE status = 'sending'")[0][0]
        assert sending == 0, "SIGTERM left sends in flight"
        await restart(0)
        await answer_everything()
        # The caseworker's side drains: every summary and alert post goes out.
        await until(
            lambda: (
                not db_rows(
                    db, "SELECT id FROM outbox WHERE kind IN ('summary', 'alert') AND status IN ('pending', 'sending')"
                )
            ),
            "the caseworker's summaries and alerts",
        )
        code, out, err = await w.cli("status")
        assert code == 0, out + err
        assert "health:               ok" in out

        # --- what was promised -------------------------------------------------------------------------
        # No command lost, none applied twice.
        assert {label: held(label) for label in cases} == dict(commands)
        # Acknowledged answers are stored.
        stored = {(q, p): v for q, p, v in db_rows(db, "SELECT questionnaire_id, position, value FROM answers")}
        for family in families:
            for key in family.acknowledged:
                assert key in stored, f"{family.name}: acknowledged answer {key} is not in the database"
                assert stored[key] == family.answers[key] * 10, (family.name, key)
        statuses = Counter(s for (s,) in db_rows(db, "SELECT status FROM questionnaires"))
        assert set(statuses) == {"completed"}, statuses
        questionnaires = {q for (q,) in db_rows(db, "SELECT id FROM questionnaires")}
        # Prompts: each delivered; a second copy only where its row was in flight at a kill.
        prompt_row = {
            int(key.split(":")[1]): row
            for row, key in db_rows(db, "SELECT id, dedupe_key FROM outbox WHERE kind = 'prompt'")
        }
        copies: Counter[int] = Counter()
        for family in families:
            for message in await sim.messages(family.user_id):
                if PROMPT_LINE in message["first_text"]:
                    (data,) = [d for d in message["first_button_data"] if d.startswith("qs:")]
                    copies[int(data.split(":")[1])] += 1
        assert set(copies) == questionnaires  # every prompt delivered at least once
        for qid, n in copies.items():
            allowed = 1 + in_flight[prompt_row[qid]]
            assert n <= allowed, f"questionnaire {qid}: {n} prompts, its row in flight at {allowed - 1} kill(s)"
        duplicates = sum(n - 1 for n in copies.values())
        # The caseworker's side: a summary for every questionnaire, an alert post for every one a rule fired for.
        posts = {
            key: (row, status, outcome, json.loads(payload))
            for row, key, status, outcome, payload in db_rows(
                db, "SELECT id, dedupe_key, status, outcome, payload FROM outbox WHERE kind IN ('summary', 'alert')"
            )
        }
        assert all(status == "done" for _row, status, _o, _p in posts.values()), posts
        cw = db_rows(db, "SELECT id FROM caseworkers")[0][0]
        for qid in questionnaires:
            _row, _status, outcome, _payload = posts[f"cw:{cw}:summary:{qid}"]
            assert outcome == "sent" or outcome.startswith("combined"), (qid, outcome)
        alerted = {
            q for (q,) in db_rows(db, "SELECT DISTINCT questionnaire_id FROM alerts WHERE severity != 'positive'")
        }
        inbox = await sim.messages(worker)
        for qid in alerted:
            row, _status, outcome, payload = posts[f"cw:{cw}:alerts:q{qid}"]
            assert outcome == "sent", (qid, outcome)
            shown = sum(1 for m in inbox if f"ack:{payload['alert_ids'][0]}" in m["first_button_data"])
            assert 1 <= shown <= 1 + in_flight[row], (qid, shown)
        summaries = sum(m["first_text"].count(SUMMARY_LINE) for m in inbox)
        resent = sum(in_flight[row] for key, (row, *_rest) in posts.items() if ":summary:" in key)
        assert len(questionnaires) <= summaries <= len(questionnaires) + resent, (
            summaries,
            len(questionnaires),
            resent,
        )
        acknowledged = sum(len(f.acknowledged) for f in families)
        assert acknowledged >= 8 * len(questionnaires) * 0.9  # nearly every answer was seen acknowledged
        assert kills_with_children >= 1  # the child-process check was not vacuous
        assert caught_up >= 1
        reported = sum(int(m.group(1)) for run in range(1, bot.runs + 1) for m in IN_FLIGHT.finditer(bot.log(run)))
        stats = await sim.call("stats")
        print(
            f"\nkill test: {ROUNDS} rounds ({downtimes} with downtime), {kills} kill -9 ({kills_with_children} with"
            f" child processes), {bot.runs} bot runs, {len(questionnaires)} questionnaires ({caught_up} caught up"
            f" after downtime), {acknowledged} acknowledged answers, {sum(f.presses for f in families)} presses"
            f" (none repeated), prompts sent again: {duplicates} (sends in flight at a kill: {reported}),"
            f" {len(alerted)} alert posts, {summaries} summaries, requests refused by the emulator:"
            f" {stats['rejected']}, SIGTERM exit in {took:.2f} s, {time.monotonic() - started_at:.1f} s in all"
        )
        code, _took = await bot.terminate()
        assert code == 0
