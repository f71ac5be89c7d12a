"""``python -m bot.sandbox.emulator`` in its own process, driven through the ``/_sim/`` control API."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox.world import TEST_TOKEN

REPO = Path(__file__).resolve().parents[2]


async def test_standalone_server_with_control_api() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.emulator",
        "--port",
        "0",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        found = re.search(r"base_url=(\S+)", first)
        assert found, first
        base_url = found.group(1)
        root = base_url.removesuffix("/bot")

        async with httpx.AsyncClient() as client:

            async def sim(action: str, **body: Any) -> Any:
                response = await client.post(f"{root}/_sim/{action}", json=body)
                assert response.status_code == 200, response.text
                return response.json()["result"]

            user_id = (await sim("add_user", first_name="Anna"))["user_id"]
            sent = await sim("send_text", user_id=user_id, text="/start")
            async with Bot(TEST_TOKEN, base_url=base_url) as bot:
                (update,) = await bot.get_updates()
                assert update.update_id == sent["update_id"]
                assert update.message is not None
                assert update.message.text == "/start"
                markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="ja")]])
                await bot.send_message(user_id, "Klar?", reply_markup=markup)
                (message,) = await sim("messages", chat_id=user_id)
                assert message["text"] == "Klar?"
                assert message["buttons"] == ["Ja"]
                query = await sim("press", user_id=user_id, message_id=message["message_id"], button=0)
                updates = await bot.get_updates(offset=update.update_id + 1)
                assert updates[-1].callback_query is not None
                assert updates[-1].callback_query.id == query["callback_query_id"]
                await bot.answer_callback_query(query["callback_query_id"])
            stats = await sim("stats")
            assert stats["sent_messages"] == 1
            assert stats["sent_per_chat"] == {str(user_id): 1}
            assert stats["rejected"] == 0
            bad = await client.post(f"{root}/_sim/press", json={"user_id": user_id, "message_id": 99, "button": 0})
            assert bad.status_code == 400
            assert "KeyError" in bad.json()["error"]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
