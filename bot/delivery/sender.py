"""Out (plain data) -> Bot API calls. The one place that knows how a message becomes a request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden

from bot.views.common import Out

BULK = {"bulk": True}


class Unreachable(Forbidden):
    """A 403 from Telegram, with the chat it concerns (blocked, kicked or gone).

    Outbox rows often carry no chat (a prompt's chat is looked up when it runs), so the dispatcher learns
    from here which person to mark unreachable or which channel to unlink.
    """

    def __init__(self, chat_id: int, message: str) -> None:
        super().__init__(message)
        self.chat_id = chat_id

    def __reduce__(self) -> tuple[type, tuple[int, str]]:  # type: ignore[override]
        return self.__class__, (self.chat_id, self.message)


class Refused(BadRequest):
    """A 400 from Telegram, with the method it refused: logged as method and reason, never the text."""

    def __init__(self, method: str, chat_id: int, message: str) -> None:
        super().__init__(message)
        self.method = method
        self.chat_id = chat_id

    def __reduce__(self) -> tuple[type, tuple[str, int, str]]:  # type: ignore[override]
        return self.__class__, (self.method, self.chat_id, self.message)


class Migrated(ChatMigrated):
    """A group became a supergroup (Telegram's `migrate_to_chat_id`), with the old chat id it concerns."""

    def __init__(self, chat_id: int, new_chat_id: int) -> None:
        super().__init__(new_chat_id)
        self.chat_id = chat_id

    def __reduce__(self) -> tuple[type, tuple[int, int]]:  # type: ignore[override]
        return self.__class__, (self.chat_id, self.new_chat_id)


@contextmanager
def _request(method: str, chat_id: int) -> Iterator[None]:
    """Name the chat (403, a migrated group) and the method (400) in Telegram's refusals."""
    try:
        yield
    except (Unreachable, Refused, Migrated):
        raise
    except ChatMigrated as exc:
        raise Migrated(chat_id, exc.new_chat_id) from exc
    except Forbidden as exc:
        raise Unreachable(chat_id, exc.message) from exc
    except BadRequest as exc:
        raise Refused(method, chat_id, exc.message) from exc


def markup(out: Out) -> InlineKeyboardMarkup | None:
    if not out.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.text, callback_data=b.data)
                if b.data
                else InlineKeyboardButton(b.text, url=b.url)
                for b in row
            ]
            for row in out.buttons
        ]
    )


def _limits(bot: Bot, bulk: bool) -> dict[str, Any]:
    # rate_limit_args only exists when the bot has a rate limiter (always, in FIT-bot's Application).
    return {"rate_limit_args": BULK} if bulk and getattr(bot, "rate_limiter", None) else {}


async def send(bot: Bot, chat_id: int, out: Out, *, bulk: bool = False) -> Message:
    extra = _limits(bot, bulk)
    common: dict[str, Any] = {
        "chat_id": chat_id,
        "reply_markup": markup(out),
        "parse_mode": ParseMode.HTML,
        "disable_notification": out.silent,
        **extra,
    }
    if out.photo is not None:
        with _request("sendPhoto", chat_id):
            return await bot.send_photo(photo=InputFile(out.photo, filename=out.photo_name), caption=out.text, **common)
    if out.document is not None:
        with _request("sendDocument", chat_id):
            return await bot.send_document(
                document=InputFile(out.document, filename=out.document_name), caption=out.text, **common
            )
    with _request("sendMessage", chat_id):
        return await bot.send_message(text=out.text, **common)


async def edit(bot: Bot, chat_id: int, message_id: int, out: Out, *, bulk: bool = False) -> None:
    """Show `out` in an existing text message; an unchanged message is not an error."""
    try:
        with _request("editMessageText", chat_id):
            await bot.edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=out.text,
                reply_markup=markup(out),
                parse_mode=ParseMode.HTML,
                **_limits(bot, bulk),
            )
    except BadRequest as exc:
        if not is_not_modified(exc):
            raise


async def clear_buttons(bot: Bot, chat_id: int, message_id: int, *, bulk: bool = False) -> None:
    try:
        with _request("editMessageReplyMarkup", chat_id):
            await bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None, **_limits(bot, bulk)
            )
    except BadRequest as exc:
        # Not modified (no buttons left) or gone (deleted by the person): nothing to clear either way.
        if not (is_not_modified(exc) or "not found" in exc.message.lower()):
            raise


def is_not_modified(exc: BadRequest) -> bool:
    return "message is not modified" in exc.message.lower()


# 400s that mean the bot may not post in a group or channel (no longer an administrator, or its rights to
# post were taken away) or that the chat is gone: for a caseworker's channel, as good as a 403.
_NO_RIGHTS = (
    "not enough rights",
    "chat_write_forbidden",
    "have no rights to send",
    "need administrator rights",
    "chat_admin_required",
    "chat not found",
)


def lacks_rights(exc: BadRequest) -> bool:
    reason = exc.message.lower()
    return any(marker in reason for marker in _NO_RIGHTS)
