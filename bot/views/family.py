"""Messages to parents, young people and children.

The first line of every new message is discreet (a lock screen shows it): it never mentions the family
department, a child, a case or a problem. Short sentences, du-form, the question last.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale

from bot.domain.instruments import AgeBand, Kind, Role
from bot.domain.trends import text_trend
from bot.i18n import N_, _, current_language, format_datetime_full, format_points, language_name
from bot.i18n.core import item_text
from bot.services.people import MyData, Participation, QuestionnaireRecord
from bot.services.questionnaire import Finished, ItemView, Stale
from bot.views.common import Button, Out, esc, lines, rows


def stranger() -> Out:
    return Out(
        lines(
            _("Hej. Jeg er FIT-bot."),
            "",
            _("Jeg bruges af kommunens familieafdeling."),
            _("Har du fået et link fra din rådgiver, så tryk på det for at komme i gang."),
        )
    )


def invalid_link() -> Out:
    return Out(
        lines(
            _("Det link virker desværre ikke."),
            "",
            _("Det kan være udløbet eller allerede brugt. Bed din rådgiver om et nyt link."),
        )
    )


def throttled() -> Out:
    return Out(
        lines(
            _("Der er prøvet mange links på kort tid."),
            "",
            _("Vent en time og prøv igen, eller bed din rådgiver om et nyt link."),
        )
    )


# The consent text: every msgid the welcome shows, so that its version follows from the wording itself.
_WELCOME = N_("Hej, og velkommen.")
_ABOUT_PARENT = N_(
    "Efter dine møder med din rådgiver får du et par hurtige spørgsmål her: hvordan det går, og hvordan mødet var."
)
_ABOUT_YOUNG = N_(
    "Efter dine møder med din rådgiver får du et par hurtige spørgsmål her: hvordan du har det, og hvordan mødet var."
)
_MINUTE = N_("Det tager omkring et minut. Dine svar hjælper din rådgiver med at gøre hjælpen bedre.")
_WHO_HEADING = N_("Hvem ser dine svar?")
_WHO = N_("Din rådgiver ser dine svar. Ledere ser kun tal for mange familier samlet, aldrig dine svar.")
_TELEGRAM = N_("Beskederne går gennem Telegram. Dine svar gemmes af kommunen.")
_VOLUNTARY_HEADING = N_("Det er frivilligt")
_VOLUNTARY = N_("Du kan altid stoppe igen ved at skrive /stop. Det har ingen betydning for den hjælp, du får.")
_NOT_FOR_EMERGENCIES = N_("Jeg kan ikke hjælpe i en akut situation.")
_EMERGENCY = N_("Er nogen i fare, så ring 112.")
_HELPLINE = N_("Børn og unge kan altid ringe gratis og anonymt til BørneTelefonen på 116 111.")
_ASK = N_("Vil du være med?")
_YES = N_("Ja, jeg vil gerne være med")
_NO = N_("Nej tak")
CONSENT_MSGIDS = (
    _WELCOME,
    _ABOUT_PARENT,
    _ABOUT_YOUNG,
    _MINUTE,
    _WHO_HEADING,
    _WHO,
    _TELEGRAM,
    _VOLUNTARY_HEADING,
    _VOLUNTARY,
    _NOT_FOR_EMERGENCIES,
    _EMERGENCY,
    _HELPLINE,
    _ASK,
    _YES,
    _NO,
)


def consent_text_version(msgids: Iterable[str]) -> str:
    """A short hash of the consent text's msgids: a change of wording is a new version by itself."""
    digest = hashlib.sha256("\n\x00".join(msgids).encode("utf-8")).hexdigest()
    return f"sha256:{digest[:12]}"


# Stored with every consent (the Danish source text decides it; translations follow it).
CONSENT_TEXT_VERSION = consent_text_version(CONSENT_MSGIDS)


def _emergency(role: Role | None) -> str:
    text = _(_EMERGENCY)
    if role in (Role.YOUTH, Role.CHILD, None):
        text += " " + _(_HELPLINE)
    return text


def consent_request(respondent_id: int, role: Role) -> Out:
    """The welcome after a valid invitation: what FIT-bot is, who sees what, voluntary, not for emergencies.
    Only the texts in CONSENT_MSGIDS, so CONSENT_TEXT_VERSION names exactly what the person read."""
    return Out(
        lines(
            _(_WELCOME),
            "",
            _(_ABOUT_PARENT if role is Role.PARENT else _ABOUT_YOUNG),
            _(_MINUTE),
            "",
            "<b>" + _(_WHO_HEADING) + "</b>",
            _(_WHO),
            _(_TELEGRAM),
            "",
            "<b>" + _(_VOLUNTARY_HEADING) + "</b>",
            _(_VOLUNTARY),
            "",
            _(_NOT_FOR_EMERGENCIES) + " " + _emergency(role),
            "",
            _(_ASK),
        ),
        buttons=(
            (
                Button(_(_YES), f"cs:{respondent_id}:y"),
                Button(_(_NO), f"cs:{respondent_id}:n"),
            ),
        ),
    )


def consent_given() -> Out:
    return Out(
        lines(
            _("Tak. Du er nu med."),
            "",
            _after_next_meeting(),
        )
    )


def _after_next_meeting() -> str:
    return _("Efter dit næste møde får du et par spørgsmål her. Skriv /hjaelp, hvis du vil vide mere.")


def already_joined() -> Out:
    """Their own invitation opened again after they said yes."""
    return Out(lines(_("Hej igen. Du er allerede med."), "", _after_next_meeting()))


def consent_pending() -> Out:
    """A message from someone who has opened their invitation but not yet said yes or no."""
    return Out(
        lines(
            _("Jeg mangler bare at vide, om du vil være med."),
            "",
            _(
                "Tryk på »{yes}« eller »{no}« under velkomsten ovenfor. Kan du ikke finde den, "
                "så tryk på linket fra din rådgiver igen."
            ).format(yes=_(_YES), no=_(_NO)),
        )
    )


def declined_reminder() -> Out:
    """A message from someone who said no thanks: they get no questions, and how to join after all."""
    return Out(
        lines(
            _("Du har sagt nej tak, så du får ingen spørgsmål fra mig."),
            "",
            _(
                "Vil du alligevel være med, så tryk på »{yes}« under velkomsten ovenfor, "
                "eller tryk på linket fra din rådgiver igen."
            ).format(yes=_(_YES)),
        )
    )


def consent_declined() -> Out:
    return Out(
        lines(
            _("Det er helt i orden. Du får ingen spørgsmål fra mig."),
            "",
            _("Fortryder du, kan du trykke på knappen ovenfor igen eller bede din rådgiver om et nyt link."),
        )
    )


def consent_unchanged(given: bool) -> str:
    """A short pop-up for the same consent answer given again."""
    return _("Du er allerede med.") if given else _("Det har du allerede svaret.")


def prompt(questionnaire_id: int) -> Out:
    return Out(
        lines(
            _("Du har et par spørgsmål fra dit seneste møde."),
            "",
            _("Tak for mødet. Dine svar hjælper din rådgiver med at gøre hjælpen bedre. Det er frivilligt at svare."),
            "",
            _("Har du et minut til at fortælle, hvordan det går?"),
        ),
        buttons=_start_buttons(questionnaire_id),
    )


def reminder(questionnaire_id: int) -> Out:
    return Out(
        lines(
            _("Der ligger stadig et par spørgsmål fra dit seneste møde."),
            "",
            _("Det er også helt i orden at lade være. Har du et minut nu?"),
        ),
        buttons=_start_buttons(questionnaire_id),
        silent=True,
    )


def _start_buttons(questionnaire_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (Button(_("Ja, lad os gå i gang"), f"qs:{questionnaire_id}"),),
        (Button(_("Ikke denne gang"), f"qn:{questionnaire_id}"),),
    )


_SECTION = {
    Kind.ORS: lambda: _("Hvordan det går"),
    Kind.SRS: lambda: _("Hvordan mødet var"),
}


def item(view: ItemView, *, note: str | None = None) -> Out:
    """One item: progress, the question, the ends of the scale, and the buttons 0-10."""
    inst = view.instrument
    it = inst.items[view.item_index]
    question = item_text(inst.key, it.key, "question", it.question)
    low = item_text(inst.key, it.key, "low", it.low)
    high = item_text(inst.key, it.key, "high", it.high)
    current = None
    if view.answered:
        current = (
            _("Dit svar: {value}").format(value=format_points(view.current))
            if view.current is not None
            else _("Du sprang over.")
        )
    text = lines(
        _("Spørgsmål {number} af {count}").format(number=view.number, count=view.count) + f" · {_SECTION[view.kind]()}",
        "",
        f"<b>{esc(question)}</b>",
        f"0 = {esc(low)} · 10 = {esc(high)}",
        *((current,) if current else ()),
        "",
        note or _("Tryk på et tal fra 0 til 10, eller skriv fx 7,5."),
    )
    q, pos = view.questionnaire_id, view.position
    chosen = round(view.current / 10) if view.current is not None and view.current % 10 == 0 else None
    numbers = [Button(f"{n} ✓" if n == chosen else str(n), f"q:{q}:{pos}:{n}") for n in range(11)]
    nav = [Button(_("Spring over"), f"q:{q}:{pos}:s")]
    if pos > 0:
        nav.insert(0, Button("← " + _("Tilbage"), f"q:{q}:{pos}:b"))
    return Out(text, buttons=(*rows(numbers[:6], 6), *rows(numbers[6:], 5), tuple(nav)))


def not_a_score(view: ItemView) -> Out:
    return item(view, note=_("Skriv et tal fra 0 til 10, fx 7 eller 7,5. Du kan også trykke på et tal."))


def first_item_note(view: ItemView) -> Out:
    return item(view, note=_("Her er det første spørgsmål. Tryk på et tal, eller skriv fx 7,5."))


def finished(result: Finished, *, reliable_change: int) -> Out:
    trend = text_trend(list(result.ors_totals), reliable_change, format_points)
    shown = [t for t in result.ors_totals if t is not None]
    parts = [_("Tak for dine svar."), ""]
    if len(shown) >= 2:
        parts += [_("Sådan har det gået ifølge dine svar (0-40):"), trend, ""]
    elif shown:
        parts += [_("I dag giver dine svar i alt {total} af 40.").format(total=format_points(shown[-1])), ""]
    parts.append(_("Din rådgiver ser dine svar og kan tale med dig om dem næste gang."))
    return Out(lines(*parts))


def finished_keyboard_gone() -> Out:
    return Out(_("Tak for dine svar."))


def expired_notice() -> Out:
    return Out(_("Spørgsmålene fra det møde er lukket nu. Du får nye efter næste møde."))


def declined_notice() -> Out:
    return Out(_("Det er helt i orden. Du får nye spørgsmål efter næste møde."))


def stale_text(stale: Stale) -> str:
    """A short answer to a press that changed nothing (shown as a small pop-up)."""
    return {
        Stale.ALREADY_ANSWERED: _("Det spørgsmål er allerede besvaret."),
        Stale.FINISHED: _("Du har allerede svaret. Tak."),
        Stale.CLOSED: _("Spørgsmålene er lukket."),
        Stale.NOT_YOURS: _("Den knap virker ikke længere."),
        Stale.DUPLICATE: _("Det spørgsmål er allerede besvaret."),
    }[stale]


def nothing_to_answer() -> Out:
    return Out(
        lines(
            _("Der er ingen spørgsmål at svare på lige nu."),
            "",
            _("Du får besked her efter dit næste møde. Skriv /hjaelp, hvis du vil vide mere."),
        )
    )


def help_text(role: Role | None) -> Out:
    return Out(
        lines(
            _("Jeg er FIT-bot."),
            "",
            _(
                "Efter dine møder med din rådgiver stiller jeg et par hurtige spørgsmål: "
                "hvordan det går, og hvordan mødet var. "
                "Så kan din rådgiver se, om hjælpen virker, og ændre den, hvis den ikke gør."
            ),
            "",
            "<b>" + _("Hvem ser hvad?") + "</b>",
            _(
                "Din rådgiver ser dine svar. Ledere ser kun tal for mange familier samlet, aldrig dine svar. "
                "Beskederne går gennem Telegram, og kommunen gemmer dine svar."
            ),
            "",
            "<b>" + _("Det kan du skrive") + "</b>",
            _("/sprog: vælg sprog"),
            _("/mine_data: få alt, hvad FIT-bot har gemt om dig"),
            _("/stop: stop med at være med"),
            "",
            _(_NOT_FOR_EMERGENCIES) + " " + _emergency(role),
        )
    )


def language_picker(languages: tuple[str, ...], current: str) -> Out:
    buttons = [Button(("✓ " if lang == current else "") + language_name(lang), f"l:{lang}") for lang in languages]
    return Out(_("Hvilket sprog vil du have?"), buttons=rows(buttons, 2))


def language_set() -> Out:
    return Out(_("Fint. Jeg skriver på dansk fra nu af."))


def stop_confirm(answers_deleted: bool) -> Out:
    """Before the person decides: what stopping means, and what happens to their earlier answers."""
    return Out(
        lines(
            _("Hvis du stopper, får du ingen flere spørgsmål, og din Telegram-konto kobles fra."),
            "",
            _(
                "Dine tidligere svar bliver slettet fra FIT-bot. Beskeder, din rådgiver allerede har fået "
                "om dem, bliver ikke slettet."
            )
            if answers_deleted
            else _("Dine tidligere svar bliver gemt hos kommunen, og din rådgiver kan stadig se dem."),
            "",
            _("Vil du stoppe?"),
        ),
        buttons=((Button(_("Ja, stop"), "st:y"), Button(_("Nej, fortsæt"), "st:n")),),
    )


def stopped(answers_deleted: bool) -> Out:
    kept = (
        _(
            "Dine tidligere svar er slettet fra FIT-bot. "
            "Beskeder, din rådgiver allerede har fået om dem, er ikke slettet."
        )
        if answers_deleted
        else _(
            "Dine tidligere svar er gemt hos kommunen, og din rådgiver kan stadig se dem. "
            "Din rådgiver kan fortælle dig mere om det."
        )
    )
    return Out(
        lines(
            _("Nu er du ikke længere med. Du får ingen flere spørgsmål fra mig."),
            "",
            kept,
            "",
            _("Vil du være med igen senere, så bed din rådgiver om et nyt link."),
        )
    )


def stop_cancelled() -> Out:
    return Out(_("Fint. Du er stadig med."))


def not_linked_stop() -> Out:
    return Out(_("Du er ikke med lige nu, så der er intet at stoppe."))


def my_data_filename() -> str:
    return _("mine_data") + ".txt"


def my_data_document(data: MyData, tz: ZoneInfo) -> bytes:
    """/mine_data as a plain UTF-8 text file in the person's language: local times, 7,5-style values,
    each question's wording, and every record kept about them (never the invitation token)."""

    def when(at: datetime | None) -> str:
        return format_datetime_full(at, tz) if at is not None else "–"

    out: list[str] = [
        _heading(_("Det har FIT-bot gemt om dig"), "="),
        _("Hentet {when}. Alle tider er lokal tid ({zone}).").format(when=when(data.exported_at), zone=tz.key),
        "",
        _("Din Telegram-konto har id {id}. FIT-bot gemmer ikke dit navn eller telefonnummer fra Telegram.").format(
            id=data.telegram_user_id
        ),
    ]
    if data.recent_bad_links:
        out.append(
            _(
                "Links, der ikke virkede, prøvet fra din konto det seneste døgn: {count}. "
                "Det gemmes et døgn for at forhindre gætteri."
            ).format(count=data.recent_bad_links)
        )
    if data.caseworker is not None:
        cw = data.caseworker
        out += [
            "",
            _heading(_("Du som rådgiver"), "-"),
            _("Navn: {name}").format(name=cw.name),
            _("Team: {team}").format(team=cw.team or "–"),
            _("Rolle: {role}").format(role=_("leder") if cw.is_leader else _("rådgiver")),
            _("Sprog: {language}").format(language=_language(cw.language)),
            _("Oprettet: {when}").format(when=when(cw.created_at)),
        ]
    for participation in data.participations:
        out += ["", *_participation_lines(participation, when)]
    if not data.participations and data.caseworker is None:
        out += ["", _("Der er ikke gemt andet om dig.")]
    return ("\n".join(out) + "\n").encode("utf-8")


def _language(language: str) -> str:
    """A language's name as a word in the reader's language: "dansk", "engelsk"; "Danish", "English"."""
    return Locale.parse(language).get_display_name(current_language()) or language


def _heading(text: str, underline: str) -> str:
    return f"{text}\n{underline * len(text)}"


_ROLE = {
    Role.PARENT: lambda: _("forælder"),
    Role.YOUTH: lambda: _("ung"),
    Role.CHILD: lambda: _("barn"),
}
_BAND = {
    AgeBand.CHILD: lambda: _("6-12 år"),
    AgeBand.YOUTH: lambda: _("13-17 år"),
    AgeBand.ADULT: lambda: _("voksen"),
}
_PARTICIPATION_STATUS = {
    "consenting": lambda: _("du har ikke svaret endnu, om du vil være med"),
    "active": lambda: _("du er med"),
    "declined": lambda: _("du har sagt nej tak"),
    "withdrawn": lambda: _("du er stoppet"),
}
_QUESTIONNAIRE_STATUS = {
    "scheduled": lambda: _("ikke sendt endnu"),
    "sent": lambda: _("sendt, ikke besvaret endnu"),
    "in_progress": lambda: _("i gang"),
    "completed": lambda: _("besvaret"),
    "declined": lambda: _("du valgte »Ikke denne gang«"),
    "expired": lambda: _("lukket, før alle spørgsmål var besvaret"),
    "cancelled": lambda: _("aflyst"),
}
_TOLD = {
    "no_response": lambda: _("din rådgiver fik besked om, at der ikke kom svar"),
    "unreachable": lambda: _("din rådgiver fik besked om, at mine beskeder ikke kunne nå dig"),
    "improvement": lambda: _("din rådgiver fik besked om, at det går bedre ifølge dine svar"),
}
_EVENTS = {
    "joined": lambda: _("du åbnede dit link"),
    "consent_given": lambda: _("du sagde ja til at være med"),
    "consent_declined": lambda: _("du sagde nej tak"),
    "questionnaire_completed": lambda: _("du svarede på spørgsmålene"),
    "questionnaire_declined": lambda: _("du valgte »Ikke denne gang«"),
}


def _say(table: dict[str, Callable[[], str]], key: str) -> str:
    """A stored code in words; one this version has no words for stays as it is stored."""
    return table[key]() if key in table else key


def _participation_lines(p: Participation, when: Callable[[datetime | None], str]) -> list[str]:
    out = [
        _heading(_("Du er med som {role}").format(role=_ROLE[p.role]()), "-"),
        _("Status: {status}").format(status=_say(_PARTICIPATION_STATUS, p.status)),
        *((_("Aldersgruppe: {band}").format(band=_BAND[p.age_band]()),) if p.age_band else ()),
        _("Sprog: {language}").format(language=_language(p.language)),
        *((_("Med siden: {when}").format(when=when(p.joined_at)),) if p.joined_at else ()),
        *(
            (_("Mine beskeder har ikke kunnet nå dig siden: {when}").format(when=when(p.unreachable_since)),)
            if p.unreachable_since
            else ()
        ),
        "",
        _("Dit link"),
    ]
    for invitation in p.invitations:
        out.append(
            "- "
            + _("lavet {created}, gyldigt til {expires}").format(
                created=when(invitation.created_at), expires=when(invitation.expires_at)
            )
            + (", " + _("brugt {when}").format(when=when(invitation.used_at)) if invitation.used_at else "")
            + (", " + _("lukket {when}").format(when=when(invitation.revoked_at)) if invitation.revoked_at else "")
        )
    out.append(_("Selve linket er ikke gemt, kun et fingeraftryk af det, som ikke kan laves om til linket igen."))
    out += ["", _("Om du vil være med")]
    for consent in p.consents:
        answer = _("ja") if consent.given else _("nej")
        out.append(
            "- "
            + _("{when}: {answer} (velkomstteksten i version {version}, på {language})").format(
                when=when(consent.at),
                answer=answer,
                version=consent.text_version,
                language=_language(consent.language),
            )
        )
    if not p.consents:
        out.append("- " + _("du har ikke svaret endnu"))
    out += ["", _("Spørgsmål efter dine møder")]
    if not p.questionnaires:
        out.append("- " + _("ingen endnu"))
    for q in p.questionnaires:
        out += ["", *_questionnaire_lines(q, when)]
    if p.caseworker_told:
        out += ["", _("Beskeder til din rådgiver om dine svar")]
        for at, kind in p.caseworker_told:
            told = _TOLD.get(kind, lambda: _("din rådgiver fik besked om at kigge nærmere på dine svar"))()
            out.append(f"- {when(at)}: {told}")
    if p.events:
        out += ["", _("Logbog (den viser aldrig dine svar)")]
        for at, action in p.events:
            out.append(f"- {when(at)}: {_say(_EVENTS, action)}")
    return out


def _questionnaire_lines(q: QuestionnaireRecord, when: Callable[[datetime | None], str]) -> list[str]:
    out = [
        _("Møde {when}").format(when=when(q.meeting_at)),
        "  " + _("Status: {status}").format(status=_say(_QUESTIONNAIRE_STATUS, q.status)),
    ]
    for label, at in (
        (_("Sendt"), q.sent_at),
        (_("Påmindelse sendt"), q.reminded_at),
        (_("Besvaret"), q.completed_at),
        (_("Lukket"), q.expires_at if q.status == "expired" else None),
    ):
        if at is not None:
            out.append(f"  {label}: {when(at)}")
    if not any(answer.answered for answer in q.answers):
        return [*out, "  " + _("Ingen svar.")]
    section: Kind | None = None
    values: list[int | None] = []
    for number, answer in enumerate(q.answers, start=1):
        inst = answer.instrument
        if inst.kind is not section:
            out += _total(values)
            section, values = inst.kind, []
            out += ["", "  " + _SECTION[inst.kind]()]
        it = inst.items[answer.item_index]
        question = item_text(inst.key, it.key, "question", it.question)
        low = item_text(inst.key, it.key, "low", it.low)
        high = item_text(inst.key, it.key, "high", it.high)
        given = (
            format_points(answer.value)
            if answer.value is not None
            else (_("sprunget over") if answer.answered else _("ikke besvaret"))
        )
        values.append(answer.value if answer.answered else None)
        out += [
            f"  {number}. {question}",
            f"     0 = {low} · 10 = {high}",
            "     " + _("Dit svar: {value}").format(value=given),
        ]
    out += _total(values)
    return out


def _total(values: list[int | None]) -> list[str]:
    """The section's total, when every item has a value (a skipped item leaves no total, as elsewhere)."""
    if not values or any(v is None for v in values):
        return []
    return ["  " + _("I alt: {total} af 40").format(total=format_points(sum(v for v in values if v is not None)))]


def my_data_caption() -> str:
    return _("Her er alt, hvad FIT-bot har gemt om dig. Filen er almindelig tekst og kan fx åbnes på en computer.")


def caseworker_only() -> Out:
    return Out(_("Den kommando er kun for rådgivere. Skriv /hjaelp for at se, hvad du kan skrive her."))
