"""Where the bot's time goes: py-spy sampling the bot process during a benchmark's window (optional:
`python -m bench --profile`, with `pip install py-spy`), summarised as the top functions by inclusive and
by own time. Only the bot's own process is sampled; the benchmark's process is never slowed by it.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from pathlib import Path


def available() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).with_name("py-spy")) if Path(sys.executable).with_name("py-spy").exists() else None
    )


class Sampler:
    """`py-spy record` attached to a process for `seconds`, written as collapsed stacks."""

    def __init__(self, pid: int, seconds: float, out: Path, *, ramp: float = 0.0, rate: int = 200) -> None:
        self.pid, self.seconds, self.out, self.rate, self.ramp = pid, seconds, out, rate, ramp
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin sampling after `ramp` seconds (returns at once)."""
        exe = available()
        if exe is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        self._task = asyncio.create_task(self._run(exe))

    async def _run(self, exe: str) -> None:
        await asyncio.sleep(self.ramp)
        proc = await asyncio.create_subprocess_exec(
            exe,
            "record",
            "--pid",
            str(self.pid),
            "--duration",
            str(max(1, round(self.seconds))),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--threads",
            "--output",
            str(self.out),
            "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await proc.wait()

    async def wait(self) -> None:
        if self._task is not None:
            await self._task


def _frame_name(frame: str) -> str:
    # py-spy's raw frames look like "answer (bot/services/questionnaire.py:203)"; drop the line number.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def top_functions(collapsed: Path, limit: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Share of samples per function: inclusive (on the stack) and own (at the top)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")[1:]]  # [0] is the thread
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return {"inclusive": [], "own": []}
    return {
        "inclusive": [(name, 100 * n / total) for name, n in inclusive.most_common(limit)],
        "own": [(name, 100 * n / total) for name, n in own.most_common(limit)],
    }
