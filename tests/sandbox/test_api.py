"""The emulator over real HTTP, driven by PTB's ``Bot`` and ``Application``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MenuButtonCommands,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, NetworkError
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox.emulator import Emulator, SimulationError
from bot.sandbox.spec import Spec, load_spec
from tests.sandbox.conftest import call, running_app

Context = ContextTypes.DEFAULT_TYPE


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=f"q:{label}") for label in labels]])


# ---- validation ------------------------------------------------------------------------------------


async def test_unknown_method_is_404_and_ptb_raises(emulator: Emulator, bot: Bot) -> None:
    status, body = await call(emulator, "sendTelepathy", chat_id=1)
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("send_telepathy", api_kwargs={"chat_id": 1})
    assert [r.status for r in emulator.rejected] == [404, 404]


async def test_wrong_token_is_unauthorized(emulator: Emulator) -> None:
    status, body = await call(emulator, "getMe", token="999:WRONG")
    assert status == 401
    assert body["description"] == "Unauthorized"
    wrong = Bot("999:WRONG", base_url=emulator.base_url)
    try:
        with pytest.raises(InvalidToken):
            await wrong.initialize()
    finally:
        await wrong.shutdown()


async def test_method_names_are_case_insensitive(emulator: Emulator) -> None:
    status, body = await call(emulator, "GETME")
    assert status == 200
    assert body["result"]["username"] == "fitbot_sandbox_bot"


async def test_missing_required_field(emulator: Emulator) -> None:
    user = emulator.add_user("Anna")
    emulator.send_text(user, "/start")
    assert await call(emulator, "sendMessage", chat_id=user.id) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
    )
    status, body = await call(emulator, "sendPhoto", chat_id=user.id)
    assert status == 400
    assert body["description"] == 'Bad Request: parameter "photo" is required'


async def test_wrong_types(emulator: Emulator) -> None:
    user = emulator.add_user("Anna")
    emulator.send_text(user, "/start")
    status, body = await call(emulator, "sendMessage", chat_id=user.id, text="x", disable_notification="maybe")
    assert status == 400
    assert "disable_notification" in body["description"]
    status, body = await call(emulator, "deleteMessage", chat_id=user.id, message_id="one")
    assert status == 400
    assert "message_id" in body["description"]
    status, body = await call(emulator, "sendMessage", chat_id="not-a-chat", text="x")
    assert body["description"] == "Bad Request: chat not found"
    status, body = await call(emulator, "sendMessage", chat_id=user.id, text="x", reply_markup="{nope")
    assert body["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
    bad_button = json.dumps({"inline_keyboard": [[{"text": "only text"}]]})
    status, body = await call(emulator, "sendMessage", chat_id=user.id, text="x", reply_markup=bad_button)
    assert status == 400
    assert "Text buttons are unallowed" in body["description"]
    two_actions = json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "a", "url": "https://x.dk"}]]})
    status, body = await call(emulator, "sendMessage", chat_id=user.id, text="x", reply_markup=two_actions)
    assert status == 400
    assert "exactly one" in body["description"]


async def test_strict_mode_flags_unknown_parameters(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    emulator.send_text(user, "hej")
    with pytest.raises(BadRequest, match=r'(?i)unknown parameter "colour"'):
        await bot.send_message(user.id, "x", api_kwargs={"colour": "red"})
    emulator.strict = False  # Telegram itself ignores them
    await bot.send_message(user.id, "x", api_kwargs={"colour": "red"})


async def test_text_length_limits(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    emulator.send_text(user, "/start")
    await bot.send_message(user.id, "x" * 4096)
    await bot.send_message(user.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # tags do not count
    await bot.send_message(user.id, "  " + "x" * 4096 + "\n")  # surrounding whitespace is stripped
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(user.id, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(user.id, " \n ")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(user.id, "<b></b>", parse_mode="HTML")


async def test_callback_data_is_limited_to_64_bytes(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    emulator.send_text(user, "/start")
    ok = "æ" * 32  # 64 bytes in UTF-8, 32 characters
    msg = await bot.send_message(
        user.id, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data=ok)]])
    )
    assert msg.reply_markup is not None
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            user.id,
            "x",
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data=ok + "a")]]),
        )
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            user.id, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="")]])
        )


async def test_invalid_html_is_refused(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    emulator.send_text(user, "/start")
    for text, reason in [
        ("<b>fed</i>", 'Unmatched end tag at byte offset 6, expected "</b>", found "</i>"'),
        ("<b>fed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("score < 25", 'Unsupported start tag "" at byte offset 6'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
    ]:
        with pytest.raises(BadRequest) as info:
            await bot.send_message(user.id, text, parse_mode="HTML")
        assert info.value.message == f"can't parse entities: {reason}".capitalize()  # PTB's capitalize()
    msg = await bot.send_message(
        user.id, "score &lt; 25 &amp; <i>godt</i> <a href='https://x.dk'>link</a>", parse_mode="HTML"
    )
    assert msg.text == "score < 25 & godt link"
    assert [(e.type, e.offset, e.length) for e in msg.entities] == [("italic", 13, 4), ("text_link", 18, 4)]
    assert emulator.last_message(user) is not None
    assert emulator.last_message(user).source_text.startswith("score &lt;")


async def test_markdown_v2_reserved_characters(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    emulator.send_text(user, "/start")
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(user.id, "Tak for svaret.", parse_mode="MarkdownV2")
    msg = await bot.send_message(user.id, r"*Tak* for svaret\.", parse_mode="MarkdownV2")
    assert msg.text == "Tak for svaret."
    assert msg.entities[0].type == "bold"


# ---- getUpdates ------------------------------------------------------------------------------------


async def test_long_poll_returns_when_an_update_arrives(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await emulator.wait_until(lambda: emulator.polling)
    loop = asyncio.get_running_loop()
    started = loop.time()
    emulator.send_text(user, "hej")
    updates = await asyncio.wait_for(poll, 5)
    assert loop.time() - started < 1.0
    assert [u.message.text for u in updates if u.message] == ["hej"]
    # not confirmed yet: delivered again; confirmed by a higher offset: gone
    again = await bot.get_updates()
    assert [u.update_id for u in again] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1) == ()
    assert emulator.pending_updates == 0


async def test_short_poll_limit_and_update_ids(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    for i in range(5):
        emulator.send_text(user, str(i))
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first] == ["0", "1"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.update_id for u in rest] == [first[-1].update_id + k for k in (1, 2, 3)]


async def test_stop_releases_long_poll(bot: Bot) -> None:
    emulator = Emulator()
    await emulator.start()
    async with Bot(emulator.token, base_url=emulator.base_url) as other:
        poll = asyncio.create_task(other.get_updates(timeout=30))
        await emulator.wait_until(lambda: emulator.polling)
        await emulator.stop()
        assert await asyncio.wait_for(poll, 5) == ()


async def test_second_poller_conflicts_the_first(emulator: Emulator, bot: Bot) -> None:
    first = asyncio.create_task(call(emulator, "getUpdates", timeout=30))
    await emulator.wait_until(lambda: emulator.polling)
    second = asyncio.create_task(call(emulator, "getUpdates", timeout=30))
    status, body = await asyncio.wait_for(first, 5)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates")
    emulator.send_text(emulator.add_user("Anna"), "hej")
    status, body = await asyncio.wait_for(second, 5)
    assert status == 200
    assert body["result"][0]["message"]["text"] == "hej"


async def test_allowed_updates_filters_new_updates(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    await bot.get_updates(allowed_updates=["callback_query"])
    emulator.send_text(user, "dropped")
    assert emulator.pending_updates == 0
    await bot.get_updates(allowed_updates=[])  # back to the default: all but chat_member & reactions
    emulator.send_text(user, "kept")
    assert [u.message.text for u in await bot.get_updates()] == ["kept"]


async def test_delete_webhook_drops_pending_updates(emulator: Emulator, bot: Bot) -> None:
    emulator.send_text(emulator.add_user("Anna"), "old")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert emulator.pending_updates == 0


# ---- a tiny Application ----------------------------------------------------------------------------


async def test_start_round_trip_with_command_handler(emulator: Emulator) -> None:
    seen: list[str] = []

    async def start(update: Update, context: Context) -> None:
        assert update.effective_message is not None
        seen.append(update.effective_message.text or "")
        await update.effective_message.reply_text(f"Velkommen, {context.args}", reply_markup=keyboard("0", "1", "2"))

    async with running_app(emulator, [CommandHandler("start", start)]):
        anna = emulator.add_user("Anna", username="anna_dk")
        emulator.send_text(anna, "/start")
        reply = await emulator.wait_for_message(anna)
        assert reply.text == "Velkommen, []"
        assert reply.button_texts == ["0", "1", "2"]
        emulator.send_text(anna, "/start@fitbot_sandbox_bot abc")
        assert (await emulator.wait_for_message(anna)).text == "Velkommen, ['abc']"
        emulator.send_text(anna, "/start@some_other_bot")  # not for us: CommandHandler ignores it
        await emulator.settle()
        assert emulator.messages(anna)[-1].text == "Velkommen, ['abc']"
        emulator.send_text(anna, "/start 😀x")
        assert (await emulator.wait_for_message(anna)).text == "Velkommen, ['😀x']"
    assert seen == ["/start", "/start@fitbot_sandbox_bot abc", "/start 😀x"]
    assert not emulator.rejected


async def test_command_entities_use_utf16_offsets(emulator: Emulator, bot: Bot) -> None:
    user = emulator.add_user("Anna")
    emulator.send_text(user, "😀 /hjælp og @someone https://fit.dk #tag")
    (update,) = await bot.get_updates()
    assert update.message is not None
    parsed = update.message.parse_entities()
    assert [(e.type, text) for e, text in parsed.items()] == [
        ("bot_command", "/hj"),  # commands are ASCII letters, digits and underscores
        ("mention", "@someone"),
        ("url", "https://fit.dk"),
        ("hashtag", "#tag"),
    ]


async def test_buttons_callbacks_and_edits(emulator: Emulator) -> None:
    async def start(update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Hvordan har du det? 1/4", reply_markup=keyboard("0", "1"))

    async def answer(update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        assert query.data is not None
        await query.answer(f"Svar {query.data} gemt")
        await query.edit_message_text(f"Tak: {query.data}")

    async with running_app(emulator, [CommandHandler("start", start), CallbackQueryHandler(answer)]):
        anna = emulator.add_user("Anna")
        emulator.send_text(anna, "/start")
        question = await emulator.wait_for_message(anna, "1/4")
        query_id = emulator.press(anna, question, "1")  # by text
        answered = await emulator.wait_for_answer(query_id)
        assert answered.text == "Svar q:1 gemt"
        assert not answered.show_alert
        edited = await emulator.wait_for_edit(question)
        assert edited.text == "Tak: q:1"
        assert edited.reply_markup is None
        assert [v.text for v in edited.edits] == ["Hvordan har du det? 1/4"]
        with pytest.raises(SimulationError, match="no inline buttons"):
            emulator.press(anna, question, 0)
        # a forged press on the old message: the bot answers, the edit is "not modified"-free
        forged = emulator.press_raw(anna, question.message_id, "q:evil")
        await emulator.wait_for_answer(forged)
    assert emulator.rejected == []


async def test_press_refuses_what_a_person_cannot_do(emulator: Emulator, bot: Bot) -> None:
    anna, bo = emulator.add_user("Anna"), emulator.add_user("Bo")
    emulator.send_text(anna, "/start")
    await bot.send_message(
        anna.id,
        "Vælg",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Læs", url="https://fit.dk")]]),
    )
    msg = emulator.last_message(anna)
    assert msg is not None
    with pytest.raises(SimulationError, match="not a callback button"):
        emulator.press(anna, msg, 0)
    with pytest.raises(SimulationError, match="cannot see"):
        emulator.press(bo, msg, 0)
    with pytest.raises(SimulationError, match="has 1 buttons"):
        emulator.press(anna, msg, 5)


async def test_answer_callback_query_once(emulator: Emulator, bot: Bot) -> None:
    anna = emulator.add_user("Anna")
    emulator.send_text(anna, "/start")
    msg = await bot.send_message(anna.id, "?", reply_markup=keyboard("ja"))
    query_id = emulator.press(anna, emulator.messages(anna)[-1], "q:ja")
    assert await bot.answer_callback_query(query_id, "ok")
    with pytest.raises(BadRequest, match="Query is too old and response timeout expired or query id is invalid"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345")
    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query(emulator.press(anna, emulator.messages(anna)[-1], 0), "x" * 201)
    assert msg.message_id == emulator.messages(anna)[-1].message_id


async def test_answer_callback_query_too_late(bot: Bot) -> None:
    now = [100.0]
    emulator = Emulator(clock=lambda: now[0])
    await emulator.start()
    try:
        async with Bot(emulator.token, base_url=emulator.base_url) as b:
            anna = emulator.add_user("Anna")
            emulator.send_text(anna, "/start")
            await b.send_message(anna.id, "?", reply_markup=keyboard("ja"))
            query_id = emulator.press(anna, emulator.messages(anna)[-1], 0)
            now[0] += emulator.callback_query_ttl + 1
            with pytest.raises(BadRequest, match="Query is too old"):
                await b.answer_callback_query(query_id)
    finally:
        await emulator.stop()


async def test_edit_errors(emulator: Emulator, bot: Bot) -> None:
    anna = emulator.add_user("Anna")
    mine = emulator.send_text(anna, "/start")
    msg = await bot.send_message(anna.id, "Hej", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match="Message is not modified: specified new message content and reply markup"):
        await bot.edit_message_text("Hej", anna.id, msg.message_id, reply_markup=keyboard("a"))
    edited = await bot.edit_message_text("Hej", anna.id, msg.message_id)  # removes the keyboard: a change
    assert isinstance(edited, type(msg))
    assert edited.reply_markup is None
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", anna.id, 999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", anna.id, mine.message_id)
    await bot.edit_message_reply_markup(anna.id, msg.message_id, reply_markup=keyboard("b"))
    assert emulator.messages(anna)[-1].button_texts == ["b"]
    with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
        await bot.edit_message_caption(anna.id, msg.message_id, caption="c")
    assert await bot.delete_message(anna.id, msg.message_id)
    assert emulator.messages(anna)[-1].deleted
    assert emulator.last_message(anna) is None
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(anna.id, msg.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", anna.id, msg.message_id)


async def test_wait_for_message_reads_in_order(emulator: Emulator, bot: Bot) -> None:
    anna = emulator.add_user("Anna")
    emulator.send_text(anna, "/start")
    for text in ("en", "to", "tre"):
        await bot.send_message(anna.id, text)
    assert (await emulator.wait_for_message(anna)).text == "en"
    assert (await emulator.wait_for_message(anna, "tre")).text == "tre"  # "to" is skipped over
    waiting = asyncio.create_task(emulator.wait_for_message(anna))
    await bot.send_message(anna.id, "fire")
    assert (await waiting).text == "fire"
    with pytest.raises(TimeoutError, match="no matching bot message"):
        await emulator.wait_for_message(anna, timeout=0.05)


# ---- chats, members, blocking ----------------------------------------------------------------------


async def test_my_chat_member_on_add_and_remove(emulator: Emulator) -> None:
    events: list[tuple[str, str, int, str]] = []
    joined: list[str] = []

    async def member(update: Update, context: Context) -> None:
        change = update.my_chat_member
        assert change is not None
        events.append(
            (
                change.old_chat_member.status,
                change.new_chat_member.status,
                change.from_user.id,
                change.chat.type,
            )
        )

    async def new_members(update: Update, context: Context) -> None:
        assert update.message is not None
        joined.extend(u.username or "" for u in update.message.new_chat_members)

    handlers = [
        ChatMemberHandler(member, ChatMemberHandler.MY_CHAT_MEMBER),
        MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, new_members),
    ]
    async with running_app(emulator, handlers):
        lise = emulator.add_user("Lise")
        group = emulator.add_group("Familieafdelingen", creator=lise, kind="supergroup")
        channel = emulator.add_channel("Lises kanal", creator=lise)
        assert group.id < -1_000_000_000_000
        assert channel.id < -1_000_000_000_000
        basic = emulator.add_group("Team", creator=lise)
        assert -1_000_000_000_000 < basic.id < 0
        emulator.add_bot_to_chat(group, lise, admin=False)
        emulator.add_bot_to_chat(channel, lise)
        emulator.remove_bot_from_chat(group, lise)
        emulator.block_bot(lise)
        emulator.unblock_bot(lise)
        await emulator.wait_until(lambda: len(events) == 5 and joined)
    assert events == [
        ("left", "member", lise.id, "supergroup"),
        ("left", "administrator", lise.id, "channel"),
        ("member", "kicked", lise.id, "supergroup"),
        ("member", "kicked", lise.id, "private"),
        ("kicked", "member", lise.id, "private"),
    ]
    assert joined == ["fitbot_sandbox_bot"]


async def test_block_is_forbidden(emulator: Emulator, bot: Bot) -> None:
    anna = emulator.add_user("Anna")
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(anna.id, "hej")
    emulator.send_text(anna, "/start")
    await bot.send_message(anna.id, "hej")
    emulator.block_bot(anna)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(anna.id, "hej")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_chat_action(anna.id, "typing")
    emulator.unblock_bot(anna)
    await bot.send_message(anna.id, "velkommen tilbage")
    emulator.deactivate_user(anna)
    with pytest.raises(Forbidden, match="user is deactivated"):
        await bot.send_message(anna.id, "hej")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hej")


async def test_groups_channels_and_leaving(emulator: Emulator, bot: Bot) -> None:
    lise, bo = emulator.add_user("Lise"), emulator.add_user("Bo")
    group = emulator.add_group("Team", creator=lise, members=[bo])
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await bot.send_message(group.id, "hej")
    emulator.add_bot_to_chat(group, lise, admin=False)
    await bot.send_message(group.id, "hej gruppe")
    admins = await bot.get_chat_administrators(group.id)
    assert [type(a) for a in admins] == [ChatMemberOwner]
    assert admins[0].user.id == lise.id
    assert (await bot.get_chat_member(group.id, bo.id)).status == "member"
    assert (await bot.get_chat_member(group.id, bot.id)).status == "member"
    assert await bot.get_chat_member_count(group.id) == 3
    chat = await bot.get_chat(group.id)
    assert chat.title == "Team"
    assert chat.type == "group"
    assert await bot.leave_chat(group.id)
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await bot.send_message(group.id, "hej")
    channel = emulator.add_channel("Lises kanal", creator=lise, username="lises_kanal")
    emulator.add_bot_to_chat(channel, lise)
    me = await bot.get_chat_member(channel.id, bot.id)
    assert isinstance(me, ChatMemberAdministrator)
    assert me.can_post_messages
    msg = await bot.send_message("@lises_kanal", "til kanalen")
    assert msg.chat.id == channel.id
    assert msg.sender_chat is not None
    emulator.remove_bot_from_chat(channel, lise)
    with pytest.raises(Forbidden, match="bot is not a member of the channel chat"):
        await bot.send_message(channel.id, "hej")
    with pytest.raises(BadRequest, match="Chat member status can't be changed in private chats"):
        await bot.leave_chat(lise.id)


async def test_channel_posts_and_group_privacy(emulator: Emulator, bot: Bot) -> None:
    lise, bo = emulator.add_user("Lise"), emulator.add_user("Bo")
    channel = emulator.add_channel("Kanal", creator=lise)
    group = emulator.add_group("Team", creator=lise, kind="supergroup", members=[bo])
    emulator.add_bot_to_chat(channel, lise)
    emulator.add_bot_to_chat(group, lise, admin=False)
    await bot.get_updates(offset=emulator.last_update_id + 1)
    emulator.post_in_channel(lise, channel, "/moede i morgen")
    emulator.send_text(bo, "bare snak", chat=group)  # privacy mode: not for the bot
    emulator.send_text(bo, "/start", chat=group)
    updates = await bot.get_updates()
    assert [(u.channel_post or u.message).text for u in updates] == ["/moede i morgen", "/start"]
    assert updates[0].channel_post is not None
    assert updates[0].channel_post.sender_chat.id == channel.id
    with pytest.raises(SimulationError):
        emulator.post_in_channel(bo, channel, "ikke admin")


# ---- files -----------------------------------------------------------------------------------------

PNG_2x3 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000020000000308020000003e5b4f"
    "6e0000000f49444154789c63f8cfc0f01f0c18000014fe01ffbcbb0f6f0000000049454e44ae426082"
)


async def test_photo_upload_and_download(emulator: Emulator, bot: Bot) -> None:
    lise = emulator.add_user("Lise")
    emulator.send_text(lise, "/start")
    msg = await bot.send_photo(lise.id, PNG_2x3, caption="<b>Forløb</b>", parse_mode="HTML", filename="trend.png")
    assert msg.caption == "Forløb"
    assert msg.caption_entities[0].type == "bold"
    size = msg.photo[-1]
    assert (size.width, size.height) == (2, 3)
    f = await bot.get_file(size.file_id)
    assert f.file_path is not None
    assert f.file_path.startswith(emulator.base_file_url)
    assert bytes(await f.download_as_bytearray()) == PNG_2x3
    record = emulator.last_message(lise)
    assert record is not None
    assert record.photo is not None
    assert record.photo.data == PNG_2x3
    assert record.photo.filename == "trend.png"
    again = await bot.send_photo(lise.id, size.file_id)  # re-send by file_id
    assert again.photo[-1].file_id == size.file_id
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(lise.id, "no-such-file")
    edited = await bot.edit_message_caption(lise.id, msg.message_id, caption="Nyt")
    assert isinstance(edited, type(msg))
    assert edited.caption == "Nyt"


async def test_document_upload_keeps_name_and_type(emulator: Emulator, bot: Bot) -> None:
    lise = emulator.add_user("Lise")
    emulator.send_text(lise, "/start")
    msg = await bot.send_document(lise.id, b"a;b\n1;2\n", filename="eksport.csv", caption="Data")
    assert msg.document is not None
    assert msg.document.file_name == "eksport.csv"
    record = emulator.last_message(lise)
    assert record is not None
    assert record.document is not None
    assert record.document.data == b"a;b\n1;2\n"
    assert record.document.mime_type == "text/csv"
    data = await (await bot.get_file(msg.document.file_id)).download_as_bytearray()
    assert bytes(data) == b"a;b\n1;2\n"


async def test_incoming_photo_and_sticker(emulator: Emulator, bot: Bot) -> None:
    anna = emulator.add_user("Anna")
    emulator.send_photo(anna, caption="se her")
    emulator.send_sticker(anna)
    photo, sticker = await bot.get_updates()
    assert photo.message is not None
    assert photo.message.photo
    assert photo.message.caption == "se her"
    assert sticker.message is not None
    assert sticker.message.sticker is not None
    data = await (await bot.get_file(photo.message.photo[-1].file_id)).download_as_bytearray()
    assert bytes(data).startswith(b"\x89PNG")


# ---- commands and menu -----------------------------------------------------------------------------


async def test_command_menu_scopes(emulator: Emulator, bot: Bot) -> None:
    lise, anna = emulator.add_user("Lise"), emulator.add_user("Anna", language_code="en")
    group = emulator.add_group("Team", creator=lise)
    assert await bot.set_my_commands([BotCommand("start", "Start")])
    assert await bot.set_my_commands([BotCommand("start", "Begin")], language_code="en")
    assert await bot.set_my_commands(
        [BotCommand("start", "Start"), BotCommand("svar", "Svar")], scope=BotCommandScopeAllPrivateChats()
    )
    assert await bot.set_my_commands(
        [BotCommand("moede", "Møde"), BotCommand("status", "Status")], scope=BotCommandScopeChat(lise.id)
    )
    assert [c["command"] for c in emulator.commands(lise, "da")] == ["moede", "status"]
    assert [c["command"] for c in emulator.commands(anna, "en")] == ["start", "svar"]
    assert emulator.commands(group, "en") == [{"command": "start", "description": "Begin"}]
    assert emulator.commands(group, "da") == [{"command": "start", "description": "Start"}]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(lise.id))] == [
        "moede",
        "status",
    ]
    assert await bot.get_my_commands(scope=BotCommandScopeChat(anna.id)) == ()
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(lise.id))
    assert [c["command"] for c in emulator.commands(lise, "da")] == ["start", "svar"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Møde", "x")])
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.set_my_commands([BotCommand("a", "x")], scope=BotCommandScopeChat(-999))
    assert await bot.set_chat_menu_button(lise.id, MenuButtonCommands())
    assert emulator.menu_button(lise) == {"type": "commands"}
    assert (await bot.get_chat_menu_button(lise.id)).type == "commands"


async def test_bot_descriptions(emulator: Emulator, bot: Bot) -> None:
    assert await bot.set_my_description("Feedback til familier", language_code="da")
    assert (await bot.get_my_description("da")).description == "Feedback til familier"
    assert (await bot.get_my_name()).name == "FIT-bot"


# ---- observation helpers ---------------------------------------------------------------------------


async def test_request_log_and_events(emulator: Emulator, bot: Bot) -> None:
    events: list[str] = []
    unsubscribe = emulator.on_event(lambda e: events.append(e.kind))
    anna = emulator.add_user("Anna")
    emulator.send_text(anna, "/start")
    msg = await bot.send_message(anna.id, "hej", disable_notification=True, protect_content=True)
    await bot.edit_message_text("hej igen", anna.id, msg.message_id)
    await bot.delete_message(anna.id, msg.message_id)
    unsubscribe()
    await bot.send_message(anna.id, "efter")
    assert events == ["sent", "edited", "deleted"]
    assert [r.method for r in emulator.requests] == [
        "getMe",
        "sendMessage",
        "editMessageText",
        "deleteMessage",
        "sendMessage",
    ]
    first = emulator.messages(anna)[0]
    assert first.disable_notification
    assert first.protect_content
    assert first.deleted
    assert emulator.sent_per_chat[anna.id] == 2
    record = await emulator.wait_for_request("editMessageText")
    assert record.params["text"] == "hej igen"
    assert record.ok


async def test_json_and_get_requests(emulator: Emulator) -> None:
    import httpx

    user = emulator.add_user("Anna")
    emulator.send_text(user, "/start")
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{emulator.url}/bot{emulator.token}/sendMessage",
            json={
                "chat_id": user.id,
                "text": "json",
                "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]},
            },
        )
        assert r.status_code == 200
        assert r.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
        r = await client.get(f"{emulator.url}/bot{emulator.token}/getMe")
        assert r.json()["result"]["is_bot"] is True
        r = await client.post(f"{emulator.url}/bot{emulator.token}/getUpdates?offset=-1")
        assert [u["message"]["text"] for u in r.json()["result"]] == ["/start"]


def _spec_with_poll(tmp_path: Path) -> Spec:
    """A specification file with sendPoll in it, so these tests need not the shared file."""
    field = {"name": "chat_id", "types": ["Integer", "String"], "required": True}
    methods = {
        "getMe": {"name": "getMe", "fields": []},
        "sendPoll": {
            "name": "sendPoll",
            "fields": [
                field,
                {"name": "question", "types": ["String"], "required": True},
                {"name": "options", "types": ["Array of InputPollOption"], "required": True},
            ],
        },
    }
    path = tmp_path / "api.json"
    path.write_text(json.dumps({"version": "Bot API 10.1", "methods": methods, "types": {}}), encoding="utf-8")
    spec = load_spec(path)
    assert spec.source == "file"
    return spec


@pytest.fixture
async def poll_emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    emu = Emulator(spec=_spec_with_poll(tmp_path))
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


async def test_a_method_telegram_has_but_the_emulator_lacks_is_501(poll_emulator: Emulator) -> None:
    """Telegram would carry it out, so no 400 (a refusal the bot might act on): a loud 501 naming the method."""
    anna = poll_emulator.add_user("Anna")
    options = '[{"text": "a"}, {"text": "b"}]'
    status, body = await call(poll_emulator, "sendPoll", chat_id=anna.id, question="?", options=options)
    assert status == 501
    assert body["ok"] is False
    assert body["error_code"] == 501
    assert body["description"] == (
        "Not Implemented: sendPoll is a Bot API method the FIT-bot emulator does not carry out "
        "(add api_sendPoll to bot/sandbox/emulator.py)"
    )
    # It counts as rejected, so the end-to-end tests' check fails and names it.
    assert [(r.method, r.status) for r in poll_emulator.rejected] == [("sendPoll", 501)]


async def test_ptb_sees_the_501_as_an_error_with_the_method_named(poll_emulator: Emulator) -> None:
    anna = poll_emulator.add_user("Anna")
    async with Bot(poll_emulator.token, base_url=poll_emulator.base_url) as bot:
        with pytest.raises(NetworkError, match="sendPoll is a Bot API method the FIT-bot emulator does not carry out"):
            await bot.send_poll(anna.id, "?", ["a", "b"])


async def test_an_unimplemented_method_is_still_validated_first(poll_emulator: Emulator) -> None:
    status, body = await call(poll_emulator, "sendPoll", chat_id=1)
    assert status == 400
    assert body["description"].startswith("Bad Request: ")
    assert "question" in body["description"]


async def test_a_method_not_in_the_spec_is_404_beside_an_unimplemented_one(poll_emulator: Emulator) -> None:
    status, body = await call(poll_emulator, "sendTelepathy", chat_id=1)
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, _body = await call(poll_emulator, "sendMessage", chat_id=1, text="x")  # not in this small spec
    assert status == 404


async def test_with_the_builtin_rules_an_unimplemented_method_is_404() -> None:
    emu = Emulator(spec=Spec.builtin())
    await emu.start()
    try:
        status, body = await call(emu, "sendPoll", chat_id=1, question="?", options='[{"text": "a"}]')
        assert (status, body["description"]) == (404, "Not Found")
    finally:
        await emu.stop()


async def test_the_real_spec_has_methods_the_emulator_lacks(emulator: Emulator, bot: Bot) -> None:
    if emulator.spec.source != "file":
        pytest.skip("the Bot API spec file is not present")
    anna = emulator.add_user("Anna")
    with pytest.raises(NetworkError, match="sendPoll is a Bot API method the FIT-bot emulator does not carry out"):
        await bot.send_poll(anna.id, "?", ["a", "b"])
    assert [(r.method, r.status) for r in emulator.rejected] == [("sendPoll", 501)]


async def test_small_methods_and_message_options(emulator: Emulator, bot: Bot) -> None:
    anna = emulator.add_user("Anna")
    question = emulator.send_text(anna, "Hvad betyder tallet?")
    reply = await bot.send_message(
        anna.id,
        "Se https://fit.dk",
        reply_to_message_id=question.message_id,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "Hvad betyder tallet?"
    assert reply.link_preview_options is not None
    assert reply.link_preview_options.is_disabled
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(anna.id, "x", reply_to_message_id=999)
    assert await bot.pin_chat_message(anna.id, reply.message_id)
    assert (await bot.get_chat(anna.id)).pinned_message.message_id == reply.message_id
    assert await bot.unpin_chat_message(anna.id)
    assert await bot.send_chat_action(anna.id, "typing")
    assert emulator.chat_actions == [(anna.id, "typing")]
    with pytest.raises(BadRequest, match="Wrong type of action"):
        await bot.send_chat_action(anna.id, "dancing")
    keyboard_markup = ReplyKeyboardMarkup([["0", "1"], ["2"]], one_time_keyboard=True)
    await bot.send_message(anna.id, "Vælg", reply_markup=keyboard_markup)
    assert emulator.reply_keyboard(anna) == [["0", "1"], ["2"]]
    await bot.send_message(anna.id, "Tak", reply_markup=ReplyKeyboardRemove())
    assert emulator.reply_keyboard(anna) is None
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(anna.id, PNG_2x3, caption="x" * 1025)
    with pytest.raises(BadRequest, match="Bot_command_description_invalid"):
        await bot.set_my_commands([BotCommand("start", "x" * 257)])
    assert await bot.log_out()
    assert await bot.close()
    assert emulator.stats()["rejected"] == 4
