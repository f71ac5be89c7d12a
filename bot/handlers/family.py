"""Family members: /start with an invitation, consent, answering, /hjaelp, /sprog, /mine_data, /stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import CallbackQuery, InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.delivery import sender
from bot.domain.instruments import Role
from bot.handlers import menus
from bot.handlers.common import (
    Context,
    command_argument,
    pressed,
    private,
    reply,
    runtime,
    show_in_place,
    update_id,
)
from bot.i18n import _, available_languages, current_language, normalize_language, use_language
from bot.services import joining, people, questionnaire
from bot.services.joining import ConsentOutcome, JoinOutcome
from bot.services.people import Person
from bot.services.questionnaire import Finished, ItemView, Stale, TypedOutcome
from bot.services.schedule import plan_periodic
from bot.views import caseworker as cw_views
from bot.views import family as views
from bot.views.common import Out

log = logging.getLogger(__name__)


@private
async def start(update: Update, context: Context, person: Person) -> None:
    token = command_argument(context)
    user = update.effective_user
    assert user is not None
    if not token:
        await reply(update, context, _help_for(person))
        return
    rt = runtime(context)
    language = person.language or normalize_language(user.language_code)
    result = await joining.redeem(rt.svc, token, user.id, language, update_id(update))
    with use_language(result.language or language):
        if result.outcome is JoinOutcome.CASEWORKER_LINKED:
            person = await people.identify(rt.svc, user.id)
            assert person.caseworker is not None
            await menus.set_for_caseworker(context.bot, user.id, person.caseworker.language)
            await plan_periodic(rt.svc)  # their first digest, without waiting for the hourly planning
            await reply(update, context, cw_views.welcome(person.caseworker))
        elif result.outcome is JoinOutcome.ASK_CONSENT:
            await reply(update, context, views.consent_request(result.respondent_id or 0, result.role or Role.PARENT))
        elif result.outcome is JoinOutcome.ALREADY_JOINED:
            await reply(update, context, views.already_joined())
        elif result.outcome is JoinOutcome.ACCOUNT_IN_USE:
            await reply(update, context, cw_views.account_in_use())
        elif result.outcome is JoinOutcome.THROTTLED:
            await reply(update, context, views.throttled())
        elif result.outcome is JoinOutcome.INVALID:
            await reply(update, context, views.invalid_link())


def _role(person: Person):  # type: ignore[no-untyped-def]
    return person.respondents[-1].role if person.respondents else None


async def consent(update: Update, context: Context) -> None:
    query, data = pressed(update)
    _prefix, respondent_id, answer = data
    result = await joining.answer_consent(
        runtime(context).svc,
        int(respondent_id),
        query.from_user.id,
        answer == "y",
        views.CONSENT_TEXT_VERSION,
        update_id(update),
    )
    outcome = result.outcome
    if outcome is ConsentOutcome.DUPLICATE:
        return  # answered the first time (Telegram refuses a second answer)
    with use_language(result.language):
        if outcome is ConsentOutcome.NOT_YOURS:
            await query.answer(views.stale_text(Stale.NOT_YOURS))
            return
        # The same answer again (a double tap, an old button) changes nothing and says so briefly.
        await query.answer(None if result.changed else views.consent_unchanged(outcome is ConsentOutcome.GIVEN))
        if outcome is ConsentOutcome.GIVEN:
            # Keep the welcome text, drop its buttons, and say what happens next in a new message.
            await sender.clear_buttons(context.bot, query.message.chat.id, query.message.message_id)  # type: ignore[union-attr]
            if result.changed:
                await menus.set_for_family(context.bot, query.from_user.id, result.language)
        if result.changed:
            await reply(
                update, context, views.consent_given() if outcome is ConsentOutcome.GIVEN else views.consent_declined()
            )


# --- the questionnaire -------------------------------------------------------------------------


async def start_questionnaire(update: Update, context: Context) -> None:
    """qs:<questionnaire> — the person pressed "let's start" on a prompt or reminder."""
    query, data = pressed(update)
    qid = int(data[1])
    svc = runtime(context).svc
    result = await questionnaire.start(svc, qid, query.from_user.id)
    await _show_item_result(update, context, result, qid)


async def decline_questionnaire(update: Update, context: Context) -> None:
    query, data = pressed(update)
    qid = int(data[1])
    person = await people.identify(runtime(context).svc, query.from_user.id)
    with use_language(person.language):
        result = await questionnaire.decline(runtime(context).svc, qid, query.from_user.id)
        if isinstance(result, Stale):
            await query.answer(views.stale_text(result))
            return
        await query.answer()
        await show_in_place(update, context, views.declined_notice())


async def answer_button(update: Update, context: Context) -> None:
    """q:<questionnaire>:<position>:<0-10|s|b> — an answer, a skip or a step back."""
    query, data = pressed(update)
    svc = runtime(context).svc
    qid, position, choice = _parse_answer(data)
    if choice == "b":
        result: ItemView | Finished | Stale = await questionnaire.back(svc, qid, position, query.from_user.id)
    elif choice == "s":
        result = await questionnaire.answer(svc, qid, position, None, query.from_user.id, update_id(update))
    elif choice.isdigit() and 0 <= int(choice) <= 10:
        value = int(choice) * 10
        result = await questionnaire.answer(svc, qid, position, value, query.from_user.id, update_id(update))
    else:
        result = Stale.NOT_YOURS
    await _show_item_result(update, context, result, qid)


def _parse_answer(data: list[str]) -> tuple[int, int, str]:
    """q:<questionnaire>:<position>:<choice>; anything malformed becomes a choice nobody can make."""
    if len(data) == 4 and data[1].isdigit() and data[2].isdigit():
        return int(data[1]), int(data[2]), data[3]
    return 0, -1, ""


async def _show_item_result(update: Update, context: Context, result: ItemView | Finished | Stale, qid: int) -> None:
    query = update.callback_query
    assert query is not None
    if isinstance(result, Stale):
        person = await people.identify(runtime(context).svc, query.from_user.id)
        with use_language(person.language or normalize_language(query.from_user.language_code)):
            # A press delivered again was answered the first time (Telegram refuses a second answer).
            if result is not Stale.DUPLICATE:
                await query.answer(views.stale_text(result))
        if result in (Stale.ALREADY_ANSWERED, Stale.DUPLICATE, Stale.FINISHED):
            await _show_where_they_are(update, context, qid)
        return
    with use_language(result.language):
        # Ending the button's spinner and showing what comes next are independent requests: side by side,
        # the next item is one round trip sooner.
        if isinstance(result, ItemView):
            next_step = show_in_place(update, context, views.item(result))
        else:
            next_step = _finish(update, context, result)
        await asyncio.gather(_answer_press(query), next_step)


async def _answer_press(query: CallbackQuery) -> None:
    # A press delivered again after a crash (a start or a step back: no update id to tell) may have been
    # answered the first time; Telegram refuses a second answer, and the person must still see the item.
    with contextlib.suppress(BadRequest):
        await query.answer()


async def _show_where_they_are(update: Update, context: Context, qid: int) -> None:
    """A press on an item already answered (a double tap, or an edit lost to a crash or a network error,
    so the person still sees the old item): show the item they are at now, or that they are done."""
    query = update.callback_query
    assert query is not None
    current = await questionnaire.start(runtime(context).svc, qid, query.from_user.id)
    if isinstance(current, ItemView):
        with use_language(current.language):
            await show_in_place(update, context, views.item(current))
    elif current is Stale.FINISHED:
        person = await people.identify(runtime(context).svc, query.from_user.id)
        with use_language(person.language or normalize_language(query.from_user.language_code)):
            await show_in_place(update, context, views.finished_keyboard_gone())


async def _finish(update: Update, context: Context, result: Finished) -> None:
    """Thanks, and the person's own ORS course (FIT: the family sees its own progress)."""
    rt = runtime(context)
    out = views.finished(result, reliable_change=rt.svc.policy.thresholds.reliable_change)
    if update.callback_query is not None:
        await show_in_place(update, context, out)
    else:
        await reply(update, context, out)
    shown = [t for t in result.ors_totals if t is not None]
    if len(shown) >= 3:
        # The chart follows the thanks once this update is handled: drawing it can take a while when the
        # chart worker is busy, and this chat's next update waits until this one is done (order.py).
        context.application.create_task(_send_family_chart(update, context, result), update=update)


async def _send_family_chart(update: Update, context: Context, result: Finished) -> None:
    from bot.jobs import off_loop  # the chart thread pool lives with the jobs

    rt = runtime(context)
    language = result.language
    photo = await off_loop(lambda: _family_chart(result, rt, language))
    if photo:
        chat = update.effective_chat
        assert chat is not None
        with use_language(language):
            caption = _("Sådan har det gået ifølge dine svar.")
        await context.bot.send_photo(
            chat.id, InputFile(photo, filename="forloeb.png"), caption=caption, parse_mode=ParseMode.HTML
        )


def _family_chart(result: Finished, rt, language: str) -> bytes | None:  # type: ignore[no-untyped-def]
    """The family's own ORS course, alone: no SRS panel (they rated the meetings, but the course is how
    things go), and no cut-off or red zone, which would read as a verdict without a caseworker to explain."""
    from bot.charts import ChartPoint, ChartText, render_trend_chart
    from bot.i18n import format_date_short

    policy = rt.svc.policy
    with use_language(language):
        points = [
            ChartPoint(format_date_short(at, policy.timezone), ors, None)
            for at, ors in zip(result.meeting_times, result.ors_totals, strict=True)
        ]
        return render_trend_chart(
            points,
            cutoff=None,
            srs_panel=False,
            text=ChartText(
                title=_("Sådan har det gået"),
                ors_label=_("Hvordan det går ifølge dine svar (0-40)"),
                srs_label="",
                cutoff_label="",
                srs_line_label="",
                y_label=_("Point"),
            ),
        )


@private
async def typed(update: Update, context: Context, person: Person) -> None:
    """A text (or anything else) in a private chat that is not a command."""
    message = update.effective_message
    assert message is not None
    if not person.known:
        await reply(update, context, views.stranger())
        return
    if person.is_caseworker and not person.active_respondents:
        await reply(update, context, cw_views.help_text(person.caseworker))  # type: ignore[arg-type]
        return
    if person.is_respondent and not person.active_respondents:
        # Not taking part (yet): no questions will come, whatever they type.
        waiting = any(r.status == "consenting" for r in person.respondents)
        await reply(update, context, views.consent_pending() if waiting else views.declined_reminder())
        return
    svc = runtime(context).svc
    result = await questionnaire.typed(svc, person.telegram_user_id, message.text or "", update_id(update))
    if result.outcome is TypedOutcome.NO_QUESTIONNAIRE:
        await reply(update, context, views.nothing_to_answer())
        return
    if result.outcome is TypedOutcome.DUPLICATE or result.result is None:
        return
    with use_language(result.result.language):
        if isinstance(result.result, Finished):
            await _clear_old(context, result.result.chat_id, result.previous_message_id)
            await _finish(update, context, result.result)
            return
        view = result.result
        if result.outcome is TypedOutcome.NOT_A_SCORE:
            out = views.not_a_score(view)
        elif result.outcome is TypedOutcome.STARTED:
            out = views.first_item_note(view)
        else:
            out = views.item(view)
        # The item moves below the person's message: a new message, and the old one loses its buttons.
        await _clear_old(context, view.chat_id, result.previous_message_id)
        chat = update.effective_chat
        assert chat is not None
        sent = await sender.send(context.bot, chat.id, out)
        await questionnaire.set_message(svc, view.questionnaire_id, chat.id, sent.message_id)


async def _clear_old(context: Context, chat_id: int | None, message_id: int | None) -> None:
    if chat_id is not None and message_id is not None:
        await sender.clear_buttons(context.bot, chat_id, message_id)


# --- commands ----------------------------------------------------------------------------------


def _help_for(person: Person) -> Out:
    """What this person can do here: the caseworker's commands, a family member's help, or how to join."""
    if person.caseworker is not None and person.is_caseworker:
        return cw_views.help_text(person.caseworker)
    if person.is_respondent:
        return views.help_text(_role(person))
    return views.stranger()


@private
async def help_command(update: Update, context: Context, person: Person) -> None:
    """/hjaelp, and any command we do not know."""
    await reply(update, context, _help_for(person))


@private
async def language_command(update: Update, context: Context, person: Person) -> None:
    if not person.known:
        await reply(update, context, views.stranger())
        return
    await reply(update, context, views.language_picker(available_languages(), current_language()))


async def language_chosen(update: Update, context: Context) -> None:
    query, data = pressed(update)
    language = data[1]
    svc = runtime(context).svc
    person = await people.identify(svc, query.from_user.id)
    if not person.known or language not in available_languages():
        await query.answer()
        return
    await people.set_language(svc, query.from_user.id, language)
    with use_language(language):
        await query.answer()
        await show_in_place(update, context, views.language_set())
        if person.is_caseworker:
            await menus.set_for_caseworker(context.bot, query.from_user.id, language)
        else:
            await menus.set_for_family(context.bot, query.from_user.id, language)


@private
async def my_data_command(update: Update, context: Context, person: Person) -> None:
    if not person.known:
        await reply(update, context, views.stranger())
        return
    svc = runtime(context).svc
    data = await people.my_data(svc, person.telegram_user_id)
    document = views.my_data_document(data, svc.policy.timezone)
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_document(
        chat.id, InputFile(document, filename=views.my_data_filename()), caption=views.my_data_caption()
    )


@private
async def stop_command(update: Update, context: Context, person: Person) -> None:
    if not any(r.status in ("consenting", "active", "declined") for r in person.respondents):
        await reply(update, context, views.not_linked_stop() if person.known else views.stranger())
        return
    await reply(update, context, views.stop_confirm(runtime(context).svc.policy.on_withdrawal == "delete_answers"))


async def stop_chosen(update: Update, context: Context) -> None:
    query, data = pressed(update)
    svc = runtime(context).svc
    person = await people.identify(svc, query.from_user.id)
    with use_language(person.language or normalize_language(query.from_user.language_code)):
        await query.answer()
        if data[1] != "y":
            await show_in_place(update, context, views.stop_cancelled())
            return
        result = await people.withdraw(svc, query.from_user.id)
        if result.respondents == 0:
            await show_in_place(update, context, views.not_linked_stop())
            return
        await show_in_place(update, context, views.stopped(result.answers_deleted))
        await menus.clear_for_chat(context.bot, query.from_user.id)


async def unknown_button(update: Update, context: Context) -> None:
    """Button data we do not know (an old version's keyboard, or forged): a short answer, no change."""
    query = update.callback_query
    assert query is not None
    with use_language(normalize_language(query.from_user.language_code)):
        await query.answer(views.stale_text(Stale.NOT_YOURS))
