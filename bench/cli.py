"""`python -m bench`: every benchmark, the figures as medians of several runs, written to BENCHMARKS.md.

    python -m bench                 the full suite (about an hour on 2 cores), writes BENCHMARKS.md
    python -m bench --quick         the CI smoke test (2-3 minutes): each benchmark completes and its counts
                                    are right (never a time); writes bench/results/quick.md
    python -m bench --only capacity,scale --runs 1
    python -m bench --profile       also sample the bot with py-spy where targets are missed (pip install py-spy)
    python -m bench --render bench/results/full.json    the markdown again from saved results

Exit status 1 when a count is wrong (a lost prompt, a dropped alert, a press never answered, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import burst, capacity, channels, pace, profile, report, scale, startup
from bench.bots import ROOT
from bench.machine import describe

BENCHMARKS = ("capacity", "pace", "burst", "channels", "scale", "startup")
RESULTS = ROOT / "bench" / "results"


def _say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def _short(result: dict[str, Any], keys: tuple[str, ...]) -> str:
    parts = []
    for key in keys:
        value = result.get(key)
        parts.append(f"{key}={value:.1f}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


async def run_capacity(quick: bool, runs: int, profile_dir: Path | None, problems: list[str]) -> dict[str, Any]:
    settings = capacity.QUICK if quick else capacity.FULL
    out: dict[str, Any] = {"settings": settings.__dict__, "runs": [], "profiles": {}}
    for n in range(runs):
        rows = []
        for people in settings.people:
            for kind in ("bare", "fitbot"):
                result = await capacity.one(kind, people, settings, seed=1000 * n + people)
                problems.extend(capacity.check(result))
                _say(f"capacity run {n + 1} {kind} x{people}: " + _short(result, ("presses_per_s", "p50_ms", "p95_ms")))
                rows.append(result)
        out["runs"].append(rows)
    if profile_dir is not None and profile.available():
        # One more FIT-bot run per size with py-spy attached (not counted in the figures above).
        for people in settings.people:
            sample = profile_dir / f"capacity-fitbot-{people}.txt"
            result = await capacity.one("fitbot", people, settings, seed=people, profile=sample)
            if sample.exists():
                out["profiles"][f"{people} people"] = profile.top_functions(sample)
                out["profiles"][f"{people} people"]["presses_per_s"] = result["presses_per_s"]
            _say(f"capacity profile x{people}: {result['presses_per_s']:.0f} presses/s while sampled")
    return out


async def run_pace(quick: bool, runs: int, problems: list[str]) -> dict[str, Any]:
    settings = pace.QUICK if quick else pace.FULL
    out: dict[str, Any] = {
        "settings": {
            "pace": settings.pace.__dict__,
            "case_pace": {f"{c.families} {c.limits}": (c.pace or settings.pace).__dict__ for c in settings.cases},
        },
        "runs": [],
    }
    for n in range(runs):
        rows = []
        for case in settings.cases:
            result = await pace.one(case, settings, seed=2000 * n + case.families)
            problems.extend(pace.check(result))
            _say(
                f"pace run {n + 1} {case.families} families ({case.limits}): "
                + _short(result, ("p50_ms", "p95_ms", "p99_ms"))
            )
            rows.append(result)
        out["runs"].append(rows)
    return out


async def run_burst(quick: bool, runs: int, problems: list[str]) -> dict[str, Any]:
    settings = burst.QUICK if quick else burst.FULL
    out: dict[str, Any] = {"settings": {"prompts": settings.prompts, "answering": settings.answering}, "runs": []}
    for n in range(runs):
        result = await burst.one(settings, seed=3000 + n)
        problems.extend(burst.check(result))
        _say(f"burst run {n + 1}: " + _short(result, ("prompt_rate", "served_429", "lost", "duplicated", "p95_ms")))
        out["runs"].append(result)
    return out


async def run_channels(quick: bool, runs: int, problems: list[str]) -> dict[str, Any]:
    settings = channels.QUICK if quick else channels.FULL
    out: dict[str, Any] = {"settings": settings.__dict__, "runs": []}
    for n in range(runs):
        result = await channels.one(settings, seed=4000 + n)
        problems.extend(channels.check(result))
        _say(f"channels run {n + 1}: " + _short(result, ("all_delivered_s", "served_429", "alerts_dropped")))
        out["runs"].append(result)
    return out


async def run_scale(quick: bool, problems: list[str]) -> dict[str, Any]:
    settings = scale.QUICK if quick else scale.FULL
    sizes = await scale.run(settings)
    for result in sizes:
        problems.extend(scale.check(result))
        _say(
            f"scale {result['cases']} cases: due {result['due_query_batch']['median_ms']:.2f} ms, "
            f"digest {result['digest']['median_ms']:.1f} ms, peak {result['maxrss_mb']:.0f} MB"
        )
    return {"settings": settings.__dict__, "sizes": sizes}


async def run_startup(quick: bool, problems: list[str]) -> dict[str, Any]:
    settings = startup.QUICK if quick else startup.FULL
    start = await startup.startup(settings)
    chart = await startup.chart(settings)
    problems.extend(startup.check(start, chart, settings))
    _say(f"start-up {start['new database']['median_s']:.2f} s, chart {chart['warm_median_s'] * 1000:.0f} ms")
    return {"settings": settings.__dict__, "start": start, "chart": chart}


async def main_async(args: argparse.Namespace) -> int:
    if args.render is not None:
        # Markdown again from saved results (after editing bench/NOTES.md), without measuring anything.
        results = json.loads(args.render.read_text())
        target = args.out or (RESULTS / "quick.md" if results["mode"] == "quick" else ROOT / "BENCHMARKS.md")
        target.write_text(report.render(results), encoding="utf-8")
        _say(f"figures from {args.render} in {target}")
        return 0
    quick = args.quick
    runs = args.runs or (1 if quick else 3)
    only = [b for b in (args.only.split(",") if args.only else BENCHMARKS) if b]
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    profile_dir = RESULTS / "profiles" if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        if not profile.available():
            _say("py-spy is not installed: no profiles (pip install py-spy)")
    problems: list[str] = []
    results: dict[str, Any] = {"mode": "quick" if quick else "full", "runs": runs, "machine": describe()}
    steps: dict[str, Callable[[], Any]] = {
        "capacity": lambda: run_capacity(quick, runs, profile_dir, problems),
        "pace": lambda: run_pace(quick, runs, problems),
        "burst": lambda: run_burst(quick, runs, problems),
        "channels": lambda: run_channels(quick, runs, problems),
        "scale": lambda: run_scale(quick, problems),
        "startup": lambda: run_startup(quick, problems),
    }
    started = time.perf_counter()
    for name in BENCHMARKS:
        if name in only:
            t0 = time.perf_counter()
            _say(f"{name} ...")
            results[name] = await steps[name]()
            results[name]["duration_s"] = time.perf_counter() - t0
    results["duration_s"] = time.perf_counter() - started
    results["problems"] = problems
    stem = "quick" if quick else "full"
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str))
    markdown = report.render(results)
    target = args.out or (RESULTS / "quick.md" if quick else ROOT / "BENCHMARKS.md")
    target.write_text(markdown, encoding="utf-8")
    _say(f"done in {results['duration_s']:.0f} s; figures in {target}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the CI smoke test: small sizes, counts checked")
    parser.add_argument("--runs", type=int, default=0, help="runs per benchmark (default 3, quick 1)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--out", type=Path, default=None, help="where to write the markdown")
    parser.add_argument("--profile", action="store_true", help="sample the bot with py-spy (benchmark 1)")
    parser.add_argument("--render", type=Path, default=None, help="only write the markdown from saved results JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(main_async(args))
