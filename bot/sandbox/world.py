"""The simulated Telegram behind the emulator: people, chats, messages, files, updates.

:class:`World` holds the state, carries out the Bot API methods the emulator implements (as plain
functions of validated parameters), and offers the simulation API (people typing and pressing
buttons, which become updates for the bot) and the observation API that tests use (what the bot
sent, waiting for it without polling).  The HTTP face is :class:`bot.sandbox.emulator.Emulator`.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import re
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from bot.sandbox.spec import ApiError, ParsedText, UploadedFile, utf16_len

__all__ = [
    "TEST_TOKEN",
    "CallbackAnswer",
    "ChatRef",
    "MessageVersion",
    "RequestRecord",
    "SentMessage",
    "SimChat",
    "SimUser",
    "SimulationError",
    "StoredFile",
    "World",
    "WorldEvent",
]

T = TypeVar("T")
ChatKind = Literal["private", "group", "supergroup", "channel"]

# Update types Telegram leaves out unless asked for explicitly.
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
_CHANNEL_RIGHTS = {"can_post_messages": True, "can_edit_messages": True}
_ACTIVE = frozenset({"creator", "administrator", "member"})
# A 1x1 transparent PNG: what a simulated person sends as "a photo".
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)
TEST_TOKEN = "123456:TEST-TOKEN"  # noqa: S105 - the emulator's default bot token, not a secret
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class SimulationError(AssertionError):
    """The test asked for something a person on Telegram cannot do (press a button that is not there,
    write in a chat they are not in, ...)."""


# --------------------------------------------------------------------------------------------------
# People and chats


@dataclass(eq=False)
class SimUser:
    """A simulated Telegram account.  Its private chat with the bot has the same id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "da"
    is_bot: bool = False
    started: bool = False  # has written to the bot (a bot cannot start a private conversation)
    blocked_bot: bool = False
    deactivated: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code and not self.is_bot:
            d["language_code"] = self.language_code
        return d

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def __repr__(self) -> str:
        return f"SimUser({self.id}, {self.full_name!r})"


class _Migrated(ApiError):
    """400 for a group that became a supergroup, with the new id in ``parameters.migrate_to_chat_id``."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(400, "Bad Request: group chat was upgraded to a supergroup chat")
        self.migrate_to_chat_id = new_chat_id

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        body["parameters"] = {"migrate_to_chat_id": self.migrate_to_chat_id}
        return body


@dataclass(eq=False)
class SimChat:
    """A chat.  Private chats have the user's id; groups -<n>; supergroups and channels -100<n>."""

    id: int
    type: ChatKind
    title: str | None = None
    username: str | None = None
    user: SimUser | None = None  # the other side of a private chat
    members: dict[int, str] = field(default_factory=dict)  # user id -> status (bot included)
    pinned: list[int] = field(default_factory=list)
    migrated_to: int | None = None  # a group upgraded to a supergroup: the supergroup's id

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.user is not None:
            d["first_name"] = self.user.first_name
            if self.user.last_name:
                d["last_name"] = self.user.last_name
            if self.user.username:
                d["username"] = self.user.username
        else:
            d["title"] = self.title
            if self.username:
                d["username"] = self.username
        return d

    @property
    def name(self) -> str:
        return self.user.full_name if self.user is not None else (self.title or str(self.id))

    @property
    def kind_name(self) -> str:
        """How Telegram names this kind of chat in its errors ("group chat", "channel chat", ...)."""
        return f"{self.type} chat"

    def __repr__(self) -> str:
        return f"SimChat({self.id}, {self.type}, {self.name!r})"


ChatRef = SimChat | SimUser | int


# --------------------------------------------------------------------------------------------------
# Messages and files


@dataclass(eq=False)
class StoredFile:
    """A file the bot uploaded or a simulated person sent; downloadable under the file URL."""

    file_id: str
    file_unique_id: str
    data: bytes
    filename: str | None
    mime_type: str | None
    kind: Literal["photo", "document", "sticker"]
    file_path: str
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.data)

    def photo_sizes(self) -> list[dict[str, Any]]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "file_size": self.size,
                "width": self.width,
                "height": self.height,
            }
        ]

    def document_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.filename:
            d["file_name"] = self.filename
        if self.mime_type:
            d["mime_type"] = self.mime_type
        return d

    def file_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


@dataclass(frozen=True, slots=True)
class MessageVersion:
    """A message as it was before an edit."""

    text: str | None
    caption: str | None
    entities: tuple[dict[str, Any], ...]
    reply_markup: dict[str, Any] | None
    date: int


@dataclass(eq=False)
class SentMessage:
    """One message in a chat: sent by the bot (``from_bot``) or by a simulated person.

    ``text``/``caption`` are what a person sees (markup parsed away); ``source_text`` is what the bot
    sent.  Edits change the message in place and keep the earlier versions in ``edits``."""

    chat: SimChat
    message_id: int
    date: int
    from_bot: bool
    sender: SimUser | None  # None for channel posts
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    source_text: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    photo: StoredFile | None = None
    document: StoredFile | None = None
    sticker: StoredFile | None = None
    reply_to: SentMessage | None = None
    disable_notification: bool = False
    protect_content: bool = False
    link_preview_options: dict[str, Any] | None = None
    edit_date: int | None = None
    edits: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # service fields, e.g. new_chat_members
    _edits_seen: int = field(default=0, repr=False)

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def edited(self) -> bool:
        return bool(self.edits)

    @property
    def keyboard(self) -> list[list[dict[str, Any]]]:
        """The rows of the inline keyboard (empty when there is none)."""
        if self.reply_markup is None:
            return []
        rows = self.reply_markup.get("inline_keyboard")
        return rows if isinstance(rows, list) else []

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The inline buttons, row by row, as dicts."""
        return [b for row in self.keyboard for b in row]

    @property
    def button_texts(self) -> list[str]:
        return [b["text"] for b in self.buttons]

    @property
    def reply_keyboard(self) -> list[list[str]]:
        """The rows of a custom reply keyboard sent with this message, as button texts."""
        rows = (self.reply_markup or {}).get("keyboard")
        return [[b["text"] for b in row] for row in rows] if isinstance(rows, list) else []

    @property
    def content(self) -> str:
        """The text or the caption, whichever the message has ('' for neither)."""
        return self.text if self.text is not None else (self.caption or "")

    def to_dict(self, bot: SimUser, *, with_reply: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"message_id": self.message_id, "date": self.date, "chat": self.chat.to_dict()}
        if self.sender is not None:
            d["from"] = (bot if self.from_bot else self.sender).to_dict()
        if self.chat.type == "channel":
            d["sender_chat"] = self.chat.to_dict()
        if self.text is not None:
            d["text"] = self.text
            if self.entities:
                d["entities"] = self.entities
        if self.photo is not None:
            d["photo"] = self.photo.photo_sizes()
        if self.document is not None:
            d["document"] = self.document.document_dict()
        if self.sticker is not None:
            d["sticker"] = {
                "file_id": self.sticker.file_id,
                "file_unique_id": self.sticker.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": self.extra.get("emoji", "👍"),
            }
        if self.caption is not None:
            d["caption"] = self.caption
            if self.caption_entities:
                d["caption_entities"] = self.caption_entities
        if self.reply_to is not None and with_reply:
            d["reply_to_message"] = self.reply_to.to_dict(bot, with_reply=False)
        if self.edit_date is not None:
            d["edit_date"] = self.edit_date
        if self.protect_content:
            d["has_protected_content"] = True
        if self.link_preview_options is not None:
            d["link_preview_options"] = self.link_preview_options
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            d["reply_markup"] = self.reply_markup
        for key, value in self.extra.items():
            if key != "emoji":
                d[key] = value
        return d

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else (self.sender.first_name if self.sender else "channel")
        flags = " deleted" if self.deleted else (" edited" if self.edits else "")
        return f"<SentMessage {self.chat_id}/{self.message_id} {who}{flags}: {self.content[:60]!r}>"


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass(slots=True)
class RequestRecord:
    """One request the bot made: its method, parameters as received, and the status it got."""

    method: str
    params: dict[str, Any]
    status: int
    description: str | None = None
    fault: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True, slots=True)
class WorldEvent:
    """What observers (the terminal) are told about: a bot message was sent / edited / deleted, a
    callback query was answered."""

    kind: Literal["sent", "edited", "deleted", "answered"]
    message: SentMessage | None = None
    answer: CallbackAnswer | None = None
    user: SimUser | None = None


@dataclass(slots=True)
class _CallbackQuery:
    id: str
    user: SimUser
    message: SentMessage | None
    created: float
    answered: bool = False


# --------------------------------------------------------------------------------------------------
# Entities Telegram finds in what people type

_AUTO_ENTITIES = re.compile(
    r"(?P<bot_command>(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)"
    r"|(?P<url>\bhttps?://[^\s<>\"]+)"
    r"|(?P<mention>(?<![\w@])@[A-Za-z0-9_]{4,32}\b)"
    r"|(?P<hashtag>(?<![\w#])#[^\W\d][\w]*)"
)


def auto_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram adds to a typed message: bot commands, URLs, mentions, hashtags
    (offsets and lengths in UTF-16 code units)."""
    entities = []
    for m in _AUTO_ENTITIES.finditer(text):
        kind = m.lastgroup
        assert kind is not None
        entities.append({"type": kind, "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))})
    return entities


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG (0, 0 when it is neither)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + length
    return 0, 0


def _scope_key(scope: dict[str, Any] | None) -> tuple[str, int | None, int | None]:
    if not scope:
        return ("default", None, None)
    return (scope["type"], scope.get("chat_id"), scope.get("user_id"))


# --------------------------------------------------------------------------------------------------
# The world


class World:
    """Simulated Telegram: state, Bot API method semantics, simulation and observation API."""

    def __init__(
        self,
        token: str = TEST_TOKEN,
        *,
        bot_username: str = "fitbot_sandbox_bot",
        bot_first_name: str = "FIT-bot",
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
        log_limit: int | None = None,
    ) -> None:
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456
        self.token = token
        self.bot_user = SimUser(bot_id, bot_first_name, username=bot_username, is_bot=True, language_code=None)
        self.clock = clock  # monotonic: callback query expiry
        self.now = now  # wall clock: message dates
        self.bot_privacy = True  # group privacy mode: the bot only sees commands and replies to it
        self.callback_query_ttl = 15.0
        self.users: dict[int, SimUser] = {}
        self.chats: dict[int, SimChat] = {}
        self._usernames: dict[str, SimChat] = {}
        self._messages: dict[int, dict[int, SentMessage]] = {}  # chat id -> message id -> message
        self._next_message_id: dict[int, int] = {}
        self._read_upto: dict[int, int] = {}
        self._user_ids = itertools.count(700_000_001)
        self._group_ids = itertools.count(4_000_001)
        self._channel_ids = itertools.count(2_000_000_001)
        self._file_numbers = itertools.count(1)
        self._query_ids = itertools.count(4_242_000_001)
        # updates
        self._updates: collections.deque[tuple[int, str, dict[str, Any]]] = collections.deque()
        self._next_update_id = 1
        self.allowed_updates: frozenset[str] | None = None  # None: Telegram's default set
        # bot state
        self.files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._queries: dict[str, _CallbackQuery] = {}
        self.answered_callbacks: list[CallbackAnswer] = []
        self._commands: dict[tuple[tuple[str, int | None, int | None], str], list[dict[str, Any]]] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}
        self.chat_actions: list[tuple[int, str]] = []
        # observation
        self.requests: list[RequestRecord] = []  # every request, oldest first (see log_limit)
        self.log_limit = log_limit  # keep only about this many (for long benchmark runs)
        self.rejected: list[RequestRecord] = []
        self.sent_per_chat: collections.Counter[int] = collections.Counter()
        self.request_count = 0
        self.status_counts: collections.Counter[int] = collections.Counter()  # HTTP status -> answers
        self._listeners: list[Callable[[WorldEvent], None]] = []
        self._changed: asyncio.Event | None = None
        self._new_update: asyncio.Event | None = None
        self.closed = False

    # ---- signals: broadcast without polling

    def _notify(self) -> None:
        ev = self._changed
        if ev is not None:
            self._changed = None
            ev.set()

    def _notify_update(self) -> None:
        ev = self._new_update
        if ev is not None:
            self._new_update = None
            ev.set()
        self._notify()

    def _changed_event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _update_event(self) -> asyncio.Event:
        if self._new_update is None:
            self._new_update = asyncio.Event()
        return self._new_update

    def _emit(self, event: WorldEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def on_event(self, listener: Callable[[WorldEvent], None]) -> Callable[[], None]:
        """Call ``listener`` (synchronously) for every bot message sent, edited, deleted and every answered
        callback query.  Returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # ---- lookups

    def _date(self) -> int:
        return int(self.now())

    def chat_of(self, ref: ChatRef) -> SimChat:
        """The chat for a :class:`SimChat`, a user (their private chat) or an id."""
        if isinstance(ref, SimChat):
            return ref
        chat_id = ref.id if isinstance(ref, SimUser) else ref
        chat = self.chats.get(chat_id)
        if chat is None:
            raise SimulationError(f"no chat {chat_id}")
        return chat

    def _resolve_chat(self, chat_id: int | str) -> SimChat:
        """A chat named in a request, or 400 chat not found."""
        chat: SimChat | None
        if isinstance(chat_id, int):
            chat = self.chats.get(chat_id)
        elif chat_id.startswith("@"):
            chat = self._usernames.get(chat_id[1:].lower())
        else:
            chat = None
        if chat is None:
            raise ApiError.bad_request("chat not found")
        return chat

    def bot_status(self, chat: SimChat) -> str:
        """The bot's membership status in ``chat`` (left, member, administrator, kicked)."""
        if chat.type == "private":
            assert chat.user is not None
            return "kicked" if chat.user.blocked_bot else "member"
        return chat.members.get(self.bot_user.id, "left")

    def _check_can_send(self, chat: SimChat) -> None:
        if chat.migrated_to is not None:
            raise _Migrated(chat.migrated_to)
        if chat.type == "private":
            user = chat.user
            assert user is not None
            if user.is_bot:
                raise ApiError.forbidden("bot can't send messages to bots")
            if user.deactivated:
                raise ApiError.forbidden("user is deactivated")
            if user.blocked_bot:
                raise ApiError.forbidden("bot was blocked by the user")
            if not user.started:
                raise ApiError.forbidden("bot can't initiate conversation with a user")
            return
        status = self.bot_status(chat)
        if status == "kicked":
            raise ApiError.forbidden(
                f"bot was kicked from the {chat.kind_name}"
                if chat.type != "channel"
                else "bot is not a member of the channel chat"
            )
        if status not in _ACTIVE:
            raise ApiError.forbidden(f"bot is not a member of the {chat.kind_name}")
        if chat.type == "channel" and status != "administrator":
            raise ApiError.bad_request("need administrator rights in the channel chat")

    def _message(self, chat: SimChat, message_id: int) -> SentMessage | None:
        msg = self._messages[chat.id].get(message_id)
        return None if msg is None or msg.deleted else msg

    # ---- updates

    def _push_update(self, kind: str, payload: dict[str, Any]) -> int | None:
        allowed = self.allowed_updates
        if (kind in _NOT_BY_DEFAULT) if not allowed else (kind not in allowed):
            return None
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append((update_id, kind, payload))
        self._notify_update()
        return update_id

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        if offset < 0:
            keep = list(updates)[offset:]
            updates.clear()
            updates.extend(keep)
            return
        while updates and updates[0][0] < offset:
            updates.popleft()

    def _take_updates(self, limit: int) -> list[dict[str, Any]]:
        return [{"update_id": uid, kind: payload} for uid, kind, payload in itertools.islice(self._updates, limit)]

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot."""
        return len(self._updates)

    @property
    def last_update_id(self) -> int:
        return self._next_update_id - 1

    def update_confirmed(self, update_id: int) -> bool:
        return not self._updates or self._updates[0][0] > update_id

    # ---- records

    def _new_message(self, chat: SimChat, *, from_bot: bool, sender: SimUser | None, **fields: Any) -> SentMessage:
        message_id = self._next_message_id[chat.id]
        self._next_message_id[chat.id] = message_id + 1
        msg = SentMessage(chat, message_id, self._date(), from_bot, sender, **fields)
        self._messages[chat.id][message_id] = msg
        return msg

    def _store_file(
        self,
        data: bytes,
        kind: Literal["photo", "document", "sticker"],
        filename: str | None,
        mime_type: str | None,
    ) -> StoredFile:
        n = next(self._file_numbers)
        prefix = {"photo": "AgAC", "document": "BQAC", "sticker": "CAAC"}[kind]
        ext = ".png" if data[:4] == b"\x89PNG" else ".jpg" if data[:2] == b"\xff\xd8" else ""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename or f"file{ext}")
        path = f"{kind}s/file_{n}_{safe}"
        width, height = _image_size(data) if kind == "photo" else (0, 0)
        stored = StoredFile(
            f"{prefix}{n:06d}SandboxFileId",
            f"AQAD{n:06d}",
            data,
            filename,
            mime_type,
            kind,
            path,
            width,
            height,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        return self._files_by_path.get(path)

    def record(self, rec: RequestRecord) -> None:
        self.request_count += 1
        self.status_counts[rec.status] += 1
        self.requests.append(rec)
        if self.log_limit is not None and len(self.requests) >= 2 * self.log_limit:
            del self.requests[: -self.log_limit]
        if rec.status in (400, 401, 404) and rec.fault is None:
            self.rejected.append(rec)

    # ==============================================================================================
    # Simulation API: what people do

    def add_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "da",
        is_bot: bool = False,
    ) -> SimUser:
        """A new Telegram account, with its (so far silent) private chat with the bot."""
        user = SimUser(next(self._user_ids), first_name, last_name, username, language_code, is_bot)
        self.users[user.id] = user
        chat = SimChat(user.id, "private", user=user)
        self._add_chat(chat)
        return user

    def _add_chat(self, chat: SimChat) -> None:
        self.chats[chat.id] = chat
        self._messages[chat.id] = {}
        self._next_message_id[chat.id] = 1
        if chat.username:
            self._usernames[chat.username.lower()] = chat
        if chat.user is not None and chat.user.username:
            self._usernames[chat.user.username.lower()] = chat

    def add_group(
        self,
        title: str,
        *,
        creator: SimUser,
        kind: Literal["group", "supergroup"] = "group",
        username: str | None = None,
        members: Iterable[SimUser] = (),
    ) -> SimChat:
        """A group (id -<n>) or supergroup (id -100<n>) created by ``creator``; the bot is not in it yet."""
        chat_id = -next(self._group_ids) if kind == "group" else -int(f"100{next(self._channel_ids)}")
        chat = SimChat(chat_id, kind, title=title, username=username, members={creator.id: "creator"})
        for m in members:
            chat.members[m.id] = "member"
        self._add_chat(chat)
        return chat

    def add_channel(self, title: str, *, creator: SimUser, username: str | None = None) -> SimChat:
        """A channel (id -100<n>) created by ``creator``; the bot is not in it yet."""
        chat = SimChat(
            -int(f"100{next(self._channel_ids)}"),
            "channel",
            title=title,
            username=username,
            members={creator.id: "creator"},
        )
        self._add_chat(chat)
        return chat

    def upgrade_to_supergroup(self, chat: SimChat) -> SimChat:
        """A group becomes a supergroup with a new id (as when its admins turn on a supergroup feature).

        Members, the bot included, move with their status; requests naming the old id are answered 400
        with ``migrate_to_chat_id``. (Telegram also posts service messages about the move; they are not
        delivered here, as for a bot that was not polling at the time.)
        """
        if chat.type != "group":
            raise SimulationError("only a basic group can be upgraded to a supergroup")
        new = SimChat(
            -int(f"100{next(self._channel_ids)}"),
            "supergroup",
            title=chat.title,
            username=chat.username,
            members=dict(chat.members),
        )
        self._add_chat(new)
        chat.migrated_to = new.id
        self._notify()
        return new

    def add_member(self, chat: SimChat, user: SimUser, *, status: str = "member") -> None:
        """``user`` joins a group (the bot, if present, sees a ``new_chat_members`` message)."""
        chat.members[user.id] = status
        if chat.type in ("group", "supergroup") and self.bot_status(chat) in _ACTIVE:
            msg = self._new_message(chat, from_bot=False, sender=user, extra={"new_chat_members": [user.to_dict()]})
            self._push_update("message", msg.to_dict(self.bot_user))
        self._notify()

    def _member_dict(self, chat: SimChat, user: SimUser, status: str) -> dict[str, Any]:
        d: dict[str, Any] = {"status": status, "user": user.to_dict()}
        if status == "administrator":
            d.update(_ADMIN_RIGHTS)
            if chat.type == "channel":
                d.update(_CHANNEL_RIGHTS)
        elif status == "creator":
            d["is_anonymous"] = False
        elif status == "kicked":
            d["until_date"] = 0
        return d

    def _my_chat_member(self, chat: SimChat, by: SimUser, old: str, new: str) -> None:
        payload = {
            "chat": chat.to_dict(),
            "from": by.to_dict(),
            "date": self._date(),
            "old_chat_member": self._member_dict(chat, self.bot_user, old),
            "new_chat_member": self._member_dict(chat, self.bot_user, new),
        }
        self._push_update("my_chat_member", payload)

    def add_bot_to_chat(self, chat: SimChat, by: SimUser, *, admin: bool = True) -> None:
        """``by`` adds the bot to a group or channel (or promotes it): a ``my_chat_member`` update and,
        in groups, a message with ``new_chat_members``.  Bots can only join channels as admins."""
        if chat.type == "private":
            raise SimulationError("bots are not added to private chats")
        if chat.members.get(by.id) not in ("creator", "administrator"):
            raise SimulationError(f"{by!r} is not an administrator of {chat!r}")
        if chat.type == "channel" and not admin:
            raise SimulationError("a bot can only be added to a channel as an administrator")
        old = self.bot_status(chat)
        new = "administrator" if admin else "member"
        chat.members[self.bot_user.id] = new
        self._my_chat_member(chat, by, old, new)
        if chat.type != "channel" and old not in _ACTIVE:
            msg = self._new_message(
                chat, from_bot=False, sender=by, extra={"new_chat_members": [self.bot_user.to_dict()]}
            )
            self._push_update("message", msg.to_dict(self.bot_user))
        self._notify()

    def remove_bot_from_chat(self, chat: SimChat, by: SimUser) -> None:
        """``by`` removes the bot: ``my_chat_member`` (-> kicked; -> left in basic groups)."""
        old = self.bot_status(chat)
        if old not in _ACTIVE:
            raise SimulationError(f"the bot is not in {chat!r}")
        new = "left" if chat.type == "group" else "kicked"
        chat.members[self.bot_user.id] = new
        self._my_chat_member(chat, by, old, new)
        if chat.type == "group":  # in the chat's history; the bot, gone, does not see it
            self._new_message(chat, from_bot=False, sender=by, extra={"left_chat_member": self.bot_user.to_dict()})
        self._notify()

    def block_bot(self, user: SimUser) -> None:
        """The user blocks the bot: ``my_chat_member`` member -> kicked; later sends get 403."""
        if user.blocked_bot:
            raise SimulationError(f"{user!r} has already blocked the bot")
        user.blocked_bot = True
        self._my_chat_member(self.chats[user.id], user, "member", "kicked")
        self._notify()

    def unblock_bot(self, user: SimUser) -> None:
        """The user unblocks the bot: ``my_chat_member`` kicked -> member."""
        if not user.blocked_bot:
            raise SimulationError(f"{user!r} has not blocked the bot")
        user.blocked_bot = False
        self._my_chat_member(self.chats[user.id], user, "kicked", "member")
        self._notify()

    def deactivate_user(self, user: SimUser) -> None:
        """The account is deleted: later sends get 403 "user is deactivated"."""
        user.deactivated = True

    def _user_chat(self, user: SimUser, chat: SimChat | None) -> SimChat:
        if user.deactivated:
            raise SimulationError(f"{user!r} is deactivated")
        if chat is None or chat.type == "private":
            if chat is not None and chat.id != user.id:
                raise SimulationError(f"{user!r} cannot write in the private chat {chat!r}")
            if user.blocked_bot:
                raise SimulationError(f"{user!r} has blocked the bot; unblock_bot first")
            user.started = True
            return self.chats[user.id]
        if chat.members.get(user.id) not in _ACTIVE:
            raise SimulationError(f"{user!r} is not a member of {chat!r}")
        if chat.type == "channel":
            raise SimulationError("in a channel, use post_in_channel")
        return chat

    def _deliver(self, msg: SentMessage, kind: str = "message") -> None:
        chat = msg.chat
        if chat.type != "private":
            if self.bot_status(chat) not in _ACTIVE:
                self._notify()
                return
            if chat.type != "channel" and self.bot_privacy and self.bot_status(chat) != "administrator":
                replying_to_bot = msg.reply_to is not None and msg.reply_to.from_bot
                if not (msg.text or "").startswith("/") and not replying_to_bot:
                    self._notify()
                    return
        self._push_update(kind, msg.to_dict(self.bot_user))

    def send_text(
        self, user: SimUser, text: str, *, chat: SimChat | None = None, reply_to: SentMessage | None = None
    ) -> SentMessage:
        """``user`` types ``text`` (in their private chat with the bot, or in ``chat``): a ``message``
        update with the entities Telegram would add (bot commands, URLs, mentions, hashtags)."""
        where = self._user_chat(user, chat)
        msg = self._new_message(
            where, from_bot=False, sender=user, text=text, entities=auto_entities(text), reply_to=reply_to
        )
        self._deliver(msg)
        return msg

    def send_photo(
        self,
        user: SimUser,
        data: bytes = TINY_PNG,
        *,
        caption: str | None = None,
        chat: SimChat | None = None,
    ) -> SentMessage:
        """``user`` sends a photo (a tiny PNG unless ``data`` is given)."""
        where = self._user_chat(user, chat)
        stored = self._store_file(data, "photo", None, "image/png")
        msg = self._new_message(where, from_bot=False, sender=user, photo=stored, caption=caption)
        self._deliver(msg)
        return msg

    def send_document(
        self,
        user: SimUser,
        data: bytes,
        filename: str,
        *,
        mime_type: str | None = None,
        chat: SimChat | None = None,
    ) -> SentMessage:
        """``user`` sends a file."""
        where = self._user_chat(user, chat)
        stored = self._store_file(data, "document", filename, mime_type)
        msg = self._new_message(where, from_bot=False, sender=user, document=stored)
        self._deliver(msg)
        return msg

    def send_sticker(self, user: SimUser, *, emoji: str = "👍", chat: SimChat | None = None) -> SentMessage:
        """``user`` sends a sticker (non-text input)."""
        where = self._user_chat(user, chat)
        stored = self._store_file(TINY_PNG, "sticker", "sticker.webp", "image/webp")
        msg = self._new_message(where, from_bot=False, sender=user, sticker=stored, extra={"emoji": emoji})
        self._deliver(msg)
        return msg

    def send_raw(self, user: SimUser, fields: dict[str, Any], *, chat: SimChat | None = None) -> SentMessage:
        """``user`` sends a message with arbitrary extra Message fields (contact, location, ...)."""
        where = self._user_chat(user, chat)
        msg = self._new_message(where, from_bot=False, sender=user, extra=dict(fields))
        self._deliver(msg)
        return msg

    def edit_text(self, user: SimUser, message: SentMessage, text: str) -> SentMessage:
        """``user`` edits a message of theirs: an ``edited_message`` update."""
        if message.from_bot or message.sender is not user:
            raise SimulationError("people can only edit their own messages")
        message.edits.append(
            MessageVersion(message.text, message.caption, tuple(message.entities), message.reply_markup, message.date)
        )
        message.text, message.entities, message.edit_date = text, auto_entities(text), self._date()
        self._deliver(message, "edited_message")
        return message

    def post_in_channel(self, user: SimUser, chat: SimChat, text: str) -> SentMessage:
        """An admin of a channel posts ``text``: a ``channel_post`` update if the bot is in it."""
        if chat.type != "channel":
            raise SimulationError(f"{chat!r} is not a channel")
        if chat.members.get(user.id) not in ("creator", "administrator"):
            raise SimulationError(f"{user!r} cannot post in {chat!r}")
        msg = self._new_message(chat, from_bot=False, sender=None, text=text, entities=auto_entities(text))
        self._deliver(msg, "channel_post")
        return msg

    def press(self, user: SimUser, message: SentMessage, button: int | str) -> str:
        """``user`` presses an inline button of a bot message: by index (0-based, row by row), or by
        ``callback_data``, or by its text.  Returns the callback query id.  Raises
        :class:`SimulationError` for a button the person cannot see or press."""
        chat = message.chat
        if message.deleted:
            raise SimulationError(f"{message!r} was deleted")
        if not message.from_bot:
            raise SimulationError("only the bot's messages have inline buttons")
        if chat.type != "channel" and chat.id != user.id and chat.members.get(user.id) not in _ACTIVE:
            raise SimulationError(f"{user!r} cannot see {message!r}")
        buttons = message.buttons
        if not buttons:
            raise SimulationError(f"{message!r} has no inline buttons")
        if isinstance(button, int):
            if not 0 <= button < len(buttons):
                raise SimulationError(f"{message!r} has {len(buttons)} buttons, not a button {button}")
            chosen = buttons[button]
        else:
            matches = [b for b in buttons if b.get("callback_data") == button] or [
                b for b in buttons if b.get("text") == button
            ]
            if len(matches) != 1:
                raise SimulationError(
                    f"{message!r} has {len(matches)} buttons with data or text {button!r}: {message.button_texts}"
                )
            chosen = matches[0]
        if "callback_data" not in chosen:
            raise SimulationError(f"button {chosen!r} is not a callback button")
        return self._callback(user, message, chosen["callback_data"])

    def press_raw(self, user: SimUser, message_id: int, data: str, *, chat: SimChat | None = None) -> str:
        """A forged callback query with arbitrary ``data`` on message ``message_id`` (a malicious client)."""
        where = chat or self.chats[user.id]
        msg = self._messages.get(where.id, {}).get(message_id)
        return self._callback(user, msg, data, chat=where, message_id=message_id)

    def _callback(
        self,
        user: SimUser,
        msg: SentMessage | None,
        data: str,
        *,
        chat: SimChat | None = None,
        message_id: int | None = None,
    ) -> str:
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _CallbackQuery(query_id, user, msg, self.clock())
        where = msg.chat if msg is not None else chat
        assert where is not None
        payload: dict[str, Any] = {
            "id": query_id,
            "from": user.to_dict(),
            "chat_instance": str(abs(where.id) * 7 + 1_000_003),
            "data": data,
        }
        if msg is not None:
            payload["message"] = msg.to_dict(self.bot_user)
        else:
            payload["message"] = {"chat": where.to_dict(), "message_id": message_id, "date": 0}
        self._push_update("callback_query", payload)
        return query_id

    # ==============================================================================================
    # Observation API: what the bot did

    def messages(self, chat: ChatRef, *, include_user: bool = False) -> list[SentMessage]:
        """The bot's messages in a chat, oldest first (deleted ones included, flagged); with
        ``include_user`` the people's messages too."""
        msgs = self._messages[self.chat_of(chat).id].values()
        return [m for m in msgs if include_user or m.from_bot]

    def last_message(self, chat: ChatRef) -> SentMessage | None:
        """The bot's newest message in the chat that is not deleted."""
        for m in reversed(self._messages[self.chat_of(chat).id].values()):
            if m.from_bot and not m.deleted:
                return m
        return None

    def reply_keyboard(self, chat: ChatRef) -> list[list[str]] | None:
        """The custom reply keyboard a person in the chat sees now (the newest one the bot sent and did
        not remove with ReplyKeyboardRemove), or None."""
        for m in reversed(self.messages(chat)):
            markup = m.reply_markup or {}
            if "keyboard" in markup:
                return m.reply_keyboard
            if markup.get("remove_keyboard"):
                return None
        return None

    def mark_read(self, chat: ChatRef) -> None:
        """Treat every message in the chat so far as seen by :meth:`wait_for_message`."""
        c = self.chat_of(chat)
        self._read_upto[c.id] = self._next_message_id[c.id] - 1

    async def wait_until(self, predicate: Callable[[], T], *, timeout: float = 5.0) -> T:  # noqa: ASYNC109 - a failure guard, documented as such
        """Wait until ``predicate()`` is truthy, re-checking it whenever the bot makes a request or the
        world changes; return its value.  ``timeout`` only guards against a test hanging."""
        result = predicate()
        if result:
            return result
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if self.closed:
                        raise SimulationError("the emulator stopped while waiting")
                    await self._changed_event().wait()
                    result = predicate()
                    if result:
                        return result
        except TimeoutError:
            recent = ", ".join(f"{r.method}->{r.status}" for r in self.requests[-8:])
            raise TimeoutError(f"condition not met within {timeout}s; last requests: {recent}") from None

    async def wait_for_message(
        self,
        chat: ChatRef,
        predicate: Callable[[SentMessage], bool] | str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a failure guard, documented as such
    ) -> SentMessage:
        """The next bot message in the chat not yet returned by this method, that matches ``predicate``
        (a function, or a substring of the text/caption).  Messages skipped over count as seen."""
        c = self.chat_of(chat)
        check = _message_check(predicate)
        msgs = self._messages[c.id]

        def find() -> SentMessage | None:
            start = self._read_upto.get(c.id, 0) + 1
            for mid in range(start, self._next_message_id[c.id]):
                m = msgs.get(mid)
                if m is not None and m.from_bot and check(m):
                    self._read_upto[c.id] = mid
                    return m
            return None

        try:
            return await self.wait_until(find, timeout=timeout)
        except TimeoutError as exc:
            seen = [m for m in msgs.values() if m.from_bot][-5:]
            raise TimeoutError(f"no matching bot message in {c!r} within {timeout}s; last: {seen}") from exc

    async def wait_for_edit(
        self,
        message: SentMessage,
        predicate: Callable[[SentMessage], bool] | str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a failure guard, documented as such
    ) -> SentMessage:
        """Wait for an edit of ``message`` not yet returned by this method, after which ``predicate``
        holds.  Returns the (edited, live) message."""
        check = _message_check(predicate)

        def edited() -> SentMessage | None:
            if len(message.edits) > message._edits_seen and check(message):
                message._edits_seen = len(message.edits)
                return message
            return None

        return await self.wait_until(edited, timeout=timeout)

    async def wait_for_answer(self, query_id: str, *, timeout: float = 5.0) -> CallbackAnswer:  # noqa: ASYNC109 - a failure guard, documented as such
        """Wait until the bot answers callback query ``query_id``."""
        return await self.wait_until(lambda: self.callback_answer(query_id), timeout=timeout)

    async def wait_for_request(
        self,
        method: str,
        predicate: Callable[[RequestRecord], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a failure guard, documented as such
    ) -> RequestRecord:
        """Wait until the bot has made a request to ``method`` (matching ``predicate``), counting from
        the start of the log."""

        def find() -> RequestRecord | None:
            return next(
                (r for r in reversed(self.requests) if r.method == method and (predicate is None or predicate(r))),
                None,
            )

        return await self.wait_until(find, timeout=timeout)

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return next((a for a in self.answered_callbacks if a.query_id == query_id), None)

    def commands(
        self, chat: ChatRef | None = None, lang: str | None = None, *, user: SimUser | None = None
    ) -> list[dict[str, Any]]:
        """The command menu a person sees, by Telegram's rules: the first list set among (chat member,
        chat admins, chat, all chat admins, all group chats | chat, all private chats), then default;
        in each scope the ``lang`` list before the language-less one."""
        scopes: list[tuple[str, int | None, int | None]] = []
        if chat is not None:
            c = self.chat_of(chat)
            if c.type == "private":
                scopes += [("chat", c.id, None), ("all_private_chats", None, None)]
            else:
                is_admin = user is not None and c.members.get(user.id) in ("creator", "administrator")
                if user is not None:
                    scopes.append(("chat_member", c.id, user.id))
                if is_admin:
                    scopes.append(("chat_administrators", c.id, None))
                scopes.append(("chat", c.id, None))
                if is_admin:
                    scopes.append(("all_chat_administrators", None, None))
                scopes.append(("all_group_chats", None, None))
        scopes.append(("default", None, None))
        for scope in scopes:
            for language in (lang, "") if lang else ("",):
                found = self._commands.get((scope, language))
                if found:
                    return found
        return []

    def menu_button(self, chat: ChatRef | None = None) -> dict[str, Any]:
        if chat is not None:
            found = self._menu_buttons.get(self.chat_of(chat).id)
            if found is not None:
                return found
        return self._menu_buttons.get(None, {"type": "commands"})

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.request_count,
            "rejected": len(self.rejected),
            "sent_messages": sum(self.sent_per_chat.values()),
            "sent_per_chat": dict(self.sent_per_chat),
            "served_429": self.status_counts[429],
            "pending_updates": self.pending_updates,
            "last_update_id": self.last_update_id,
        }

    # ==============================================================================================
    # Bot API methods (validated parameters in, the ``result`` out; ApiError for an error answer)

    def api_getMe(self, p: dict[str, Any]) -> Any:
        d = self.bot_user.to_dict()
        d.update(
            can_join_groups=True,
            can_read_all_group_messages=not self.bot_privacy,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
        return d

    def api_logOut(self, p: dict[str, Any]) -> Any:
        return True

    api_close = api_logOut

    def api_deleteWebhook(self, p: dict[str, Any]) -> Any:
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def api_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    def get_updates(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        """The non-waiting part of getUpdates: confirm, apply allowed_updates, take."""
        if "offset" in p:
            self._confirm(p["offset"])
        if "allowed_updates" in p:
            self.allowed_updates = frozenset(p["allowed_updates"]) or None
        limit = p.get("limit", 100)
        if not 1 <= limit <= 100:
            limit = 100
        return self._take_updates(limit)

    # -- sending

    def _reply_target(self, chat: SimChat, p: dict[str, Any]) -> SentMessage | None:
        rp = p.get("reply_parameters")
        if rp is None:
            return None
        target_chat = self._resolve_chat(rp["chat_id"]) if "chat_id" in rp else chat
        target = self._message(target_chat, rp["message_id"])
        if target is None and not rp.get("allow_sending_without_reply"):
            raise ApiError.bad_request("message to be replied not found")
        return target

    def _send(self, p: dict[str, Any], content: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Send a message; ``content`` makes its fields once the chat is known to accept it (so a file is
        only stored for a message that is sent)."""
        chat = self._resolve_chat(p["chat_id"])
        self._check_can_send(chat)
        reply_to = self._reply_target(chat, p)
        markup = p.get("reply_markup")
        fields = content()
        msg = self._new_message(
            chat,
            from_bot=True,
            sender=None if chat.type == "channel" else self.bot_user,  # channel posts have no "from"
            reply_to=reply_to,
            reply_markup=markup,
            parse_mode=p.get("parse_mode"),
            disable_notification=bool(p.get("disable_notification")),
            protect_content=bool(p.get("protect_content")),
            **fields,
        )
        self.sent_per_chat[chat.id] += 1
        self._emit(WorldEvent("sent", msg))
        return msg.to_dict(self.bot_user)

    def api_sendMessage(self, p: dict[str, Any]) -> Any:
        parsed: ParsedText = p["_text_parsed"]
        return self._send(
            p,
            lambda: {
                "text": parsed.text,
                "entities": parsed.entities,
                "source_text": p["text"],
                "link_preview_options": p.get("link_preview_options"),
            },
        )

    def _media(self, p: dict[str, Any], key: str, kind: Literal["photo", "document"]) -> StoredFile:
        value = p[key]
        if isinstance(value, UploadedFile):
            return self._store_file(value.data, kind, value.filename, value.content_type)
        stored = self.files.get(value)
        if stored is None:
            if value.startswith(("http://", "https://")):
                raise ApiError.bad_request("failed to get HTTP URL content")
            raise ApiError.bad_request("wrong file identifier/HTTP URL specified")
        if kind == "photo" and stored.kind != "photo":
            raise ApiError.bad_request(f"can't use file of type {stored.kind.capitalize()} as Photo")
        return stored

    def _caption_fields(self, p: dict[str, Any]) -> dict[str, Any]:
        parsed: ParsedText | None = p.get("_caption_parsed")
        if parsed is None or not parsed.text:
            return {}
        return {"caption": parsed.text, "caption_entities": parsed.entities, "source_text": p["caption"]}

    def api_sendPhoto(self, p: dict[str, Any]) -> Any:
        return self._send(p, lambda: {"photo": self._media(p, "photo", "photo"), **self._caption_fields(p)})

    def api_sendDocument(self, p: dict[str, Any]) -> Any:
        return self._send(p, lambda: {"document": self._media(p, "document", "document"), **self._caption_fields(p)})

    def api_getFile(self, p: dict[str, Any]) -> Any:
        stored = self.files.get(p["file_id"])
        if stored is None:
            raise ApiError.bad_request("invalid file_id")
        return stored.file_dict()

    def api_sendChatAction(self, p: dict[str, Any]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        self._check_can_send(chat)
        if p["action"] not in _CHAT_ACTIONS:
            raise ApiError.bad_request("wrong type of action")
        self.chat_actions.append((chat.id, p["action"]))
        return True

    # -- editing and deleting

    def _editable(self, p: dict[str, Any]) -> SentMessage:
        if "inline_message_id" in p:
            raise ApiError.bad_request("MESSAGE_ID_INVALID")
        if "chat_id" not in p:
            raise ApiError.bad_request("chat_id is empty")
        if "message_id" not in p:
            raise ApiError.bad_request("message identifier is not specified")
        chat = self._resolve_chat(p["chat_id"])
        self._check_can_send(chat)
        msg = self._message(chat, p["message_id"])
        if msg is None:
            raise ApiError.bad_request("message to edit not found")
        if not msg.from_bot:
            raise ApiError.bad_request("message can't be edited")
        return msg

    def _apply_edit(self, msg: SentMessage, **changes: Any) -> dict[str, Any]:
        if all(getattr(msg, k) == v for k, v in changes.items() if k != "source_text"):
            raise ApiError.bad_request(NOT_MODIFIED)
        msg.edits.append(
            MessageVersion(msg.text, msg.caption, tuple(msg.entities), msg.reply_markup, msg.edit_date or msg.date)
        )
        for k, v in changes.items():
            setattr(msg, k, v)
        msg.edit_date = self._date()
        self._emit(WorldEvent("edited", msg))
        return msg.to_dict(self.bot_user)

    def api_editMessageText(self, p: dict[str, Any]) -> Any:
        msg = self._editable(p)
        if msg.text is None:
            raise ApiError.bad_request("there is no text in the message to edit")
        if "text" not in p:
            raise ApiError.bad_request("message text is empty")
        parsed: ParsedText = p["_text_parsed"]
        return self._apply_edit(
            msg,
            text=parsed.text,
            entities=parsed.entities,
            reply_markup=p.get("reply_markup"),
            source_text=p["text"],
        )

    def api_editMessageCaption(self, p: dict[str, Any]) -> Any:
        msg = self._editable(p)
        if msg.photo is None and msg.document is None:
            raise ApiError.bad_request("there is no caption in the message to edit")
        parsed: ParsedText | None = p.get("_caption_parsed")
        caption = parsed.text if parsed is not None and parsed.text else None
        entities = parsed.entities if parsed is not None and caption else []
        return self._apply_edit(msg, caption=caption, caption_entities=entities, reply_markup=p.get("reply_markup"))

    def api_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        msg = self._editable(p)
        return self._apply_edit(msg, reply_markup=p.get("reply_markup"))

    def _delete(self, chat: SimChat, message_id: int) -> bool:
        msg = self._message(chat, message_id)
        if msg is None:
            return False
        if not msg.from_bot and chat.type != "private" and self.bot_status(chat) != "administrator":
            raise ApiError.bad_request("message can't be deleted")
        msg.deleted = True
        self._emit(WorldEvent("deleted", msg))
        return True

    def api_deleteMessage(self, p: dict[str, Any]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        if not self._delete(chat, p["message_id"]):
            raise ApiError.bad_request("message to delete not found")
        return True

    def api_deleteMessages(self, p: dict[str, Any]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        ids = p["message_ids"]
        if not 1 <= len(ids) <= 100:
            raise ApiError.bad_request("message_ids must contain 1-100 identifiers")
        for mid in ids:
            self._delete(chat, mid)
        return True

    def api_pinChatMessage(self, p: dict[str, Any]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        self._check_can_send(chat)
        if self._message(chat, p["message_id"]) is None:
            raise ApiError.bad_request("message to pin not found")
        chat.pinned.append(p["message_id"])
        return True

    def api_unpinChatMessage(self, p: dict[str, Any]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        self._check_can_send(chat)
        mid = p.get("message_id", chat.pinned[-1] if chat.pinned else None)
        if mid in chat.pinned:
            chat.pinned.remove(mid)
        return True

    def api_unpinAllChatMessages(self, p: dict[str, Any]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        self._check_can_send(chat)
        chat.pinned.clear()
        return True

    # -- callback queries

    def api_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        query = self._queries.get(p["callback_query_id"])
        if query is None or query.answered or self.clock() - query.created > self.callback_query_ttl:
            raise ApiError.bad_request(QUERY_TOO_OLD)
        query.answered = True
        answer = CallbackAnswer(query.id, p.get("text"), bool(p.get("show_alert")), p.get("url"), p.get("cache_time"))
        self.answered_callbacks.append(answer)
        self._emit(WorldEvent("answered", answer=answer, user=query.user))
        return True

    # -- commands, menu, descriptions

    def _scope(self, p: dict[str, Any]) -> tuple[str, int | None, int | None]:
        key = _scope_key(p.get("scope"))
        if key[1] is not None:
            chat = self._resolve_chat(key[1])
            if chat.type == "channel":
                raise ApiError.bad_request("can't change commands in channel chats")
            if key[0] != "chat" and chat.type == "private":
                raise ApiError.bad_request("can't use this scope in private chats")
            key = (key[0], chat.id, key[2])
        return key

    def api_setMyCommands(self, p: dict[str, Any]) -> Any:
        commands = p["commands"]
        if len(commands) > 100:
            raise ApiError.bad_request("too many commands")
        key = (self._scope(p), p.get("language_code", ""))
        if commands:
            self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self._commands.pop(key, None)
        return True

    def api_getMyCommands(self, p: dict[str, Any]) -> Any:
        return self._commands.get((self._scope(p), p.get("language_code", "")), [])

    def api_deleteMyCommands(self, p: dict[str, Any]) -> Any:
        self._commands.pop((self._scope(p), p.get("language_code", "")), None)
        return True

    def api_setChatMenuButton(self, p: dict[str, Any]) -> Any:
        chat_id = p.get("chat_id")
        if chat_id is not None:
            chat_id = self._resolve_chat(chat_id).id
        self._menu_buttons[chat_id] = p.get("menu_button") or {"type": "default"}
        return True

    def api_getChatMenuButton(self, p: dict[str, Any]) -> Any:
        chat_id = p.get("chat_id")
        if chat_id is not None:
            return self._menu_buttons.get(self._resolve_chat(chat_id).id, self.menu_button())
        return self.menu_button()

    def _set_text(self, kind: str, p: dict[str, Any]) -> Any:
        self._bot_texts[(kind, p.get("language_code", ""))] = p.get(kind, "")
        return True

    def _get_text(self, kind: str, p: dict[str, Any]) -> Any:
        lang = p.get("language_code", "")
        default = self.bot_user.first_name if kind == "name" else ""
        return {kind: self._bot_texts.get((kind, lang), self._bot_texts.get((kind, ""), default))}

    def api_setMyDescription(self, p: dict[str, Any]) -> Any:
        return self._set_text("description", p)

    def api_getMyDescription(self, p: dict[str, Any]) -> Any:
        return self._get_text("description", p)

    def api_setMyShortDescription(self, p: dict[str, Any]) -> Any:
        return self._set_text("short_description", p)

    def api_getMyShortDescription(self, p: dict[str, Any]) -> Any:
        return self._get_text("short_description", p)

    def api_setMyName(self, p: dict[str, Any]) -> Any:
        return self._set_text("name", p)

    def api_getMyName(self, p: dict[str, Any]) -> Any:
        return self._get_text("name", p)

    # -- chats and members

    def _visible_chat(self, p: dict[str, Any]) -> SimChat:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type != "private" and self.bot_user.id not in chat.members:
            raise ApiError.bad_request("chat not found")
        return chat

    def api_getChat(self, p: dict[str, Any]) -> Any:
        chat = self._visible_chat(p)
        d = chat.to_dict()
        d.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if chat.pinned:
            pinned = self._message(chat, chat.pinned[-1])
            if pinned is not None:
                d["pinned_message"] = pinned.to_dict(self.bot_user)
        return d

    def _member(self, chat: SimChat, user_id: int) -> dict[str, Any]:
        if user_id == self.bot_user.id:
            return self._member_dict(chat, self.bot_user, self.bot_status(chat))
        user = self.users.get(user_id)
        if user is None:
            raise ApiError.bad_request("user not found")
        if chat.type == "private":
            status = "member" if user_id == chat.id else "left"
        else:
            status = chat.members.get(user_id, "left")
        return self._member_dict(chat, user, status)

    def api_getChatMember(self, p: dict[str, Any]) -> Any:
        return self._member(self._visible_chat(p), p["user_id"])

    def api_getChatAdministrators(self, p: dict[str, Any]) -> Any:
        chat = self._visible_chat(p)
        if chat.type == "private":
            raise ApiError.bad_request("there are no administrators in the private chat")
        return [
            self._member(chat, uid) for uid, status in chat.members.items() if status in ("creator", "administrator")
        ]

    def api_getChatMemberCount(self, p: dict[str, Any]) -> Any:
        chat = self._visible_chat(p)
        if chat.type == "private":
            return 2
        return sum(1 for status in chat.members.values() if status in _ACTIVE)

    def api_leaveChat(self, p: dict[str, Any]) -> Any:
        chat = self._resolve_chat(p["chat_id"])
        if chat.type == "private":
            raise ApiError.bad_request("chat member status can't be changed in private chats")
        old = self.bot_status(chat)
        if old not in _ACTIVE:
            raise ApiError.forbidden(f"bot is not a member of the {chat.kind_name}")
        chat.members[self.bot_user.id] = "left"
        self._my_chat_member(chat, self.bot_user, old, "left")
        return True


def _message_check(predicate: Callable[[SentMessage], bool] | str | None) -> Callable[[SentMessage], bool]:
    if predicate is None:
        return lambda m: True
    if isinstance(predicate, str):
        needle = predicate
        return lambda m: needle in m.content
    return predicate
