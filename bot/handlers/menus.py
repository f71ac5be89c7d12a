"""The Telegram command menus: families see theirs, caseworkers theirs, each in their own language."""

from __future__ import annotations

import contextlib

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import BadRequest

from bot.i18n import DEFAULT_LANGUAGE, LazyString, available_languages, lazy_gettext, use_language

FAMILY_COMMANDS: tuple[tuple[str, LazyString], ...] = (
    ("hjaelp", lazy_gettext("Hvad er FIT-bot, og hvem ser mine svar")),
    ("sprog", lazy_gettext("Vælg sprog")),
    ("mine_data", lazy_gettext("Få alt, hvad FIT-bot har gemt om mig")),
    ("stop", lazy_gettext("Stop med at være med")),
)

CASEWORKER_COMMANDS: tuple[tuple[str, LazyString], ...] = (
    ("sager", lazy_gettext("Alle åbne sager")),
    ("sag", lazy_gettext("Én sag med scorer og graf")),
    ("moede", lazy_gettext("Registrér et møde")),
    ("nysag", lazy_gettext("Opret en sag")),
    ("inviter", lazy_gettext("Invitér en forælder eller ung")),
    ("eksport", lazy_gettext("Sagens svar som CSV")),
    ("luk", lazy_gettext("Luk en sag")),
    ("kanal", lazy_gettext("Hvor advarsler og opsummeringer sendes")),
    ("sprog", lazy_gettext("Vælg sprog")),
    ("hjaelp", lazy_gettext("Hjælp")),
)


def _commands(entries: tuple[tuple[str, LazyString], ...], language: str) -> list[BotCommand]:
    with use_language(language):
        return [BotCommand(name, str(description)) for name, description in entries]


async def set_defaults(bot: Bot) -> None:
    """The family menu for everyone, in every language we have (Telegram picks by the app's language)."""
    for language in available_languages():
        await bot.set_my_commands(
            _commands(FAMILY_COMMANDS, language),
            scope=BotCommandScopeDefault(),
            language_code=None if language == DEFAULT_LANGUAGE else language,
        )


async def set_for_family(bot: Bot, chat_id: int, language: str) -> None:
    """A person who chose a language with /sprog sees the menu in it, whatever their app says."""
    await bot.set_my_commands(_commands(FAMILY_COMMANDS, language), scope=BotCommandScopeChat(chat_id))


async def set_for_caseworker(bot: Bot, chat_id: int, language: str) -> None:
    await bot.set_my_commands(_commands(CASEWORKER_COMMANDS, language), scope=BotCommandScopeChat(chat_id))


async def clear_for_chat(bot: Bot, chat_id: int) -> None:
    with contextlib.suppress(BadRequest):  # nothing was set for this chat
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
