"""Processes under test and what they cost: CPU from /proc/<pid>/stat, peak memory from wait4's rusage.

The bot under test always runs in a process of its own (as in production); the emulator and the load
driver run in the benchmark's process. Each side's CPU is read from the kernel's accounting, so one side
cannot steal the other's time unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU of a process (all its threads) so far, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # Fields after the command name: state is [0], so utime (14th field) is [11], stime [12].
    return (int(fields[11]) + int(fields[12])) / _TICKS


def children(pid: int) -> list[int]:
    """Every descendant process of `pid` (FIT-bot's chart worker, multiprocessing's helpers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU so far of a process and of each of its descendants, by pid."""
    out = {}
    for p in [pid, *children(pid)]:
        try:
            out[p] = cpu_seconds(p)
        except (OSError, IndexError):
            continue
    return out


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU per thread of a process: "main" (the event loop: tid == pid) and "other" threads, user and
    system time apart (system time is the kernel's: sockets, fsync)."""
    out = {"main_user": 0.0, "main_sys": 0.0, "other_user": 0.0, "other_sys": 0.0}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        who = "main" if int(task) == pid else "other"
        out[f"{who}_user"] += int(fields[11]) / _TICKS
        out[f"{who}_sys"] += int(fields[12]) / _TICKS
    return out


def system_busy_seconds() -> float:
    """CPU time all processes on the machine have used (all cores), from /proc/stat, in seconds."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICKS


def peak_rss_mb(pid: int | str = "self") -> float:
    """The process's peak resident set so far (VmHWM, the figure ru_maxrss reports at exit), in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class CpuWindow:
    """CPU used by the bot process and by this process (emulator + driver) between start() and stop()."""

    pid: int
    wall: float = 0.0
    bot: float = 0.0  # the bot's process and its children (the chart worker)
    bot_children: float = 0.0  # of which the children
    driver: float = 0.0
    others: float = 0.0  # every other process on the machine (other work sharing the cores)
    threads: dict[str, float] | None = None  # the bot's CPU by thread (main = event loop) and user/system
    _t0: float = 0.0
    _tree0: dict[int, float] = field(default_factory=dict)
    _drv0: float = 0.0
    _sys0: float = 0.0
    _threads0: dict[str, float] = field(default_factory=dict)

    def start(self) -> CpuWindow:
        self._t0, self._drv0 = time.perf_counter(), cpu_seconds()
        self._tree0 = tree_cpu_seconds(self.pid)
        self._sys0 = system_busy_seconds()
        self._threads0 = thread_cpu_seconds(self.pid)
        return self

    def stop(self) -> CpuWindow:
        self.wall = time.perf_counter() - self._t0
        tree = {p: cpu - self._tree0.get(p, 0.0) for p, cpu in tree_cpu_seconds(self.pid).items()}
        self.bot = sum(tree.values())
        self.bot_children = self.bot - tree.get(self.pid, 0.0)
        self.driver = cpu_seconds() - self._drv0
        self.others = max(0.0, system_busy_seconds() - self._sys0 - self.bot - self.driver)
        # Threads that ended in the window drop out of the per-thread figures (rare: pools are long-lived).
        now = thread_cpu_seconds(self.pid)
        self.threads = {k: now[k] - self._threads0.get(k, 0.0) for k in now}
        return self

    def as_dict(self) -> dict[str, float]:
        wall = self.wall or 1e-9
        return {
            "wall_s": self.wall,
            "bot_cpu_s": self.bot,
            "driver_cpu_s": self.driver,
            "bot_cpu_pct": 100 * self.bot / wall,
            "bot_children_cpu_pct": 100 * self.bot_children / wall,
            "driver_cpu_pct": 100 * self.driver / wall,
            "others_cpu_pct": 100 * self.others / wall,
            **{f"bot_{k}_pct": 100 * v / wall for k, v in (self.threads or {}).items()},
        }


@dataclass
class Exit:
    returncode: int
    maxrss_mb: float  # peak resident set: VmHWM read just before SIGTERM (else ru_maxrss from wait4)
    cpu_s: float
    children_peak_mb: float = 0.0  # the chart worker's (and any other child's) VmHWM, summed
    children: dict[str, float] = field(default_factory=dict)  # "pid command" -> VmHWM MB


class BotProcess:
    """A bot (FIT-bot's `fitbot run`, or the bare bot) in its own process, its output in a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.argv, self.env, self.cwd, self.log_path = argv, env, cwd, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.exit: Exit | None = None
        self._peak: float | None = None
        self._children_peak = 0.0
        self._children: dict[str, float] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> BotProcess:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("FITBOT_")}
        full_env.update(self.env)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        self._log = self.log_path.open("ab")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.argv,
            env=full_env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # only prctl before exec: safe with threads
        )
        return self

    def _reap(self) -> bool:
        """Collect the exit status and rusage if the process has ended (never blocks)."""
        assert self.proc is not None
        if self.exit is not None:
            return True
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if not pid:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self._log.close()
        # ru_maxrss survives exec: a child forked from a big parent reports the parent's size, so the
        # process's own high-water mark (VmHWM, reset at exec) is preferred when it could be read.
        peak = self._peak if self._peak is not None else usage.ru_maxrss / 1024
        self.exit = Exit(
            self.proc.returncode, peak, usage.ru_utime + usage.ru_stime, self._children_peak, self._children
        )
        return True

    def alive(self) -> bool:
        return self.proc is not None and not self._reap()

    async def wait(self, timeout: float = 600.0) -> Exit:  # noqa: ASYNC109 - a guard: SIGKILL after it
        """Until the process ends by itself; reaped with wait4 for its rusage."""
        deadline = time.monotonic() + timeout
        while not self._reap():
            if time.monotonic() > deadline:
                assert self.proc is not None
                self.proc.kill()
                deadline = time.monotonic() + 5
            await asyncio.sleep(0.05)
        assert self.exit is not None
        return self.exit

    async def stop(self, timeout: float = 30.0) -> Exit:  # noqa: ASYNC109 - a guard: SIGKILL after it
        """SIGTERM (the production way to stop), then reap it with wait4 for its rusage."""
        assert self.proc is not None
        if self.alive():
            with contextlib.suppress(OSError):
                self._peak = peak_rss_mb(self.proc.pid)
            for child in children(self.proc.pid):
                with contextlib.suppress(OSError):
                    peak = peak_rss_mb(child)
                    self._children_peak += peak
                    self._children[f"{child} {_command(child)}"] = peak
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark's process dies (killed by a CI time-out, ^C),
    so no bot is left polling a dead emulator. Linux only; elsewhere nothing happens."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return "?"


def python() -> str:
    return sys.executable


def fitbot_argv() -> list[str]:
    """`fitbot run`, exactly as an operator starts it (the console script of this interpreter's venv)."""
    script = Path(sys.executable).with_name("fitbot")
    if script.exists():
        return [str(script), "run"]
    return [sys.executable, "-m", "bot.cli", "run"]


def own_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
