"""`fitbot backup` while the bot runs and writes; `fitbot restore` refused while it runs, working after it stops.

The bot and the emulator run in their own processes (see procs.py); families keep answering while backups
are taken, so the copies are made under a live writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from pathlib import Path

import pytest

from tests.durability.procs import Family, db_rows, finish, open_questionnaires, until, world

pytestmark = pytest.mark.slow


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def answers(path: Path) -> dict[tuple[int, int], int | None]:
    return {(q, p): v for q, p, v in db_rows(path, "SELECT questionnaire_id, position, value FROM answers")}


async def test_backup_while_running_is_consistent_and_restore_works_after_stop(tmp_path: Path) -> None:
    rng = random.Random(7)
    async with world(tmp_path) as w:
        sim, db, bot = w.sim, w.db, w.bot
        code, _out, err = await w.cli("status")
        assert code == 1, err
        assert "no database" in err  # status reads; it creates nothing
        await bot.start()
        await bot.started()
        worker = await w.enrol_caseworker("Rikke")
        families = await w.families(worker, {"K1": ("13-17", ["forælder", "ung"]), "K2": ("6-12", ["forælder"])}, rng)

        async def meeting(label: str) -> None:
            count = len(await sim.messages(worker))
            await sim.send(worker, f"/moede {label}")
            await sim.reply_after(worker, count, f"the meeting of {label}")

        async def answer_open(among: list[Family]) -> None:
            await until(lambda: not db_rows(db, "SELECT id FROM questionnaires WHERE status = 'scheduled'"), "prompts")

            async def one(family: Family) -> None:
                for qid in await open_questionnaires(db, family.user_id):
                    await finish(sim, db, family, qid)

            await asyncio.gather(*(one(f) for f in among))

        for label in ("K1", "K2"):
            await meeting(label)
        await answer_open(families)

        # Families keep answering (and meetings keep coming) while three backups are taken.
        stop = asyncio.Event()

        async def writer() -> None:
            while not stop.is_set():
                for label in ("K1", "K2"):
                    await meeting(label)
                await answer_open(families)

        writing = asyncio.create_task(writer())
        copies = []
        written_meanwhile = 0  # backups during which the bot stored answers
        try:
            for n in range(3):
                acknowledged = {key: f.answers[key] for f in families for key in f.acknowledged}
                rows_before = len(answers(db))
                copy = tmp_path / f"backup-{n}.sqlite3"
                code, out, err = await w.cli("backup", str(copy))
                assert code == 0, err
                assert "backup written" in out
                copies.append((copy, acknowledged, rows_before))
                written_meanwhile += len(answers(db)) > rows_before
                await until(lambda b=rows_before: len(answers(db)) > b + 8, "more answers after the backup")
        finally:
            stop.set()
            await writing
        assert not writing.exception()
        assert written_meanwhile >= 1  # the copies were made under a live writer

        for copy, acknowledged, rows_before in copies:
            assert integrity(copy) == "ok"
            stored = answers(copy)
            assert len(stored) >= rows_before
            for key, value in acknowledged.items():
                assert stored.get(key) == value * 10, (copy.name, key)  # acknowledged before: in the copy
            # A complete database, not a torn one: its questionnaires and answers agree.
            orphans = db_rows(
                copy,
                "SELECT COUNT(*) FROM answers a LEFT JOIN questionnaires q ON q.id = a.questionnaire_id "
                "WHERE q.id IS NULL",
            )
            assert orphans == [(0,)]

        # Restore is refused while the bot holds the database...
        live = answers(db)
        restore_from = copies[0][0]
        code, _out, err = await w.cli("restore", str(restore_from))
        assert code == 1
        assert "in use by a running bot" in err
        assert answers(db) == live  # untouched

        # ...and works once the bot has stopped.
        code, _took = await bot.terminate()
        assert code == 0
        code, out, err = await w.cli("restore", str(restore_from))
        assert code == 0, err
        assert "restored" in out
        assert f"{db.name}.before-restore" in {p.name for p in tmp_path.iterdir()}  # noqa: ASYNC240
        assert answers(db) == answers(restore_from)
        assert integrity(db) == "ok"

        # The bot starts on the restored database and goes on: a new meeting's questionnaire is asked and
        # answered. (What was answered after the backup is gone, as a restore means.)
        await bot.start()
        await bot.started()
        code, out, err = await w.cli("status")
        assert code == 0, out + err
        assert "health:               ok" in out
        k2 = [f for f in families if f.name.startswith("K2")]
        before = {q for (q,) in db_rows(db, "SELECT id FROM questionnaires")}
        await meeting("K2")
        await until(lambda: db_rows(db, "SELECT id FROM questionnaires WHERE status = 'sent'"), "the new prompt")
        (new,) = [q for (q,) in db_rows(db, "SELECT id FROM questionnaires") if q not in before]
        k2[0].answers = {key: v for key, v in k2[0].answers.items() if key[0] != new}  # ids are reused
        await finish(sim, db, k2[0], new)
        assert db_rows(db, "SELECT status FROM questionnaires WHERE id = ?", (new,)) == [("completed",)]
        code, _took = await bot.terminate()
        assert code == 0
