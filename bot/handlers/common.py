"""What every handler shares: the runtime (services, settings), who the user is, how to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from telegram import CallbackQuery, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.delivery import sender
from bot.i18n import normalize_language, use_language
from bot.services.context import Services
from bot.services.people import Person, identify
from bot.views.common import Out

RUNTIME_KEY = "fitbot"


@dataclass
class Runtime:
    """Wiring made once by app.py and handed to handlers (not state: state lives in the database)."""

    svc: Services
    bot_username: str = ""
    wake_dispatcher: Callable[[], None] = lambda: None

    def deep_link(self, token: str) -> str:
        return f"https://t.me/{self.bot_username}?start={token}"


Context = ContextTypes.DEFAULT_TYPE


def runtime(context: Context) -> Runtime:
    return context.application.bot_data[RUNTIME_KEY]  # type: ignore[no-any-return]


Handler = Callable[[Update, Context, Person], Awaitable[Any]]


def private(fn: Handler) -> Callable[[Update, Context], Awaitable[Any]]:
    """For updates in a private chat: find the person, bind their language, then run `fn`."""

    @wraps(fn)
    async def wrapper(update: Update, context: Context) -> Any:
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or user is None or chat.type != ChatType.PRIVATE:
            return None
        person = await identify(runtime(context).svc, user.id)
        with use_language(person.language or normalize_language(user.language_code)):
            return await fn(update, context, person)

    return wrapper


async def reply(update: Update, context: Context, out: Out) -> None:
    chat = update.effective_chat
    assert chat is not None
    await sender.send(context.bot, chat.id, out)


async def show_in_place(update: Update, context: Context, out: Out) -> None:
    """Edit the message whose button was pressed (a text message), else send a new one."""
    query = update.callback_query
    message = query.message if query else None
    if message is not None and getattr(message, "text", None) is not None and out.photo is None:
        await sender.edit(context.bot, message.chat.id, message.message_id, out)
    else:
        await reply(update, context, out)


def pressed(update: Update) -> tuple[CallbackQuery, list[str]]:
    """The button press and its data split at ":" (handlers are registered by data pattern)."""
    query = update.callback_query
    if query is None or query.data is None:
        raise ValueError("not a button press with data")
    return query, query.data.split(":")


def command_argument(context: Context) -> str:
    return " ".join(context.args or []).strip()


def update_id(update: Update) -> int:
    return update.update_id
