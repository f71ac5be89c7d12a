"""The bot's own membership: channels linked by their caseworker, uninvited groups left at once,
blocking by a family member noticed so their caseworker is told."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.delivery import sender
from bot.handlers.common import Context, runtime
from bot.i18n import use_language
from bot.services import enrolment, questionnaire
from bot.services.enrolment import LinkOutcome
from bot.views import caseworker as views

log = logging.getLogger(__name__)

_IN = (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR)
_OUT = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


async def membership_changed(update: Update, context: Context) -> None:
    change = update.my_chat_member
    if change is None:
        return
    svc = runtime(context).svc
    chat = change.chat
    old, new = change.old_chat_member.status, change.new_chat_member.status
    if chat.type == ChatType.PRIVATE:
        if new in _OUT:
            raised = await questionnaire.mark_unreachable(svc, chat.id)
            log.info("a private chat blocked the bot (%d caseworker alert(s))", raised)
        elif new in _IN and old in _OUT:
            await questionnaire.mark_reachable(svc, chat.id)
        return
    if new in _IN and old not in _IN:
        result = await enrolment.link_channel(svc, change.from_user.id, chat.id, chat.type, chat.title or "")
        if result.outcome is LinkOutcome.NOT_ALLOWED:
            log.warning("added to a %s by someone who is not a caseworker: leaving", chat.type)
            try:
                await context.bot.leave_chat(chat.id)
            except TelegramError as exc:
                log.warning("could not leave the chat: %s", exc.message)
            return
        assert result.caseworker is not None
        caseworker = result.caseworker
        with use_language(caseworker.language):
            try:
                await sender.send(context.bot, chat.id, views.channel_linked(caseworker))
            except TelegramError as exc:
                # A channel where the bot is only a member cannot be posted in: nothing would arrive
                # there, so unlink it (the previous channel, if any, is used again) and say so privately.
                log.warning("linked chat refused the welcome: %s; unlinked", exc.message)
                in_use = await enrolment.channel_refused(svc, chat.id, result.previous)
                if caseworker.telegram_user_id:
                    out = views.channel_refused(chat.title or "", in_use)
                    try:
                        await sender.send(context.bot, caseworker.telegram_user_id, out)
                    except TelegramError as private_exc:
                        log.warning("could not tell the caseworker privately: %s", private_exc.message)
    elif new in _OUT and old not in _OUT:
        channel = await enrolment.unlink_chat(svc, chat.id)
        if channel is None:
            return
        async with svc.storage.transaction() as repo:
            caseworker = await repo.caseworker(channel.caseworker_id)
        if caseworker and caseworker.active and caseworker.telegram_user_id:
            with use_language(caseworker.language):
                await sender.send(context.bot, caseworker.telegram_user_id, views.channel_unlinked_private())
