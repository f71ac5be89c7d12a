"""The bot process of benchmark 5: FIT-bot started exactly as `fitbot run` starts it (same build, same
start-up, polling the emulator), then timing its own queries and services on the big database from inside,
so the figures carry the event loop and aiosqlite as production does. Writes JSON to --out.

    python -m bench.scale_probe --out result.json --caseworker 1 --leader 1001   (config from FITBOT_*)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import Update

from bench.proc import children, peak_rss_mb
from bot import config as config_module
from bot.app import build
from bot.cli import setup_logging
from bot.services import reports
from bot.storage.repository import DUE_ROWS
from bot.views import caseworker as cw_views


class _Rollback(Exception):
    pass


async def _timed(fn: Callable[[], Awaitable[Any]], reps: int) -> dict[str, float]:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - started)
    times_sorted = sorted(times)
    return {
        "first_ms": times[0] * 1000,
        "median_ms": times_sorted[len(times) // 2] * 1000,
        "min_ms": times_sorted[0] * 1000,
        "reps": reps,
    }


async def probe(args: argparse.Namespace) -> dict[str, Any]:
    config = config_module.load(None)
    setup_logging("WARNING")
    fitbot = build(config)
    app = fitbot.application
    t0 = time.perf_counter()
    await app.initialize()
    await fitbot.start_services()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(allowed_updates=Update.ALL_TYPES)
    out: dict[str, Any] = {"start_s": time.perf_counter() - t0, "maxrss_mb_after": {"start": _maxrss()}}
    svc = fitbot.svc
    storage = fitbot.storage
    try:
        async with storage.transaction() as repo:
            caseworker = await repo.caseworker(args.caseworker)
            leader = await repo.caseworker(args.leader)
        assert caseworker is not None
        assert leader is not None
        now = svc.now()

        async def claim(at_offset: timedelta) -> None:
            """The dispatcher's claim, rolled back (the rows stay as they were)."""
            try:
                async with storage.transaction() as repo:
                    started = time.perf_counter()
                    rows = await repo.claim_due(now + at_offset, now + at_offset + timedelta(minutes=5), 64)
                    claim.last = (time.perf_counter() - started, len(rows))  # type: ignore[attr-defined]
                    raise _Rollback
            except _Rollback:
                pass

        # Nothing due (the idle check every 2 s), then up to 64 due (the rows due within a week: the next
        # digests, reminders and expiries), as one batch of a burst.
        for label, offset in (("due_query_idle", timedelta(0)), ("due_query_batch", timedelta(days=7))):
            times = []
            for _ in range(args.reps * 2):
                await claim(offset)
                times.append(claim.last[0])  # type: ignore[attr-defined]
            ordered = sorted(times)
            out[label] = {
                "first_ms": times[0] * 1000,
                "median_ms": ordered[len(ordered) // 2] * 1000,
                "rows": claim.last[1],  # type: ignore[attr-defined]
            }
        async with storage.transaction() as repo:
            plan = await repo.conn.fetch_all(f"EXPLAIN QUERY PLAN {DUE_ROWS}", {"now": "x", "limit": 64})
        out["due_query_plan"] = [str(r["detail"]) for r in plan]
        out["maxrss_mb_after"]["due_query"] = _maxrss()

        cases = []

        async def sager() -> None:
            overview = await reports.overview(svc, caseworker)
            cw_views.cases_overview(overview, svc.policy.thresholds)
            cases[:] = overview

        out["overview"] = await _timed(sager, args.reps)
        out["overview_cases"] = len(cases)
        out["maxrss_mb_after"]["overview"] = _maxrss()

        digest_holder: list[reports.Digest] = []

        async def digest() -> None:
            d = await reports.digest(svc, caseworker)
            cw_views.digest(d, svc.policy.thresholds, svc.policy.timezone, svc.now())
            digest_holder[:] = [d]

        out["digest"] = await _timed(digest, args.reps)
        out["digest_open_alerts"] = len(digest_holder[0].open_alerts)
        out["maxrss_mb_after"]["digest"] = _maxrss()

        report_holder: list[reports.TeamReport] = []

        async def team() -> None:
            r = await reports.team_report(svc, leader)
            cw_views.team_report(r, svc.policy.timezone)
            report_holder[:] = [r]

        out["team_report"] = await _timed(team, max(3, args.reps // 2))
        out["team_caseworkers"] = len(report_holder[0].per_caseworker)
        out["maxrss_mb_after"]["team_report"] = _maxrss()
        # A summary's chart, as the first answered questionnaire after start-up draws one.
        started = time.perf_counter()
        detail = await reports.case_detail(svc, caseworker, cases[0].case.id)
        assert detail is not None
        cw_views.case_detail(detail, svc.policy.thresholds, svc.policy.timezone)
        out["case_with_chart_ms"] = (time.perf_counter() - started) * 1000
        out["maxrss_mb_after"]["chart"] = _maxrss()
    finally:
        await app.updater.stop()
        await app.stop()
        await fitbot.stop_services()
        await app.shutdown()
    out["maxrss_mb"] = _maxrss()
    out["chart_worker_peak_mb"] = sum(peak_rss_mb(child) for child in children(os.getpid()))
    return out


def _maxrss() -> float:
    """This process's peak resident set so far (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    return peak_rss_mb()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_probe")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--caseworker", type=int, required=True)
    parser.add_argument("--leader", type=int, required=True)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    result = asyncio.run(probe(args))
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
