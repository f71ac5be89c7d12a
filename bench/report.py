"""BENCHMARKS.md from the results: every figure a median of the runs, its target beside it.

The analysis (why a target is missed, what was fixed, what would fix the rest) is kept in bench/NOTES.md
and included as it is; everything else here is generated from the measurements.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bench.stats import median

NOTES = Path(__file__).with_name("NOTES.md")


def _num(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _spread(values: Sequence[float], digits: int = 1) -> str:
    """Median, with the range over runs when there are several."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    if not finite:
        return "–"
    mid = _num(median(finite), digits)
    if len(finite) < 2:
        return mid
    return f"{mid} ({_num(min(finite), digits)}–{_num(max(finite), digits)})"


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _pick(runs: list[list[dict[str, Any]]], match: Callable[[dict[str, Any]], bool], key: str) -> list[float]:
    return [r[key] for run in runs for r in run if match(r)]


# --- sections ------------------------------------------------------------------------------------


def _machine(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    return [
        f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['kernel']}; "
        f"{m['python']}, SQLite {m['sqlite']}; FIT-bot at commit {m.get('commit', 'unknown')}.",
        "",
        f"Libraries: {libs}.",
        "",
        f"Mode: {results['mode']}, {results['runs']} run(s) per benchmark; the whole suite took "
        f"{results['duration_s'] / 60:.0f} min. Figures are medians over the runs (range in brackets); every "
        "ratio is taken within one run and then the median of the ratios is shown.",
    ]


def _capacity(section: dict[str, Any]) -> list[str]:
    runs = section["runs"]
    s = section["settings"]
    people = sorted({r["people"] for run in runs for r in run})
    rows = []
    for n in people:
        ratios = []
        for run in runs:
            bare = next((r for r in run if r["people"] == n and r["kind"] == "bare"), None)
            fit = next((r for r in run if r["people"] == n and r["kind"] == "fitbot"), None)
            if bare and fit and bare["presses_per_s"]:
                ratios.append(fit["presses_per_s"] / bare["presses_per_s"])
        for kind, label in (("bare", "bare PTB bot"), ("fitbot", "FIT-bot")):
            m = lambda r, kind=kind, n=n: r["people"] == n and r["kind"] == kind  # noqa: E731
            rows.append(
                [
                    f"{n:,}",
                    label,
                    _spread(_pick(runs, m, "presses_per_s"), 0),
                    _spread(_pick(runs, m, "p50_ms")),
                    _spread(_pick(runs, m, "p95_ms")),
                    _spread(_pick(runs, m, "p99_ms")),
                    _spread(_pick(runs, m, "bot_cpu_pct"), 0),
                    _spread([r.get("bot_children_cpu_pct", 0.0) for run in runs for r in run if m(r)], 0),
                    _spread(_pick(runs, m, "driver_cpu_pct"), 0),
                    _spread([r.get("others_cpu_pct", 0.0) for run in runs for r in run if m(r)], 0),
                    _spread(_pick(runs, m, "bot_peak_mb"), 0),
                    (f"{_spread(ratios, 2)} {_met(median(ratios) >= 0.8)}" if kind == "fitbot" else ""),
                ]
            )
    lines = [
        "## 1. Answers in, capacity",
        "",
        f"Closed loop: each person presses again as soon as the next item appears. Ramp {s['ramp']:g} s, then "
        f"figures over a {s['window']:g} s window. Emulator flood limits off; FIT-bot's limits for people's "
        "chats raised to the configuration's maxima (`FITBOT_DELIVERY_GLOBAL_PER_SECOND=1000`, "
        "`FITBOT_DELIVERY_PRIVATE_PER_SECOND=100`) because the bare bot has no limiter; the per-channel limit "
        "stays at Telegram's 20/min (only FIT-bot posts to channels). A questionnaire is "
        '"start" + 8 answers; completing one queues the caseworker\'s summary (20 channels), which FIT-bot '
        "sends meanwhile; three in five cases have 2-6 earlier meetings, so finishing also sends the family its "
        "own chart. CPU: share of one core used during the window by the bot (its process and its chart "
        "worker process), by the benchmark's process (emulator and people), and by anything else running on "
        "the machine (other processes: shared machines make figures noisy; see that column).",
        "",
    ]
    lines += _table(
        (
            "people",
            "bot",
            "presses/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "bot CPU %",
            "of which chart worker",
            "emulator+driver CPU %",
            "other processes CPU %",
            "bot peak MB",
            "FIT-bot / bare (target >= 0.8)",
        ),
        rows,
    )
    if section.get("profiles"):
        lines += ["", "Where FIT-bot's process spends its time in the window (py-spy, all threads):", ""]
        for label, top in section["profiles"].items():
            lines += [f"*{label}*, own time:", ""]
            lines += _table(("share", "function"), [(f"{pct:.1f} %", f"`{name}`") for name, pct in top["own"][:12]])
            lines += ["", f"*{label}*, inclusive:", ""]
            lines += _table(
                ("share", "function"), [(f"{pct:.1f} %", f"`{name}`") for name, pct in top["inclusive"][:25]]
            )
            lines.append("")
    return lines


def _pace(section: dict[str, Any]) -> list[str]:
    runs = section["runs"]
    p = section["settings"]["pace"]
    cases = []
    for run in runs:
        for r in run:
            if (r["families"], r["limits"]) not in cases:
                cases.append((r["families"], r["limits"]))
    rows = []
    for families, limits in cases:
        m = lambda r, f=families, li=limits: r["families"] == f and r["limits"] == li  # noqa: E731
        p95 = _pick(runs, m, "all_p95_ms")
        target = median(p95) < 50 if families == 100 else None
        rows.append(
            [
                f"{families}",
                "Telegram's (flood limits on)" if limits == "telegram" else "raised (as in 1)",
                _spread(_pick(runs, m, "n"), 0),
                _spread(_pick(runs, m, "typed_n"), 0),
                _spread(_pick(runs, m, "all_p50_ms")),
                _spread(p95),
                _spread(_pick(runs, m, "all_p99_ms")),
                _spread(_pick(runs, m, "p95_ms")),
                _spread(_pick(runs, m, "typed_p95_ms")),
                _spread(_pick(runs, m, "served_429"), 0),
                _spread(_pick(runs, m, "bot_cpu_pct"), 0),
                _spread([r.get("others_cpu_pct", 0.0) for run in runs for r in run if m(r)], 0),
                _spread(_pick(runs, m, "bot_peak_mb"), 0) + " + " + _spread(_pick(runs, m, "chart_worker_peak_mb"), 0),
                ("< 50: " + _met(target)) if target is not None else "",
            ]
        )
    scale = p["scale"]
    paces = section["settings"].get("case_pace", {})
    compressed = {k: v["scale"] for k, v in paces.items() if v["scale"] != 1}
    return [
        "## 2. Answers in, at a human pace",
        "",
        f"Every family member has a prompt and answers the whole questionnaire: first press within "
        f"{p['start_within']:g} s, then a press every {p['think'][0]:g}-{p['think'][1]:g} s at random; "
        f"{p['pause_share']:.0%} pause once for {p['pause'][0]:g}-{p['pause'][1]:g} s; "
        f'{p["typing_share"]:.0%} type their answers ("7", "6,5") from a random item on (a typed answer\'s '
        "latency is until the next item arrives as a new message). Three in five families have 2-6 earlier "
        "meetings (their own chart comes at the end). p50/p95/p99 are over every action, presses and typed. "
        + (
            "Quick mode compresses time (every wait multiplied by "
            + ", ".join(f"{v:g} for {k}" for k, v in compressed.items())
            + ") and so uses fewer families."
            if compressed
            else ("Real time, no compression." if scale == 1 else f"Every wait multiplied by {scale:g}.")
        ),
        "",
        *_table(
            (
                "families",
                "limits",
                "presses",
                "typed",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "presses p95",
                "typed p95",
                "429s",
                "bot CPU %",
                "other processes CPU %",
                "peak MB, bot + chart worker",
                "target p95 (100 families)",
            ),
            rows,
        ),
    ]


def _burst(section: dict[str, Any]) -> list[str]:
    runs = section["runs"]
    s = section["settings"]
    rate = [r["prompt_rate"] for r in runs]
    lost = [r["lost"] for r in runs]
    dup = [r["duplicated"] for r in runs]
    rows = [
        ["prompts delivered", "all", _spread([r["delivered"] for r in runs], 0), ""],
        ["burst duration, s", "", _spread([r["burst_s"] for r in runs]), ""],
        [
            "sustained prompt rate, msg/s (first to last prompt)",
            ">= 28.5 (0.95 x 30)",
            _spread(rate, 2),
            _met(median(rate) >= 28.5),
        ],
        ["prompt rate, median of 10 s stretches", "", _spread([r["prompt_rate_10s_median"] for r in runs], 2), ""],
        [
            "all messages (prompts + answering families' edits), msg/s",
            "<= 30",
            _spread([r["all_message_rate"] for r in runs], 2),
            "",
        ],
        ["429s from the emulator", "", _spread([r["served_429"] for r in runs], 0), ""],
        ["lost prompts", "0", _spread(lost, 0), _met(max(lost) == 0)],
        ["duplicated prompts", "0", _spread(dup, 0), _met(max(dup) == 0)],
        [
            f"answering families' press -> next item during the burst, p50 / p95 / p99 ms ({s['answering']} families)",
            "not queued behind the burst",
            " / ".join(_spread([r[k] for r in runs]) for k in ("p50_ms", "p95_ms", "p99_ms")),
            "",
        ],
        [
            "bot CPU %, emulator+driver CPU %",
            "",
            f"{_spread([r['bot_cpu_pct'] for r in runs], 0)}, {_spread([r['driver_cpu_pct'] for r in runs], 0)}",
            "",
        ],
        ["seeding (repository + services.cases.log_meeting), s", "", _spread([r["seed_s"] for r in runs]), ""],
    ]
    return [
        "## 3. Prompts out",
        "",
        f"{s['prompts']:,} prompts to {s['prompts']:,} families fall due at once (one meeting per case logged "
        "through `services.cases.log_meeting` before the bot starts, no prompt delay). Production limits; the "
        f"emulator enforces Telegram's (30/s overall, 1/s per chat, 20/min per channel). {s['answering']} other "
        "families answer at a human pace throughout the burst.",
        "",
        *_table(("figure", "target", "result", ""), rows),
    ]


def _channels(section: dict[str, Any]) -> list[str]:
    runs = section["runs"]
    s = section["settings"]
    errors = [r["served_429"] for r in runs]
    dropped = [r["alerts_dropped"] for r in runs]
    rows = [
        ["questionnaires completed", f"{s['answers']}", _spread([r["completed"] for r in runs], 0), ""],
        ["alerts raised", "", _spread([r["alerts_raised"] for r in runs], 0), ""],
        [
            "channel posts (summaries combined when many are due; one per alert)",
            "",
            _spread([r["channel_posts"] for r in runs], 0),
            "",
        ],
        ["first answer -> every summary and alert delivered, s", "", _spread([r["all_delivered_s"] for r in runs]), ""],
        [
            "last answer -> every summary and alert delivered, s",
            "",
            _spread([r["after_last_answer_s"] for r in runs]),
            "",
        ],
        ["flood errors (429)", "0", _spread(errors, 0), _met(max(errors) == 0)],
        ["alerts dropped", "0", _spread(dropped, 0), _met(max(dropped) == 0)],
        [
            "the answering press -> thank-you, p50 / p95 / p99 ms",
            "",
            " / ".join(_spread([r[k] for r in runs]) for k in ("p50_ms", "p95_ms", "p99_ms")),
            "",
        ],
        [
            "bot CPU % (of which chart worker)",
            "",
            _spread([r["bot_cpu_pct"] for r in runs], 0)
            + f" ({_spread([r.get('bot_children_cpu_pct', 0.0) for r in runs], 0)})",
            "",
        ],
        [
            "peak MB, bot + chart worker",
            "",
            " + ".join(_spread([r.get(k, 0.0) for r in runs], 0) for k in ("bot_peak_mb", "chart_worker_peak_mb")),
            "",
        ],
    ]
    return [
        "## 4. Channel bursts",
        "",
        f"{s['answers']} answers (the last item of a questionnaire) spread at random over {s['spread']:g} s and "
        f"{runs[0]['channels']} caseworker channels; about a third raise alerts. Production limits against the "
        "emulator's flood limits (20 messages a minute per channel).",
        "",
        *_table(("figure", "target", "result", ""), rows),
    ]


def _scale(section: dict[str, Any]) -> list[str]:
    sizes = section["sizes"]
    head = ["figure", "target", *(f"{r['cases']:,} cases" for r in sizes)]
    if len(sizes) == 2:
        head.append("growth x" + f"{sizes[1]['cases'] / sizes[0]['cases']:g}")

    def row(
        label: str, target: str, get: Callable[[dict[str, Any]], float], digits: int = 2, limit: float | None = None
    ) -> list[str]:
        values = [get(r) for r in sizes]
        cells = [label, target]
        for v in values:
            cells.append(_num(v, digits) + ("" if limit is None else " " + _met(v < limit)))
        if len(sizes) == 2:
            cells.append(f"{values[1] / values[0]:.2f}" if values[0] else "–")
        return cells

    rows = [
        row("answers", "", lambda r: r["counts"]["answers"], 0),
        row("outbox rows (pending)", "", lambda r: r["counts"]["outbox"], 0),
        row("database size, MB", "", lambda r: r["db_mb"], 0),
        row("due query, idle (nothing due), ms", "< 5", lambda r: r["due_query_idle"]["median_ms"], 2, 5),
        row("due query, a batch of 64 due, ms", "< 5", lambda r: r["due_query_batch"]["median_ms"], 2, 5),
        row("/sager, 60 cases (overview + view), ms", "", lambda r: r["overview"]["median_ms"]),
        row("digest (service + view), ms", "< 100", lambda r: r["digest"]["median_ms"], 1, 100),
        row("team report, team of 10 (service + view), ms", "", lambda r: r["team_report"]["median_ms"]),
        row("one case with its chart (/sag), ms", "", lambda r: r["case_with_chart_ms"], 0),
        row("bot process peak memory, MB", "< 150", lambda r: r["maxrss_mb"], 0, 150),
        row("chart worker process peak memory, MB", "", lambda r: r.get("chart_worker_peak_mb", 0.0), 0),
        row("bot start (build to polling, in process), s", "", lambda r: r["start_s"]),
    ]
    for r in sizes:
        r["counts"]["outbox"] = r["counts"].get("outbox", 0)
    plan = sizes[-1].get("due_query_plan", [])
    return [
        "## 5. Scale",
        "",
        "A synthetic municipality written with executemany after the migrations (bench/municipality.py: two "
        "years of operation, caseworkers with 60 open cases, teams of 10, every outbox row two years leave). "
        "Timed inside the bot process (FIT-bot built and started as `fitbot run` does, polling the emulator), "
        f"median of {section['settings']['reps']} repetitions each; memory is the bot process's high-water mark "
        "(VmHWM, what ru_maxrss reports) after it has also drawn a chart.",
        "",
        *_table(head, rows),
        "",
        "The due query's plan at the largest size: " + "; ".join(f"`{p}`" for p in plan) + ".",
    ]


def _startup(section: dict[str, Any]) -> list[str]:
    start, chart = section["start"], section["chart"]
    rows = [
        [f"`fitbot run` -> first getUpdates, {label}", _num(v["median_s"], 2), ", ".join(_num(x, 2) for x in v["runs"])]
        for label, v in start.items()
    ]
    rows += [
        ["one chart, first in a process (imports matplotlib)", _num(chart["first_s"], 2), ""],
        [
            f"one chart, warm (median of {chart['renders']})",
            _num(chart["warm_median_s"], 3),
            f"{chart['png_bytes']:,} bytes PNG, {chart['points']} meetings",
        ],
    ]
    return ["## 6. Start-up and charts", "", *_table(("figure", "seconds", "runs"), rows)]


def render(results: dict[str, Any]) -> str:
    lines = [
        "# FIT-bot benchmarks",
        "",
        "Generated by `python -m bench` (see [bench/cli.py](bench/cli.py)); `python -m bench --quick` is the CI "
        "smoke test. The bot under test always runs in its own process (`fitbot run`); the Bot API emulator "
        "(`bot/sandbox/emulator.py`) and the simulated people run in the benchmark's process, and each side's "
        "CPU is read from /proc/<pid>/stat.",
        "",
        *_machine(results),
        "",
    ]
    for name, fn in (
        ("capacity", _capacity),
        ("pace", _pace),
        ("burst", _burst),
        ("channels", _channels),
        ("scale", _scale),
        ("startup", _startup),
    ):
        if name in results:
            lines += [*fn(results[name]), ""]
    if results.get("problems"):
        lines += ["## Count checks that failed", "", *(f"- {p}" for p in results["problems"]), ""]
    if NOTES.exists() and results["mode"] == "full":
        lines += [NOTES.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)
