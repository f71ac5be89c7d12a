"""SIGTERM while a send is under way, in PTB's real order: `fitbot run` (Application.run_polling) in its own
process against the standalone emulator, stopped by the signal an operator's systemd sends.

run_polling stops the updater, then the Application, then calls post_stop, then shutdown() (which closes
the bot's HTTP client), then post_shutdown. The dispatcher must finish the send in hand before the HTTP
client goes: the prompt under way is delivered once, its row is done after one attempt, and the next start
has nothing in flight to send again. Real-time waits here are failure guards or the emulator's delay.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.durability.procs import PROMPT_LINE, db_rows, until, world

pytestmark = pytest.mark.slow

DELAY = 2.0  # seconds the emulator holds the prompt's request: the signal arrives meanwhile


async def test_sigterm_lets_the_send_in_hand_finish_once(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        sim, db, bot = w.sim, w.db, w.bot
        code, _out, err = await w.cli("status")  # creates the database
        assert code in (0, 1), err
        await bot.start()
        await bot.started()
        worker = await w.enrol_caseworker("Rikke")
        (family,) = await w.families(worker, {"K1": ("6-12", ["forælder"])}, random.Random(1))
        await sim.call("fault", method="sendMessage", chat_id=family.user_id, delay=DELAY)
        count = len(await sim.messages(worker))
        await sim.send(worker, "/moede K1")  # the prompt is due at once (no delay, no quiet hours)
        await sim.reply_after(worker, count, "the meeting's confirmation")

        async def prompt_under_way() -> bool:
            stats = await sim.call("stats")
            return stats["in_flight"] > 0 and stats["faults_served"] > 0

        await until(prompt_under_way, "the prompt's request to be under way")
        code, took = await bot.terminate()
        log = bot.log()
        assert code == 0, log
        assert took < DELAY + 8, f"SIGTERM took {took:.1f} s"
        prompts = [m for m in await sim.messages(family.user_id) if PROMPT_LINE in m["text"]]
        assert len(prompts) == 1, log  # delivered, not cut off by the HTTP client's shutdown
        assert db_rows(db, "SELECT status, attempts, outcome FROM outbox WHERE kind = 'prompt'") == [
            ("done", 1, "sent")
        ], log
        assert db_rows(db, "SELECT status FROM questionnaires") == [("sent",)]
        assert "cutting them off" not in log
        assert "NetworkError" not in log
        # The next start finds nothing in flight and sends nothing again.
        await bot.start()
        await bot.started()
        assert "were in flight at the last stop" not in bot.log()
        code, _took = await bot.terminate()
        assert code == 0
        assert len([m for m in await sim.messages(family.user_id) if PROMPT_LINE in m["text"]]) == 1
