"""People answering at a human pace (benchmarks 2 and 3): one task per family member.

A person looks at the prompt for a while, presses "start", then answers an item every 2-6 s (uniformly at
random); some pause once for minutes; some type their answers ("7", "6,5") from some item on, as the
bot's item text invites. Every action's latency is the time until the bot shows the next item: an edit
of the questionnaire message after a press, a new message after a typed answer. All waits are multiplied
by `scale` (quick mode compresses time; latencies are never scaled).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from bench.drive import BenchEmulator, EventRouter, Latencies, calm_value, item_position
from bot.sandbox.emulator import SentMessage, SimUser, WorldEvent


@dataclass(frozen=True)
class Pace:
    start_within: float = 10.0  # first press within this many seconds of the start
    think: tuple[float, float] = (2.0, 6.0)  # seconds between presses
    pause_share: float = 0.10  # share of people who pause once...
    pause: tuple[float, float] = (60.0, 120.0)  # ...for this long
    typing_share: float = 0.20  # share of people who type their answers from some item on
    scale: float = 1.0  # multiplies every wait (quick mode compresses time)


@dataclass
class Outcome:
    presses: Latencies = field(default_factory=Latencies)
    typed: Latencies = field(default_factory=Latencies)
    finished: int = 0
    timeouts: int = 0
    unexpected: int = 0


class Human:
    def __init__(
        self, emulator: BenchEmulator, user: SimUser, qid: int, prompt: SentMessage, rng: random.Random
    ) -> None:
        self.emulator, self.user, self.qid, self.message, self.rng = emulator, user, qid, prompt, rng
        self._waiting: asyncio.Future[tuple[SentMessage, float]] | None = None
        self._expect: int | None = None  # the item position the next message must show (8: finished)
        self._typed = False

    def on_event(self, event: WorldEvent, now: float) -> None:
        """A message of this person's chat was sent or edited."""
        message = event.message
        fut = self._waiting
        if fut is None or fut.done() or message is None or self._expect is None:
            return
        if self._typed and event.kind != "sent":
            return  # the old message losing its buttons
        if not self._typed and (event.kind != "edited" or message is not self.message):
            return
        shown = item_position(message, self.qid)
        if shown == self._expect or (shown is None and self._expect == 8 and "Tak" in message.content):
            fut.set_result((message, now))

    async def _act(self, outcome: Outcome, position: int, typed: bool, timeout: float) -> bool:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        self._waiting = loop.create_future()
        self._expect = position + 1
        self._typed = typed
        started = time.perf_counter()
        if typed:
            value = calm_value(self.rng, position)
            text = str(value) if self.rng.random() < 0.7 else f"{value - 1},5"
            self.emulator.send_text(self.user, text)
        elif position < 0:
            self.emulator.press(self.user, self.message, f"qs:{self.qid}")
        else:
            self.emulator.press(self.user, self.message, f"q:{self.qid}:{position}:{calm_value(self.rng, position)}")
        try:
            message, at = await asyncio.wait_for(self._waiting, timeout)
        except TimeoutError:
            outcome.timeouts += 1
            return False
        (outcome.typed if typed else outcome.presses).add(at, at - started)
        self.message = message
        return True

    async def answer(self, pace: Pace, outcome: Outcome, *, timeout: float = 120.0) -> None:  # noqa: ASYNC109
        rng, scale = self.rng, pace.scale
        typing_from = rng.randrange(0, 8) if rng.random() < pace.typing_share else 99
        pause_at = rng.randrange(0, 8) if rng.random() < pace.pause_share else 99
        await asyncio.sleep(rng.uniform(0, pace.start_within) * scale)
        if not await self._act(outcome, -1, False, timeout):
            return
        for position in range(8):
            wait = rng.uniform(*pace.think)
            if position == pause_at:
                wait += rng.uniform(*pace.pause)
            await asyncio.sleep(wait * scale)
            if not await self._act(outcome, position, position >= typing_from, timeout):
                return
        outcome.finished += 1


async def answer_all(emulator: BenchEmulator, humans: list[Human], pace: Pace) -> Outcome:
    outcome = Outcome()
    router = EventRouter(emulator)
    for human in humans:
        router.by_chat[human.user.id] = human.on_event
    try:
        await asyncio.gather(*(h.answer(pace, outcome) for h in humans))
    finally:
        router.close()
    return outcome
