"""The caseworker's side, end to end: enrolment, channel, cases, meetings, summaries, alerts, digests."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import timedelta
from pathlib import Path

import qrcode
from PIL import Image

from bot.clock import FakeClock
from bot.delivery.limits import clock_time
from bot.domain.instruments import AgeBand, Role
from bot.sandbox.emulator import Emulator, FloodLimits, SentMessage, SimChat
from bot.services import cases, enrolment
from bot.services.alerts import AckOutcome, acknowledge
from bot.storage.models import Case
from tests.e2e.harness import Caseworker, Harness, Person, start_harness, stop_harness

CONSENT = "Ja, jeg vil gerne være med"
START = "Ja, lad os gå i gang"


async def family_member(harness: Harness, worker: Caseworker, label: str, role: str = "forælder") -> Person:
    token = await worker.invite(label, role)
    person = harness.person(f"{role}-{label}")
    await person.send(f"/start {token}")
    await person.tap(CONSENT)
    return person


async def answer_all(person: Person, values: tuple[str, ...]) -> None:
    await person.tap(START)
    for value in values:
        await person.tap(value)


def audit_actions(harness: Harness) -> list[str]:
    path = harness.fitbot.storage.db.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT action FROM audit_events ORDER BY id")]


def audit_rows(harness: Harness, action: str) -> list[tuple[str, int | None]]:
    path = harness.fitbot.storage.db.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT actor, case_id FROM audit_events WHERE action = ? ORDER BY id", (action,)))


async def test_enrolment_and_channel_linking(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    assert "Velkommen, Rikke" in worker.last.text
    menu = [c["command"] for c in harness.emulator.commands(worker.user.id, "da")]
    assert menu[:4] == ["sager", "sag", "moede", "nysag"]
    await worker.send("/kanal")
    assert "ingen kanal" in worker.last.text
    channel = await worker.link_channel("Rikkes FIT")
    assert "koblet til Rikke" in harness.emulator.last_message(channel.id).text  # type: ignore[union-attr]
    await worker.send("/kanal")
    assert "Rikkes FIT" in worker.last.text
    # The Telegram account is linked to the caseworker (the link is single-use: tested below).
    async with harness.db.transaction() as repo:
        cw = await repo.caseworker(worker.caseworker_id)
    assert cw is not None
    assert cw.telegram_user_id == worker.user.id


async def _invitation_state(harness: Harness, caseworker_id: int) -> list[tuple[object, object]]:
    path = harness.fitbot.storage.db.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as db:
        return list(
            db.execute(
                "SELECT used_at, revoked_at FROM invitations WHERE purpose = 'caseworker' AND caseworker_id = ? "
                "ORDER BY id",
                (caseworker_id,),
            )
        )


async def test_enrolment_links_are_single_use_expire_and_die_with_a_disabled_caseworker(harness: Harness) -> None:
    svc = harness.fitbot.svc
    enrolled = await enrolment.add_caseworker(svc, "Rikke", "Nord")
    rikke = Caseworker(harness, harness.emulator.add_user("Rikke"), enrolled.caseworker_id)
    await rikke.send(f"/start {enrolled.token}")
    assert "Velkommen, Rikke" in rikke.last.text
    # Used: nobody can use it again, not even Rikke.
    stranger = harness.person("Fremmed")
    await stranger.send(f"/start {enrolled.token}")
    assert "Det link virker desværre ikke" in stranger.last.text
    await rikke.send(f"/start {enrolled.token}")
    assert "Det link virker desværre ikke" in rikke.last.text
    await stranger.send("/sager")
    assert "Jeg bruges af kommunens familieafdeling" in stranger.last.text
    # Expired: refused.
    late = await enrolment.add_caseworker(svc, "Søren", "Nord")
    harness.clock.advance(svc.policy.caseworker_invite_ttl + timedelta(minutes=1))
    soren = harness.person("Søren")
    await soren.send(f"/start {late.token}")
    assert "Det link virker desværre ikke" in soren.last.text
    # Disabled before the link was used: the link is revoked, and refused.
    gone = await enrolment.add_caseworker(svc, "Karen", "Nord")
    assert await enrolment.disable_caseworker(svc, gone.caseworker_id)
    assert [revoked is not None for _used, revoked in await _invitation_state(harness, gone.caseworker_id)] == [True]
    karen = harness.person("Karen")
    await karen.send(f"/start {gone.token}")
    assert "Det link virker desværre ikke" in karen.last.text
    async with harness.db.transaction() as repo:
        assert (await repo.caseworker(late.caseworker_id)).telegram_user_id is None  # type: ignore[union-attr]
        assert (await repo.caseworker(gone.caseworker_id)).telegram_user_id is None  # type: ignore[union-attr]
        assert await repo.caseworker_by_user(karen.user.id) is None


async def test_one_telegram_account_enrolled_again_or_offered_a_colleagues_link(harness: Harness) -> None:
    svc = harness.fitbot.svc
    rikke = await harness.enrol_caseworker("Rikke")
    await rikke.new_case("A12", "6-12")
    # An active caseworker opening someone else's link: told clearly, the link left unused for its owner.
    colleague = await enrolment.add_caseworker(svc, "Søren", "Nord")
    await rikke.send(f"/start {colleague.token}")
    assert "allerede koblet til en anden rådgiveradgang" in rikke.last.text
    assert "Noget gik galt" not in rikke.last.text
    assert await _invitation_state(harness, colleague.caseworker_id) == [(None, None)]
    soren = Caseworker(harness, harness.emulator.add_user("Søren"), colleague.caseworker_id)
    await soren.send(f"/start {colleague.token}")
    assert "Velkommen, Søren" in soren.last.text
    await rikke.send("/sager")
    assert "A12" in rikke.last.text  # still Rikke's own access
    # Rikke leaves and is added again later (a new row): the same account moves to the new access.
    assert await enrolment.disable_caseworker(svc, rikke.caseworker_id)
    again = await enrolment.add_caseworker(svc, "Rikke", "Syd")
    await rikke.send(f"/start {again.token}")
    assert "Velkommen, Rikke" in rikke.last.text
    async with harness.db.transaction() as repo:
        old = await repo.caseworker(rikke.caseworker_id)
        new = await repo.caseworker_by_user(rikke.user.id)
    assert old is not None
    assert old.telegram_user_id is None
    assert old.disabled_at is not None
    assert new is not None
    assert new.id == again.caseworker_id
    await rikke.send("/sager")
    assert "ingen åbne sager" in rikke.last.text  # the old access's cases stay with the old row
    # `fitbot caseworker enable`: the old row is active again, without an account (it moved): a new link.
    enabled = await enrolment.enable_caseworker(svc, rikke.caseworker_id)
    assert enabled is not None
    assert enabled.active
    assert enabled.telegram_user_id is None
    assert await enrolment.enable_caseworker(svc, rikke.caseworker_id) is None  # not disabled any more
    assert await enrolment.new_enrolment_link(svc, rikke.caseworker_id) is not None
    assert "caseworker_enabled" in audit_actions(harness)
    assert f"account_moved_from:{rikke.caseworker_id}" in audit_actions(harness)


async def test_a_channel_that_refuses_the_welcome_is_unlinked_and_the_caseworker_told(harness: Harness) -> None:
    rikke = await harness.enrol_caseworker("Rikke")
    await rikke.link_channel("Gammel kanal")
    # The bot may not post in the new channel (in Telegram: an admin without the right to post).
    refusal = "Bad Request: not enough rights to send text messages to the chat"
    new = harness.emulator.add_channel("Ny kanal", creator=rikke.user)
    harness.emulator.faults.error("sendMessage", 400, refusal, chat_id=new.id)
    harness.emulator.add_bot_to_chat(new, rikke.user)
    await harness.after_update()
    assert not [m for m in harness.emulator.messages(new.id) if m.text]
    told = rikke.last.text
    assert 'Jeg kan ikke skrive i "Ny kanal"' in told
    assert 'stadig i "Gammel kanal"' in told
    await rikke.send("/kanal")
    assert "Gammel kanal" in rikke.last.text
    # Without an earlier channel: alerts come to the private chat.
    soren = await harness.enrol_caseworker("Søren")
    other = harness.emulator.add_channel("Sørens kanal", creator=soren.user)
    harness.emulator.faults.error(
        "sendMessage", 403, "Forbidden: bot is not a member of the channel chat", chat_id=other.id
    )
    harness.emulator.add_bot_to_chat(other, soren.user)
    await harness.after_update()
    assert "sender jeg advarsler og opsummeringer her" in soren.last.text
    await soren.send("/kanal")
    assert "ingen kanal" in soren.last.text
    assert {"channel_refused_post", "channel_restored:channel"} <= set(audit_actions(harness))


async def test_the_bot_leaves_chats_it_was_added_to_by_others(harness: Harness) -> None:
    await harness.enrol_caseworker("Rikke")
    stranger = harness.person("Fremmed")
    group = harness.emulator.add_group("Tilfældig gruppe", creator=stranger.user)
    harness.emulator.add_bot_to_chat(group, stranger.user, admin=False)
    await harness.after_update()
    assert harness.emulator.bot_status(group) in ("left", "kicked")
    assert not [m for m in harness.emulator.messages(group.id) if m.text]
    channel = harness.emulator.add_channel("Fremmed kanal", creator=stranger.user)
    harness.emulator.add_bot_to_chat(channel, stranger.user)
    await harness.after_update()
    assert harness.emulator.bot_status(channel) in ("left", "kicked")


async def test_cases_labels_and_cpr_refusal(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    for label in ("010203-1234", "sag 0102031234", "15.08.12-4321"):
        await worker.send(f"/nysag {label} 6-12")
        assert "CPR-nummer" in worker.last.text, label
    await worker.send("/nysag Anders Andersen Hansen Jensen Petersen 6-12")
    assert "højst være 24 tegn" in worker.last.text
    await worker.send("/nysag A<script> 6-12")
    assert "Brug kun bogstaver" in worker.last.text
    await worker.send("/nysag A12")
    assert "Hvor gammelt er barnet" in worker.last.text
    await worker.tap("13-17 år")
    assert "Sag A12 er oprettet (13-17 år)" in worker.last.text
    await worker.send("/nysag a12 6-12")
    assert "allerede en sag" in worker.last.text
    async with harness.db.transaction() as repo:
        cases = await repo.cases_of(worker.caseworker_id)
    assert [c.label for c in cases] == ["A12"]


async def test_labels_in_any_script_fit_the_buttons(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    arabic, cyrillic = "ملف" * 8, "Дело" * 6  # 24 letters each, 2 bytes a letter
    for label in (arabic, cyrillic):
        await worker.send(f"/nysag {label}")  # the band is asked with buttons that carry the label
        assert "Hvor gammelt er barnet" in worker.last.text
        await worker.tap("13-17 år")
        assert f"Sag {label} er oprettet (13-17 år)" in worker.last.text
    # 3 bytes a letter: 24 would not fit in a button's 64 bytes; refused with the limit for this script.
    await worker.send("/nysag " + "กขค" * 8)
    assert "højst være 18 tegn" in worker.last.text
    await worker.send("/nysag " + "案件" * 12 + " 6-12")
    assert "højst være 18 tegn" in worker.last.text
    await worker.send("/nysag " + "案件" * 9)
    await worker.tap("6-12 år")
    assert "er oprettet (6-12 år)" in worker.last.text
    # Picking and acting on them by buttons (which carry the case id, not the label).
    await worker.send("/inviter")
    assert all(b["callback_data"].startswith("pc:inviter:") for b in worker.last.buttons)
    await worker.tap(arabic)
    await worker.tap("ung")
    assert worker.last.photo is not None
    assert arabic in (worker.last.caption or "")
    async with harness.db.transaction() as repo:
        labels = sorted(c.label for c in await repo.cases_of(worker.caseworker_id))
    assert labels == sorted([arabic, cyrillic, "案件" * 9])
    assert "Noget gik galt" not in "\n".join(worker.texts())


def qr_modules(png: bytes) -> tuple[list[list[bool]], int]:
    """The dark/light modules of a QR code image (sampled at each module's centre) and the width of
    its light border in modules."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    pixel = image.load()
    assert pixel is not None
    dark = [(x, y) for y in range(height) for x in range(width) if pixel[x, y] < 128]  # type: ignore[operator]
    left, top = min(x for x, _y in dark), min(y for _x, y in dark)
    right = max(x for x, _y in dark)
    finder = next(x for x in range(left, width) if pixel[x, top] >= 128) - left  # type: ignore[operator]
    box = finder / 7  # the finder pattern is 7 modules wide
    count = round((right - left + 1) / box)
    modules = [
        [pixel[int(left + (i + 0.5) * box), int(top + (j + 0.5) * box)] < 128 for i in range(count)]  # type: ignore[operator]
        for j in range(count)
    ]
    return modules, round(left / box)


async def test_invitation_link_and_qr_image(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("A12", "13-17")
    await worker.send("/inviter A12 ung")
    message = worker.last
    assert message.photo is not None
    image = Image.open(io.BytesIO(message.photo.data))
    assert image.format == "PNG"
    assert image.size[0] == image.size[1] >= 200
    assert "https://t.me/fitbot_sandbox_bot?start=" in message.caption
    assert "én gang" in message.caption
    # No QR decoder is installed (and none is worth a heavy dependency): read the code's modules off the
    # picture instead and compare them with the QR code of the link in the caption, quiet zone included.
    link = next(word for word in message.caption.split() if "?start=" in word)
    modules, quiet = qr_modules(message.photo.data)
    assert quiet >= 4
    expected = qrcode.QRCode(border=0)
    expected.add_data(link)
    expected.make(fit=True)
    assert modules == [[bool(cell) for cell in row] for row in expected.get_matrix()]
    # Picking the case and the role by buttons, no typing.
    await worker.send("/inviter")
    await worker.tap("A12")
    assert "Hvem skal inviteres" in worker.last.text
    await worker.tap("forælder")
    assert worker.last.photo is not None
    # A young person cannot be invited to a 6-12 case.
    await worker.new_case("C3", "6-12")
    await worker.send("/inviter C3 ung")
    assert "passer ikke til barnets alder" in worker.last.text


async def test_meeting_times_in_danish(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("A12", "13-17")
    await family_member(harness, worker, "A12")
    await worker.send("/moede A12 i morgen 10:00")
    assert "onsdag den 25. november kl. 10.00" in worker.last.text
    assert "kl. 10.30" in worker.last.text  # the prompt: meeting end + 30 minutes
    await worker.send("/moede A12 24.11 14:30")
    assert "tirsdag den 24. november kl. 14.30" in worker.last.text
    await worker.send("/moede A12 på et tidspunkt")
    assert "forstod ikke tidspunktet" in worker.last.text
    await worker.send("/moede")
    await worker.tap("A12")
    assert "registreret" in worker.last.text


async def test_low_scores_give_a_summary_with_chart_and_the_right_alerts(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    await worker.new_case("A12", "6-12")
    parent = await family_member(harness, worker, "A12")
    await worker.send("/moede A12")
    await harness.advance(minutes=31)
    await answer_all(parent, ("6", "6", "6", "6", "9", "9", "9", "9"))
    await harness.run_due()
    harness.clock.advance(days=7)
    await worker.send("/moede A12")
    await harness.advance(minutes=31)
    # ORS falls 24 -> 9 (reliable deterioration), an item at 1 (very low), SRS 28 with items below 9.
    await answer_all(parent, ("1", "3", "2", "3", "7", "7", "7", "7"))
    await harness.run_due()
    posts = worker.channel_messages()
    summary = [m for m in posts if "Nye svar i sag A12" in m.content][-1]
    assert "ORS 9,0" in summary.content
    assert "−15,0 siden sidst" in summary.content
    assert "SRS 28,0" in summary.content
    assert summary.photo is not None
    chart = Image.open(io.BytesIO(summary.photo.data))
    assert chart.format == "PNG"
    assert chart.size[0] >= 600
    assert chart.size[1] >= 600
    # One alert post for the answered questionnaire, every rule that fired on its own line.
    alerts = [m for m in posts if m.content.startswith("⚠️ Advarsel i sag A12")]
    assert len(alerts) == 1
    alert = alerts[0]
    assert "Sikker tilbagegang" in alert.text
    assert "Meget lave ORS-svar" in alert.text
    assert "Samarbejdet kan være under pres" in alert.text
    assert alert.button_texts == ["✅ Set / håndteret"]
    # Acknowledged: who and when, the button gone.
    assert await worker.tap(0, alert) == "Markeret som set."
    assert "Set af Rikke" in alert.text
    assert not alert.buttons
    again = await acknowledge(harness.fitbot.svc, worker.user.id, 1)
    assert again.outcome is AckOutcome.ALREADY
    async with harness.db.transaction() as repo:
        stored = [a for a in await repo.alerts_of_case(1) if a.severity != "positive"]
    assert stored
    assert all(a.acknowledged_by == worker.caseworker_id for a in stored)


async def test_not_on_track_and_falling_srs_alerts_and_a_long_case_keeps_every_score(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    await worker.new_case("A12", "13-17")
    parent = await family_member(harness, worker, "A12")

    async def meeting(values: tuple[str, ...]) -> list[str]:
        seen = len(worker.channel_messages())
        await worker.send("/moede A12")
        await harness.advance(minutes=31)
        await answer_all(parent, values)
        await harness.run_due()
        return [m.content for m in worker.channel_messages()[seen:] if m.content.startswith("⚠️ Advarsel")]

    ors = ("5", "5", "5", "5")  # ORS 20,0 every time: no reliable change
    assert await meeting((*ors, "10", "10", "10", "10")) == []
    # SRS 40 -> 38: still above 36, but falling: an alert of its own, and no "under pressure".
    (falling,) = await meeting((*ors, "10", "10", "9", "9"))
    assert "SRS-totalen er faldet 2,0 point siden sidste møde (fra 40,0 til 38,0)" in falling
    assert "under pres" not in falling
    assert await meeting((*ors, "10", "10", "9", "9")) == []
    # The fourth meeting without reliable improvement: not on track.
    (stuck,) = await meeting((*ors, "10", "10", "9", "9"))
    assert "Ikke i bedring efter 4 møder: ORS-totalen var 20,0 og er nu 20,0" in stuck
    for _n in range(8):  # a long course, each meeting with a low SRS: many scores and open alerts
        assert await meeting((*ors, "7", "7", "7", "7"))
    said = len(worker.messages())
    await worker.send("/sag A12")
    chart, *texts = worker.messages()[said:]
    assert chart.photo is not None
    assert chart.caption == "FIT-graf for forælder i sag A12"
    text = "\n".join(m.text or "" for m in texts)
    assert all(len(m.source_text or "") <= 4096 for m in texts)
    assert text.count("ORS 20,0 · SRS") == 12  # every meeting's scores, none cut off
    assert text.count("ORS 20,0 · SRS 28,0") == 8
    assert text.count("Ikke i bedring efter") == 9  # every open alert
    assert "12 møder" in text
    assert "Åbne advarsler" in text


def test_long_texts_are_split_between_lines_and_nothing_is_dropped() -> None:
    from bot.views.caseworker import split_text

    text = "\n".join(f"<b>linje {n}</b> " + "x" * (n % 70) for n in range(400))
    parts = split_text(text, 1000)
    assert len(parts) > 5
    assert all(len(p) <= 1000 for p in parts)
    assert "\n".join(parts).split("\n") == text.split("\n")
    assert split_text("kort") == ["kort"]


async def test_overview_detail_export_close(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.new_case("A12", "6-12")
    await worker.new_case("B7", "13-17")
    parent = await family_member(harness, worker, "A12")
    await worker.send("/moede A12")
    await harness.advance(minutes=31)
    await answer_all(parent, ("5", "5", "5", "5", "9", "9", "9", "9"))
    await worker.send("/sager")
    text = worker.last.text
    assert "2 åbne sager" in text
    # Which cases were shown, one audit row each (by case, so "who saw this case" is a lookup).
    actor = f"caseworker:{worker.caseworker_id}"
    assert audit_rows(harness, "cases_listed") == [(actor, 1), (actor, 2)]
    await worker.send("/eksport")
    assert worker.last.button_texts == ["A12", "B7"]
    assert audit_rows(harness, "case_pick_shown") == [(actor, 1), (actor, 2)]
    assert "A12" in text
    assert "ORS 20,0" in text
    assert "SRS 36,0" in text
    await worker.send("/sag A12")
    chart, detail = worker.messages()[-2:]
    assert chart.photo is not None
    assert chart.caption == "FIT-graf for forælder i sag A12"
    assert "Skæringspunkt for ORS: 32,0" in detail.text
    assert "ORS 20,0 · SRS 36,0" in detail.text
    await worker.send("/eksport A12")
    document = worker.last.document
    assert document is not None
    assert document.filename == "A12.csv"
    rows = list(csv.reader(io.StringIO(document.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["sag", "møde", "respondent"]
    assert len(rows) == 9
    assert rows[1][-1] == "5,0"
    await worker.send("/luk A12")
    await worker.tap("Ja, luk sagen")
    assert "Sag A12 er lukket" in worker.last.text
    await worker.send("/moede A12")
    assert "er lukket" in worker.last.text
    await worker.send("/sager")
    assert "1 åben sag" in worker.last.text
    assert {"cases_listed", "case_viewed", "case_exported", "case_closed"} <= set(audit_actions(harness))


async def _case_state(harness: Harness, case_id: int) -> tuple[object, ...]:
    async with harness.db.transaction() as repo:
        case = await repo.case(case_id)
        assert case is not None
        return (
            case.status,
            case.caseworker_id,
            len(await repo.meetings_of_case(case_id)),
            [(r.id, r.status) for r in await repo.respondents_of_case(case_id)],
            [(a.id, a.acknowledged_at) for a in await repo.alerts_of_case(case_id)],
            len(await repo.outbox_rows()),
        )


async def case_with_an_alert(
    harness: Harness, band: str, answers: tuple[str, ...]
) -> tuple[Caseworker, SimChat, Person, SentMessage]:
    """Rikke's case A12 with a linked channel, its parent's low answers, and the alert post they raised."""
    rikke = await harness.enrol_caseworker("Rikke")
    channel = await rikke.link_channel()
    await rikke.new_case("A12", band)
    parent = await family_member(harness, rikke, "A12")
    await rikke.send("/moede A12")
    await harness.advance(minutes=31)
    await answer_all(parent, answers)
    await harness.run_due()
    alert = next(m for m in rikke.channel_messages() if m.content.startswith("⚠️ Advarsel i sag A12"))
    return rikke, channel, parent, alert


async def test_caseworkers_cannot_see_or_touch_each_others_cases(harness: Harness) -> None:
    *_, alert = await case_with_an_alert(harness, "13-17", ("2", "5", "5", "5", "7", "7", "7", "7"))
    alert_id = alert.buttons[0]["callback_data"].split(":")[1]
    other = await harness.enrol_caseworker("Søren")
    for command in ("/sag A12", "/eksport A12", "/luk A12", "/moede A12", "/inviter A12 forælder"):
        await other.send(command)
        assert "kan ikke finde sagen" in other.last.text, command
    await other.send("/sager")
    assert "A12" not in other.last.text
    before = await _case_state(harness, 1)
    # Every button that names a case or an alert, forged with Rikke's ids: refused, no message, no change.
    said = len(other.messages())
    for data in (
        "pc:sag:1",
        "pc:inviter:1",
        "pc:moede:1",
        "pc:eksport:1",
        "pc:luk:1",
        "ir:1:parent",
        "ir:1:youth",
        "lk:1",
    ):
        answer = await other.forge(data)
        assert answer == "Jeg kan ikke finde den sag blandt dine sager.", data
        assert "A12" not in answer, data
    answer = await other.forge(f"ack:{alert_id}")
    assert answer == "Kun sagens rådgiver kan markere advarslen."
    assert len(other.messages()) == said
    # Søren presses the real button on Rikke's alert (say, in a shared group): refused, still open.
    assert await other.tap(0, alert) == "Kun sagens rådgiver kan markere advarslen."
    assert alert.buttons
    assert "Set af" not in alert.text
    assert await _case_state(harness, 1) == before
    acknowledged = [a for a in audit_actions(harness) if a.startswith("alert_acknowledged")]
    assert acknowledged == []


async def test_caseworker_buttons_pressed_by_others_are_answered_and_say_nothing(harness: Harness) -> None:
    rikke, channel, parent, alert = await case_with_an_alert(harness, "6-12", ("1", "1", "1", "1", "5", "5", "5", "5"))
    alert_data = alert.buttons[0]["callback_data"]
    stranger = harness.person("Fremmed")
    await stranger.send("/start")
    former = await harness.enrol_caseworker("Karen")
    await enrolment.disable_caseworker(harness.fitbot.svc, former.caseworker_id)
    before = await _case_state(harness, 1)
    buttons = ("pc:sag:1", "pc:luk:1", "ir:1:parent", "lk:1", "nb:6-12:X1", alert_data)
    for person in (parent, stranger, former):
        said = len(person.messages())
        for data in buttons:
            answer = await person.forge(data)
            assert "advarsel" not in answer.lower(), (person.user.first_name, data)
            assert "sag" not in answer.lower(), (person.user.first_name, data)
            if person is former:
                assert "adgang til FIT-bot er lukket" in answer
            else:
                assert answer == "Den knap virker ikke længere."
        assert len(person.messages()) == said, person.user.first_name
        # The alert's real button, in the channel: answered, nothing about alerts, nothing changed.
        answer = await person.tap(0, alert)
        assert "advarsel" not in answer.lower()
    # Caseworker buttons outside a private chat (forged in the channel), even by Rikke herself.
    channel_said = len(harness.emulator.messages(channel.id))
    answer_id = harness.emulator.press_raw(rikke.user, alert.message_id, "pc:eksport:1", chat=channel)
    await harness.after_update()
    assert harness.emulator.callback_answer(answer_id) is not None
    assert len(harness.emulator.messages(channel.id)) == channel_said
    assert alert.buttons
    assert await _case_state(harness, 1) == before
    async with harness.db.transaction() as repo:
        assert not [c for c in await repo.cases_of(former.caseworker_id)]
        assert await repo.case_by_label(rikke.caseworker_id, "X1") is None


async def test_disabled_caseworker_is_refused_and_their_channel_gets_nothing(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    await worker.new_case("A12", "6-12")
    parent = await family_member(harness, worker, "A12")
    await worker.send("/moede A12")
    await harness.advance(minutes=31)
    await enrolment.disable_caseworker(harness.fitbot.svc, worker.caseworker_id)
    before = len(worker.channel_messages())
    await answer_all(parent, ("1", "1", "1", "1", "1", "1", "1", "1"))
    await harness.run_due()
    assert len(worker.channel_messages()) == before
    await worker.send("/sager")
    assert "adgang til FIT-bot er lukket" in worker.last.text


async def test_after_a_handover_summary_and_alert_go_to_the_new_caseworker(harness: Harness) -> None:
    rikke = await harness.enrol_caseworker("Rikke")
    await rikke.link_channel("Rikkes kanal")
    soren = await harness.enrol_caseworker("Søren")
    await soren.link_channel("Sørens kanal")
    await rikke.new_case("A12", "6-12")
    parent = await family_member(harness, rikke, "A12")
    await rikke.send("/moede A12")
    await harness.advance(minutes=31)
    # Hold the dispatcher's own loop, so the summary and the alert queued for Rikke wait in the outbox.
    await harness.fitbot.dispatcher.stop()
    await answer_all(parent, ("1", "1", "1", "1", "5", "5", "5", "5"))
    async with harness.db.transaction() as repo:
        queued = [r for r in await repo.outbox_rows() if r.kind in ("summary", "alert") and r.status == "pending"]
    assert {r.payload["caseworker_id"] for r in queued} == {rikke.caseworker_id}
    assert len(queued) == 2
    handed = await cases.hand_over(harness.fitbot.svc, 1, soren.caseworker_id)
    assert isinstance(handed, Case)
    await harness.run_due()
    rikkes = [m.content for m in rikke.channel_messages()]
    assert not [p for p in rikkes if "A12" in p]
    sorens = soren.channel_messages()
    assert any("Nye svar i sag A12" in m.content for m in sorens)
    alert = next(m for m in sorens if m.content.startswith("⚠️ Advarsel i sag A12"))
    assert await soren.tap(0, alert) == "Markeret som set."
    assert (f"caseworker:{soren.caseworker_id}", 1) in audit_rows(harness, "summary_posted")
    assert audit_rows(harness, "alert_posted") == [(f"caseworker:{soren.caseworker_id}", 1)]


async def test_removed_channel_sends_alerts_to_the_private_chat(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    channel = await worker.link_channel()
    await worker.new_case("A12", "6-12")
    parent = await family_member(harness, worker, "A12")
    harness.emulator.remove_bot_from_chat(channel, worker.user)
    await harness.after_update()
    assert "fjernet fra din kanal" in worker.last.text
    await worker.send("/moede A12")
    await harness.advance(minutes=31)
    await answer_all(parent, ("1", "1", "1", "1", "9", "9", "9", "9"))
    await harness.run_due()
    assert any("Nye svar i sag A12" in m.content for m in worker.messages())


async def test_blocked_bot_raises_one_unreachable_alert(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    await worker.new_case("A12", "6-12")
    parent = await family_member(harness, worker, "A12")
    harness.emulator.block_bot(parent.user)
    await harness.after_update()
    await harness.run_due()
    await worker.send("/moede A12")
    await harness.advance(minutes=31)
    unreachable = [
        m for m in worker.channel_messages() if m.content.startswith("⚠️ Advarsel") and "blokeret" in m.content
    ]
    assert len(unreachable) == 1


async def test_digest_on_a_moved_clock(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke")
    await worker.link_channel()
    await worker.new_case("A12", "6-12")
    parent = await family_member(harness, worker, "A12")
    await worker.send("/moede A12")
    await harness.advance(minutes=31)
    await answer_all(parent, ("1", "1", "1", "1", "5", "5", "5", "5"))
    await harness.fitbot.housekeeping()  # plans the next digest (as at start-up and every hour)
    before = [m for m in worker.channel_messages() if "Dagens oversigt" in m.content]
    assert before == []
    await harness.advance(hours=22)  # Wednesday 08:00 in Copenhagen has passed
    digests = [m for m in worker.channel_messages() if "Dagens oversigt" in m.content]
    assert len(digests) == 1
    assert audit_rows(harness, "digest_built") == [(f"caseworker:{worker.caseworker_id}", 1)]
    text = digests[0].content
    assert "onsdag den 25. november" in text
    assert text.index("Kræver opmærksomhed") < text.index("1 åben sag")
    assert "• A12: Meget lave ORS-svar" in text  # the open alert, until it is acknowledged
    assert "• A12: Samarbejdet kan være under pres" in text
    assert not digests[0].disable_notification
    # The next one is planned for Thursday, not sent twice.
    await harness.fitbot.housekeeping()
    await harness.advance(hours=1)
    assert len([m for m in worker.channel_messages() if "Dagens oversigt" in m.content]) == 1
    # Acknowledged: gone from Thursday's digest.
    alert = next(m for m in worker.channel_messages() if m.content.startswith("⚠️ Advarsel i sag A12"))
    assert await worker.tap(0, alert) == "Markeret som set."
    await harness.fitbot.housekeeping()
    await harness.advance(hours=24)
    digests = [m for m in worker.channel_messages() if "Dagens oversigt" in m.content]
    assert len(digests) == 2
    thursday = digests[1].content
    assert "torsdag den 26. november" in thursday
    assert "Meget lave ORS-svar" not in thursday
    assert "Samarbejdet kan være under pres" not in thursday
    assert "Intet kræver din opmærksomhed" in thursday
    assert "A12" in thursday


async def test_a_big_caseload_digest_and_overview_are_split_and_drop_nothing(harness: Harness) -> None:
    from bot.services import joining

    worker = await harness.enrol_caseworker("Rikke")
    channel = await worker.link_channel()
    svc = harness.fitbot.svc
    async with harness.db.transaction() as repo:
        caseworker = await repo.caseworker(worker.caseworker_id)
    assert caseworker is not None
    labels = [f"Familie-{n:03d}-Nord-Vest" for n in range(60)]
    for n, label in enumerate(labels):  # set up through the services: 60 cases, two parents each invited
        case = await cases.create_case(svc, caseworker, label, AgeBand.YOUTH)
        assert isinstance(case, Case)
        for k in range(2):
            invitation = await cases.invite(svc, caseworker, case.id, Role.PARENT)
            assert isinstance(invitation, cases.Invitation)
            await joining.redeem(svc, invitation.token, 9_000_000 + 2 * n + k, "da")
    await harness.fitbot.housekeeping()
    await harness.advance(hours=22)
    digests = harness.emulator.messages(channel.id)[1:]  # after the channel's welcome
    assert len(digests) >= 2
    assert "Dagens oversigt" in digests[0].content
    assert all(len(m.source_text or "") <= 4096 for m in digests)
    text = "\n".join(m.content for m in digests)
    assert "60 åbne sager" in text
    for label in labels:
        assert text.count(label) == 1, label
    assert all(m.disable_notification for m in digests)  # nothing needs attention: all silent
    # /sager: the same, every case, buttons under the last message.
    said = len(worker.messages())
    await worker.send("/sager")
    overview = worker.messages()[said:]
    assert len(overview) >= 2
    assert all(len(m.source_text or "") <= 4096 for m in overview)
    assert all(not m.buttons for m in overview[:-1])
    assert overview[-1].buttons
    listed = "\n".join(m.content for m in overview)
    for label in labels:
        assert listed.count(label) == 1, label
    assert "listen er forkortet" not in listed


async def _week_of_answers(harness: Harness, worker: Caseworker, label: str, answers: list[tuple[str, ...]]) -> None:
    await worker.new_case(label, "6-12")
    parent = await family_member(harness, worker, label)
    for values in answers:
        await worker.send(f"/moede {label}")
        await harness.advance(minutes=31)
        await answer_all(parent, values)


async def test_leader_report_holds_no_family_data(harness: Harness) -> None:
    worker = await harness.enrol_caseworker("Rikke", team="Nord")
    # One family: ORS 12 -> 24, SRS 35 both times. Any figure from this team would be that family's.
    await _week_of_answers(
        harness, worker, "A12", [("3", "3", "3", "3", "9", "9", "9", "8"), ("6", "6", "6", "6", "9", "9", "9", "8")]
    )
    leader = await harness.enrol_caseworker("Lone", team="Nord", role="leader")
    channel = await leader.link_channel("Ledelse")
    await leader.new_case("L1", "voksen")  # a leader with a case of her own gets the daily digest too
    await harness.fitbot.housekeeping()
    await harness.advance(days=7)
    posts = harness.emulator.messages(channel.id)
    reports = [m for m in posts if "Ugerapport" in m.content]
    assert len(reports) == 1
    text = reports[0].content
    assert "Svarprocent: for få til at vise (under 5 personer)" in text
    assert "Gennemsnitlig SRS: for få til at vise" in text
    assert "Fremgang, uændret og tilbagegang: for få til at vise" in text
    assert "Rikke: 1 åbne sager, 2 møder, besvaret: for få til at vise" in text
    assert "Tal fra færre end 5 personer vises ikke" in text
    # Nothing from which the one family's answers or response could be read.
    for secret in ("A12", "12,0", "24,0", "35,0", "forælder", "%", "2 af 2", "2/2", "Sikker fremgang"):
        assert secret not in text, secret
    digests = [m for m in posts if "Dagens oversigt" in m.content]
    assert len(digests) == 1
    assert "L1" in digests[0].content
    assert "A12" not in digests[0].content


async def test_leader_report_shows_figures_of_five_and_hides_what_could_be_subtracted(harness: Harness) -> None:
    rikke = await harness.enrol_caseworker("Rikke", team="Nord")
    for n in range(5):  # five families: four reliably improved, one unchanged
        second = ("6", "6", "6", "6") if n < 4 else ("3", "3", "3", "3")
        await _week_of_answers(
            harness, rikke, f"R{n}", [("3", "3", "3", "3", "9", "9", "9", "9"), (*second, "9", "9", "9", "9")]
        )
    soren = await harness.enrol_caseworker("Søren", team="Nord")
    # Søren's one family: SRS 32,0, answered 1 of 1. Shown anywhere, it would be theirs.
    await _week_of_answers(harness, soren, "S1", [("5", "5", "5", "5", "8", "8", "8", "8")])
    leader = await harness.enrol_caseworker("Lone", team="Nord", role="leader")
    channel = await leader.link_channel("Ledelse")
    await harness.fitbot.housekeeping()
    await harness.advance(days=7)
    (report,) = [m for m in harness.emulator.messages(channel.id) if "Ugerapport" in m.content]
    text = report.content
    assert "Svarprocent: 100 % (11 af 11 skemaer)" in text  # six people
    assert "Gennemsnitlig SRS: 35,6" in text  # 10 x 36 and 1 x 32, from six people
    assert "Sikker fremgang: 80 %" in text  # five people with two answers
    assert "Uændret: 20 %" in text
    # Søren's row is from one person; Rikke's shown next to the total would give Søren's by subtraction.
    assert "Søren: 1 åbne sager, 1 møder, besvaret: for få til at vise" in text
    assert "Rikke: 5 åbne sager, 10 møder, besvaret: for få til at vise" in text
    for secret in ("32,0", "1/1", "10/10", "S1", "R0", "forælder"):
        assert secret not in text, secret


async def test_forty_answers_to_one_channel_without_a_flood_error(
    emulator: Emulator, clock: FakeClock, db_path: Path
) -> None:
    """Telegram allows 20 posts a minute in a channel: 40 families answering within a minute must not
    queue 40 summaries for minutes, nor earn a 429. Flood limits on, following the same (fake) time."""
    emulator.flood = FloodLimits(clock=clock_time(clock.now))
    harness = await start_harness(emulator, clock, db_path)
    try:
        worker = await harness.enrol_caseworker("Rikke")
        channel = await worker.link_channel()
        svc = harness.fitbot.svc
        async with harness.db.transaction() as repo:
            caseworker = await repo.caseworker(worker.caseworker_id)
        assert caseworker is not None
        families = []
        for n in range(40):  # set up through the services: the chat setup is not what is tested here
            case = await cases.create_case(svc, caseworker, f"K{n}", AgeBand.YOUTH)
            assert isinstance(case, Case)
            invitation = await cases.invite(svc, caseworker, case.id, Role.PARENT)
            assert isinstance(invitation, cases.Invitation)
            person = harness.person(f"Familie {n}")
            await person.send(f"/start {invitation.token}")
            await person.tap(CONSENT)
            families.append(person)
            harness.clock.advance(seconds=1)  # people join one by one, not all in one instant
            await cases.log_meeting(svc, caseworker, case.id, harness.clock.now())
        await harness.advance(minutes=31)
        # All 40 answer side by side, a tap every two seconds each, and all finish within the same minute.
        # Low scores (an ORS item at 2, SRS 28): every answer raises an alert post too.
        for value in (START, "2", "5", "5", "5", "7", "7", "7", "7"):
            for person in families:
                await person.tap(value)
            harness.clock.advance(seconds=2)
            await harness.run_due()
        for _minute in range(6):  # 40 alerts at 20 posts a minute, and the gathered summaries, fall due
            await harness.advance(seconds=30)
        async with harness.db.transaction() as repo:
            pending = [r for r in await repo.outbox_rows() if r.kind in ("summary", "alert") and r.status != "done"]
        assert pending == []
        posts = [m.content for m in emulator.messages(channel.id)]
        summaries = [p for p in posts if "Nye svar i sag" in p or "nye besvarelser" in p]
        mentioned = {n for n in range(40) if any(f"Nye svar i sag K{n} " in p for p in summaries)}
        assert len(mentioned) == 40
        assert len(summaries) < 20  # combined, not one post each
        # Alerts are never gathered nor dropped: one post each, every rule in it.
        alerts = [p for p in posts if p.startswith("⚠️ Advarsel i sag K")]
        assert sorted(int(p.split()[4][1:]) for p in alerts) == list(range(40))
        assert all("Meget lave ORS-svar" in p and "Samarbejdet kan være under pres" in p for p in alerts)
        assert not [r for r in emulator.requests if r.status == 429]
        assert not [r for r in emulator.requests if r.status >= 400]
    finally:
        await stop_harness(harness)
