from __future__ import annotations

from tests.e2e.harness import Harness


async def test_stranger_learns_nothing(harness: Harness) -> None:
    stranger = harness.person("Ukendt")
    await stranger.send("/start")
    assert "familieafdeling" in stranger.last.text
    await stranger.send("/sager")
    assert "link fra din rådgiver" in stranger.last.text


async def test_whole_round(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    assert "Velkommen, Rikke" in worker.last.text
    await worker.link_channel()
    await worker.new_case("A12", "6-12")
    assert "A12" in worker.last.text
    token = await worker.invite("A12")
    parent = harness.person("Mette")
    await parent.send(f"/start {token}")
    assert "Vil du være med?" in parent.last.text
    await parent.tap("Ja, jeg vil gerne være med")
    assert "Du er nu med" in parent.last.text
    await worker.send("/moede A12")
    assert "registreret" in worker.last.text
    await harness.advance(minutes=31)
    assert "et par spørgsmål fra dit seneste møde" in parent.last.text
    await parent.tap("Ja, lad os gå i gang")
    for n in range(8):
        assert f"Spørgsmål {n + 1} af 8" in parent.last.text
        await parent.tap("7")
    assert "Tak for dine svar" in parent.last.text
    await harness.run_due()
    assert any("Nye svar i sag A12" in m.content for m in worker.channel_messages())
