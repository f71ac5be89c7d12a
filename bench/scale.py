"""Benchmark 5. Scale: a municipality of 10,000 and of 100,000 cases (about 100,000 and 1,000,000
answers) in SQLite. The database is built with executemany (bench.municipality); the bot under test
(bench.scale_probe, FIT-bot as `fitbot run` builds it, polling the emulator) times the due query, /sager
for a caseworker with 60 cases, a digest and a team report, and reports its peak memory.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bots import ROOT, fitbot_env
from bench.drive import start_emulator
from bench.proc import BotProcess, python


@dataclass(frozen=True)
class Settings:
    sizes: tuple[int, ...]  # cases
    reps: int


FULL = Settings(sizes=(10_000, 100_000), reps=10)
QUICK = Settings(sizes=(2_000,), reps=3)


def db_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file()) / 1e6


async def one(cases: int, settings: Settings, workdir: Path) -> dict[str, Any]:
    path = workdir / f"town-{cases}.sqlite3"
    builder = await asyncio.create_subprocess_exec(
        python(),
        "-m",
        "bench.municipality",
        "--cases",
        str(cases),
        "--out",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    stdout, _ = await builder.communicate()
    if builder.returncode != 0:
        raise RuntimeError(f"building the municipality failed ({builder.returncode})")
    built = json.loads(stdout)
    size_before = db_size_mb(path)
    emulator = await start_emulator(flood=False)
    try:
        out = workdir / f"probe-{cases}.json"
        env = fitbot_env(emulator, path, PYTHONPATH=str(ROOT))
        argv = [
            python(),
            "-m",
            "bench.scale_probe",
            "--out",
            str(out),
            "--caseworker",
            str(built["caseworker_id"]),
            "--leader",
            str(built["leader_id"]),
            "--reps",
            str(settings.reps),
        ]
        proc = BotProcess(argv, env, workdir, workdir / f"probe-{cases}.log").start()
        exit_ = await proc.wait()
        if exit_.returncode != 0 or not out.exists():
            raise RuntimeError(f"scale probe failed ({exit_.returncode}):\n{proc.tail()}")
        probe = json.loads(out.read_text())
    finally:
        await emulator.stop()
    return {
        "cases": cases,
        "counts": built["counts"],
        "build_s": built["build_s"],
        "db_mb": size_before,
        "db_mb_after": db_size_mb(path),
        **probe,
        "bot_peak_mb": exit_.maxrss_mb,
    }


async def run(settings: Settings) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="fitbot-bench-") as tmp:
        return [await one(cases, settings, Path(tmp)) for cases in settings.sizes]


def check(result: dict[str, Any]) -> list[str]:
    name = f"scale {result['cases']}"
    problems = []
    if result["counts"]["cases"] != result["cases"]:
        problems.append(f"{name}: {result['counts']['cases']} cases built")
    if result["overview_cases"] != 60:
        problems.append(f"{name}: /sager showed {result['overview_cases']} cases, expected 60")
    batch = min(64, result["counts"]["outbox_pending"])
    if result["due_query_idle"]["rows"] != 0 or result["due_query_batch"]["rows"] < batch:
        problems.append(
            f"{name}: due query found {result['due_query_idle']['rows']} / {result['due_query_batch']['rows']}"
        )
    if result["team_caseworkers"] < 1:
        problems.append(f"{name}: team report without caseworkers")
    return problems
