"""Fixtures for the emulator's own tests: a running emulator, a PTB ``Bot`` and ``Application`` on it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder, BaseHandler

from bot.sandbox.emulator import Emulator


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = Emulator(strict=True)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


@pytest.fixture
async def bot(emulator: Emulator) -> AsyncIterator[Bot]:
    async with Bot(emulator.token, base_url=emulator.base_url, base_file_url=emulator.base_file_url) as b:
        yield b


def build_app(emulator: Emulator, **builder: Any) -> Application:  # type: ignore[type-arg]
    b = ApplicationBuilder().token(emulator.token).base_url(emulator.base_url)
    b = b.base_file_url(emulator.base_file_url)
    for name, value in builder.items():
        b = getattr(b, name)(value)
    return b.build()


@contextlib.asynccontextmanager
async def running_app(
    emulator: Emulator, handlers: Sequence[BaseHandler[Any, Any, Any]], **builder: Any
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """A real Application polling the emulator with ``handlers``; stopped cleanly on exit."""
    app = build_app(emulator, **builder)
    for h in handlers:
        app.add_handler(h)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            timeout=10,
            allowed_updates=["message", "callback_query", "my_chat_member", "channel_post", "edited_message"],
        )
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def call(
    emulator: Emulator, method: str, *, token: str | None = None, files: Any = None, **params: Any
) -> tuple[int, dict[str, Any]]:
    """One raw form-encoded (or multipart) request, the way PTB sends them; returns (status, JSON)."""
    url = f"{emulator.url}/bot{token or emulator.token}/{method}"
    async with httpx.AsyncClient() as client:
        response = await client.post(url, data={k: str(v) for k, v in params.items()}, files=files)
    return response.status_code, response.json()
