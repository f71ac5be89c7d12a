"""Caseworker commands in the private chat, and the buttons that spare typing labels on a phone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from telegram import InputFile, Update
from telegram.constants import ChatType

from bot.domain.instruments import AgeBand, Role
from bot.domain.when import parse_when
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
from bot.i18n import _, normalize_language, use_language
from bot.services import cases, enrolment, people, reports
from bot.services.alerts import AckOutcome, acknowledge
from bot.services.cases import CaseError, LabelRefused
from bot.services.people import Person
from bot.services.questionnaire import Stale
from bot.storage.models import Case, Caseworker
from bot.views import caseworker as views
from bot.views import family as family_views
from bot.views.qr import qr_png

ROLE_WORDS = {
    "forælder": Role.PARENT,
    "foraelder": Role.PARENT,
    "forældre": Role.PARENT,
    "parent": Role.PARENT,
    "ung": Role.YOUTH,
    "youth": Role.YOUTH,
    "barn": Role.CHILD,
    "child": Role.CHILD,
}
BAND_WORDS = {
    "6-12": AgeBand.CHILD,
    "13-17": AgeBand.YOUTH,
    "voksen": AgeBand.ADULT,
    "adult": AgeBand.ADULT,
}

CaseworkerHandler = Callable[[Update, Context, Caseworker], Awaitable[Any]]


def caseworkers_only(fn: CaseworkerHandler) -> Callable[[Update, Context], Awaitable[Any]]:
    """Only an active caseworker gets past; a family member or stranger is told politely, nothing changes.

    A button press by anyone else (or outside a private chat) gets a short, neutral answer and no
    message: nothing in it says whether the button was about a case or an alert.
    """

    @private
    async def in_private(update: Update, context: Context, person: Person) -> Any:
        if person.is_caseworker:
            return await fn(update, context, person.caseworker)  # type: ignore[arg-type]
        query = update.callback_query
        if query is not None:
            await query.answer(views.disabled().text if person.is_disabled_caseworker else _neutral_answer())
            return None
        if person.is_disabled_caseworker:
            return await reply(update, context, views.disabled())
        await reply(update, context, family_views.caseworker_only() if person.known else family_views.stranger())
        return None

    @wraps(fn)
    async def wrapper(update: Update, context: Context) -> Any:
        query = update.callback_query
        chat = update.effective_chat
        if query is not None and (chat is None or chat.type != ChatType.PRIVATE):
            # Caseworker buttons live in the private chat only; elsewhere they are forged or stale.
            with use_language(normalize_language(query.from_user.language_code)):
                await query.answer(_neutral_answer())
            return None
        return await in_private(update, context)

    return wrapper


def _neutral_answer() -> str:
    return family_views.stale_text(Stale.NOT_YOURS)


async def _split_case(svc, caseworker: Caseworker, text: str) -> tuple[Case | None, str]:  # type: ignore[no-untyped-def]
    """The longest leading words that name one of this caseworker's cases, and the rest."""
    words = text.split()
    for cut in range(len(words), 0, -1):
        case = await cases.find_case(svc, caseworker, " ".join(words[:cut]))
        if case is not None:
            return case, " ".join(words[cut:])
    return None, text


async def _case_from_button(update: Update, context: Context, caseworker: Caseworker, case_id: int) -> Case | None:
    """The caseworker's own case named by a button, with the press answered (a short refusal when the
    case is not theirs or gone: no message, nothing changes)."""
    query = update.callback_query
    assert query is not None
    case = await cases.get_case(runtime(context).svc, caseworker, case_id)
    await query.answer(None if case is not None else views.case_not_found_popup())
    return case


# --- /nysag ------------------------------------------------------------------------------------


@caseworkers_only
async def new_case(update: Update, context: Context, caseworker: Caseworker) -> None:
    text = command_argument(context)
    if not text:
        await reply(update, context, views.new_case_usage())
        return
    words = text.split()
    band = BAND_WORDS.get(words[-1].lower()) if len(words) > 1 else None
    label_text = " ".join(words[:-1]) if band else text
    label, refused = cases.check_label(label_text)
    if refused:
        await reply(update, context, views.label_refused(refused))
        return
    if band is None:
        await reply(update, context, views.ask_band(label))
        return
    await _create(update, context, caseworker, label, band)


async def _create(update: Update, context: Context, caseworker: Caseworker, label: str, band: AgeBand) -> None:
    result = await cases.create_case(runtime(context).svc, caseworker, label, band, update_id(update))
    if isinstance(result, LabelRefused):
        out = views.label_refused(result)
    elif isinstance(result, CaseError):
        out = views.case_error(result, label)
    else:
        out = views.case_created(result)
    await show_in_place(update, context, out)


@caseworkers_only
async def band_chosen(update: Update, context: Context, caseworker: Caseworker) -> None:
    """nb:<band>:<label>"""
    query, data = pressed(update)
    await query.answer()
    _prefix, band, label = data
    await _create(update, context, caseworker, label, AgeBand(band))


# --- picking a case by button --------------------------------------------------------------------

PICK_PROMPTS = {
    "sag": lambda: _("Hvilken sag vil du se?"),
    "inviter": lambda: _("Hvilken sag skal familien inviteres til?"),
    "moede": lambda: _("Hvilken sag har du haft møde i? Mødet registreres som holdt nu."),
    "eksport": lambda: _("Hvilken sag vil du eksportere?"),
    "luk": lambda: _("Hvilken sag vil du lukke?"),
}


async def _pick(update: Update, context: Context, caseworker: Caseworker, action: str) -> None:
    offered = await cases.cases_to_pick(runtime(context).svc, caseworker, views.PICK_LIMIT)
    await reply(update, context, views.pick_case(offered, action, PICK_PROMPTS[action]()))


@caseworkers_only
async def case_picked(update: Update, context: Context, caseworker: Caseworker) -> None:
    """pc:<action>:<case id>"""
    _query, data = pressed(update)
    _prefix, action, case_id = data
    case = await _case_from_button(update, context, caseworker, int(case_id))
    if case is None:
        return
    if action == "sag":
        await _show_case(update, context, caseworker, case)
    elif action == "inviter":
        await reply(update, context, views.pick_role(case))
    elif action == "moede":
        await _log_meeting(update, context, caseworker, case, "")
    elif action == "eksport":
        await _export(update, context, caseworker, case)
    elif action == "luk":
        await reply(update, context, views.confirm_close(case))


# --- /inviter ------------------------------------------------------------------------------------


@caseworkers_only
async def invite(update: Update, context: Context, caseworker: Caseworker) -> None:
    text = command_argument(context)
    if not text:
        await _pick(update, context, caseworker, "inviter")
        return
    words = text.split()
    role = ROLE_WORDS.get(words[-1].lower())
    case, rest = await _split_case(runtime(context).svc, caseworker, " ".join(words[:-1]) if role else text)
    if case is None or rest:
        await reply(update, context, views.case_error(CaseError.NOT_FOUND, text if case is None else rest))
        return
    if role is None:
        await reply(update, context, views.pick_role(case))
        return
    await _invite(update, context, caseworker, case, role)


@caseworkers_only
async def role_chosen(update: Update, context: Context, caseworker: Caseworker) -> None:
    """ir:<case id>:<role>"""
    _query, data = pressed(update)
    _prefix, case_id, role = data
    case = await _case_from_button(update, context, caseworker, int(case_id))
    if case is not None:
        await _invite(update, context, caseworker, case, Role(role))


async def _invite(update: Update, context: Context, caseworker: Caseworker, case: Case, role: Role) -> None:
    rt = runtime(context)
    result = await cases.invite(rt.svc, caseworker, case.id, role, update_id(update))
    if isinstance(result, CaseError):
        await reply(update, context, views.case_error(result, case.label))
        return
    link = rt.deep_link(result.token)
    await reply(update, context, views.invitation(result, link, qr_png(link), rt.svc.policy.timezone))


# --- /moede --------------------------------------------------------------------------------------


@caseworkers_only
async def meeting(update: Update, context: Context, caseworker: Caseworker) -> None:
    text = command_argument(context)
    if not text:
        await _pick(update, context, caseworker, "moede")
        return
    case, when_text = await _split_case(runtime(context).svc, caseworker, text)
    if case is None:
        await reply(update, context, views.case_error(CaseError.NOT_FOUND, text.split()[0]))
        return
    await _log_meeting(update, context, caseworker, case, when_text)


async def _log_meeting(update: Update, context: Context, caseworker: Caseworker, case: Case, when_text: str) -> None:
    svc = runtime(context).svc
    held_at = parse_when(when_text or "nu", svc.now(), svc.policy.timezone)
    if held_at is None:
        await reply(update, context, views.meeting_usage())
        return
    result = await cases.log_meeting(svc, caseworker, case.id, held_at, update_id(update))
    if isinstance(result, CaseError):
        await reply(update, context, views.case_error(result, case.label))
        return
    await reply(update, context, views.meeting_logged(result, svc.policy.timezone))


# --- /sager, /sag, /eksport, /luk, /kanal ----------------------------------------------------------


@caseworkers_only
async def list_cases(update: Update, context: Context, caseworker: Caseworker) -> None:
    svc = runtime(context).svc
    overview = await reports.overview(svc, caseworker)
    for out in views.cases_overview(overview, svc.policy.thresholds):
        await reply(update, context, out)


async def _by_argument(update: Update, context: Context, caseworker: Caseworker, action: str) -> Case | None:
    text = command_argument(context)
    if not text:
        await _pick(update, context, caseworker, action)
        return None
    case = await cases.find_case(runtime(context).svc, caseworker, text)
    if case is None:
        await reply(update, context, views.case_error(CaseError.NOT_FOUND, text))
    return case


@caseworkers_only
async def show_case(update: Update, context: Context, caseworker: Caseworker) -> None:
    case = await _by_argument(update, context, caseworker, "sag")
    if case is not None:
        await _show_case(update, context, caseworker, case)


async def _show_case(update: Update, context: Context, caseworker: Caseworker, case: Case) -> None:
    from bot.jobs import off_loop

    svc = runtime(context).svc
    detail = await reports.case_detail(svc, caseworker, case.id)
    if detail is None:
        await reply(update, context, views.case_error(CaseError.NOT_FOUND, case.label))
        return
    language = caseworker.language

    def render():  # type: ignore[no-untyped-def]
        with use_language(language):
            return views.case_detail(detail, svc.policy.thresholds, svc.policy.timezone)

    for out in await off_loop(render):
        await reply(update, context, out)


@caseworkers_only
async def export(update: Update, context: Context, caseworker: Caseworker) -> None:
    case = await _by_argument(update, context, caseworker, "eksport")
    if case is not None:
        await _export(update, context, caseworker, case)


async def _export(update: Update, context: Context, caseworker: Caseworker, case: Case) -> None:
    result = await reports.export_csv(runtime(context).svc, caseworker, case.id)
    if result is None:
        await reply(update, context, views.case_error(CaseError.NOT_FOUND, case.label))
        return
    case, text = result
    chat = update.effective_chat
    assert chat is not None
    # A BOM so that Excel opens the Danish letters right.
    await context.bot.send_document(
        chat.id,
        InputFile(("\ufeff" + text).encode("utf-8"), filename=f"{_safe_filename(case.label)}.csv"),
        caption=_("Svar i sag {label} (CSV, semikolonsepareret).").format(label=case.label),
    )


def _safe_filename(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label) or "sag"


@caseworkers_only
async def close_case(update: Update, context: Context, caseworker: Caseworker) -> None:
    case = await _by_argument(update, context, caseworker, "luk")
    if case is not None:
        await reply(update, context, views.confirm_close(case))


@caseworkers_only
async def close_confirmed(update: Update, context: Context, caseworker: Caseworker) -> None:
    """lk:<case id>, or lk:0 for "no"."""
    query, data = pressed(update)
    case_id = int(data[1])
    if case_id == 0:
        await query.answer()
        await show_in_place(update, context, views.Out(_("Sagen er ikke lukket.")))
        return
    result = await cases.close_case(runtime(context).svc, caseworker, case_id)
    if result is CaseError.NOT_FOUND:
        await query.answer(views.case_not_found_popup())
        return
    await query.answer()
    out = views.case_error(result) if isinstance(result, CaseError) else views.case_closed(result)
    await show_in_place(update, context, out)


@caseworkers_only
async def channel_status(update: Update, context: Context, caseworker: Caseworker) -> None:
    svc = runtime(context).svc
    channel = await enrolment.channel_of(svc, caseworker)
    await reply(update, context, views.channel_status(channel, svc.policy.timezone))


# --- alerts --------------------------------------------------------------------------------------


async def acknowledge_alert(update: Update, context: Context) -> None:
    """ack:<alert id>, pressed in a channel or a private chat by the case's caseworker."""
    query, data = pressed(update)
    svc = runtime(context).svc
    person = await people.identify(svc, query.from_user.id)
    with use_language(person.language or normalize_language(query.from_user.language_code)):
        if not person.is_caseworker:
            # A family member, a stranger in the group or a former caseworker: nothing about alerts.
            await query.answer(views.disabled().text if person.is_disabled_caseworker else _neutral_answer())
            return
        result = await acknowledge(svc, query.from_user.id, int(data[1]))
        if result.outcome is AckOutcome.NOT_YOURS:
            await query.answer(_("Kun sagens rådgiver kan markere advarslen."), show_alert=False)
            return
        await query.answer(views.acknowledged_popup(result.outcome is AckOutcome.ALREADY))
        if not result.alerts or result.case is None:
            return
        out = views.alert_post(result.alerts, result.case, result.role, svc.policy.timezone, result.by_name)
        await show_in_place(update, context, out)
