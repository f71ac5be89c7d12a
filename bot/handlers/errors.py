"""The last line of defence: log what failed (never the message text) and tell the person kindly."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.handlers.common import Context
from bot.i18n import _, normalize_language, use_language

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    error = context.error
    kind = "update" if isinstance(update, Update) else "job"
    update_id = update.update_id if isinstance(update, Update) else None
    # The exception type and where it happened; not the update's text, which may hold a family's answers.
    log.error("error handling %s %s: %s", kind, update_id, type(error).__name__, exc_info=error)
    if (
        not isinstance(update, Update)
        or update.effective_chat is None
        or update.effective_chat.type != ChatType.PRIVATE
    ):
        return
    user = update.effective_user
    with use_language(normalize_language(user.language_code if user else None)):
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(_("Noget gik galt. Prøv igen om lidt."))
            else:
                await context.bot.send_message(
                    update.effective_chat.id, _("Noget gik galt hos mig. Prøv igen om lidt.")
                )
        except TelegramError:
            pass
