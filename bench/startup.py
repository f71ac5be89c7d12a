"""Benchmark 6. Start-up and charts.

Start-up: from spawning `fitbot run` to the first getUpdates the emulator sees (a new database, which the
start migrates, and the same database again). Charts: one trend chart (bot/charts.py) rendered in a fresh
process: the first (which imports matplotlib) and the warm median.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bots import ROOT, fitbot_env, start_fitbot
from bench.drive import start_emulator
from bench.proc import python


@dataclass(frozen=True)
class Settings:
    starts: int
    renders: int


FULL = Settings(starts=5, renders=30)
QUICK = Settings(starts=2, renders=5)

CHART_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from bot.charts import ChartPoint, ChartText, render_trend_chart
points = [ChartPoint(f"{d}.11.", 180 + 15 * i, 330 + 8 * i) for i, d in enumerate(range(3, 27, 3))]
text = ChartText("Sag A12", "Hvordan det går", "Hvordan møderne var", "Pejlemærke", "Pejlemærke", "Point")
times = []
for _ in range(int(sys.argv[1]) + 1):
    t = time.perf_counter()
    png = render_trend_chart(points, cutoff=250, srs_threshold=360, text=text)
    times.append(time.perf_counter() - t)
print(json.dumps({"first_s": times[0], "warm": times[1:], "png_bytes": len(png), "points": len(points),
                  "process_s": time.perf_counter() - t0}))
"""


async def startup(settings: Settings) -> dict[str, Any]:
    times: dict[str, list[float]] = {"new database": [], "existing database": []}
    with tempfile.TemporaryDirectory(prefix="fitbot-bench-") as tmp:
        workdir = Path(tmp)
        for n in range(settings.starts):
            emulator = await start_emulator(flood=False)
            try:
                db = workdir / f"start-{n}.sqlite3"
                for label in times:
                    env = fitbot_env(emulator, db)
                    started = time.perf_counter()
                    bot = await start_fitbot(emulator, workdir, env, name=f"start-{n}")
                    assert emulator.first_get_updates is not None
                    times[label].append(emulator.first_get_updates - started)
                    exit_ = await bot.stop()
                    if exit_.returncode != 0:
                        raise RuntimeError(f"fitbot run exited with {exit_.returncode}:\n{bot.tail()}")
            finally:
                await emulator.stop()
    return {label: {"median_s": statistics.median(v), "runs": v} for label, v in times.items()}


async def chart(settings: Settings) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        python(), "-c", CHART_SCRIPT, str(settings.renders), stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    stdout, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError("chart rendering failed")
    result = json.loads(stdout)
    warm = result.pop("warm")
    return {**result, "warm_median_s": statistics.median(warm), "renders": len(warm)}


def check(start: dict[str, Any], chart_result: dict[str, Any], settings: Settings) -> list[str]:
    problems = []
    for label, figures in start.items():
        if len(figures["runs"]) != settings.starts:
            problems.append(f"start-up ({label}): {len(figures['runs'])} of {settings.starts} starts")
    if chart_result["renders"] != settings.renders or chart_result["png_bytes"] < 1000:
        problems.append(f"chart: {chart_result['renders']} renders, {chart_result['png_bytes']} bytes")
    return problems
