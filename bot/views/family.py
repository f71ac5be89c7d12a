"""Messages to parents, young people and children.

The first line of every new message is discreet (a lock screen shows it): it never mentions the family
department, a child, a case or a problem. Short sentences, du-form, the question last.
"""

from __future__ import annotations

from bot.domain.instruments import Kind, Role
from bot.domain.trends import text_trend
from bot.i18n import _, format_points, language_name
from bot.i18n.core import item_text
from bot.services.questionnaire import Finished, ItemView, Stale
from bot.views.common import Button, Out, esc, lines, rows

EMERGENCY_ADULT = "112"
CHILD_HELPLINE = "116 111"


def stranger() -> Out:
    return Out(
        lines(
            _("Hej. Jeg bruges af kommunens familieafdeling."),
            "",
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


def _emergency(role: Role | None) -> str:
    text = _("Er nogen i fare, så ring 112.")
    if role in (Role.YOUTH, Role.CHILD, None):
        text += " " + _("Børn og unge kan altid ringe gratis og anonymt til BørneTelefonen på 116 111.")
    return text


def consent_request(respondent_id: int, role: Role) -> Out:
    """The welcome after a valid invitation: what FIT-bot is, who sees what, voluntary, not for emergencies."""
    about = (
        _(
            "Efter dine møder med din rådgiver får du et par hurtige spørgsmål her: "
            "hvordan det går, og hvordan mødet var."
        )
        if role is Role.PARENT
        else _(
            "Efter dine møder med din rådgiver får du et par hurtige spørgsmål her: "
            "hvordan du har det, og hvordan mødet var."
        )
    )
    return Out(
        lines(
            _("Hej, og velkommen."),
            "",
            about,
            _("Det tager omkring et minut. Dine svar hjælper din rådgiver med at gøre hjælpen bedre."),
            "",
            "<b>" + _("Hvem ser dine svar?") + "</b>",
            _("Din rådgiver ser dine svar. Ledere ser kun tal for mange familier samlet, aldrig dine svar."),
            _("Beskederne går gennem Telegram. Dine svar gemmes af kommunen."),
            "",
            "<b>" + _("Det er frivilligt") + "</b>",
            _("Du kan altid stoppe igen ved at skrive /stop. Det har ingen betydning for den hjælp, du får."),
            "",
            _("Jeg kan ikke hjælpe i en akut situation.") + " " + _emergency(role),
            "",
            _("Vil du være med?"),
        ),
        buttons=(
            (
                Button(_("Ja, jeg vil gerne være med"), f"cs:{respondent_id}:y"),
                Button(_("Nej tak"), f"cs:{respondent_id}:n"),
            ),
        ),
    )


def consent_given() -> Out:
    return Out(
        lines(
            _("Tak. Du er nu med."),
            "",
            _("Efter jeres næste møde får du et par spørgsmål her. Skriv /hjaelp, hvis du vil vide mere."),
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


def prompt(questionnaire_id: int) -> Out:
    return Out(
        lines(
            _("Du har et par spørgsmål fra dit seneste møde."),
            "",
            _(
                "Tak for mødet. Har du et minut til at fortælle, hvordan det går? Det hjælper "
                "din rådgiver med at gøre hjælpen bedre."
            ),
            "",
            _("Det er frivilligt at svare."),
        ),
        buttons=_start_buttons(questionnaire_id),
    )


def reminder(questionnaire_id: int) -> Out:
    return Out(
        lines(
            _("Der ligger stadig et par spørgsmål fra jeres seneste møde."),
            "",
            _("Har du et minut nu? Du kan også bare lade være."),
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
        parts += [_("Dit samlede svar i dag: {total} af 40.").format(total=format_points(shown[-1])), ""]
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
            _("Jeg kan ikke hjælpe i en akut situation.") + " " + _emergency(role),
        )
    )


def language_picker(languages: tuple[str, ...], current: str) -> Out:
    buttons = [Button(("✓ " if lang == current else "") + language_name(lang), f"l:{lang}") for lang in languages]
    return Out(_("Hvilket sprog vil du have?"), buttons=rows(buttons, 2))


def language_set() -> Out:
    return Out(_("Fint. Jeg skriver på dansk fra nu af."))


def stop_confirm() -> Out:
    return Out(
        lines(
            _("Vil du stoppe?"),
            "",
            _("Så får du ingen flere spørgsmål, og din Telegram-konto kobles fra."),
        ),
        buttons=((Button(_("Ja, stop"), "st:y"), Button(_("Nej, fortsæt"), "st:n")),),
    )


def stopped(answers_deleted: bool) -> Out:
    kept = (
        _("Dine tidligere svar er slettet.")
        if answers_deleted
        else _("Dine tidligere svar bliver gemt hos kommunen. Din rådgiver kan fortælle dig mere om det.")
    )
    return Out(
        lines(
            _("Du er stoppet. Du får ingen flere spørgsmål fra mig."),
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


def my_data_caption() -> str:
    return _("Her er alt, hvad FIT-bot har gemt om dig. Filen er almindelig tekst og kan fx åbnes på en computer.")


def caseworker_only() -> Out:
    return Out(_("Den kommando er kun for rådgivere. Skriv /hjaelp for at se, hvad du kan skrive her."))
