"""People driving the real FIT-bot Application through the emulator, in words a test can read.

    parent = harness.person("Mette")
    await parent.send("/start " + token)
    await parent.tap("Ja, jeg vil gerne være med")
    await harness.run_due()
    parent.last.text  # what the bot shows now

Every action waits until the bot has fully processed its update (not a sleep: the Application's
`process_update` signals it), so assertions right after an action see its whole effect.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import Update

from bot import config as config_module
from bot.app import FitBot, build
from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator, SentMessage, SimChat, SimUser

TIMEOUT = 10.0  # a failure guard only; nothing waits for it to pass


class Harness:
    def __init__(self, emulator: Emulator, fitbot: FitBot, clock: FakeClock) -> None:
        self.emulator = emulator
        self.fitbot = fitbot
        self.clock = clock
        self._processed: set[int] = set()
        self._changed = asyncio.Event()

    # --- the Application's progress ----------------------------------------------------------------

    def instrument(self) -> None:
        """Wrap process_update so tests can wait for an update to be fully handled."""
        app = self.fitbot.application
        original = app.process_update

        async def process_update(update: object) -> None:
            try:
                await original(update)
            finally:
                if isinstance(update, Update):
                    self._processed.add(update.update_id)
                    self._changed.set()

        app.process_update = process_update  # type: ignore[method-assign]

    async def processed(self, update_id: int) -> None:
        async with asyncio.timeout(TIMEOUT):
            while update_id not in self._processed:
                self._changed.clear()
                await self._changed.wait()

    async def after_update(self) -> None:
        """Wait for the update the emulator queued last."""
        await self.processed(self.emulator.last_update_id)

    # --- time and the outbox -----------------------------------------------------------------------

    async def run_due(self) -> int:
        """Send everything due now (the dispatcher's burst mode), as the wake-up would."""
        return await self.fitbot.dispatcher.run_due()

    async def advance(self, **delta: float) -> int:
        self.clock.advance(timedelta(**delta))
        return await self.run_due()

    # --- people --------------------------------------------------------------------------------

    def person(self, name: str, *, language: str = "da") -> Person:
        return Person(self, self.emulator.add_user(name, language_code=language))

    async def enrol_caseworker(self, name: str, *, team: str = "Team Nord", role: str = "caseworker") -> Caseworker:
        from bot.services import enrolment

        enrolled = await enrolment.add_caseworker(self.fitbot.svc, name, team, role)
        worker = Caseworker(self, self.emulator.add_user(name), enrolled.caseworker_id)
        await worker.send(f"/start {enrolled.token}")
        return worker

    @property
    def db(self) -> Any:
        return self.fitbot.storage


class Person:
    def __init__(self, harness: Harness, user: SimUser) -> None:
        self.h = harness
        self.user = user

    @property
    def emulator(self) -> Emulator:
        return self.h.emulator

    @property
    def chat(self) -> SimChat:
        return self.emulator.chats[self.user.id]

    @property
    def last(self) -> SentMessage:
        message = self.emulator.last_message(self.user.id)
        assert message is not None, f"the bot has said nothing to {self.user.first_name}"
        return message

    def last_text_message(self) -> SentMessage:
        for message in reversed(self.messages()):
            if message.text is not None and not message.deleted:
                return message
        raise AssertionError(f"no text message for {self.user.first_name}")

    def messages(self) -> list[SentMessage]:
        return self.emulator.messages(self.user.id)

    def texts(self) -> list[str]:
        return [m.content for m in self.messages()]

    async def send(self, text: str) -> None:
        self.emulator.send_text(self.user, text)
        await self.h.after_update()

    async def send_sticker(self) -> None:
        self.emulator.send_sticker(self.user)
        await self.h.after_update()

    async def tap(self, button: int | str, message: SentMessage | None = None) -> str:
        """Press a button (by text, callback data or index) of `message` (default: the newest with buttons).
        Returns the short answer the bot showed (the callback query's text, '' for none)."""
        target = message or self.newest_with_buttons()
        query_id = self.emulator.press(self.user, target, button)
        await self.h.after_update()
        answer = self.emulator.callback_answer(query_id)
        assert answer is not None, "the bot did not answer the button press"
        return answer.text or ""

    async def forge(self, data: str, message: SentMessage | None = None) -> str:
        """A malicious client's press with arbitrary callback data."""
        target = message or self.last
        query_id = self.emulator.press_raw(self.user, target.message_id, data)
        await self.h.after_update()
        answer = self.emulator.callback_answer(query_id)
        assert answer is not None, "the bot did not answer the forged press"
        return answer.text or ""

    def newest_with_buttons(self) -> SentMessage:
        for message in reversed(self.messages()):
            if message.buttons and not message.deleted:
                return message
        raise AssertionError(f"no message with buttons for {self.user.first_name}")


class Caseworker(Person):
    def __init__(self, harness: Harness, user: SimUser, caseworker_id: int) -> None:
        super().__init__(harness, user)
        self.caseworker_id = caseworker_id
        self.channel: SimChat | None = None

    async def link_channel(self, title: str = "FIT advarsler") -> SimChat:
        channel = self.emulator.add_channel(title, creator=self.user)
        self.emulator.add_bot_to_chat(channel, self.user, admin=True)
        await self.h.after_update()
        self.channel = channel
        return channel

    def channel_messages(self) -> list[SentMessage]:
        assert self.channel is not None
        return self.emulator.messages(self.channel.id)

    async def new_case(self, label: str, band: str = "6-12") -> None:
        await self.send(f"/nysag {label} {band}")

    async def invite(self, label: str, role: str = "forælder") -> str:
        """The invitation token from the deep link the bot showed."""
        await self.send(f"/inviter {label} {role}")
        caption = self.last.content
        links = [word for word in caption.split() if "?start=" in word]
        assert links, f"no invitation link in: {caption!r}"
        return links[0].split("?start=", 1)[1]


async def start_harness(
    emulator: Emulator,
    clock: FakeClock,
    db_path: Path,
    *,
    seed: int = 7,
    env: dict[str, str] | None = None,
    config_hook: Callable[[dict[str, str]], None] | None = None,
) -> Harness:
    settings = {
        "FITBOT_TELEGRAM_TOKEN": emulator.token,
        "FITBOT_TELEGRAM_BASE_URL": emulator.base_url,
        "FITBOT_TELEGRAM_BASE_FILE_URL": emulator.base_file_url,
        "FITBOT_DATABASE_PATH": str(db_path),
        **(env or {}),
    }
    if config_hook:
        config_hook(settings)
    config = config_module.load(None, env=settings)
    fitbot = build(config, clock=clock.now, random_bytes=random.Random(seed).randbytes)
    harness = Harness(emulator, fitbot, clock)
    harness.instrument()
    await fitbot.start(poll_timeout=5)
    return harness


async def stop_harness(harness: Harness) -> None:
    await harness.fitbot.stop()


def keep_updates(harness: Harness) -> dict[int, Update]:
    """Remember every update the Application handles, so a test can deliver one again, as Telegram does
    with an update the bot had not confirmed (a crash between handling it and the next getUpdates)."""
    seen: dict[int, Update] = {}
    app = harness.fitbot.application
    instrumented = app.process_update

    async def keep(update: object) -> None:
        if isinstance(update, Update):
            seen[update.update_id] = update
        await instrumented(update)

    app.process_update = keep  # type: ignore[method-assign]
    return seen
