"""The whole round on PostgreSQL: the same Application, services and queries as on SQLite."""

from __future__ import annotations

from pathlib import Path

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from tests.e2e.harness import start_harness, stop_harness
from tests.pg_cluster import fresh_database


async def test_a_whole_round_on_postgresql(
    emulator: Emulator, clock: FakeClock, tmp_path: Path, postgres_dsn: str
) -> None:
    async with fresh_database(postgres_dsn) as dsn:
        harness = await start_harness(
            emulator, clock, tmp_path / "unused.sqlite3", env={"FITBOT_DATABASE_POSTGRES_DSN": dsn}
        )
        try:
            assert harness.fitbot.storage.db.dialect == "postgres"
            worker = await harness.enrol_caseworker("Rikke")
            await worker.link_channel()
            await worker.new_case("A12", "6-12")
            token = await worker.invite("A12")
            parent = harness.person("Mette")
            await parent.send(f"/start {token}")
            await parent.tap("Ja, jeg vil gerne være med")
            for values in (("6", "6", "6", "6"), ("1", "2", "1", "2")):
                await worker.send("/moede A12")
                await harness.advance(minutes=31)
                await parent.tap("Ja, lad os gå i gang")
                for value in (*values, "9", "9", "9", "9"):
                    await parent.tap(value)
                await harness.run_due()
                harness.clock.advance(days=7)
            posts = [m.content for m in worker.channel_messages()]
            assert any("Nye svar i sag A12" in p and "ORS 6,0" in p for p in posts)
            assert any(p.startswith("⚠️ Advarsel i sag A12") and "Sikker tilbagegang" in p for p in posts)
            await worker.send("/sager")
            assert "ORS 24,0 ↓ 6,0" in worker.last.text
            await harness.fitbot.housekeeping()
            await harness.advance(days=1)
            assert any("Dagens oversigt" in m.content for m in worker.channel_messages())
        finally:
            await stop_harness(harness)
