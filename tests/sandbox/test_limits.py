"""Flood limits (with an injected clock) and fault injection, as PTB experiences them."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram import Bot
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.sandbox.emulator import Emulator, FloodLimits
from bot.sandbox.limits import Fault, counts_as_message
from bot.sandbox.world import SimUser


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns on building RetryAfter unless opted in to timedelta values (and warnings are errors)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


def retry_in(seconds: int) -> str:
    return f"Retry in {dtm.timedelta(seconds=seconds)}$"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def started(emulator: Emulator, name: str = "Anna") -> SimUser:
    user = emulator.add_user(name)
    emulator.send_text(user, "/start")
    return user


def test_what_counts_as_a_message() -> None:
    assert counts_as_message("sendMessage")
    assert counts_as_message("editMessageText")
    assert counts_as_message("sendPhoto")
    assert not counts_as_message("sendChatAction")
    assert not counts_as_message("answerCallbackQuery")
    assert not counts_as_message("getUpdates")


async def test_private_chat_burst_then_one_per_second(emulator: Emulator, bot: Bot) -> None:
    clock = FakeClock()
    emulator.flood = FloodLimits(clock=clock, private_burst=4)
    anna = started(emulator)
    for i in range(4):
        await bot.send_message(anna.id, f"besked {i}")
    with pytest.raises(RetryAfter, match=retry_in(1)):
        await bot.send_message(anna.id, "for hurtigt")
    last = emulator.requests[-1]
    assert (last.status, last.description) == (429, "Too Many Requests: retry after 1")
    await bot.answer_callback_query(emulator.press_raw(anna, 1, "x"))  # not a message: not limited
    await bot.send_chat_action(anna.id, "typing")
    clock.now += 1.0
    await bot.send_message(anna.id, "nu igen")
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("rettet", anna.id, emulator.messages(anna)[0].message_id)
    assert emulator.flood.served_429 == 2
    assert emulator.sent_per_chat[anna.id] == 5
    bo = started(emulator, "Bo")  # other chats have their own budget
    await bot.send_message(bo.id, "hej")
    emulator.flood = None  # off again at run time
    for i in range(10):
        await bot.send_message(anna.id, str(i))


async def test_group_twenty_per_minute(emulator: Emulator, bot: Bot) -> None:
    clock = FakeClock()
    emulator.flood = FloodLimits(clock=clock)
    lise = emulator.add_user("Lise")
    group = emulator.add_group("Team", creator=lise)
    emulator.add_bot_to_chat(group, lise)
    for i in range(20):
        await bot.send_message(group.id, str(i))
    with pytest.raises(RetryAfter, match=retry_in(3)):
        await bot.send_message(group.id, "nr. 21")
    clock.now += 3.0
    await bot.send_message(group.id, "nr. 21")
    with pytest.raises(RetryAfter, match=retry_in(3)):
        await bot.send_message(group.id, "nr. 22")


async def test_thirty_per_second_overall(emulator: Emulator, bot: Bot) -> None:
    clock = FakeClock()
    emulator.flood = FloodLimits(clock=clock, private_burst=1)
    users = [started(emulator, f"P{i}") for i in range(31)]
    for user in users[:30]:
        await bot.send_message(user.id, "hej")
    with pytest.raises(RetryAfter, match=retry_in(1)):
        await bot.send_message(users[30].id, "hej")
    clock.now += 0.05
    await bot.send_message(users[30].id, "hej")


async def test_fault_errors(emulator: Emulator, bot: Bot) -> None:
    anna = started(emulator)
    emulator.faults.error("sendMessage", 502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(anna.id, "x")
    emulator.faults.error("sendmessage", 403, "Forbidden: bot was blocked by the user", chat_id=anna.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(anna.id, "x")
    emulator.faults.retry_after("*", 7, count=2)
    for _ in range(2):
        with pytest.raises(RetryAfter, match=retry_in(7)):
            await bot.send_message(anna.id, "x")
    await bot.send_message(anna.id, "endelig")
    assert [m.text for m in emulator.messages(anna)] == ["endelig"]
    assert [(r.status, r.fault) for r in emulator.requests if r.fault] == [
        (502, "502"),
        (403, "403"),
        (429, "429"),
        (429, "429"),
    ]
    assert emulator.rejected == []  # injected faults are not the bot's mistakes
    assert not emulator.faults


async def test_fault_matches_chat(emulator: Emulator, bot: Bot) -> None:
    anna, bo = started(emulator), started(emulator, "Bo")
    rule = emulator.faults.add(Fault("sendMessage", status=500, chat_id=bo.id, count=None))
    await bot.send_message(anna.id, "ok")
    for _ in range(3):
        with pytest.raises(NetworkError):
            await bot.send_message(bo.id, "fejl")
    assert rule in emulator.faults.rules
    emulator.faults.clear()
    await bot.send_message(bo.id, "ok")


async def test_delay_makes_the_client_time_out(emulator: Emulator) -> None:
    anna = started(emulator)
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(emulator.token, base_url=emulator.base_url, request=request) as bot:
        emulator.faults.delay("sendMessage", 5)
        with pytest.raises(TimedOut):
            await bot.send_message(anna.id, "langsom")
        await emulator.wait_until(lambda: emulator.requests[-1].fault == "delay 5s")
        assert emulator.requests[-1].description == "client disconnected"
        assert emulator.messages(anna) == []  # the client gave up before Telegram did anything
        emulator.faults.delay("sendMessage", 0.05)  # shorter than the time-out: just slow
        await bot.send_message(anna.id, "lidt langsom")


async def test_lost_answer_after_the_message_was_sent(emulator: Emulator, bot: Bot) -> None:
    anna = started(emulator)
    emulator.faults.drop("sendMessage", after_processing=True)
    with pytest.raises(NetworkError, match="Server disconnected"):
        await bot.send_message(anna.id, "sendt, men svaret gik tabt")
    assert [m.text for m in emulator.messages(anna)] == ["sendt, men svaret gik tabt"]
    emulator.faults.drop("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(anna.id, "aldrig sendt")
    assert len(emulator.messages(anna)) == 1
    assert [r.description for r in emulator.requests][-2:] == ["connection dropped", "connection dropped"]
