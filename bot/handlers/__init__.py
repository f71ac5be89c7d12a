"""Thin PTB handlers: read the update, find who this is, call one service, render the answer."""

from __future__ import annotations

from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.handlers import caseworker, chats, errors, family

PRIVATE = filters.ChatType.PRIVATE


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(ChatMemberHandler(chats.membership_changed, ChatMemberHandler.MY_CHAT_MEMBER))

    # Family members (and anyone: each handler checks who is asking).
    app.add_handler(CommandHandler("start", family.start, filters=PRIVATE))
    app.add_handler(CommandHandler(["hjaelp", "help"], family.help_command, filters=PRIVATE))
    app.add_handler(CommandHandler(["sprog", "language"], family.language_command, filters=PRIVATE))
    app.add_handler(CommandHandler(["mine_data", "my_data"], family.my_data_command, filters=PRIVATE))
    app.add_handler(CommandHandler("stop", family.stop_command, filters=PRIVATE))

    # Caseworkers (a family member or stranger gets a polite refusal from the same handlers).
    app.add_handler(CommandHandler("nysag", caseworker.new_case, filters=PRIVATE))
    app.add_handler(CommandHandler("inviter", caseworker.invite, filters=PRIVATE))
    app.add_handler(CommandHandler("moede", caseworker.meeting, filters=PRIVATE))
    app.add_handler(CommandHandler("sager", caseworker.list_cases, filters=PRIVATE))
    app.add_handler(CommandHandler("sag", caseworker.show_case, filters=PRIVATE))
    app.add_handler(CommandHandler("eksport", caseworker.export, filters=PRIVATE))
    app.add_handler(CommandHandler("luk", caseworker.close_case, filters=PRIVATE))
    app.add_handler(CommandHandler("kanal", caseworker.channel_status, filters=PRIVATE))

    # Buttons. Patterns are anchored, so forged data that matches none is answered by the fallback.
    app.add_handler(CallbackQueryHandler(family.answer_button, pattern=r"^q:"))
    app.add_handler(CallbackQueryHandler(family.start_questionnaire, pattern=r"^qs:\d+$"))
    app.add_handler(CallbackQueryHandler(family.decline_questionnaire, pattern=r"^qn:\d+$"))
    app.add_handler(CallbackQueryHandler(family.consent, pattern=r"^cs:\d+:[yn]$"))
    app.add_handler(CallbackQueryHandler(family.language_chosen, pattern=r"^l:[a-z_A-Z]+$"))
    app.add_handler(CallbackQueryHandler(family.stop_chosen, pattern=r"^st:[yn]$"))
    app.add_handler(CallbackQueryHandler(caseworker.band_chosen, pattern=r"^nb:(6-12|13-17|adult):.+$"))
    app.add_handler(CallbackQueryHandler(caseworker.case_picked, pattern=r"^pc:(sag|inviter|moede|eksport|luk):\d+$"))
    app.add_handler(CallbackQueryHandler(caseworker.role_chosen, pattern=r"^ir:\d+:(parent|youth|child)$"))
    app.add_handler(CallbackQueryHandler(caseworker.close_confirmed, pattern=r"^lk:\d+$"))
    app.add_handler(CallbackQueryHandler(caseworker.acknowledge_alert, pattern=r"^ack:\d+$"))
    app.add_handler(CallbackQueryHandler(family.unknown_button))

    # Anything else typed in a private chat: an answer, or a friendly hint.
    app.add_handler(MessageHandler(PRIVATE & filters.COMMAND, family.help_command))
    app.add_handler(MessageHandler(PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL, family.typed))

    app.add_error_handler(errors.on_error)
