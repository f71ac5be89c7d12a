"""The emulator's group -> supergroup upgrade (Telegram's migrate_to_chat_id) and faults set through the
control API (for tests that run the emulator in its own process)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.error import ChatMigrated, NetworkError

from bot.sandbox.emulator import Emulator
from bot.sandbox.world import SimulationError


async def test_a_group_upgraded_to_a_supergroup_answers_with_its_new_id(emulator: Emulator, bot: Bot) -> None:
    owner = emulator.add_user("Rikke")
    group = emulator.add_group("FIT", creator=owner)
    emulator.add_bot_to_chat(group, owner, admin=True)
    first = await bot.send_message(group.id, "før")
    supergroup = emulator.upgrade_to_supergroup(group)
    assert supergroup.type == "supergroup"
    assert str(supergroup.id).startswith("-100")
    assert supergroup.members == group.members  # the bot stays an administrator
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(group.id, "efter")
    assert caught.value.new_chat_id == supergroup.id
    with pytest.raises(ChatMigrated):
        await bot.edit_message_text("ændret", chat_id=group.id, message_id=first.message_id)
    sent = await bot.send_message(supergroup.id, "efter")
    assert sent.chat.id == supergroup.id
    assert [m.content for m in emulator.messages(supergroup.id)] == ["efter"]
    assert [m.content for m in emulator.messages(group.id)] == ["før"]
    refusals = [(r.method, r.description) for r in emulator.requests if r.status == 400]
    upgraded = "Bad Request: group chat was upgraded to a supergroup chat"
    assert refusals == [("sendMessage", upgraded), ("editMessageText", upgraded)]
    emulator.rejected.clear()
    with pytest.raises(SimulationError):
        emulator.upgrade_to_supergroup(supergroup)


async def test_faults_through_the_control_api() -> None:
    emulator = Emulator(strict=True, control_api=True)
    await emulator.start()
    try:
        async with httpx.AsyncClient() as client, Bot(emulator.token, base_url=emulator.base_url) as bot:

            async def sim(action: str, **body: Any) -> Any:
                response = await client.post(f"{emulator.url}/_sim/{action}", json=body)
                assert response.status_code == 200, response.text
                return response.json()["result"]

            user_id = (await sim("add_user", first_name="Anna"))["user_id"]
            await sim("send_text", user_id=user_id, text="/start")
            assert await sim("fault", method="sendMessage", status=502, chat_id=user_id, count=1) == {"rules": 1}
            with pytest.raises(NetworkError):
                await bot.send_message(user_id, "hej")
            await sim("fault", method="sendMessage", delay=0.2, chat_id=user_id)
            sending = asyncio.create_task(bot.send_message(user_id, "hej"))
            await emulator.wait_until(lambda: emulator.in_flight > 0, timeout=5)
            stats = await sim("stats")
            assert (stats["in_flight"], stats["faults_served"]) == (1, 2)
            await sending
            assert (await sim("stats"))["in_flight"] == 0
            bad = await client.post(f"{emulator.url}/_sim/fault", json={"method": "sendMessage", "colour": "red"})
            assert bad.status_code == 400
            assert "unknown fault fields" in bad.json()["error"]
    finally:
        await emulator.stop()
