"""``fitbot sandbox``: chat with the bot in a terminal, through the emulator.

You act as one persona at a time; what you type is sent as that person's message (slash commands
included).  A few terminal commands start with ``:``; see :data:`HELP`.  Bot messages are printed as
they arrive, edits marked, inline buttons numbered so ``:2`` presses the second.  Works with a pipe
or a script on standard input too (no TTY needed), and from an iterator of lines in tests.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

from bot.sandbox.emulator import Emulator
from bot.sandbox.world import CallbackAnswer, SentMessage, SimulationError, SimUser, WorldEvent

__all__ = ["HELP", "run_terminal", "stdin_lines"]

HELP = """\
Skriv en besked til botten (også /kommandoer). Terminalens egne kommandoer:
  :N eller !N          tryk på knap N i botens nyeste besked med knapper
  /som NAVN            skift person (/som alene viser personerne)
  :kanal [NAVN]        opret en kanal, du ejer, med botten som administrator
  :foto  :klistermærke send et billede eller et klistermærke
  :bloker  :afbloker   bloker eller afbloker botten
  :hjælp               denne hjælp
  :quit eller Ctrl-D   afslut"""

_PRESS = re.compile(r"[:!](\d+)")
_QUIET = 0.25  # seconds without bot requests after which the bot is taken to be done answering
_MAX_SETTLE = 10.0


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from standard input, read in a daemon thread (works for TTYs, pipes and files)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="sandbox-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


def _stdin_is_a_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):  # closed or replaced standard input
        return False


class _Terminal:
    def __init__(self, emulator: Emulator, personas: dict[str, SimUser], out: TextIO, files_dir: Path | None) -> None:
        if not personas:
            raise ValueError("at least one persona is needed")
        self.emu = emulator
        self.personas = personas
        self.names = {user.id: name for name, user in personas.items()}
        self.current = next(iter(personas))
        self.out = out
        self._files_dir = files_dir
        self.at_prompt = False

    @property
    def user(self) -> SimUser:
        return self.personas[self.current]

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # ---- what the bot does

    def prompt(self) -> None:
        self.out.write(f"[{self.current}] > ")
        self.out.flush()
        self.at_prompt = True

    def on_event(self, event: WorldEvent) -> None:
        """Print what the bot did; while the prompt waits for input, print above a fresh prompt."""
        waiting = self.at_prompt
        if waiting:
            self.out.write("\n")
            self.at_prompt = False
        self._show_event(event)
        if waiting:
            self.prompt()

    def _show_event(self, event: WorldEvent) -> None:
        if event.kind == "answered":
            assert event.answer is not None
            self._show_answer(event.answer, event.user)
            return
        msg = event.message
        assert msg is not None
        if event.kind == "deleted":
            self.say(f"{self._prefix(msg)}(FIT-bot slettede en besked)")
        else:
            self._show_message(msg, edited=event.kind == "edited")

    def _prefix(self, msg: SentMessage) -> str:
        chat = msg.chat
        if chat.id == self.user.id:
            return ""
        if chat.type == "private":
            return f"[til {self.names.get(chat.id, chat.name)}] "
        return f"[{chat.title or chat.id}] "

    def _show_message(self, msg: SentMessage, *, edited: bool) -> None:
        head = f"{self._prefix(msg)}FIT-bot{' (redigeret)' if edited else ''}:"
        lines: list[str] = []
        for stored, label in ((msg.photo, "billede"), (msg.document, "dokument")):
            if stored is not None:
                path = self._save(msg, stored.filename or f"{label}.png", stored.data)
                name = stored.filename or path.name
                lines.append(f"[{label}: {name}, {stored.size / 1024:.1f} kB, gemt i {path}]")
        if msg.content:
            lines.extend(msg.content.splitlines() or [""])
        if len(lines) == 1:
            self.say(f"{head} {lines[0]}")
        else:
            self.say(head)
            for line in lines:
                self.say(f"  {line}")
        number = 0
        for row in msg.keyboard:
            cells = []
            for button in row:
                number += 1
                if "url" in button:
                    cells.append(f"[{number}] {button['text']} -> {button['url']}")
                else:
                    cells.append(f"[{number}] {button['text']}")
            self.say("    " + "  ".join(cells))

    def _show_answer(self, answer: CallbackAnswer, user: SimUser | None) -> None:
        if not answer.text or (user is not None and user.id != self.user.id):
            return
        self.say(f"FIT-bot ({'advarsel' if answer.show_alert else 'pop-up'}): {answer.text}")

    def _save(self, msg: SentMessage, name: str, data: bytes) -> Path:
        if self._files_dir is None:
            self._files_dir = Path(tempfile.mkdtemp(prefix="fitbot-sandbox-"))
        safe = re.sub(r"[^\w.-]", "_", name)
        path = self._files_dir / f"{msg.chat_id}_{msg.message_id}_{safe}"
        path.write_bytes(data)
        return path

    # ---- what the person does

    async def handle(self, line: str) -> bool:
        """Carry out one input line; False to stop."""
        text = line.rstrip("\r\n")
        stripped = text.strip()
        if not stripped:
            return True
        command, _, arg = stripped.partition(" ")
        arg = arg.strip()
        low = command.lower()
        try:
            if low in (":quit", ":q", ":afslut"):
                return False
            if low in (":hjælp", ":hjaelp", ":help", ":h", ":?"):
                self.say(HELP)
            elif low in ("/som", ":som"):
                self._switch(arg)
            elif m := _PRESS.fullmatch(stripped):
                await self._press(int(m.group(1)))
            elif low == ":kanal":
                channel = self.emu.add_channel(arg or f"{self.current}s kanal", creator=self.user)
                self.emu.add_bot_to_chat(channel, self.user, admin=True)
                self.say(f"(kanalen »{channel.title}« er oprettet med botten som administrator)")
                await self._settle()
            elif low == ":foto":
                self.emu.send_photo(self.user, caption=arg or None)
                await self._settle()
            elif low in (":klistermærke", ":klistermaerke", ":sticker"):
                self.emu.send_sticker(self.user)
                await self._settle()
            elif low == ":bloker":
                self.emu.block_bot(self.user)
                self.say("(du har blokeret botten)")
                await self._settle()
            elif low == ":afbloker":
                self.emu.unblock_bot(self.user)
                self.say("(du har afblokeret botten)")
                await self._settle()
            else:
                self.emu.send_text(self.user, text)
                await self._settle()
        except SimulationError as exc:
            self.say(f"(kan ikke: {exc})")
        return True

    def _switch(self, name: str) -> None:
        if not name:
            listing = "  ".join(f"{n}{' *' if n == self.current else ''}" for n in self.personas)
            self.say(f"Personer: {listing}")
            return
        matches = [n for n in self.personas if n.lower() == name.lower()] or [
            n for n in self.personas if n.lower().startswith(name.lower())
        ]
        if len(matches) != 1:
            self.say(f"(ukendt person: {name}; vælg blandt {', '.join(self.personas)})")
            return
        self.current = matches[0]
        self.say(f"(du er nu {self.current})")

    async def _press(self, number: int) -> None:
        mine = reversed(self.emu.messages(self.user))
        newest = next((m for m in mine if m.buttons and not m.deleted), None)
        if newest is None:
            self.say("(ingen besked med knapper)")
            return
        buttons = newest.buttons
        if not 1 <= number <= len(buttons):
            self.say(f"(der er {len(buttons)} knapper)")
            return
        button = buttons[number - 1]
        if "url" in button:
            self.say(f"(link: {button['url']})")
            return
        self.emu.press(self.user, newest, number - 1)
        await self._settle()

    async def _settle(self) -> None:
        """Let the bot react before the next prompt (and before a script's next line)."""
        try:
            await self.emu.settle(quiet=_QUIET, timeout=_MAX_SETTLE)
        except TimeoutError:
            self.say("(botten henter ikke opdateringer - kører den?)")


async def run_terminal(
    emulator: Emulator,
    personas: dict[str, SimUser],
    *,
    input_lines: AsyncIterator[str] | None = None,
    out: TextIO = sys.stdout,
    files_dir: Path | None = None,
    echo: bool | None = None,
) -> None:
    """Chat with the bot behind ``emulator`` as one of ``personas`` (name -> user) at a time, reading lines
    from ``input_lines`` (default: standard input) until ``:quit`` or the end of input.  Photos and
    documents from the bot are saved in ``files_dir`` (default: a new temporary directory).  Input lines
    are echoed after the prompt when ``echo`` (default: when standard input is not a terminal, which
    echoes by itself), so a scripted session reads like a chat."""
    term = _Terminal(emulator, personas, out, files_dir)
    if echo is None:
        echo = not _stdin_is_a_terminal()
    lines = input_lines if input_lines is not None else stdin_lines()
    unsubscribe = emulator.on_event(term.on_event)
    term.say("FIT-bot sandkasse. Skriv :hjælp for hjælp.")
    try:
        while True:
            term.prompt()
            line = await anext(lines, None)
            term.at_prompt = False
            if line is None:
                out.write("\n")
                break
            if echo:
                out.write(line.rstrip("\r\n") + "\n")
            if not await term.handle(line):
                break
    finally:
        unsubscribe()
    term.say("Farvel.")
