"""Messages to caseworkers and leaders: commands, summaries, alerts, digests, team reports.

Caseworker texts carry the case's pseudonymous label, never a name. Alerts look different from
summaries (a marker first line and an acknowledge button), so they stand out in a busy channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.charts import ChartPoint, ChartText, render_trend_chart
from bot.domain.instruments import AgeBand, Role
from bot.domain.interpretation import Course, Thresholds, cutoff
from bot.domain.rules import Finding, format_finding
from bot.domain.trends import text_trend
from bot.i18n import (
    _,
    format_date_long,
    format_date_short,
    format_datetime_long,
    format_datetime_short,
    format_points,
    format_signed_points,
    ngettext,
)
from bot.services.cases import CaseError, Invitation, LabelRefused, MeetingLogged
from bot.services.reports import CaseDetail, CaseOverview, Digest, RespondentTrend, TeamReport
from bot.storage.models import Alert, Case, Caseworker, Channel
from bot.views.common import Button, Out, esc, join_words, lines, rows

ALERT_MARK = "⚠️"
MAX_TEXT = 4000  # Telegram allows 4096 characters; leave room for markup
MAX_CAPTION = 1000  # a photo's caption: 1024
PICK_LIMIT = 60  # cases offered as buttons (Telegram allows 100 buttons in a message)
GOOD_MARK = "🌱"


def role_name(role: Role) -> str:
    return {Role.PARENT: _("forælder"), Role.YOUTH: _("ung"), Role.CHILD: _("barn")}[role]


def band_name(band: AgeBand) -> str:
    return {AgeBand.CHILD: _("6-12 år"), AgeBand.YOUTH: _("13-17 år"), AgeBand.ADULT: _("voksen")}[band]


def welcome(caseworker: Caseworker) -> Out:
    return Out(
        lines(
            _("Velkommen, {name}. Din Telegram-konto er nu koblet til FIT-bot.").format(name=esc(caseworker.name)),
            "",
            _(
                "Opret en kanal eller gruppe, og tilføj mig som administrator. Så sender "
                "jeg opsummeringer og advarsler dertil."
            ),
            "",
            _("Skriv /hjaelp for at se dine kommandoer."),
        )
    )


def account_in_use() -> Out:
    return Out(
        lines(
            _("Din Telegram-konto er allerede koblet til en anden rådgiveradgang i FIT-bot, så linket er ikke brugt."),
            "",
            _(
                "En konto kan kun høre til én adgang. Bed den, der gav dig linket, om at lukke den gamle "
                "adgang først. Så kan du bruge linket igen, indtil det udløber."
            ),
        )
    )


def help_text(caseworker: Caseworker) -> Out:
    parts = [
        "<b>" + _("Dine kommandoer") + "</b>",
        _("/nysag BETEGNELSE: opret en sag (aldrig navn eller CPR-nummer)"),
        _("/inviter SAG forælder|ung: link og QR-kode til familien"),
        _("/moede SAG [TIDSPUNKT]: registrér et møde, fx /moede A12 i dag 14:30"),
        _("/sager: alle åbne sager"),
        _("/sag SAG: én sag med scorer og graf"),
        _("/eksport SAG: sagens svar som CSV"),
        _("/luk SAG: luk en sag"),
        _("/kanal: hvor opsummeringer og advarsler sendes"),
        "",
        _("Du kan også skrive kommandoen uden sag og vælge sagen på en knap."),
    ]
    if caseworker.is_leader:
        parts += ["", _("Som leder får du en ugentlig rapport med samlede tal i din kanal.")]
    return Out(lines(*parts))


def disabled() -> Out:
    return Out(_("Din adgang til FIT-bot er lukket. Kontakt din leder eller IT, hvis det er en fejl."))


def new_case_usage() -> Out:
    return Out(_("Skriv /nysag og en kort betegnelse, fx /nysag A12. Brug aldrig navn eller CPR-nummer."))


def ask_band(label: str) -> Out:
    buttons = [Button(band_name(b), f"nb:{b.value}:{label}") for b in AgeBand]
    return Out(
        _("Hvor gammelt er barnet i sag {label}? Det afgør skæringspunktet for ORS.").format(
            label=f"<b>{esc(label)}</b>"
        ),
        buttons=rows(buttons, 3),
    )


def label_refused(refused: LabelRefused) -> Out:
    return Out(_(refused.problem.message).format(max_length=refused.max_length))


def case_created(case: Case) -> Out:
    return Out(
        lines(
            _("Sag {label} er oprettet ({band}).").format(
                label=f"<b>{esc(case.label)}</b>", band=band_name(case.age_band)
            ),
            "",
            _("Invitér familien med /inviter {label} forælder.").format(label=esc(case.label)),
        )
    )


def case_error(error: CaseError, label: str | None = None) -> Out:
    texts = {
        CaseError.NOT_FOUND: _("Jeg kan ikke finde sagen {label} blandt dine sager."),
        CaseError.CLOSED: _("Sag {label} er lukket."),
        CaseError.EXISTS: _("Du har allerede en sag med betegnelsen {label}."),
        CaseError.ROLE_DOES_NOT_FIT: _("Den rolle passer ikke til barnets alder i sag {label}."),
        CaseError.NO_RESPONDENTS: _("Ingen i sag {label} har sagt ja til at være med endnu."),
        CaseError.DUPLICATE: _("Det er allerede registreret."),
    }
    return Out(texts[error].format(label=f"<b>{esc(label)}</b>" if label else ""))


def case_not_found_popup() -> str:
    return _("Jeg kan ikke finde den sag blandt dine sager.")


def pick_case(cases: Sequence[Case], action: str, prompt: str) -> Out:
    if not cases:
        return Out(_("Du har ingen åbne sager. Opret en med /nysag."))
    buttons = [Button(c.label, f"pc:{action}:{c.id}") for c in cases[:PICK_LIMIT]]
    return Out(prompt, buttons=rows(buttons, 3))


def pick_role(case: Case) -> Out:
    roles = [Role.PARENT]
    if case.age_band is AgeBand.YOUTH:
        roles.append(Role.YOUTH)
    if case.age_band is AgeBand.CHILD:
        roles.append(Role.CHILD)
    buttons = [Button(role_name(r), f"ir:{case.id}:{r.value}") for r in roles]
    return Out(
        _("Hvem skal inviteres i sag {label}?").format(label=f"<b>{esc(case.label)}</b>"), buttons=(tuple(buttons),)
    )


def invitation(inv: Invitation, link: str, qr_png: bytes, tz: ZoneInfo) -> Out:
    return Out(
        lines(
            _("Invitation til {role} i sag {label}").format(
                role=role_name(inv.role), label=f"<b>{esc(inv.case.label)}</b>"
            ),
            "",
            link,
            "",
            _("Vis QR-koden på mødet, eller send linket på SMS. Det virker én gang og udløber {when}.").format(
                when=format_datetime_long(inv.expires_at, tz)
            ),
        ),
        photo=qr_png,
        photo_name="invitation.png",
    )


def meeting_usage() -> Out:
    return Out(
        _("Jeg forstod ikke tidspunktet. Skriv fx /moede A12, /moede A12 i dag 14:30 eller /moede A12 24.11 14:30.")
    )


def meeting_logged(result: MeetingLogged, tz: ZoneInfo) -> Out:
    label = f"<b>{esc(result.case.label)}</b>"
    head = _("Møde i sag {label} registreret: {when}.").format(
        label=label, when=format_datetime_long(result.held_at, tz)
    )
    if result.prompts_due:
        first = min(result.prompts_due)
        body = ngettext(
            "Spørgsmålene sendes til {count} person {when}.",
            "Spørgsmålene sendes til {count} personer {when}.",
            len(result.prompts_due),
        ).format(count=len(result.prompts_due), when=format_datetime_long(first, tz))
    else:
        body = _("Ingen i sagen har sagt ja til at være med endnu, så der sendes ingen spørgsmål.")
    waiting = (
        ngettext(
            "{count} inviteret person har ikke sagt ja endnu.",
            "{count} inviterede personer har ikke sagt ja endnu.",
            result.waiting_for_consent,
        ).format(count=result.waiting_for_consent)
        if result.waiting_for_consent
        else None
    )
    return Out(lines(head, "", body, *((waiting,) if waiting else ())))


def case_closed(case: Case) -> Out:
    return Out(_("Sag {label} er lukket. Der sendes ikke flere spørgsmål.").format(label=f"<b>{esc(case.label)}</b>"))


def confirm_close(case: Case) -> Out:
    return Out(
        _("Vil du lukke sag {label}? Der sendes så ikke flere spørgsmål i sagen.").format(
            label=f"<b>{esc(case.label)}</b>"
        ),
        buttons=((Button(_("Ja, luk sagen"), f"lk:{case.id}"), Button(_("Nej"), "lk:0")),),
    )


def _respondent_line(trend: RespondentTrend, reliable_change: int) -> str:
    parts = [role_name(trend.respondent.role)]
    if trend.respondent.status != "active":
        parts.append(_status_name(trend.respondent.status))
    if trend.ors_totals:
        parts.append("ORS " + text_trend(list(trend.ors_totals), reliable_change, format_points, last=4))
    if trend.latest_srs is not None:
        parts.append("SRS " + format_points(trend.latest_srs))
    if trend.respondent.unreachable_since:
        parts.append(_("kan ikke nås"))
    elif trend.last_status in ("sent", "in_progress"):
        parts.append(_("venter på svar"))
    elif trend.last_status == "expired":
        parts.append(_("svarede ikke sidst"))
    elif trend.last_status == "declined":
        parts.append(_("sprang sidste gang over"))
    return " · ".join(parts)


def _status_name(status: str) -> str:
    return {
        "consenting": _("har ikke sagt ja endnu"),
        "declined": _("sagde nej tak"),
        "withdrawn": _("er stoppet"),
        "invited": _("inviteret"),
    }.get(status, status)


def cases_overview(cases: Sequence[CaseOverview], thresholds: Thresholds) -> list[Out]:
    if not cases:
        return [Out(_("Du har ingen åbne sager. Opret en med /nysag."))]
    blocks = ["<b>" + ngettext("{count} åben sag", "{count} åbne sager", len(cases)).format(count=len(cases)) + "</b>"]
    for o in cases:
        head = f"<b>{esc(o.case.label)}</b> ({band_name(o.case.age_band)})"
        if o.open_alerts:
            head += (
                " "
                + ALERT_MARK
                + " "
                + ngettext("{count} advarsel", "{count} advarsler", o.open_alerts).format(count=o.open_alerts)
            )
        body = [f"  {_respondent_line(t, thresholds.reliable_change)}" for t in o.respondents] or [
            "  " + _("ingen har sagt ja endnu")
        ]
        blocks.append(lines(head, *body))
    text = "\n\n".join(blocks)
    return _messages(text, buttons=rows([Button(o.case.label, f"pc:sag:{o.case.id}") for o in cases[:30]], 3))


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """A long text as messages of at most `limit` characters, cut only between lines, nothing dropped.

    Our HTML never spans lines, so each part is valid on its own; a part does not start or end with
    blank lines. (A single line longer than `limit` cannot occur in these texts; it would be cut.)
    """
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        while len(line) > limit:
            parts.append(line[:limit])
            line = line[limit:]
        if current and size + 1 + len(line) > limit:
            parts.append("\n".join(current))
            current, size = [], 0
        if current or line.strip():
            size += (1 if current else 0) + len(line)
            current.append(line)
    if current:
        parts.append("\n".join(current))
    return [p.strip("\n") for p in parts if p.strip()] or [""]


def _messages(text: str, *, buttons: tuple[tuple[Button, ...], ...] = (), silent: bool = False) -> list[Out]:
    """A text as one or more messages; the buttons go with the last one, only the first may notify."""
    texts = split_text(text)
    return [Out(t, buttons=buttons if i == len(texts) - 1 else (), silent=silent or i > 0) for i, t in enumerate(texts)]


def _with_chart(text: str, photo: bytes | None, photo_name: str, caption: str, *, silent: bool = False) -> list[Out]:
    """A chart with the text as its caption when it fits (1024 characters), else with a short caption
    and the full text in messages of its own."""
    if photo is None:
        return _messages(text, silent=silent)
    if len(text) <= MAX_CAPTION:
        return [Out(text, photo=photo, photo_name=photo_name, silent=silent)]
    return [Out(caption, photo=photo, photo_name=photo_name, silent=silent), *_messages(text, silent=True)]


def charted(respondent_trends: Sequence[RespondentTrend]) -> RespondentTrend | None:
    """The respondent whose course the chart shows: the one with the most meetings."""
    if not respondent_trends:
        return None
    trend = max(respondent_trends, key=lambda t: len(t.meeting_times))
    return trend if trend.meeting_times else None


def chart(
    respondent_trends: Sequence[RespondentTrend], band: AgeBand, thresholds: Thresholds, tz: ZoneInfo, title: str
) -> bytes | None:
    """The FIT graph for one respondent's course (the one with the most meetings)."""
    trend = charted(respondent_trends)
    if trend is None:
        return None
    points = [
        ChartPoint(format_date_short(at, tz), ors, srs)
        for at, ors, srs in zip(trend.meeting_times, trend.ors_totals, trend.srs_totals, strict=True)
    ]
    return render_trend_chart(
        points,
        cutoff=cutoff(band, thresholds),
        srs_threshold=thresholds.srs_total,
        text=ChartText(
            title=title,
            ors_label=_("ORS (trivsel)"),
            srs_label=_("SRS (samarbejde)"),
            cutoff_label=_("Skæringspunkt {value}").format(value=format_points(cutoff(band, thresholds))),
            srs_line_label=_("Grænse {value}").format(value=format_points(thresholds.srs_total)),
            y_label=_("Point"),
        ),
    )


def case_detail(detail: CaseDetail, thresholds: Thresholds, tz: ZoneInfo) -> list[Out]:
    """The chart with a short caption, then every score in messages of their own (nothing cut)."""
    case = detail.case
    parts = [
        f"<b>{esc(case.label)}</b> · {band_name(case.age_band)}" + ("" if case.is_open else " · " + _("lukket")),
        _("Skæringspunkt for ORS: {value}").format(value=format_points(cutoff(case.age_band, thresholds))),
        "",
    ]
    for t in detail.respondents:
        status = _("er med") if t.respondent.active else _status_name(t.respondent.status)
        parts.append(f"<b>{role_name(t.respondent.role)}</b> ({status})")
        for at, ors, srs in zip(t.meeting_times, t.ors_totals, t.srs_totals, strict=True):
            parts.append(f"  {format_date_short(at, tz)}  ORS {format_points(ors)} · SRS {format_points(srs)}")
        if not t.meeting_times:
            parts.append("  " + _("ingen svar endnu"))
    parts += [
        "",
        ngettext("{count} møde", "{count} møder", len(detail.meetings)).format(count=len(detail.meetings))
        + (
            " · " + _("seneste {when}").format(when=format_datetime_short(detail.meetings[-1].held_at, tz))
            if detail.meetings
            else ""
        ),
    ]
    open_alerts = [a for a in detail.alerts if a.acknowledged_at is None and a.severity != "positive"]
    if open_alerts:
        parts += ["", f"{ALERT_MARK} <b>" + _("Åbne advarsler") + "</b>"]
        parts += [f"• {alert_text(a)}" for a in open_alerts]
    text = _messages(lines(*parts))
    photo = chart(detail.respondents, case.age_band, thresholds, tz, _("Sag {label}").format(label=case.label))
    shown = charted(detail.respondents)
    if photo is None or shown is None:
        return text
    caption = _("FIT-graf for {role} i sag {label}").format(
        role=role_name(shown.respondent.role), label=f"<b>{esc(case.label)}</b>"
    )
    return [Out(caption, photo=photo, photo_name=f"{case.label}.png"), *text]


def alert_text(alert: Alert) -> str:
    params = dict(alert.params)
    message = str(params.pop("message", ""))
    finding = Finding(
        kind=None,
        severity=None,
        message=message,  # type: ignore[arg-type]
        params={k: tuple(v) if isinstance(v, list) else v for k, v in params.items()},
    )
    return esc(format_finding(finding, translate=_, points=format_points, join=lambda w: join_words(w, _("og"))))


def alert_post(
    alerts: Sequence[Alert], case: Case, role: Role | None, tz: ZoneInfo, acknowledged_by: str | None = None
) -> Out:
    """An alert post: marked, the case and who answered, every rule that fired, one button for all."""
    head = f"{ALERT_MARK} <b>" + _("Advarsel i sag {label}").format(label=esc(case.label)) + "</b>"
    if role is not None:
        head += f" · {role_name(role)}"
    parts = [head, *(f"• {alert_text(a)}" for a in alerts)]
    seen = [a for a in alerts if a.acknowledged_at is not None]
    if len(seen) == len(alerts):
        when = format_datetime_short(max(a.acknowledged_at for a in seen if a.acknowledged_at), tz)
        parts += ["", "✅ " + _("Set af {name} {when}").format(name=esc(acknowledged_by or "?"), when=when)]
        return Out(lines(*parts))
    return Out(lines(*parts), buttons=((Button("✅ " + _("Set / håndteret"), f"ack:{alerts[0].id}"),),))


def _summary_head(case: Case, trend: RespondentTrend) -> str:
    return (
        "<b>" + _("Nye svar i sag {label}").format(label=esc(case.label)) + f"</b> · {role_name(trend.respondent.role)}"
    )


def summary_caption(case: Case, trend: RespondentTrend, findings: Sequence[Alert], thresholds: Thresholds) -> str:
    ors = [t for t in trend.ors_totals if t is not None]
    parts = [_summary_head(case, trend)]
    if ors:
        line = _("ORS {total}").format(total=format_points(ors[-1]))
        if len(ors) >= 2:
            line += (
                " ("
                + _("{change} siden sidst, {first} siden første møde").format(
                    change=format_signed_points(ors[-1] - ors[-2]), first=format_signed_points(ors[-1] - ors[0])
                )
                + ")"
            )
        parts.append(line)
    elif trend.ors_totals:
        parts.append(_("ORS: et eller flere punkter sprunget over"))
    srs = trend.srs_totals[-1] if trend.srs_totals else None
    parts.append(
        _("SRS {total}").format(total=format_points(srs))
        if srs is not None
        else _("SRS: et eller flere punkter sprunget over")
    )
    for f in findings:
        mark = GOOD_MARK if f.severity == "positive" else ALERT_MARK
        parts.append(f"{mark} {alert_text(f)}")
    return lines(*parts)


def summary(
    case: Case, trend: RespondentTrend, findings: Sequence[Alert], thresholds: Thresholds, tz: ZoneInfo
) -> list[Out]:
    text = summary_caption(case, trend, findings, thresholds)
    photo = chart([trend], case.age_band, thresholds, tz, _("Sag {label}").format(label=case.label))
    return _with_chart(text, photo, f"{case.label}.png", _summary_head(case, trend), silent=True)


def combined_summaries(
    items: Sequence[tuple[Case, RespondentTrend, Sequence[Alert]]], thresholds: Thresholds
) -> list[Out]:
    """Many answers for one channel at once: as few messages as fit, instead of a queue of many."""
    head = (
        "<b>"
        + ngettext("{count} ny besvarelse", "{count} nye besvarelser", len(items)).format(count=len(items))
        + "</b>"
    )
    posts: list[Out] = []
    text = head
    for case, trend, findings in items:
        block = summary_caption(case, trend, findings, thresholds)
        if len(text) + 2 + len(block) > MAX_TEXT:
            posts.append(Out(text, silent=True))
            text = head
        text += "\n\n" + block
    posts.append(Out(text, silent=True))
    return posts


def channel_linked(caseworker: Caseworker) -> Out:
    return Out(
        lines(
            _("Denne chat er nu koblet til {name}.").format(name=esc(caseworker.name)),
            "",
            _("Her kommer opsummeringer, advarsler og den daglige oversigt. Fjern mig fra chatten for at stoppe det."),
        )
    )


def channel_refused(title: str, in_use: Channel | None) -> Out:
    where = (
        _('Opsummeringer og advarsler kommer stadig i "{title}".').format(title=esc(in_use.title or in_use.chat_id))
        if in_use
        else _("Indtil du kobler en kanal, sender jeg advarsler og opsummeringer her.")
    )
    return Out(
        lines(
            _('Jeg kan ikke skrive i "{title}", så den er ikke koblet.').format(title=esc(title)),
            "",
            _("Fjern mig fra chatten, og tilføj mig igen som administrator med ret til at sende beskeder."),
            where,
        )
    )


def channel_unlinked_private() -> Out:
    return Out(_("Jeg er fjernet fra din kanal. Indtil du kobler en ny, sender jeg advarsler og opsummeringer her."))


def channel_status(channel: Channel | None, tz: ZoneInfo) -> Out:
    if channel is None:
        return Out(
            lines(
                _("Du har ingen kanal koblet. Advarsler og opsummeringer kommer her i vores private chat."),
                "",
                _("Opret en kanal eller gruppe, og tilføj mig som administrator for at koble den."),
            )
        )
    return Out(
        _('Din kanal er "{title}", koblet {when}.').format(
            title=esc(channel.title or channel.chat_id), when=format_datetime_short(channel.linked_at, tz)
        )
    )


def acknowledged_popup(already: bool) -> str:
    return _("Den var allerede markeret som set.") if already else _("Markeret som set.")


# --- digests and reports ------------------------------------------------------------------------


def digest(d: Digest, thresholds: Thresholds, tz: ZoneInfo, now: datetime) -> list[Out]:
    """What needs attention first, then one line per open case; as many messages as that takes."""
    parts = [
        "<b>" + _("Dagens oversigt, {date}").format(date=format_date_long(now, tz)) + "</b>",
        "",
    ]
    if d.needs_attention:
        parts.append(f"{ALERT_MARK} <b>" + _("Kræver opmærksomhed") + "</b>")
        for case, alert in d.open_alerts:
            parts.append(f"• {esc(case.label)}: {alert_text(alert)}")
        for case, trend in d.no_response:
            parts.append(
                "• "
                + _("{label}: {role} svarede ikke efter sidste møde").format(
                    label=esc(case.label), role=role_name(trend.respondent.role)
                )
            )
        parts.append("")
    else:
        parts += [_("Intet kræver din opmærksomhed lige nu."), ""]
    parts.append(
        "<b>" + ngettext("{count} åben sag", "{count} åbne sager", len(d.cases)).format(count=len(d.cases)) + "</b>"
    )
    for o in d.cases:
        line = f"<b>{esc(o.case.label)}</b>"
        if o.respondents:
            line += ": " + "; ".join(_respondent_line(t, thresholds.reliable_change) for t in o.respondents)
        parts.append(line)
    return _messages(lines(*parts), silent=not d.needs_attention)


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "–"


def team_report(report: TeamReport, tz: ZoneInfo) -> list[Out]:
    """Aggregates only; a figure from too few people says so instead of showing a value."""
    too_few = _("for få til at vise (under {count} personer)").format(count=report.min_group)
    n = report.respondents_with_course
    improved = report.courses.get(Course.IMPROVED, 0) + report.courses.get(Course.RECOVERED, 0)
    if report.sent is None or report.answered is None:
        response = _("Svarprocent: {rate}").format(rate=too_few)
    else:
        response = _("Svarprocent: {rate} ({answered} af {sent} skemaer)").format(
            rate=_percent(report.answered, report.sent), answered=report.answered, sent=report.sent
        )
    if "srs" in report.suppressed:
        srs = too_few
    else:
        srs = format_points(round(report.average_srs)) if report.average_srs is not None else "–"
    if "courses" in report.suppressed:
        courses = [_("Fremgang, uændret og tilbagegang: {share}").format(share=too_few)]
    else:
        courses = [
            _("Sikker fremgang: {share}").format(share=_percent(improved, n))
            + " · "
            + _("heraf klinisk betydende: {share}").format(share=_percent(report.courses.get(Course.RECOVERED, 0), n)),
            _("Uændret: {share}").format(share=_percent(report.courses.get(Course.UNCHANGED, 0), n)),
            _("Sikker tilbagegang: {share}").format(share=_percent(report.courses.get(Course.DETERIORATED, 0), n)),
        ]
    parts = [
        "<b>" + _("Ugerapport {team}").format(team=esc(report.team) if report.team else "").strip() + "</b>",
        _("{since} til {until}").format(
            since=format_date_short(report.since, tz), until=format_date_short(report.until, tz)
        ),
        "",
        response,
        _("Gennemsnitlig SRS: {value}").format(value=srs),
        "",
        "<b>" + _("Forløb (første til seneste ORS, åbne sager)") + "</b>",
        *courses,
        ngettext(
            "({count} respondent med mindst to målinger)", "({count} respondenter med mindst to målinger)", n
        ).format(count=n),
        "",
        "<b>" + _("Pr. rådgiver") + "</b>",
    ]
    for f in report.per_caseworker:
        if f.sent is None or f.answered is None:
            parts.append(
                _("{name}: {cases} åbne sager, {meetings} møder, besvaret: {share}").format(
                    name=esc(f.name), cases=f.open_cases, meetings=f.meetings, share=too_few
                )
            )
            continue
        parts.append(
            _("{name}: {cases} åbne sager, {meetings} møder, {answered}/{sent} besvaret").format(
                name=esc(f.name), cases=f.open_cases, meetings=f.meetings, answered=f.answered, sent=f.sent
            )
        )
    if report.suppressed or any(f.sent is None for f in report.per_caseworker):
        parts += [
            "",
            _("Tal fra færre end {count} personer vises ikke, så ingen families svar kan genkendes.").format(
                count=report.min_group
            ),
        ]
    return _messages(lines(*parts))
