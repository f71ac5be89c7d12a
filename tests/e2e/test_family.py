"""The family's side, end to end through the emulator: joining, consent, answering, commands, safety."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telegram import Update

from bot.charts import ORS_ONLY_HEIGHT_PX, WIDTH_PX
from bot.clock import FakeClock
from bot.domain.instruments import Role
from bot.i18n import use_language
from bot.sandbox.emulator import Emulator
from bot.views import family as family_views
from tests.e2e.harness import Caseworker, Harness, Person, keep_updates, start_harness, stop_harness

CONSENT = "Ja, jeg vil gerne være med"
START = "Ja, lad os gå i gang"
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def join(harness: Harness, worker: Caseworker, label: str, role: str, name: str, **kw: str) -> Person:
    token = await worker.invite(label, role)
    person = harness.person(name, **kw)
    await person.send(f"/start {token}")
    await person.tap(CONSENT)
    return person


async def setup_case(harness: Harness, band: str = "13-17") -> tuple[Caseworker, Person, Person | None]:
    """A caseworker with a channel, a case, and its parent (and young person, for 13-17) joined."""
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    await worker.new_case("B7", band)
    parent = await join(harness, worker, "B7", "forælder", "Mette")
    youth = await join(harness, worker, "B7", "ung", "Jonas") if band == "13-17" else None
    return worker, parent, youth


async def meeting_and_prompts(harness: Harness, worker: Caseworker, label: str = "B7") -> None:
    await worker.send(f"/moede {label}")
    await harness.advance(minutes=31)


def answers_in_db(harness: Harness) -> list[tuple[int, int, int | None]]:
    import sqlite3

    path = harness.fitbot.storage.db.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT questionnaire_id, position, value FROM answers ORDER BY 1, 2"))


def alerts_in_db(harness: Harness) -> int:
    import sqlite3

    path = harness.fitbot.storage.db.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])


async def test_welcome_says_what_who_voluntary_and_emergency(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("B7", "13-17")
    token = await worker.invite("B7", "ung")
    youth = harness.person("Jonas")
    await youth.send(f"/start {token}")
    text = youth.last.text
    assert text.splitlines()[0] == "Hej, og velkommen."  # discreet first line
    for must in ("Din rådgiver ser dine svar", "frivilligt", "/stop", "112", "116 111", "Vil du være med?"):
        assert must in text
    assert [b["text"] for b in youth.last.buttons] == [CONSENT, "Nej tak"]
    await youth.tap(CONSENT)
    assert "Du er nu med" in youth.last.text
    # The consent, its text version and the time are stored.
    async with harness.db.transaction() as repo:
        respondent = (await repo.respondents_of_user(youth.user.id))[0]
        consents = await repo.consents_of(respondent.id)
    assert respondent.status == "active"
    assert consents[0]["given"] == 1
    assert consents[0]["text_version"] == family_views.CONSENT_TEXT_VERSION
    # Their menu shows the family commands.
    names = [c["command"] for c in harness.emulator.commands(youth.user.id, "da")]
    assert names == ["hjaelp", "sprog", "mine_data", "stop"]


async def test_parent_and_young_person_answer_by_buttons_and_typing(harness: Harness) -> None:
    worker, parent, youth = await setup_case(harness)
    assert youth is not None
    await meeting_and_prompts(harness, worker)
    prompt = parent.last
    assert prompt.text.splitlines()[0] == "Du har et par spørgsmål fra dit seneste møde."
    assert "frivilligt" in prompt.text
    assert prompt.text.splitlines()[-1] == "Har du et minut til at fortælle, hvordan det går?"
    assert youth.last.text.splitlines()[0] == "Du har et par spørgsmål fra dit seneste møde."

    # The parent answers by buttons, in one message edited in place, with progress marks.
    await parent.tap(START)
    message = parent.last
    assert "Spørgsmål 1 af 8" in message.text
    assert "0 = " in message.text
    assert "10 = " in message.text
    for value in ("6", "7", "5", "6", "9", "9", "10", "9"):
        await parent.tap(value, message)
    assert "Tak for dine svar" in message.text
    assert "I dag giver dine svar i alt 24,0 af 40." in message.text
    assert message.message_id == prompt.message_id  # edited in place all along

    # The young person types: 7, 7.5 and 7,5 all work; the rest by buttons.
    await youth.tap(START)
    await youth.send("7")
    assert "Spørgsmål 2 af 8" in youth.last.text
    await youth.send("7.5")
    await youth.send("7,5")
    assert "Spørgsmål 4 af 8" in youth.last.text
    for _ in range(5):
        await youth.tap("8")
    assert "Tak for dine svar" in youth.last.text
    rows = answers_in_db(harness)
    youth_values = [v for (q, _p, v) in rows if q == max(q for q, _, _ in rows)]
    assert youth_values[:3] == [70, 75, 75]
    assert len(rows) == 16


async def test_bad_typed_values_get_a_hint_and_change_nothing(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    await meeting_and_prompts(harness, worker)
    await parent.tap(START)
    await parent.tap("5")
    for bad in ("11", "-1", "godt", "7,55", "1e1", "½"):
        await parent.send(bad)
        assert "Skriv et tal fra 0 til 10" in parent.last.text, bad
        assert "Spørgsmål 2 af 8" in parent.last.text, bad
    await parent.send_sticker()
    assert "Skriv et tal fra 0 til 10" in parent.last.text
    assert [(p, v) for (_q, p, v) in answers_in_db(harness)] == [(0, 50)]


async def test_skip_and_back(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    await meeting_and_prompts(harness, worker)
    await parent.tap(START)
    await parent.tap("Spring over")
    assert "Spørgsmål 2 af 8" in parent.last.text
    await parent.tap("4")
    await parent.tap("← Tilbage")
    assert "Spørgsmål 2 af 8" in parent.last.text
    assert "Dit svar: 4,0" in parent.last.text
    assert "4 ✓" in parent.last.button_texts
    await parent.tap("6")
    assert [(p, v) for (_q, p, v) in answers_in_db(harness)] == [(0, None), (1, 60)]


async def deliver_again(harness: Harness, seen: dict[int, Update], update_id: int) -> None:
    await harness.fitbot.application.process_update(seen[update_id])


async def test_stale_double_and_foreign_presses_change_nothing(harness: Harness) -> None:
    seen = keep_updates(harness)
    worker, parent, youth = await setup_case(harness)
    assert youth is not None
    await meeting_and_prompts(harness, worker)
    await parent.tap(START)
    message = parent.last
    first_keyboard = json.loads(json.dumps(message.reply_markup))
    await parent.tap("5", message)
    # A double tap: the same button of item 1 again (the client still shows the old keyboard).
    stale = first_keyboard["inline_keyboard"][0][5]["callback_data"]
    assert await parent.forge(stale, message) == "Det spørgsmål er allerede besvaret."
    # Forged data for someone else's questionnaire, and nonsense.
    youth_q = int(stale.split(":")[1]) + 1
    assert await parent.forge(f"q:{youth_q}:0:3") == "Den knap virker ikke længere."
    assert await parent.forge("q:99999:0:3") == "Den knap virker ikke længere."
    assert await parent.forge("q:1:0:77") == "Den knap virker ikke længere."
    assert await parent.forge("garbage") == "Den knap virker ikke længere."
    assert await youth.forge(f"q:{stale.split(':')[1]}:1:3") == "Den knap virker ikke længere."
    assert [(p, v) for (_q, p, v) in answers_in_db(harness)] == [(0, 50)]
    # The same update delivered twice (Telegram sends again what was not confirmed) is applied once,
    # and its press is not answered a second time (Telegram would refuse; the emulator checks).
    await parent.tap("6", message)
    tap = harness.emulator.last_update_id
    shown = message.text
    await deliver_again(harness, seen, tap)
    assert [(p, v) for (_q, p, v) in answers_in_db(harness)] == [(0, 50), (1, 60)]
    assert message.text == shown
    assert "Spørgsmål 3 af 8" in message.text
    # A typed answer delivered twice, too.
    await parent.send("7,5")
    typed = harness.emulator.last_update_id
    messages = len(parent.messages())
    await deliver_again(harness, seen, typed)
    assert [(p, v) for (_q, p, v) in answers_in_db(harness)] == [(0, 50), (1, 60), (2, 75)]
    assert len(parent.messages()) == messages
    assert "Spørgsmål 4 af 8" in parent.last.text


async def test_restart_mid_questionnaire_loses_nothing(emulator: Emulator, clock: FakeClock, db_path: Path) -> None:
    harness = await start_harness(emulator, clock, db_path)
    try:
        worker, parent, _youth = await setup_case(harness)
        await meeting_and_prompts(harness, worker)
        await parent.tap(START)
        for value in ("3", "4", "5"):
            await parent.tap(value)
    finally:
        await stop_harness(harness)
    clock.advance(hours=5)  # a pause of hours
    harness = await start_harness(emulator, clock, db_path)
    try:
        parent = Person(harness, parent.user)
        message = parent.last
        assert "Spørgsmål 4 af 8" in message.text
        for value in ("6", "7", "8", "9", "10"):
            await parent.tap(value, message)
        assert "Tak for dine svar" in message.text
        assert [v for (_q, _p, v) in answers_in_db(harness)] == [30, 40, 50, 60, 70, 80, 90, 100]
    finally:
        await stop_harness(harness)


async def test_finished_questionnaire_shows_own_trend(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness, band="6-12")
    for round_values in (("4", "4", "4", "4"), ("5", "5", "5", "6"), ("7", "7", "7", "7")):
        await meeting_and_prompts(harness, worker)
        await parent.tap(START)
        for value in (*round_values, "9", "9", "9", "9"):
            await parent.tap(value)
        harness.clock.advance(days=7)
    text = parent.last_text_message().text
    assert "16,0" in text
    assert "21,0" in text
    assert "28,0" in text
    assert "↑" in text
    # From three meetings on, a small chart too (it follows the thanks once the tap is handled).
    await harness.emulator.wait_until(lambda: any(m.photo is not None for m in parent.messages()))
    photos = [m for m in parent.messages() if m.photo is not None]
    assert photos[-1].photo.data[:8] == b"\x89PNG\r\n\x1a\n"
    # The family's own chart: the ORS panel alone (a shorter image than the caseworker's two panels).
    image = Image.open(io.BytesIO(photos[-1].photo.data))
    assert image.size == (WIDTH_PX, ORS_ONLY_HEIGHT_PX)
    assert photos[-1].caption == "Sådan har det gået ifølge dine svar."


async def test_reminder_once_never_in_quiet_hours_then_expiry(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    # A meeting at 19:00 local time: the prompt goes at 19:30, the reminder would fall at 19:30 next day.
    harness.clock.set(harness.clock.now().replace(hour=18, minute=0))  # 19:00 in Copenhagen (UTC+1)
    await worker.send("/moede B7")
    await harness.advance(minutes=31)
    assert "et par spørgsmål fra dit seneste møde" in parent.last.text
    before = len(parent.messages())
    await harness.advance(hours=23)
    assert len(parent.messages()) == before
    await harness.advance(hours=1, minutes=1)
    assert parent.last.text.splitlines()[0] == "Der ligger stadig et par spørgsmål fra dit seneste møde."
    assert parent.last.text.splitlines()[-1].endswith("Har du et minut nu?")
    reminders = len(parent.messages())
    await harness.advance(hours=20)
    assert len(parent.messages()) == reminders  # only one reminder
    await harness.advance(hours=28)
    assert "lukket" in parent.last.text
    # Nothing answered: the caseworker is told.
    assert any("Ingen svar efter påmindelsen" in m.content for m in worker.channel_messages())


async def test_quiet_hours_move_the_prompt_to_the_morning(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    harness.clock.set(harness.clock.now().replace(hour=20, minute=50))  # 21:50 in Copenhagen
    await worker.send("/moede B7")
    assert "onsdag den 25. november kl. 08.00" in worker.last.text
    await harness.advance(hours=9)
    assert "et par spørgsmål fra dit seneste møde" not in parent.last.text
    await harness.advance(hours=1, minutes=11)  # 08:01 local
    assert "et par spørgsmål fra dit seneste møde" in parent.last.text


async def test_not_this_time(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    await meeting_and_prompts(harness, worker)
    await parent.tap("Ikke denne gang")
    assert "helt i orden" in parent.last.text
    await harness.advance(hours=30)
    assert "Der ligger stadig" not in parent.last.text


async def test_expired_reused_and_invalid_tokens_are_refused_kindly(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("B7", "13-17")
    token = await worker.invite("B7")
    first = harness.person("Mette")
    await first.send(f"/start {token}")
    other = harness.person("Fremmed")
    await other.send(f"/start {token}")  # reused
    assert "Det link virker desværre ikke" in other.last.text
    assert "B7" not in other.last.text
    await other.send("/start AAAAAAAAAAAAAAAAAAAAAA")  # never issued
    assert "Det link virker desværre ikke" in other.last.text
    # An invitation lives 14 days: it still works just before, and not just after.
    in_time = await worker.invite("B7")
    expiring = await worker.invite("B7")
    harness.clock.advance(days=13, hours=23)
    early = harness.person("Tidlig")
    await early.send(f"/start {in_time}")
    assert early.last.text.splitlines()[-1] == "Vil du være med?"
    harness.clock.advance(hours=1, seconds=1)
    late = harness.person("Sen")
    await late.send(f"/start {expiring}")
    assert "Det link virker desværre ikke" in late.last.text


async def test_repeated_bad_tokens_are_throttled(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("B7", "13-17")
    # Fewer bad links than the limit (5 an hour): a real link still works.
    unlucky = harness.person("Uheldig")
    for n in range(4):
        await unlucky.send(f"/start typo{n:020d}")
        assert "Det link virker desværre ikke" in unlucky.last.text
    await unlucky.send(f"/start {await worker.invite('B7')}")
    assert unlucky.last.text.splitlines()[-1] == "Vil du være med?"
    # The limit reached: refused, even a real link, for an hour.
    guesser = harness.person("Gætter")
    for n in range(5):
        await guesser.send(f"/start guess{n:020d}")
    good = await worker.invite("B7")
    await guesser.send(f"/start {good}")
    assert "mange links" in guesser.last.text
    harness.clock.advance(hours=1, minutes=1)
    await guesser.send(f"/start {good}")
    assert "Vil du være med?" in guesser.last.text


async def test_stranger_learns_nothing_and_caseworker_commands_are_refused(harness: Harness) -> None:
    _worker, parent, _youth = await setup_case(harness)
    stranger = harness.person("Ukendt")
    for text in ("/start", "hej", "/sager", "/sag B7", "/mine_data", "/stop", "/hjaelp", "7"):
        await stranger.send(text)
        assert "Har du fået et link fra din rådgiver" in stranger.last.text, text
        assert "B7" not in stranger.last.text
        assert stranger.last.text.splitlines()[0] == "Hej. Jeg er FIT-bot.", text  # the lock screen's line
    for command in ("/sager", "/sag B7", "/nysag X1 6-12", "/moede B7", "/eksport B7", "/luk B7"):
        await parent.send(command)
        assert "kun for rådgivere" in parent.last.text, command
    async with harness.db.transaction() as repo:
        assert len(await repo.meetings_of_case(1)) == 0
        case = await repo.case(1)
    assert case is not None
    assert case.is_open


async def test_help_language_and_menu(harness: Harness) -> None:
    _worker, parent, _youth = await setup_case(harness)
    await parent.send("/hjaelp")
    for must in ("Din rådgiver ser dine svar", "/stop", "112"):
        assert must in parent.last.text
    await parent.send("/sprog")
    assert "English" in parent.last.button_texts
    await parent.tap("English")
    assert parent.last.text == "Fine. I'll write in English from now on."
    menu = harness.emulator.commands(parent.user.id)
    assert menu[0]["description"].startswith("What")
    await parent.send("/hjaelp")
    assert "caseworker" in parent.last.text


async def test_my_data_returns_everything_stored(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    await worker.new_case("B7", "13-17")
    token = await worker.invite("B7", "forælder")
    parent = harness.person("Mette")
    await parent.send(f"/start {token}")
    await parent.tap(CONSENT)
    youth = await join(harness, worker, "B7", "ung", "Jonas")
    await meeting_and_prompts(harness, worker)
    # The parent types 7,5 for the first item, then buttons, with one item skipped.
    await parent.tap(START)
    first_question = parent.last.text.splitlines()[2]
    await parent.send("7,5")
    assert "Spørgsmål 2 af 8" in parent.last.text
    await parent.tap("8")
    await parent.tap("Spring over")
    for value in ("6", "9", "9", "10", "9"):
        await parent.tap(value)
    assert "Tak for dine svar" in parent.last_text_message().text
    # The young person in the same case answers with values the parent never gave.
    await youth.tap(START)
    await youth.send("1,5")
    for _ in range(7):
        await youth.send("3,5")
    assert [v for (_q, _p, v) in answers_in_db(harness)] == [75, 80, None, 60, 90, 90, 100, 90, 15] + [35] * 7

    await parent.send("/mine_data")
    document = parent.last.document
    assert document is not None
    assert document.filename == "mine_data.txt"
    text = document.data.decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "Det har FIT-bot gemt om dig"
    assert "Du er med som forælder" in text
    assert "Status: du er med" in text
    # The answers, Danish style, under each question's own wording.
    assert f"1. {first_question}" in text
    assert "Dit svar: 7,5" in text
    assert "Dit svar: 8,0" in text
    assert "Dit svar: sprunget over" in text
    assert "Dit svar: 6,0" in text
    assert "I alt: 37,0 af 40" in text  # the SRS; the ORS has a skipped item, so no total
    assert text.count("I alt:") == 1
    # Local times the Danish way, never the database's UTC text.
    assert re.search(r"Møde \d{1,2}\. [a-zæøå]+ 20\d\d kl\. \d\d\.\d\d", text)
    assert re.search(r"Sendt: \d{1,2}\. [a-zæøå]+ 20\d\d kl\. \d\d\.\d\d", text)
    assert re.search(r"Besvaret: \d{1,2}\. [a-zæøå]+ 20\d\d kl\. \d\d\.\d\d", text)
    assert not re.search(r"\d{4}-\d\d-\d\dT", text)
    assert "Europe/Copenhagen" in text
    # Consent with the text's version, and the invitation without its token.
    assert re.search(r": ja \(velkomstteksten i version " + re.escape(family_views.CONSENT_TEXT_VERSION), text)
    assert "brugt" in text
    assert token not in text
    # Nothing about anyone else: not the young person's answers, id or role, not the caseworker or the case.
    for other in ("1,5", "3,5", str(youth.user.id), "som ung", "Jonas", "Rikke", "B7", str(worker.user.id)):
        assert other not in text, other
    assert str(parent.user.id) in text

    # In the person's language: English headings and a decimal point.
    await parent.send("/sprog")
    await parent.tap("English")
    await parent.send("/my_data")
    english = parent.last.document
    assert english is not None
    assert english.filename == "my_data.txt"
    text = english.data.decode("utf-8")
    assert text.splitlines()[0] == "What FIT-bot has stored about you"
    assert "7.5" in text
    assert "7,5" not in text


async def test_stop_ends_prompts_and_unlinks(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    await parent.send("/stop")
    # Before deciding: what happens to the earlier answers under this municipality's policy.
    confirm = parent.last.text
    assert "Dine tidligere svar bliver gemt hos kommunen, og din rådgiver kan stadig se dem." in confirm
    assert confirm.splitlines()[-1] == "Vil du stoppe?"
    await parent.tap("Ja, stop")
    assert "Nu er du ikke længere med" in parent.last.text
    assert "gemt hos kommunen" in parent.last.text
    await meeting_and_prompts(harness, worker)
    assert "et par spørgsmål fra dit seneste møde" not in parent.last.text
    async with harness.db.transaction() as repo:
        assert await repo.respondents_of_user(parent.user.id) == []
    await parent.send("hej")
    assert "Har du fået et link fra din rådgiver" in parent.last.text


@pytest.mark.parametrize("policy", ["delete_answers"])
async def test_stop_can_delete_answers(emulator: Emulator, clock: FakeClock, db_path: Path, policy: str) -> None:
    harness = await start_harness(emulator, clock, db_path, env={"FITBOT_PRIVACY_ON_WITHDRAWAL": policy})
    try:
        worker, parent, _youth = await setup_case(harness)
        await meeting_and_prompts(harness, worker)
        await parent.tap(START)
        for _ in range(8):
            await parent.tap("1")  # low scores: alerts with totals in them
        await harness.run_due()
        assert alerts_in_db(harness) > 0
        await parent.send("/stop")
        assert "Dine tidligere svar bliver slettet fra FIT-bot." in parent.last.text
        assert "gemt" not in parent.last.text
        await parent.tap("Ja, stop")
        assert "Dine tidligere svar er slettet fra FIT-bot." in parent.last.text
        assert answers_in_db(harness) == []
        assert alerts_in_db(harness) == 0  # what was read out of the answers goes with them
    finally:
        await stop_harness(harness)


async def consents_of_user(harness: Harness, person: Person) -> list[tuple[int, str]]:
    async with harness.db.transaction() as repo:
        rows = []
        for respondent in await repo.respondents_of_user(person.user.id):
            rows += [(c["given"], c["text_version"]) for c in await repo.consents_of(respondent.id)]
    return rows


async def token_failures(harness: Harness, person: Person) -> int:
    async with harness.db.transaction() as repo:
        return await repo.token_failures_since(person.user.id, LONG_AGO)


def test_consent_version_follows_the_wording() -> None:
    version = family_views.CONSENT_TEXT_VERSION
    assert version == family_views.consent_text_version(family_views.CONSENT_MSGIDS)
    changed = (*family_views.CONSENT_MSGIDS[:-1], family_views.CONSENT_MSGIDS[-1] + ".")
    assert family_views.consent_text_version(changed) != version
    reordered = (family_views.CONSENT_MSGIDS[1], family_views.CONSENT_MSGIDS[0], *family_views.CONSENT_MSGIDS[2:])
    assert family_views.consent_text_version(reordered) != version
    # The welcome is made of those texts and nothing else, so the version names exactly what was read.
    for role in Role:
        with use_language("da"):
            out = family_views.consent_request(7, role)
        rest = out.text.replace("<b>", "").replace("</b>", "")
        for msgid in sorted(family_views.CONSENT_MSGIDS, key=len, reverse=True):
            rest = rest.replace(msgid, "")
        assert rest.strip() == "", (role, rest)
        assert {b.text for row in out.buttons for b in row} <= set(family_views.CONSENT_MSGIDS)


async def test_opening_your_own_link_again(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("B7", "13-17")
    # Said yes: already with us, kindly, and not counted as a bad link.
    token = await worker.invite("B7")
    parent = harness.person("Mette")
    await parent.send(f"/start {token}")
    await parent.tap(CONSENT)
    for _ in range(6):  # more often than the bad-link limit
        await parent.send(f"/start {token}")
        assert parent.last.text.splitlines()[0] == "Hej igen. Du er allerede med."
        assert "virker desværre ikke" not in parent.last.text
    assert await token_failures(harness, parent) == 0
    assert await consents_of_user(harness, parent) == [(1, family_views.CONSENT_TEXT_VERSION)]
    # Not answered yet: the welcome again, with its buttons.
    youth_token = await worker.invite("B7", "ung")
    youth = harness.person("Jonas")
    await youth.send(f"/start {youth_token}")
    await youth.send(f"/start {youth_token}")
    assert youth.last.text.splitlines()[-1] == "Vil du være med?"
    await youth.tap(CONSENT)
    assert "Du er nu med" in youth.last.text
    # Said no thanks, then opened the link again: the welcome again, and yes after all is possible.
    other_token = await worker.invite("B7")
    other = harness.person("Lars")
    await other.send(f"/start {other_token}")
    await other.tap("Nej tak")
    await other.send(f"/start {other_token}")
    assert other.last.text.splitlines()[-1] == "Vil du være med?"
    await other.tap(CONSENT)
    assert "Du er nu med" in other.last.text
    assert [given for given, _v in await consents_of_user(harness, other)] == [0, 1]
    assert await token_failures(harness, youth) == await token_failures(harness, other) == 0
    # Someone else's used link is refused and counted, as before.
    stranger = harness.person("Fremmed")
    await stranger.send(f"/start {token}")
    assert "Det link virker desværre ikke" in stranger.last.text
    assert await token_failures(harness, stranger) == 1


async def test_typing_before_consent_and_after_declining(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("B7", "13-17")
    token = await worker.invite("B7")
    parent = harness.person("Mette")
    await parent.send(f"/start {token}")
    welcome = parent.last
    for text in ("hej", "7"):
        await parent.send(text)
        assert parent.last.text.splitlines()[0] == "Jeg mangler bare at vide, om du vil være med."
        assert f"»{CONSENT}«" in parent.last.text
        assert "næste møde" not in parent.last.text
    await parent.tap("Nej tak", welcome)
    assert "Du får ingen spørgsmål fra mig" in parent.last.text
    await parent.send("7,5")
    text = parent.last.text
    assert text.splitlines()[0] == "Du har sagt nej tak, så du får ingen spørgsmål fra mig."
    assert f"»{CONSENT}«" in text
    assert "næste møde" not in text
    # "No" again on the same welcome: nothing stored, a short answer, no new message.
    before = len(parent.messages())
    assert await parent.tap("Nej tak", welcome) == "Det har du allerede svaret."
    assert len(parent.messages()) == before
    assert [given for given, _v in await consents_of_user(harness, parent)] == [0]
    # Yes after all, as the message says: by the welcome's button.
    await parent.tap(CONSENT, welcome)
    assert "Du er nu med" in parent.last.text
    assert welcome.buttons == []
    # Yes again (a client that still shows the buttons): nothing stored, no new message.
    before = len(parent.messages())
    yes = f"cs:{await respondent_id(harness, parent)}:y"
    assert await parent.forge(yes, welcome) == "Du er allerede med."
    assert len(parent.messages()) == before
    assert [given for given, _v in await consents_of_user(harness, parent)] == [0, 1]
    await parent.send("7")
    assert "Der er ingen spørgsmål at svare på lige nu" in parent.last.text


async def test_no_thanks_after_yes_ends_the_questions_already_planned(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness)
    await worker.send("/moede B7 i morgen 10:00")  # its prompt is planned, not yet sent
    rid = await respondent_id(harness, parent)
    async with harness.db.transaction() as repo:
        planned = [q for q in await repo.questionnaires_of_respondent(rid) if q.status == "scheduled"]
    assert planned
    await parent.forge(f"cs:{rid}:n", parent.messages()[0])  # an old welcome's "Nej tak"
    assert "Du får ingen spørgsmål fra mig" in parent.last.text
    before = len(parent.messages())
    await harness.advance(days=2)
    assert len(parent.messages()) == before
    async with harness.db.transaction() as repo:
        assert {q.status for q in await repo.questionnaires_of_respondent(rid)} == {"cancelled"}


async def respondent_id(harness: Harness, person: Person) -> int:
    async with harness.db.transaction() as repo:
        return (await repo.respondents_of_user(person.user.id))[-1].id


def button_data(markup: dict[str, Any], text: str) -> str:
    return next(b["callback_data"] for row in markup["inline_keyboard"] for b in row if b["text"] == text)


def questionnaire_statuses(harness: Harness) -> list[str]:
    import sqlite3

    with sqlite3.connect(harness.fitbot.storage.db.path) as db:  # type: ignore[attr-defined]
        return [status for (status,) in db.execute("SELECT status FROM questionnaires ORDER BY id")]


async def test_presses_after_expiry_change_nothing(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness, band="6-12")
    await meeting_and_prompts(harness, worker)
    prompt = parent.last
    await harness.advance(hours=24, minutes=1)
    reminder = parent.last
    assert reminder.text.startswith("Der ligger stadig")
    await parent.tap(START, reminder)
    await parent.tap("5")
    item = parent.last
    assert "Spørgsmål 2 af 8" in item.text
    old_keyboard = json.loads(json.dumps(item.reply_markup))
    await harness.advance(hours=48)  # 72 hours after the prompt: closed as not answered
    assert item.text == "Spørgsmålene fra det møde er lukket nu. Du får nye efter næste møde."
    assert item.buttons == []
    assert questionnaire_statuses(harness) == ["expired"]
    before = len(parent.messages())
    # The closed questionnaire's keyboard (a client still showing it): a short answer, nothing changes.
    assert await parent.forge(button_data(old_keyboard, "7"), item) == "Spørgsmålene er lukket."
    assert await parent.forge(button_data(old_keyboard, "← Tilbage"), item) == "Spørgsmålene er lukket."
    # The first prompt's buttons are still there: start, and "not this time".
    assert prompt.buttons
    assert await parent.tap(START, prompt) == "Spørgsmålene er lukket."
    assert await parent.tap("Ikke denne gang", prompt) == "Spørgsmålene er lukket."
    assert [(p, v) for (_q, p, v) in answers_in_db(harness)] == [(0, 50)]
    assert questionnaire_statuses(harness) == ["expired"]
    assert len(parent.messages()) == before
    assert item.text.startswith("Spørgsmålene fra det møde er lukket nu.")
    # Typing a number now: nothing to answer.
    await parent.send("7")
    assert parent.last.text.startswith("Der er ingen spørgsmål at svare på lige nu.")


async def test_presses_after_finishing_change_nothing(harness: Harness) -> None:
    worker, parent, _youth = await setup_case(harness, band="6-12")
    await meeting_and_prompts(harness, worker)
    prompt = parent.last
    start_data = prompt.buttons[0]["callback_data"]
    await parent.tap(START)
    first_keyboard = json.loads(json.dumps(prompt.reply_markup))
    for value in ("5", "6", "7", "8", "9", "9", "9", "9"):
        await parent.tap(value, prompt)
    finished = prompt.text
    assert finished.startswith("Tak for dine svar.")
    values = answers_in_db(harness)
    # The first item's keyboard, and the prompt's start button, as a client that missed the edits shows them.
    assert await parent.forge(button_data(first_keyboard, "3"), prompt) == "Du har allerede svaret. Tak."
    assert await parent.forge(start_data, prompt) == "Du har allerede svaret. Tak."
    assert answers_in_db(harness) == values
    assert questionnaire_statuses(harness) == ["completed"]
    assert prompt.text.startswith("Tak for dine svar.")
    assert prompt.buttons == []
    await parent.send("7")
    assert parent.last.text.startswith("Der er ingen spørgsmål at svare på lige nu.")
