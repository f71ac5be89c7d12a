"""Benchmark 3. Prompts out: 10,000 prompts to 10,000 families falling due at once.

The municipality is seeded through the Repository and `services.cases.log_meeting` (one meeting per
case, no prompt delay), so every prompt is an outbox row due when the bot starts. FIT-bot runs with its
production limits against the emulator's Telegram-like flood limits. Meanwhile other families, whose
prompts came earlier, answer at a human pace: their press -> edit times show whether interactive replies
queue behind the bulk send.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bots import config_of, fitbot_env, start_fitbot
from bench.drive import EventRouter, start_emulator
from bench.human import Human, Pace, answer_all
from bench.proc import CpuWindow
from bench.seed import course, prompted_families, seed_prompt_burst
from bench.stats import latency_summary, median
from bot.sandbox.emulator import WorldEvent

TELEGRAM_RATE = 30.0
CASES_PER_CASEWORKER = 60


@dataclass(frozen=True)
class Settings:
    prompts: int
    answering: int  # families answering during the burst
    pace: Pace


FULL = Settings(prompts=10_000, answering=50, pace=Pace(pause_share=0.0))
QUICK = Settings(prompts=300, answering=10, pace=Pace(pause_share=0.0, scale=0.5))


def _prompt_in(event: WorldEvent) -> bool:
    message = event.message
    return (
        event.kind == "sent"
        and message is not None
        and any(b.get("callback_data", "").startswith("qs:") for b in message.buttons)
    )


async def one(settings: Settings, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="fitbot-bench-") as tmp:
        workdir = Path(tmp)
        db_path = workdir / "fitbot.sqlite3"
        emulator = await start_emulator(flood=True)
        try:
            env = fitbot_env(emulator, db_path)
            # The answering families first (their prompts came before the burst)...
            town = await prompted_families(emulator, settings.answering, 1, 20, env, rng, history=course)
            # ...then the burst's families, one case each, 60 cases per caseworker.
            families = [emulator.family(f"Burst {i}") for i in range(settings.prompts)]
            workers = [emulator.family(f"Team {i}") for i in range(-(-settings.prompts // CASES_PER_CASEWORKER))]
            seeded_at = time.perf_counter()
            queued = await seed_prompt_burst(
                db_path, config_of(env), [(w.id, None) for w in workers], [u.id for u in families]
            )
            seed_s = time.perf_counter() - seeded_at
            burst_chats = {u.id for u in families}
            prompt_times: list[float] = []
            per_chat: Counter[int] = Counter()
            all_messages: list[float] = []

            def on_event(event: WorldEvent, now: float) -> None:
                if event.kind in ("sent", "edited"):
                    all_messages.append(now)
                if _prompt_in(event) and event.message is not None and event.message.chat.id in burst_chats:
                    prompt_times.append(now)
                    per_chat[event.message.chat.id] += 1

            router = EventRouter(emulator)
            router.other.append(on_event)
            bot = await start_fitbot(emulator, workdir, env)
            try:
                cpu = CpuWindow(bot.pid).start()
                expected = settings.prompts / TELEGRAM_RATE
                await emulator.wait_until(lambda: bool(prompt_times), timeout=60)
                humans = [Human(emulator, u, *town.work[u.id][0], random.Random(rng.random())) for u in town.users]
                pace = Pace(**{**settings.pace.__dict__, "start_within": expected * 0.8 / settings.pace.scale})
                answering = asyncio.create_task(answer_all(emulator, humans, pace))
                # Until every prompt is out, or nothing more arrives for 30 s (a lost one).
                last_count, last_change = 0, time.perf_counter()
                while len(prompt_times) < settings.prompts and time.perf_counter() - last_change < 30:
                    await asyncio.sleep(0.5)
                    if len(prompt_times) != last_count:
                        last_count, last_change = len(prompt_times), time.perf_counter()
                outcome = await answering
                cpu.stop()
                await asyncio.sleep(1.0)  # a duplicate would show up here
            finally:
                router.close()
                exit_ = await bot.stop()
            rejected = [(r.method, r.description) for r in emulator.rejected]
            served_429 = emulator.status_counts[429]
        finally:
            await emulator.stop()
        with sqlite3.connect(db_path) as db:
            outbox = dict(
                db.execute("SELECT status, COUNT(*) FROM outbox WHERE kind = 'prompt' GROUP BY status").fetchall()
            )
    first, last = (min(prompt_times), max(prompt_times)) if prompt_times else (0.0, 0.0)
    span = last - first
    burst_messages = [t for t in all_messages if first <= t <= last]
    # Rate in each full 10-second stretch of the burst (the first 30 go at once: Telegram's burst allowance).
    windows = [
        sum(1 for t in prompt_times if first + k * 10 <= t < first + (k + 1) * 10) / 10 for k in range(int(span // 10))
    ]
    presses = [lat for _at, lat in outcome.presses.samples] + [lat for _at, lat in outcome.typed.samples]
    return {
        "prompts": settings.prompts,
        "queued": queued,
        "seed_s": seed_s,
        "delivered": len(per_chat),
        "lost": settings.prompts - len(per_chat),
        "duplicated": sum(n - 1 for n in per_chat.values() if n > 1),
        "burst_s": span,
        "prompt_rate": (len(prompt_times) - 1) / span if span else float("nan"),
        "prompt_rate_10s_median": median(windows),
        "all_message_rate": (len(burst_messages) - 1) / span if span else float("nan"),
        "served_429": served_429,
        "answering_families": settings.answering,
        "answers_finished": outcome.finished,
        "answer_timeouts": outcome.timeouts,
        **latency_summary(presses),
        "outbox": outbox,
        "rejected": rejected,
        **cpu.as_dict(),
        "bot_peak_mb": exit_.maxrss_mb,
        "chart_worker_peak_mb": exit_.children_peak_mb,
        "bot_children": exit_.children,
        "bot_exit": exit_.returncode,
    }


def check(result: dict[str, Any]) -> list[str]:
    problems = []
    if result["queued"] != result["prompts"]:
        problems.append(f"prompt burst: {result['queued']} prompts queued, expected {result['prompts']}")
    if result["lost"] or result["duplicated"]:
        problems.append(f"prompt burst: {result['lost']} lost, {result['duplicated']} duplicated")
    if result["outbox"].get("done", 0) != result["prompts"]:
        problems.append(f"prompt burst: outbox prompt rows {result['outbox']}")
    if result["answers_finished"] != result["answering_families"] or result["answer_timeouts"]:
        problems.append(
            f"prompt burst: {result['answers_finished']} of {result['answering_families']} answering families finished"
        )
    if result["rejected"]:
        problems.append(f"prompt burst: emulator rejected {result['rejected'][:3]}")
    if result["bot_exit"] != 0:
        problems.append(f"prompt burst: bot exited with {result['bot_exit']}")
    return problems
