"""Whose words: an adult's own case asks about "you"; a licensed municipality's official texts replace ours."""

from __future__ import annotations

from pathlib import Path

from bot.clock import FakeClock
from bot.sandbox.emulator import Emulator
from tests.e2e.harness import Harness, start_harness, stop_harness

CONSENT = "Ja, jeg vil gerne være med"
START = "Ja, lad os gå i gang"


async def _first_item(harness: Harness, band: str, language: str = "da") -> str:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("V1", band)
    token = await worker.invite("V1", "forælder")
    person = harness.person("Voksen", language=language)
    await person.send(f"/start {token}")
    await person.tap(CONSENT if language == "da" else 0)
    await worker.send("/moede V1")
    await harness.advance(minutes=31)
    await person.tap(0)  # start
    return person.last.text


async def test_an_adult_in_their_own_case_is_asked_about_themselves(harness: Harness) -> None:
    text = await _first_item(harness, "voksen")
    assert "Hvordan har du haft det med dig selv den seneste uge?" in text
    assert "barn" not in text


async def test_licensed_wording_replaces_ours(
    emulator: Emulator, clock: FakeClock, db_path: Path, tmp_path: Path
) -> None:
    licensed = tmp_path / "licensed.toml"
    licensed.write_text(
        '[ors.individually]\nda = { question = "Officiel tekst om barnet?", low = "Lavt", high = "Højt" }\n'
        'en = { question = "Official text about the child?", low = "Low", high = "High" }\n',
        encoding="utf-8",
    )
    harness = await start_harness(emulator, clock, db_path, env={"FITBOT_WORDING_OVERRIDE_FILE": str(licensed)})
    try:
        text = await _first_item(harness, "6-12")
        assert "Officiel tekst om barnet?" in text
        assert "0 = Lavt · 10 = Højt" in text
    finally:
        await stop_harness(harness)
    # Without the file, our own wording again (the override is not left behind in the process).
    harness = await start_harness(emulator, clock, tmp_path / "other.sqlite3")
    try:
        text = await _first_item(harness, "6-12")
        assert "Officiel" not in text
    finally:
        await stop_harness(harness)
