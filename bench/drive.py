"""The emulator and the simulated people, in the benchmark's own process.

The emulator is FIT-bot's own Bot API emulator (bot.sandbox.emulator), listening on a local port; the bot
under test talks HTTP to it from its own process. People act through the emulator's simulation API, and
every message the bot sends or edits is seen at once through `World.on_event`, so a press and the edit it
causes are timed on one clock (perf_counter) in one process.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.proc import CpuWindow
from bot.sandbox.emulator import Emulator, FloodLimits, SentMessage, SimChat, SimUser, WorldEvent


class BenchEmulator(Emulator):
    """The emulator, noting when the first getUpdates arrives and when each message request is served."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(log_limit=2000, **kwargs)
        self.first_get_updates: float | None = None
        self.message_times: list[float] = []  # perf_counter of every successful send/edit to any chat

    async def _execute(self, name: str, params: dict[str, Any], files: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if name == "getUpdates" and self.first_get_updates is None:
            self.first_get_updates = time.perf_counter()
        return await super()._execute(name, params, files)

    # --- the bot's messages as a person's phone shows them -----------------------------------------

    def fabricate_prompt(self, user: SimUser) -> SentMessage:
        """A questionnaire prompt as FIT-bot sends it, placed in the chat as if delivered earlier (its
        buttons are set by `set_prompt_buttons` once the questionnaire id is known).

        Benchmarks 1 and 2 measure answering, not the prompt: both bots start from the same delivered prompt.
        """
        chat = self.chats[user.id]
        return self._new_message(
            chat, from_bot=True, sender=self.bot_user, text="Du har et par spørgsmål fra dit seneste møde."
        )

    @staticmethod
    def set_prompt_buttons(message: SentMessage, questionnaire_id: int) -> None:
        message.reply_markup = {
            "inline_keyboard": [
                [{"text": "Ja, lad os gå i gang", "callback_data": f"qs:{questionnaire_id}"}],
                [{"text": "Ikke denne gang", "callback_data": f"qn:{questionnaire_id}"}],
            ]
        }

    def family(self, name: str) -> SimUser:
        """A person who has talked to the bot before (so the bot may message them)."""
        user = self.add_user(name)
        user.started = True
        return user

    def caseworker_channel(self, owner: SimUser, title: str) -> SimChat:
        """A caseworker's channel with the bot as administrator (as after `/kanal` set-up)."""
        channel = self.add_channel(title, creator=owner)
        channel.members[self.bot_user.id] = "administrator"
        return channel


def flood_limits() -> FloodLimits:
    """Telegram's limits as the emulator models them (30/s overall, 1/s per private chat, 20/min per channel)."""
    return FloodLimits()


async def start_emulator(*, flood: bool) -> BenchEmulator:
    emulator = BenchEmulator(flood=flood_limits() if flood else None)
    await emulator.start()
    return emulator


async def wait_polling(emulator: BenchEmulator, timeout: float = 60.0) -> float:  # noqa: ASYNC109 - a guard
    """Until the bot's first getUpdates; returns its perf_counter time."""
    await emulator.wait_until(lambda: emulator.first_get_updates is not None, timeout=timeout)
    assert emulator.first_get_updates is not None
    return emulator.first_get_updates


# --------------------------------------------------------------------------------------------------
# Latency records


@dataclass
class Latencies:
    """press -> edit times (seconds), with the time each edit arrived, for windowed figures."""

    samples: list[tuple[float, float]] = field(default_factory=list)  # (arrived_at, latency)

    def add(self, arrived_at: float, latency: float) -> None:
        self.samples.append((arrived_at, latency))

    def within(self, start: float, end: float) -> list[float]:
        return [lat for at, lat in self.samples if start <= at < end]


def item_position(message: SentMessage, questionnaire_id: int) -> int | None:
    """The item a questionnaire message shows now (from its buttons), or None without answer buttons."""
    prefix = f"q:{questionnaire_id}:"
    for button in message.buttons:
        data = button.get("callback_data", "")
        if data.startswith(prefix):
            return int(data.split(":")[2])
    return None


ORS_VALUES = (5, 6, 7, 8)  # no "very low" item, no alert
SRS_VALUES = (9, 10)  # alliance fine: no alert


def calm_value(rng: random.Random, position: int) -> int:
    return rng.choice(ORS_VALUES if position < 4 else SRS_VALUES)


# --------------------------------------------------------------------------------------------------
# People


class Answerer:
    """One person working through their questionnaires (one message each, edited in place).

    `next_action()` says what to press; `seen(message)` decides whether an edit is the answer to the
    last press, records its latency, and returns True when the person may act again.
    """

    def __init__(self, user: SimUser, work: list[tuple[int, SentMessage]], rng: random.Random) -> None:
        self.user = user
        self.work = work  # (questionnaire id, its message), in order
        self.rng = rng
        self.index = 0
        self.position = -1  # -1: the prompt is showing (press "start")
        self.pressed_at: float | None = None
        self.done_questionnaires = 0
        self.stale_edits = 0

    @property
    def current(self) -> tuple[int, SentMessage] | None:
        return self.work[self.index] if self.index < len(self.work) else None

    @property
    def finished(self) -> bool:
        return self.index >= len(self.work)

    def press(self, emulator: BenchEmulator) -> None:
        current = self.current
        assert current is not None
        qid, message = current
        data = f"qs:{qid}" if self.position < 0 else f"q:{qid}:{self.position}:{calm_value(self.rng, self.position)}"
        self.pressed_at = time.perf_counter()
        emulator.press(self.user, message, data)

    def seen(self, message: SentMessage, now: float, latencies: Latencies) -> bool:
        """An edit of one of this person's messages arrived. True when it answers the last press."""
        current = self.current
        if current is None or self.pressed_at is None or message is not current[1]:
            self.stale_edits += 1
            return False
        qid = current[0]
        shown = item_position(message, qid)
        expected = self.position + 1
        if shown == expected or (shown is None and expected == 8):
            latencies.add(now, now - self.pressed_at)
            self.pressed_at = None
            if shown is None:
                self.index += 1
                self.position = -1
                self.done_questionnaires += 1
            else:
                self.position = expected
            return True
        self.stale_edits += 1
        return False


class EventRouter:
    """Routes the emulator's events to the person whose chat they concern."""

    def __init__(self, emulator: BenchEmulator) -> None:
        self.emulator = emulator
        self.by_chat: dict[int, Callable[[WorldEvent, float], None]] = {}
        self.other: list[Callable[[WorldEvent, float], None]] = []
        self._unsubscribe = emulator.on_event(self._on_event)

    def _on_event(self, event: WorldEvent) -> None:
        now = time.perf_counter()
        message = event.message
        if message is not None:
            handler = self.by_chat.get(message.chat.id)
            if handler is not None:
                handler(event, now)
        for listener in self.other:
            listener(event, now)

    def close(self) -> None:
        self._unsubscribe()


async def closed_loop(
    emulator: BenchEmulator,
    people: list[Answerer],
    *,
    ramp: float,
    window: float,
    cpu: CpuWindow,
) -> dict[str, Any]:
    """Everyone presses again as soon as the next item appears. Figures over `window` after `ramp`."""
    loop = asyncio.get_running_loop()
    latencies = Latencies()
    router = EventRouter(emulator)
    out_of_work = 0

    def make_handler(person: Answerer) -> Callable[[WorldEvent, float], None]:
        def handle(event: WorldEvent, now: float) -> None:
            nonlocal out_of_work
            if event.kind != "edited" or event.message is None:
                return
            if person.seen(event.message, now, latencies):
                if person.finished:
                    out_of_work += 1
                else:
                    loop.call_soon(person.press, emulator)

        return handle

    for person in people:
        router.by_chat[person.user.id] = make_handler(person)
    start = time.perf_counter()
    for person in people:
        person.press(emulator)
    await asyncio.sleep(ramp)
    cpu.start()
    window_start = time.perf_counter()
    await asyncio.sleep(window)
    window_end = time.perf_counter()
    cpu.stop()
    router.close()
    sample = latencies.within(window_start, window_end)
    return {
        "started": start,
        "window_s": window_end - window_start,
        "presses": len(sample),
        "presses_total": len(latencies.samples),
        "latencies": sample,
        "questionnaires_done": sum(p.done_questionnaires for p in people),
        "out_of_work": out_of_work,
        "stale_edits": sum(p.stale_edits for p in people),
    }
