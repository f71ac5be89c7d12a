"""FIT-bot and the standalone emulator, each in its own process, driven through the emulator's control API.

Shared by the kill test and the backup test. Real-time waits here are failure guards, or the time a real
process takes to do something.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
PROMPT_LINE = "et par spørgsmål fra dit seneste møde"
THANKS = "Tak for dine svar"
CONSENT = "Ja, jeg vil gerne være med"
IN_FLIGHT = re.compile(r"(\d+) send\(s\) were in flight at the last stop")
GUARD = 60.0  # seconds: a failure guard for any single wait


async def until(predicate: Any, what: str, timeout: float = GUARD) -> Any:  # noqa: ASYNC109 - a failure guard
    """Poll `predicate` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


class Sim:
    """The emulator's control API."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.client = httpx.AsyncClient(timeout=30)

    async def call(self, action: str, **body: Any) -> Any:
        response = await self.client.post(f"{self.root}/_sim/{action}", json=body)
        assert response.status_code == 200, response.text
        return response.json()["result"]

    async def add_user(self, name: str) -> int:
        return int((await self.call("add_user", first_name=name))["user_id"])

    async def send(self, user_id: int, text: str) -> None:
        await self.call("send_text", user_id=user_id, text=text)

    async def press(self, user_id: int, message_id: int, button: int | str) -> None:
        await self.call("press", user_id=user_id, message_id=message_id, button=button)

    async def messages(self, chat_id: int) -> list[dict[str, Any]]:
        return list(await self.call("messages", chat_id=chat_id, limit=100_000))

    async def reply_after(self, chat_id: int, count: int, what: str) -> dict[str, Any]:
        """The bot's first message in a chat after the first `count`."""

        async def newer() -> dict[str, Any] | None:
            msgs = await self.messages(chat_id)
            return msgs[count] if len(msgs) > count else None

        return await until(newer, what)  # type: ignore[no-any-return]


class BotProcess:
    """`python -m bot.cli run` with the test's settings; every run's output in its own log file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.proc: asyncio.subprocess.Process | None = None
        self.runs = 0
        self.in_flight_reported = 0

    async def start(self) -> None:
        self.runs += 1
        log = (self.logs / f"bot-{self.runs}.log").open("wb")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.logs, env=self.env, stdout=log, stderr=log
            )
        finally:
            log.close()

    def log(self, run: int | None = None) -> str:
        return (self.logs / f"bot-{run or self.runs}.log").read_text(errors="replace")

    def count_in_flight(self) -> int:
        """What this run reported at start-up as in flight at the previous stop (waits for the line)."""
        found = IN_FLIGHT.search(self.log())
        return int(found.group(1)) if found else 0

    def descendants(self) -> dict[int, int]:
        """The bot's child processes (the chart worker, multiprocessing's helper) and theirs: pid -> start time."""
        assert self.proc is not None
        return descendants(self.proc.pid)

    async def kill(self) -> dict[int, int]:
        """SIGKILL; the child processes the bot had just before (they must end by themselves)."""
        assert self.proc is not None
        children = self.descendants()
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), GUARD)
        return children

    async def terminate(self) -> tuple[int, float]:
        """SIGTERM; the exit code and how long the bot took to exit."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), GUARD)
        return code, time.monotonic() - started

    async def started(self) -> None:
        """Until this run has polled once (its start-up, with the in-flight count, is then logged)."""
        await until(lambda: "is running as @" in self.log(), f"bot run {self.runs} to start")


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process from /proc; None when there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every process below `pid` (children, their children, ...): pid -> start time (told apart from a
    later process that gets the same pid)."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(stat[1], []).append((int(entry.name), stat[2]))
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        for child, started in parents.get(todo.pop(), []):
            if child not in found:
                found[child] = started
                todo.append(child)
    return found


def running(processes: dict[int, int]) -> dict[int, int]:
    """Those of `processes` still running (a zombie waiting for init to reap it has ended)."""
    alive = {}
    for pid, started in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z" and stat[2] == started:
            alive[pid] = started
    return alive


@dataclass
class Family:
    name: str
    user_id: int
    rng: random.Random
    answers: dict[tuple[int, int], int] = field(default_factory=dict)  # (questionnaire, position) -> value
    acknowledged: set[tuple[int, int]] = field(default_factory=set)
    presses: int = 0


def db_rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return list(conn.execute(sql, params))


def current_item(message: dict[str, Any], qid: int) -> int | None:
    """The position shown by a questionnaire message (None: not showing an item of `qid`)."""
    for data in message["button_data"]:
        parts = data.split(":")
        if len(parts) == 4 and parts[0] == "q" and parts[1] == str(qid):
            return int(parts[2])
    return None


async def finish(sim: Sim, db: Path, family: Family, qid: int) -> None:
    """Answer questionnaire `qid` by buttons, as a person does: press, and wait for the bot to answer.

    A press is never made again: updates are confirmed to Telegram only after they are handled, so one
    that arrives while the bot is down, or that a kill -9 interrupts, is delivered again after the restart
    and answered then. A press that never gets a visible answer is a lost tap, and fails the test.
    """

    async def find() -> dict[str, Any] | None:
        # The newest message of this questionnaire: an item of it, its thanks, or a prompt for it.
        for message in reversed(await sim.messages(family.user_id)):
            if current_item(message, qid) is not None or f"qs:{qid}" in message["button_data"]:
                return message
            if f"qs:{qid}" in message["first_button_data"] and THANKS in message["text"]:
                return message
        return None

    for _press in range(4 * 10):  # start, 8 items, and the odd press on a prompt sent again
        message = await until(find, f"{family.name}'s questionnaire {qid}")
        if THANKS in message["text"] or db_rows(db, "SELECT status FROM questionnaires WHERE id = ?", (qid,)) == [
            ("completed",)
        ]:
            return
        position = current_item(message, qid)
        if position is None:
            button = message["button_data"].index(f"qs:{qid}")  # "let's start"
            key = None
        else:
            value = family.answers.setdefault((qid, position), family.rng.randint(0, 10))
            button = message["button_data"].index(f"q:{qid}:{position}:{value}")
            key = (qid, position)
        edits = message["edits"]
        await sim.press(family.user_id, message["message_id"], button)
        family.presses += 1

        async def moved(mid: int = message["message_id"], seen: int = edits) -> bool:
            return any(m["message_id"] == mid and m["edits"] > seen for m in await sim.messages(family.user_id))

        await until(moved, f"an answer to {family.name}'s press {key or 'start'} on questionnaire {qid} (a lost tap?)")
        after = await until(find, f"{family.name}'s questionnaire {qid}")
        shown = current_item(after, qid)
        if key is not None and (THANKS in after["text"] or (shown is not None and shown > key[1])):
            family.acknowledged.add(key)
    raise AssertionError(f"{family.name} could not finish questionnaire {qid}")


async def open_questionnaires(db: Path, user_id: int) -> list[int]:
    rows = db_rows(
        db,
        "SELECT q.id FROM questionnaires q JOIN respondents r ON r.id = q.respondent_id "
        "WHERE r.telegram_user_id = ? AND q.status IN ('sent', 'in_progress') ORDER BY q.id",
        (user_id,),
    )
    return [qid for (qid,) in rows]


@dataclass
class World:
    """A running emulator process, the bot's settings, its database, and the bot process (not yet started)."""

    sim: Sim
    env: dict[str, str]
    db: Path
    bot: BotProcess
    tmp: Path

    async def cli(self, *args: str) -> tuple[int, str, str]:
        """`python -m bot.cli ARGS` with the bot's settings: exit code, stdout, stderr."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            *args,
            cwd=self.tmp,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), GUARD)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    async def enrol_caseworker(self, name: str) -> int:
        """`fitbot caseworker add`, then the caseworker opens the link: their Telegram user id."""
        code, out, err = await self.cli("caseworker", "add", name, "--team", "Team Nord")
        assert code == 0, err
        link = re.search(r"\?start=(\S+)", out)
        assert link, out
        worker = await self.sim.add_user(name)
        await self.sim.send(worker, f"/start {link.group(1)}")
        await self.sim.reply_after(worker, 0, "the caseworker's welcome")
        return worker

    async def families(self, worker: int, cases: dict[str, tuple[str, list[str]]], rng: random.Random) -> list[Family]:
        """Create each case and invite its members, who open the link and consent."""
        sim = self.sim
        families = []
        for label, (band, roles) in cases.items():
            count = len(await sim.messages(worker))
            await sim.send(worker, f"/nysag {label} {band}")
            await sim.reply_after(worker, count, f"case {label}")
            for role in roles:
                count = len(await sim.messages(worker))
                await sim.send(worker, f"/inviter {label} {role}")
                invitation = await sim.reply_after(worker, count, "the invitation")
                found = re.search(r"\?start=(\S+)", invitation["text"])
                assert found, invitation["text"]
                name = f"{label}-{role}"
                person = await sim.add_user(name)
                await sim.send(person, f"/start {found.group(1)}")
                welcome = await sim.reply_after(person, 0, "the consent question")
                await sim.press(person, welcome["message_id"], CONSENT)
                await sim.reply_after(person, 1, "the consent's confirmation")
                families.append(Family(name, person, random.Random(rng.random())))
        return families


@contextlib.asynccontextmanager
async def world(tmp: Path) -> AsyncIterator[World]:
    """The emulator in its own process (``python -m bot.sandbox.emulator --port 0``) and the settings for a
    bot on it: prompts at once after a meeting, no quiet hours, the database in `tmp`."""
    emulator = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.emulator",
        "--port",
        "0",
        "--strict",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    sim: Sim | None = None
    bot: BotProcess | None = None
    try:
        assert emulator.stdout is not None
        first = (await asyncio.wait_for(emulator.stdout.readline(), GUARD)).decode()
        base_url = re.search(r"base_url=(\S+)", first)
        token = re.search(r"token=(\S+)", first)
        assert base_url, first
        assert token, first
        root = base_url.group(1).removesuffix("/bot")
        sim = Sim(root)
        db = tmp / "fitbot.sqlite3"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FITBOT_")}
        env.update(
            FITBOT_TELEGRAM_TOKEN=token.group(1),
            FITBOT_TELEGRAM_BASE_URL=base_url.group(1),
            FITBOT_TELEGRAM_BASE_FILE_URL=f"{root}/file/bot",
            FITBOT_DATABASE_PATH=str(db),
            FITBOT_SCHEDULE_PROMPT_DELAY_MINUTES="0",
            FITBOT_SCHEDULE_QUIET_START="00:00",  # equal times: no quiet hours
            FITBOT_SCHEDULE_QUIET_END="00:00",
            PYTHONUNBUFFERED="1",
        )
        bot = BotProcess(env, tmp)
        yield World(sim, env, db, bot, tmp)
    finally:
        if bot is not None and bot.proc is not None and bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
        if sim is not None:
            await sim.client.aclose()
        if emulator.returncode is None:
            emulator.send_signal(signal.SIGTERM)
        await asyncio.wait_for(emulator.communicate(), GUARD)
