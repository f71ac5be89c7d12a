"""Caseworkers and leaders: enrolment links, listing, disabling, and the chats they receive things in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from bot.services.context import Services
from bot.services.tokens import new_token, token_hash
from bot.storage.models import Caseworker, Channel
from bot.storage.repository import Repository


@dataclass(frozen=True)
class Enrolment:
    caseworker_id: int
    token: str  # shown once in the enrolment link, never stored
    expires_at: datetime


async def add_caseworker(svc: Services, name: str, team: str = "", role: str = "caseworker") -> Enrolment:
    if role not in ("caseworker", "leader"):
        raise ValueError(f"role must be caseworker or leader, not {role!r}")
    if not name.strip():
        raise ValueError("a caseworker needs a name")
    now = svc.now()
    async with svc.storage.transaction() as repo:
        caseworker_id = await repo.insert_caseworker(name.strip(), team.strip(), role, now)
        enrolment = await _issue_link(svc, repo, caseworker_id, now)
        await repo.audit("operator", f"caseworker_added:{role}", now)
    return enrolment


async def new_enrolment_link(svc: Services, caseworker_id: int) -> Enrolment | None:
    """A fresh link for someone whose link expired or who changed phone."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        caseworker = await repo.caseworker(caseworker_id)
        if caseworker is None or not caseworker.active:
            return None
        await repo.revoke_invitations_of_caseworker(caseworker_id, now)  # an older link may be on the lost phone
        enrolment = await _issue_link(svc, repo, caseworker_id, now)
        await repo.audit("operator", "caseworker_link_renewed", now)
    return enrolment


async def _issue_link(svc: Services, repo: Repository, caseworker_id: int, now: datetime) -> Enrolment:
    """A single-use enrolment token, stored only as its hash."""
    token = new_token(svc.random_bytes)
    expires_at = now + svc.policy.caseworker_invite_ttl
    await repo.insert_invitation(
        token_hash(token),
        "caseworker",
        respondent_id=None,
        caseworker_id=caseworker_id,
        created_by=None,
        now=now,
        expires_at=expires_at,
    )
    return Enrolment(caseworker_id, token, expires_at)


async def list_caseworkers(svc: Services) -> list[Caseworker]:
    async with svc.storage.transaction() as repo:
        return await repo.caseworkers()


async def disable_caseworker(svc: Services, caseworker_id: int) -> bool:
    """Refuse their commands from now on; their channel gets nothing more, pending posts are cancelled,
    and an enrolment link they have not used yet stops working."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        changed = await repo.disable_caseworker(caseworker_id, now)
        if changed:
            await repo.cancel_outbox(f"cw:{caseworker_id}:", now)
            await repo.unlink_channels_of(caseworker_id, now)
            await repo.revoke_invitations_of_caseworker(caseworker_id, now)
            await repo.audit("operator", "caseworker_disabled", now, detail=str(caseworker_id))
    return changed


async def enable_caseworker(svc: Services, caseworker_id: int) -> Caseworker | None:
    """Give a disabled caseworker access again (their cases, if not handed over, are theirs again).

    None when there is no such disabled caseworker. Their old channel stays unlinked (they add the bot
    to a channel again); without a Telegram account (it moved to another row) they need
    `fitbot caseworker link ID`. Digests are planned again by the hourly planning.
    """
    now = svc.now()
    async with svc.storage.transaction() as repo:
        if not await repo.enable_caseworker(caseworker_id):
            return None
        await repo.audit("operator", "caseworker_enabled", now, detail=str(caseworker_id))
        return await repo.caseworker(caseworker_id)


class LinkOutcome(Enum):
    LINKED = "linked"
    NOT_ALLOWED = "not_allowed"  # added by someone who is not an active caseworker: leave the chat


@dataclass(frozen=True)
class ChannelLink:
    outcome: LinkOutcome
    caseworker: Caseworker | None = None
    previous_chat_id: int | None = None
    previous: Channel | None = None  # the channel this one replaced (still linked until now)


async def link_channel(svc: Services, added_by_user_id: int, chat_id: int, chat_type: str, title: str) -> ChannelLink:
    now = svc.now()
    async with svc.storage.transaction() as repo:
        caseworker = await repo.caseworker_by_user(added_by_user_id)
        if caseworker is None or not caseworker.active:
            await repo.audit(f"user:{added_by_user_id}", f"bot_added_by_stranger:{chat_type}", now)
            return ChannelLink(LinkOutcome.NOT_ALLOWED)
        previous = await repo.active_channel(caseworker.id)
        await repo.link_channel(caseworker.id, chat_id, chat_type, title, now)
        await repo.audit(f"caseworker:{caseworker.id}", f"channel_linked:{chat_type}", now)
    return ChannelLink(LinkOutcome.LINKED, caseworker, previous.chat_id if previous else None, previous)


async def channel_refused(svc: Services, chat_id: int, previous: Channel | None) -> Channel | None:
    """The newly linked chat refused the bot's first post (e.g. a channel where the bot is no admin):
    unlink it, and put back the channel it replaced, if any. Returns the channel now in use."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        channel = await repo.unlink_chat(chat_id, now)
        if channel is None:
            return None
        await repo.audit(f"caseworker:{channel.caseworker_id}", "channel_refused_post", now)
        if previous is None or previous.chat_id == chat_id or await repo.channel_by_chat(previous.chat_id):
            return None
        await repo.link_channel(channel.caseworker_id, previous.chat_id, previous.chat_type, previous.title, now)
        await repo.audit(f"caseworker:{channel.caseworker_id}", f"channel_restored:{previous.chat_type}", now)
        return await repo.active_channel(channel.caseworker_id)


async def unlink_chat(svc: Services, chat_id: int) -> Channel | None:
    """The bot was removed: alerts go to the caseworker's private chat until a new channel is linked."""
    now = svc.now()
    async with svc.storage.transaction() as repo:
        channel = await repo.unlink_chat(chat_id, now)
        if channel:
            await repo.audit(f"caseworker:{channel.caseworker_id}", "channel_unlinked", now)
    return channel


async def channel_of(svc: Services, caseworker: Caseworker) -> Channel | None:
    async with svc.storage.transaction() as repo:
        return await repo.active_channel(caseworker.id)
