"""Benchmark 2. Answers in, at a human pace: 100 and 500 families answering at once.

Each family member has a prompt delivered and answers the whole questionnaire as people do (see
bench.human: a press every 2-6 s, a tenth pausing once for 1-2 minutes, a fifth typing their answers
from some item on). FIT-bot runs with its production limits against the emulator's Telegram-like flood
limits; 500 families are also run with the limits raised (as in benchmark 1), which shows the bot's own
latency apart from Telegram's 30 messages/s.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bots import fitbot_env, start_fitbot
from bench.drive import start_emulator
from bench.human import Human, Pace, answer_all
from bench.proc import CpuWindow
from bench.seed import course, prompted_families
from bench.stats import latency_summary

CASEWORKERS = 20


@dataclass(frozen=True)
class Case:
    families: int
    limits: str  # "telegram": production limits, emulator flood limits on; "raised": both off/raised
    pace: Pace | None = None  # else the settings' pace


@dataclass(frozen=True)
class Settings:
    cases: tuple[Case, ...]
    pace: Pace


FULL = Settings(
    cases=(Case(100, "telegram"), Case(500, "telegram"), Case(500, "raised")),
    pace=Pace(),
)
# Quick: time compressed and fewer families. With Telegram's limits only by half (a press every 1-3 s):
# faster would break Telegram's one message a second per chat, which a person never does. With the limits
# raised, a tenth (a press every 0.2-0.6 s): 50 quick families load the bot like 500 real ones.
QUICK = Settings(
    cases=(
        Case(10, "telegram", Pace(scale=0.5, start_within=6.0, pause=(10.0, 20.0))),
        Case(50, "raised", Pace(scale=0.1)),
    ),
    pace=Pace(scale=0.1),
)


async def one(case: Case, settings: Settings, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    raised = case.limits == "raised"
    with tempfile.TemporaryDirectory(prefix="fitbot-bench-") as tmp:
        workdir = Path(tmp)
        emulator = await start_emulator(flood=not raised)
        try:
            env = fitbot_env(emulator, workdir / "fitbot.sqlite3", raised=raised)
            town = await prompted_families(emulator, case.families, 1, CASEWORKERS, env, rng, history=course)
            bot = await start_fitbot(emulator, workdir, env)
            try:
                humans = [Human(emulator, u, *town.work[u.id][0], random.Random(rng.random())) for u in town.users]
                cpu = CpuWindow(bot.pid).start()
                outcome = await answer_all(emulator, humans, case.pace or settings.pace)
                cpu.stop()
            finally:
                exit_ = await bot.stop()
            rejected = [(r.method, r.description) for r in emulator.rejected]
            served_429 = emulator.status_counts[429]
            statuses = {str(k): v for k, v in emulator.status_counts.items()}
        finally:
            await emulator.stop()
    presses = [lat for _at, lat in outcome.presses.samples]
    typed = [lat for _at, lat in outcome.typed.samples]
    return {
        "families": case.families,
        "limits": case.limits,
        **latency_summary(presses),
        **latency_summary(typed, "typed_"),
        **latency_summary(presses + typed, "all_"),
        "finished": outcome.finished,
        "timeouts": outcome.timeouts,
        "served_429": served_429,
        "statuses": statuses,
        "rejected": rejected,
        **cpu.as_dict(),
        "bot_peak_mb": exit_.maxrss_mb,
        "chart_worker_peak_mb": exit_.children_peak_mb,
        "bot_children": exit_.children,
        "bot_exit": exit_.returncode,
    }


def check(result: dict[str, Any]) -> list[str]:
    name = f"{result['families']} families ({result['limits']})"
    problems = []
    if result["finished"] != result["families"]:
        problems.append(f"{name}: {result['finished']} of {result['families']} finished")
    if result["timeouts"]:
        problems.append(f"{name}: {result['timeouts']} actions got no answer")
    if result["n"] != result["families"] * 9 - result["typed_n"]:
        problems.append(f"{name}: {result['n']} presses + {result['typed_n']} typed, expected 9 per family")
    if result["rejected"]:
        problems.append(f"{name}: emulator rejected {result['rejected'][:3]}")
    if result["bot_exit"] != 0:
        problems.append(f"{name}: bot exited with {result['bot_exit']}")
    return problems
