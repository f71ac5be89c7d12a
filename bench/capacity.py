"""Benchmark 1. Answers in, capacity: people pressing answer buttons in a closed loop.

Each person presses again as soon as the next item appears; 1, 100 and 1,000 people at once. The same
load runs, within one run, against the bare PTB bot and against FIT-bot (`fitbot run`, its rate limits
raised to the configuration's maxima because the bare bot has none; the emulator's flood limits off).
Every person has a pool of prompted questionnaires (one case each; three in five cases with 2-6 earlier
answered meetings) and works through them: "start", eight answers (no alert-raising values), and on to
the next. Completing one also queues the caseworker's summary (channels, 20 caseworkers) and, with a
course of three or more, sends the family its own chart, as in production.
"""

from __future__ import annotations

import math
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bots import fitbot_env, start_bare, start_fitbot
from bench.drive import Answerer, closed_loop, start_emulator
from bench.proc import CpuWindow
from bench.profile import Sampler
from bench.seed import course, prompted_families
from bench.stats import latency_summary

CASEWORKERS = 20


@dataclass(frozen=True)
class Settings:
    people: tuple[int, ...]
    ramp: float
    window: float
    max_rate: float  # presses/s the pool is sized for (a person who runs out of work stops)


FULL = Settings(people=(1, 100, 1000), ramp=3.0, window=15.0, max_rate=900.0)
QUICK = Settings(people=(1, 20, 100), ramp=1.0, window=3.0, max_rate=900.0)


def pool_per_person(settings: Settings, people: int) -> int:
    presses = settings.max_rate * (settings.ramp + settings.window) * 1.2
    return max(2, math.ceil(presses / 9 / people))


async def one(kind: str, people: int, settings: Settings, seed: int, profile: Path | None = None) -> dict[str, Any]:
    """One measurement: `kind` is "bare" or "fitbot"; with `profile`, py-spy samples the bot's window."""
    rng = random.Random(seed)
    per_person = pool_per_person(settings, people)
    with tempfile.TemporaryDirectory(prefix="fitbot-bench-") as tmp:
        workdir = Path(tmp)
        emulator = await start_emulator(flood=False)
        try:
            env = fitbot_env(emulator, workdir / "fitbot.sqlite3", raised=True)
            town = await prompted_families(
                emulator, people, per_person, CASEWORKERS, env if kind == "fitbot" else None, rng, history=course
            )
            bot = (
                await start_fitbot(emulator, workdir, env) if kind == "fitbot" else await start_bare(emulator, workdir)
            )
            try:
                answerers = [Answerer(u, town.work[u.id], random.Random(rng.random())) for u in town.users]
                cpu = CpuWindow(bot.pid)
                sampler = Sampler(bot.pid, settings.window, profile, ramp=settings.ramp) if profile else None
                if sampler:
                    await sampler.start()
                result = await closed_loop(emulator, answerers, ramp=settings.ramp, window=settings.window, cpu=cpu)
                if sampler:
                    await sampler.wait()
            finally:
                exit_ = await bot.stop()
            rejected = [(r.method, r.description) for r in emulator.rejected]
        finally:
            await emulator.stop()
    latencies = result.pop("latencies")
    return {
        "kind": kind,
        "people": people,
        "presses_per_s": result["presses"] / result["window_s"],
        **latency_summary(latencies),
        **cpu.as_dict(),
        **{k: v for k, v in result.items() if k != "started"},
        "bot_peak_mb": exit_.maxrss_mb,
        "chart_worker_peak_mb": exit_.children_peak_mb,
        "bot_children": exit_.children,
        "bot_exit": exit_.returncode,
        "rejected": rejected,
    }


def check(result: dict[str, Any]) -> list[str]:
    """What a completed run must show (quick mode asserts these; never a time)."""
    problems = []
    if result["presses"] <= 0:
        problems.append(f"{result['kind']} x{result['people']}: no press answered in the window")
    if result["out_of_work"]:
        problems.append(
            f"{result['kind']} x{result['people']}: {result['out_of_work']} people ran out of questionnaires"
        )
    if result["rejected"]:
        problems.append(f"{result['kind']} x{result['people']}: emulator rejected {result['rejected'][:3]}")
    if result["stale_edits"]:
        problems.append(f"{result['kind']} x{result['people']}: {result['stale_edits']} edits answered no press")
    if result["bot_exit"] != 0:
        problems.append(f"{result['kind']} x{result['people']}: bot exited with {result['bot_exit']}")
    return problems
