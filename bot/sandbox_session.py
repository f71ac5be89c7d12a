"""`fitbot sandbox`: the emulator, the real bot and a terminal chat in one process, no network.

You start as the caseworker "Rådgiver" (already enrolled); "Forælder" and "Ung" are family members
waiting for an invitation. Prompts go out at once after /moede (no delay, no quiet hours), and
`:spol 24t` fast-forwards the bot's clock to see reminders, expiry and digests.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import AsyncIterator
from datetime import time, timedelta
from pathlib import Path

from bot.app import FitBot, build
from bot.clock import OffsetClock
from bot.config import Config
from bot.sandbox.emulator import Emulator
from bot.sandbox.terminal import run_terminal, stdin_lines
from bot.services import enrolment

INTRO = """\
FIT-bot sandkasse: botten kører mod en lokal Telegram-emulator. Intet forlader maskinen.
Du er "Rådgiver" (allerede tilmeldt). Prøv fx:
  /nysag A12 6-12        opret en sag
  /inviter A12 forælder  få et invitationslink (koden efter ?start=)
  /som Forælder          skift person, og skriv /start KODE
  /moede A12             registrér et møde: spørgsmålene kommer med det samme
  :spol 24t              spol botten 24 timer frem (påmindelser, udløb, oversigter)
  :hjælp                 terminalens kommandoer
"""

_SPOOL = re.compile(r":spol\s+(\d+)\s*([mtd])", re.IGNORECASE)
_UNITS = {"m": "minutes", "t": "hours", "d": "days"}


async def _with_time_travel(lines: AsyncIterator[str], fitbot: FitBot, clock: OffsetClock) -> AsyncIterator[str]:
    """Handle ":spol N[m|t|d]" here (it moves the bot's clock); pass every other line on."""
    async for line in lines:
        match = _SPOOL.fullmatch(line.strip())
        if match is None:
            yield line
            continue
        clock.advance(timedelta(**{_UNITS[match[2].lower()]: int(match[1])}))
        print(f"(uret er spolet {match[1]}{match[2]} frem)")
        await fitbot.housekeeping()
        await fitbot.dispatcher.run_due()
        yield ""  # let the terminal print what the bot sent


def sandbox_config(config: Config, emulator: Emulator, db_path: Path) -> Config:
    return dataclasses.replace(
        config,
        telegram_token=emulator.token,
        base_url=emulator.base_url,
        base_file_url=emulator.base_file_url,
        database_path=db_path,
        postgres_dsn="",
        prompt_delay=timedelta(0),
        quiet_start=time(0, 0),
        quiet_end=time(0, 0),  # equal: no quiet hours in the sandbox
    )


async def run_sandbox(config: Config, *, db_path: Path | None = None, lines: AsyncIterator[str] | None = None) -> int:
    with tempfile.TemporaryDirectory(prefix="fitbot-sandbox-") as tmp:
        emulator = Emulator()
        await emulator.start()
        clock = OffsetClock()
        fitbot = build(sandbox_config(config, emulator, db_path or Path(tmp) / "sandbox.sqlite3"), clock=clock.now)
        await fitbot.start()
        try:
            caseworker = emulator.add_user("Rådgiver")
            enrolled = await enrolment.add_caseworker(fitbot.svc, "Rådgiver", "Sandkasse")
            emulator.send_text(caseworker, f"/start {enrolled.token}")
            personas = {
                "Rådgiver": caseworker,
                "Forælder": emulator.add_user("Forælder"),
                "Ung": emulator.add_user("Ung"),
            }
            print(INTRO)
            source = lines if lines is not None else stdin_lines()
            await run_terminal(
                emulator, personas, input_lines=_with_time_travel(source, fitbot, clock), files_dir=Path(tmp)
            )
        finally:
            await fitbot.stop()
            await emulator.stop()
    return 0
