"""The yardstick: a bare python-telegram-bot bot that answers each press with answerCallbackQuery and
editMessageText and nothing else (no database, no rate limiter, PTB's defaults otherwise).

It speaks the same button protocol as FIT-bot's questionnaire, so the load driver cannot tell them apart:
`qs:<q>` shows item 1, `q:<q>:<position>:<value>` shows the next item, and after the 8th a thank-you
without buttons. Run: `python -m bench.bare_bot --base-url URL --token TOKEN`.
"""

from __future__ import annotations

import argparse
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes

ITEMS = 8
QUESTION = (
    "Spørgsmål {n} af 8 · Hvordan det går\n\n<b>Hvordan har du det personligt?</b>\n"
    "0 = Meget dårligt · 10 = Meget godt\n\nTryk på et tal fra 0 til 10, eller skriv fx 7,5."
)


def _keyboard(qid: int, position: int) -> InlineKeyboardMarkup:
    numbers = [InlineKeyboardButton(str(n), callback_data=f"q:{qid}:{position}:{n}") for n in range(11)]
    nav = [InlineKeyboardButton("Spring over", callback_data=f"q:{qid}:{position}:s")]
    if position:
        nav.insert(0, InlineKeyboardButton("← Tilbage", callback_data=f"q:{qid}:{position}:b"))
    return InlineKeyboardMarkup([numbers[:6], numbers[6:], nav])


async def on_press(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    parts = query.data.split(":")
    qid = int(parts[1])
    following = 0 if parts[0] == "qs" else int(parts[2]) + 1
    await query.answer()
    if following < ITEMS:
        await query.edit_message_text(
            QUESTION.format(n=following + 1), reply_markup=_keyboard(qid, following), parse_mode=ParseMode.HTML
        )
    else:
        await query.edit_message_text("Tak for dine svar.", parse_mode=ParseMode.HTML)


def build(base_url: str, base_file_url: str, token: str) -> Application:  # type: ignore[type-arg]
    app = ApplicationBuilder().token(token).base_url(base_url).base_file_url(base_file_url).build()
    app.add_handler(CallbackQueryHandler(on_press))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_bot", description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--base-file-url", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    build(args.base_url, args.base_file_url, args.token).run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
