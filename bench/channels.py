"""Benchmark 4. Channel bursts: 500 answers spread over 20 caseworker channels within one minute.

Each family has answered seven items already (seeded); in the benchmark each presses the eighth at a
random moment of the minute, which completes the questionnaire: a summary for the caseworker's channel
and, for about a third of them, alerts (a low SRS item: the alliance may be at risk; a very low ORS item).
Production limits against the emulator's flood limits (20 messages a minute per channel). Measured: the
time until every summary and alert is in its channel, 429s, and alerts dropped (alerts raised in the
database that never reached a channel).
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bots import fitbot_env, start_fitbot
from bench.drive import EventRouter, Latencies, item_position, start_emulator
from bench.proc import CpuWindow
from bench.seed import prompted_families
from bench.stats import latency_summary
from bot.sandbox.emulator import SentMessage, WorldEvent

CASEWORKERS = 20


@dataclass(frozen=True)
class Settings:
    answers: int
    spread: float  # seconds over which the answers arrive


FULL = Settings(answers=500, spread=60.0)
QUICK = Settings(answers=60, spread=10.0)


def seeded_answers(n: int) -> tuple[int | None, ...]:
    """Items 1-7 (tenths). Every third family rates an SRS item 7 (alliance alert); every tenth rates an
    ORS item 2 (very low item alert)."""
    ors = [20 if n % 10 == 0 else 60, 70, 60, 50]
    srs = [100, 70 if n % 3 == 0 else 90, 100]
    return (*ors, *srs)


def item_keyboard(qid: int, position: int) -> dict[str, Any]:
    numbers = [{"text": str(v), "callback_data": f"q:{qid}:{position}:{v}"} for v in range(11)]
    return {
        "inline_keyboard": [
            numbers[:6],
            numbers[6:],
            [{"text": "Spring over", "callback_data": f"q:{qid}:{position}:s"}],
        ]
    }


def _is_alert(message: SentMessage) -> bool:
    """An alert post carries the "seen / handled" button (ack:<alert id>)."""
    return any(b.get("callback_data", "").startswith("ack:") for b in message.buttons)


async def one(settings: Settings, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="fitbot-bench-") as tmp:
        workdir = Path(tmp)
        db_path = workdir / "fitbot.sqlite3"
        emulator = await start_emulator(flood=True)
        try:
            env = fitbot_env(emulator, db_path)
            town = await prompted_families(emulator, settings.answers, 1, CASEWORKERS, env, rng, answers=seeded_answers)
            for user in town.users:
                qid, message = town.work[user.id][0]
                message.text = "Spørgsmål 8 af 8 · Hvordan mødet var"
                message.reply_markup = item_keyboard(qid, 7)
            channel_ids = {c.id for _w, c in town.caseworkers}
            channel_posts: list[float] = []
            alert_posts = 0
            latencies = Latencies()
            pressed: dict[int, float] = {}

            def on_event(event: WorldEvent, now: float) -> None:
                nonlocal alert_posts
                message = event.message
                if message is None:
                    return
                if event.kind == "sent" and message.chat.id in channel_ids:
                    channel_posts.append(now)
                    alert_posts += _is_alert(message)
                elif event.kind == "edited" and message.chat.id in pressed and item_position(message, 0) is None:
                    latencies.add(now, now - pressed.pop(message.chat.id))

            router = EventRouter(emulator)
            router.other.append(on_event)
            bot = await start_fitbot(emulator, workdir, env)
            try:
                cpu = CpuWindow(bot.pid).start()
                moments = sorted((rng.uniform(0, settings.spread), u) for u in town.users)
                started = time.perf_counter()
                for at, user in moments:
                    await asyncio.sleep(max(0.0, started + at - time.perf_counter()))
                    qid, message = town.work[user.id][0]
                    pressed[user.id] = time.perf_counter()
                    emulator.press(user, message, f"q:{qid}:7:{rng.choice((9, 10))}")
                last_answer = time.perf_counter()
                # Until the outbox holds no summary or alert still to send (read beside the running bot: WAL).
                deadline = time.perf_counter() + 600
                while time.perf_counter() < deadline:
                    await asyncio.sleep(0.5)
                    if _outstanding(db_path) == 0 and not pressed:
                        break
                cpu.stop()
            finally:
                router.close()
                exit_ = await bot.stop()
            rejected = [(r.method, r.description) for r in emulator.rejected]
            served_429 = emulator.status_counts[429]
        finally:
            await emulator.stop()
        with sqlite3.connect(db_path) as db:
            raised = {r[0] for r in db.execute("SELECT id FROM alerts WHERE severity <> 'positive'")}
            summaries = dict(
                db.execute("SELECT status, COUNT(*) FROM outbox WHERE kind = 'summary' GROUP BY status").fetchall()
            )
            completed = db.execute("SELECT COUNT(*) FROM questionnaires WHERE status = 'completed'").fetchone()[0]
            alert_rows = db.execute("SELECT status, outcome, payload FROM outbox WHERE kind = 'alert'").fetchall()
        # An alert row names one alert ("alert_id") or all of one questionnaire's ("alert_ids").
        sent_ids: set[int] = set()
        sent_rows = 0
        for status, outcome, payload in alert_rows:
            data = json.loads(payload)
            ids = data.get("alert_ids") or [data.get("alert_id")]
            if status == "done" and outcome == "sent":
                sent_rows += 1
                sent_ids.update(int(i) for i in ids if i is not None)
    delivered_at = max(channel_posts) if channel_posts else float("nan")
    return {
        "answers": settings.answers,
        "completed": completed,
        "channels": CASEWORKERS,
        "channel_posts": len(channel_posts),
        "summaries": summaries,
        "alerts_raised": len(raised),
        "alerts_delivered": len(raised & sent_ids),
        "alerts_dropped": len(raised - sent_ids),
        "alert_posts": alert_posts,
        "alert_rows_sent": sent_rows,
        "all_delivered_s": delivered_at - started,
        "post_times_s": [round(t - started, 2) for t in sorted(channel_posts)],
        "after_last_answer_s": delivered_at - last_answer,
        "served_429": served_429,
        **latency_summary([lat for _at, lat in latencies.samples]),
        "rejected": rejected,
        **cpu.as_dict(),
        "bot_peak_mb": exit_.maxrss_mb,
        "chart_worker_peak_mb": exit_.children_peak_mb,
        "bot_children": exit_.children,
        "bot_exit": exit_.returncode,
    }


def _outstanding(db_path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute(
                "SELECT COUNT(*) FROM outbox WHERE kind IN ('summary', 'alert') AND status IN ('pending', 'sending')"
            ).fetchone()
    except sqlite3.OperationalError:
        return -1
    return int(row[0])


def check(result: dict[str, Any]) -> list[str]:
    problems = []
    if result["completed"] != result["answers"]:
        problems.append(f"channel burst: {result['completed']} of {result['answers']} questionnaires completed")
    if result["summaries"].get("done", 0) != result["answers"]:
        problems.append(f"channel burst: summary rows {result['summaries']}, expected {result['answers']} done")
    if result["alerts_dropped"] or not result["alerts_raised"]:
        problems.append(f"channel burst: {result['alerts_dropped']} of {result['alerts_raised']} alerts not delivered")
    if result["alert_posts"] != result["alert_rows_sent"]:
        problems.append(
            f"channel burst: {result['alert_posts']} alert posts seen, {result['alert_rows_sent']} alert rows sent"
        )
    if result["n"] != result["answers"]:
        problems.append(f"channel burst: {result['n']} of {result['answers']} presses answered")
    if result["rejected"]:
        problems.append(f"channel burst: emulator rejected {result['rejected'][:3]}")
    if result["bot_exit"] != 0:
        problems.append(f"channel burst: bot exited with {result['bot_exit']}")
    return problems
