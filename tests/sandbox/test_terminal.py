"""The terminal chat, driven by a script of input lines against a tiny bot."""

from __future__ import annotations

import io
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox.emulator import Emulator
from bot.sandbox.terminal import run_terminal
from tests.sandbox.conftest import running_app
from tests.sandbox.test_api import PNG_2x3

Context = ContextTypes.DEFAULT_TYPE


async def lines(items: Iterable[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


async def start(update: Update, context: Context) -> None:
    assert update.effective_message is not None
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("0", callback_data="a:0"), InlineKeyboardButton("1", callback_data="a:1")],
            [InlineKeyboardButton("Læs mere", url="https://fit.dk")],
        ]
    )
    await update.effective_message.reply_text("Velkommen!\nHvordan går det?", reply_markup=markup)


async def answer(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Gemt")
    await query.edit_message_text(f"Tak for svaret {query.data}")


async def echo(update: Update, context: Context) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"Du skrev: {update.effective_message.text}")


async def chart(update: Update, context: Context) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_photo(PNG_2x3, caption="Forløb", filename="graf.png")


async def channel_ready(update: Update, context: Context) -> None:
    change = update.my_chat_member
    assert change is not None
    if change.chat.type == "channel" and change.new_chat_member.status == "administrator":
        await context.bot.send_message(change.chat.id, "Kanalen er klar")


HANDLERS = [
    CommandHandler("start", start),
    CommandHandler("graf", chart),
    CallbackQueryHandler(answer),
    ChatMemberHandler(channel_ready, ChatMemberHandler.MY_CHAT_MEMBER),
    MessageHandler(filters.TEXT & ~filters.COMMAND, echo),
]


def saved_files(folder: Path) -> list[bytes]:
    return [path.read_bytes() for path in folder.iterdir()]


async def test_scripted_session(emulator: Emulator, tmp_path: Path) -> None:
    personas = {"Forælder": emulator.add_user("Mette"), "Rådgiver": emulator.add_user("Lise")}
    script = [
        "/start",
        ":1",  # press "0"
        "7",  # a bare number is an answer typed by the family
        ":hjælp",
        "/som",
        "/som råd",
        "/start",
        "!3",  # a URL button: shown, not pressed
        "/graf",
        ":kanal Familieafd.",
        ":)",  # not a terminal command: sent as text
        ":quit",
        "never reached",
    ]
    out = io.StringIO()
    async with running_app(emulator, HANDLERS):
        await run_terminal(emulator, personas, input_lines=lines(script), out=out, files_dir=tmp_path)
    text = out.getvalue()
    expected = [
        "FIT-bot sandkasse. Skriv :hjælp for hjælp.",
        "[Forælder] > /start\nFIT-bot:\n  Velkommen!\n  Hvordan går det?\n    [1] 0  [2] 1\n"
        "    [3] Læs mere -> https://fit.dk\n[Forælder] > :1\n",
        "FIT-bot (pop-up): Gemt",
        "FIT-bot (redigeret): Tak for svaret a:0",
        "[Forælder] > 7\nFIT-bot: Du skrev: 7\n",
        ":N eller !N",
        "Personer: Forælder *  Rådgiver",
        "(du er nu Rådgiver)\n[Rådgiver] > /start",
        "(link: https://fit.dk)",
        f"[billede: graf.png, 0.1 kB, gemt i {tmp_path}",
        "  Forløb",
        "[Familieafd.] FIT-bot: Kanalen er klar",
        "FIT-bot: Du skrev: :)",
        "Farvel.",
    ]
    for piece in expected:
        assert piece in text, f"{piece!r} not in:\n{text}"
    assert "never reached" not in text
    assert saved_files(tmp_path) == [PNG_2x3]
    assert emulator.rejected == []


async def test_other_chats_are_prefixed_and_presses_need_buttons(emulator: Emulator) -> None:
    mette, lise = emulator.add_user("Mette"), emulator.add_user("Lise")
    out = io.StringIO()
    async with running_app(emulator, HANDLERS):
        await run_terminal(
            emulator,
            {"Forælder": mette, "Rådgiver": lise},
            input_lines=lines([":1", "/start", "/som Rådgiver", "/som x", ":9"]),
            out=out,
        )
        emulator.send_text(lise, "/start")  # after the terminal closed: nothing printed any more
        await emulator.wait_for_message(lise)
    text = out.getvalue()
    assert "(ingen besked med knapper)" in text
    assert "(ukendt person: x; vælg blandt Forælder, Rådgiver)" in text
    assert text.count("Velkommen!") == 1
    assert text.endswith("[Rådgiver] > :9\n(ingen besked med knapper)\n[Rådgiver] > \nFarvel.\n")


async def test_reads_a_piped_stdin(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("hej\n:quit\n"))
    out = io.StringIO()
    async with running_app(emulator, HANDLERS):
        await run_terminal(emulator, {"Forælder": emulator.add_user("Mette")}, out=out)
    assert "[Forælder] > hej\nFIT-bot: Du skrev: hej\n" in out.getvalue()


async def test_without_a_bot_the_terminal_says_so(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.sandbox.terminal._MAX_SETTLE", 0.05)
    out = io.StringIO()
    await run_terminal(emulator, {"A": emulator.add_user("A")}, input_lines=lines(["hej"]), out=out)
    assert "(botten henter ikke opdateringer - kører den?)" in out.getvalue()


async def test_a_message_arriving_at_the_prompt_gets_a_fresh_prompt(emulator: Emulator, bot: Bot) -> None:
    anna = emulator.add_user("Anna")
    emulator.send_text(anna, "/start")

    async def script() -> AsyncIterator[str]:
        await bot.send_message(anna.id, "Husk mødet i morgen")  # while the person looks at the prompt
        yield ":quit"

    out = io.StringIO()
    await run_terminal(emulator, {"Anna": anna}, input_lines=script(), out=out, echo=True)
    assert "[Anna] > \nFIT-bot: Husk mødet i morgen\n[Anna] > :quit\n" in out.getvalue()
