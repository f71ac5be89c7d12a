"""Starting the bots under test in processes of their own, pointed at the emulator."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.drive import BenchEmulator, wait_polling
from bench.proc import BotProcess, fitbot_argv, python
from bot import config as config_module
from bot.config import Config

ROOT = Path(__file__).resolve().parents[1]

# FIT-bot's limits for what the bare bot also sends (edits and messages to people) raised to the
# configuration's maxima: the bare bot has no limiter at all. The per-channel limit stays at Telegram's
# 20/minute: the bare bot posts nothing to channels, and FIT-bot's caseworker posts obey the real limit.
RAISED = {
    "FITBOT_DELIVERY_GLOBAL_PER_SECOND": "1000",
    "FITBOT_DELIVERY_PRIVATE_PER_SECOND": "100",
}


def fitbot_env(emulator: BenchEmulator, db_path: Path, *, raised: bool = False, **extra: str) -> dict[str, str]:
    """`fitbot run`'s configuration, all from the environment (as the README's systemd unit does)."""
    env = {
        "FITBOT_TELEGRAM_TOKEN": emulator.token,
        "FITBOT_TELEGRAM_BASE_URL": emulator.base_url,
        "FITBOT_TELEGRAM_BASE_FILE_URL": emulator.base_file_url,
        "FITBOT_DATABASE_PATH": str(db_path),
        # No quiet hours and no prompt delay, so a benchmark does not depend on the hour it runs at.
        "FITBOT_SCHEDULE_QUIET_START": "00:00",
        "FITBOT_SCHEDULE_QUIET_END": "00:00",
        "FITBOT_SCHEDULE_PROMPT_DELAY_MINUTES": "0",
    }
    if raised:
        env.update(RAISED)
    env.update(extra)
    return env


def config_of(env: dict[str, str]) -> Config:
    return config_module.load(None, env=env)


async def start_fitbot(emulator: BenchEmulator, workdir: Path, env: dict[str, str], name: str = "fitbot") -> BotProcess:
    """`fitbot run` in its own process; returns once it polls (its first getUpdates)."""
    emulator.first_get_updates = None
    # For experiments: FITBENCH_BOT_ARGV runs another command line instead (FITBENCH_* reach it too).
    argv = os.environ["FITBENCH_BOT_ARGV"].split() if os.environ.get("FITBENCH_BOT_ARGV") else fitbot_argv()
    extra = {k: v for k, v in os.environ.items() if k.startswith("FITBENCH_")}
    proc = BotProcess(argv, {**env, **extra}, workdir, workdir / f"{name}.log").start()
    await _until_polling(emulator, proc)
    return proc


async def start_bare(emulator: BenchEmulator, workdir: Path) -> BotProcess:
    emulator.first_get_updates = None
    argv = [
        python(),
        "-m",
        "bench.bare_bot",
        "--base-url",
        emulator.base_url,
        "--base-file-url",
        emulator.base_file_url,
        "--token",
        emulator.token,
    ]
    proc = BotProcess(argv, {"PYTHONPATH": str(ROOT)}, workdir, workdir / "bare.log")
    proc.start()
    await _until_polling(emulator, proc)
    return proc


async def _until_polling(emulator: BenchEmulator, proc: BotProcess) -> float:
    started = time.perf_counter()
    try:
        polled = await wait_polling(emulator, timeout=120)
    except TimeoutError:
        raise RuntimeError(f"the bot did not start polling:\n{proc.tail()}") from None
    if not proc.alive():
        raise RuntimeError(f"the bot exited:\n{proc.tail()}")
    return polled - started
