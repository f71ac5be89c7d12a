"""What each kind of outbox row does when it falls due: decide with a service, render, send, record.

Rows carry ids only; everything is read fresh when the row runs, so a prompt for a closed case or a
withdrawn person is simply not sent, and a digest shows the state at the time it goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

from telegram import Bot
from telegram.error import RetryAfter

from bot.delivery import sender
from bot.delivery.dispatcher import Done, Job, Later, Undeliverable
from bot.delivery.limits import FloodLimiter
from bot.i18n import use_language
from bot.services import questionnaire, reports
from bot.services.context import Services
from bot.services.reports import RespondentTrend
from bot.storage.models import Alert, Case, Caseworker, OutboxRow
from bot.views import caseworker as cw_views
from bot.views import family as family_views
from bot.views.common import Out

log = logging.getLogger(__name__)
T = TypeVar("T")

# Charts take ~0.1 s of CPU: draw them off the event loop so taps are answered meanwhile, one at a time.
_charts = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fitbot-charts")


async def off_loop(fn: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(_charts, fn)


# A channel that got this many posts in the last minute gets its summaries gathered, every half minute,
# into combined posts (Telegram allows 20 posts a minute in a group or channel; alerts are never gathered).
COALESCE_WHEN_RECENT = 5
COALESCE_SECONDS = 30


class Coalesce(RetryAfter):
    """Our own flood control: try this row again after `retry_after` seconds (the dispatcher reschedules)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(timedelta(seconds=seconds))


class Jobs:
    def __init__(self, bot: Bot, svc: Services, limiter: FloodLimiter) -> None:
        self.bot = bot
        self.svc = svc
        self.limiter = limiter

    def registry(self) -> dict[str, Job]:
        return {
            "prompt": self.prompt,
            "reminder": self.reminder,
            "expire": self.expire,
            "summary": self.summary,
            "alert": self.alert,
            "digest": self.digest,
            "team_report": self.team_report,
        }

    # --- family -----------------------------------------------------------------------------------

    def _not_in_quiet_hours(self) -> None:
        """A family is never written to in quiet hours, however late a row runs (a catch-up after
        downtime, a 429's wait, a backoff): the row waits for the next allowed time instead."""
        now = self.svc.now()
        allowed = self.svc.policy.family_time(now)
        if allowed > now:
            raise Later(allowed, "quiet hours")

    async def prompt(self, row: OutboxRow) -> Done:
        qid = int(row.payload["questionnaire_id"])
        prompt = await questionnaire.prepare_prompt(self.svc, qid)
        if prompt is None:
            return Done("not needed")
        self._not_in_quiet_hours()
        with use_language(prompt.language):
            message = await sender.send(self.bot, prompt.chat_id, family_views.prompt(qid), bulk=True)
        await questionnaire.prompt_sent(self.svc, qid, prompt.chat_id, message.message_id)
        self.svc.wake()
        return Done()

    async def reminder(self, row: OutboxRow) -> Done:
        qid = int(row.payload["questionnaire_id"])
        prompt = await questionnaire.prepare_reminder(self.svc, qid)
        if prompt is None:
            return Done("not needed")
        self._not_in_quiet_hours()
        with use_language(prompt.language):
            message = await sender.send(self.bot, prompt.chat_id, family_views.reminder(qid), bulk=True)
        await questionnaire.reminder_sent(self.svc, qid, prompt.chat_id, message.message_id)
        return Done()

    async def expire(self, row: OutboxRow) -> Done:
        expired = await questionnaire.expire(self.svc, int(row.payload["questionnaire_id"]))
        if expired is None:
            return Done("not needed")
        if expired.chat_id is not None and expired.message_id is not None:
            with use_language(expired.language):
                await sender.edit(
                    self.bot, expired.chat_id, expired.message_id, family_views.expired_notice(), bulk=True
                )
        return Done("expired")

    # --- caseworkers ------------------------------------------------------------------------------

    async def _destination(self, caseworker_id: int) -> tuple[Caseworker, int] | None:
        """The caseworker's channel, else their private chat; None when disabled or never linked."""
        async with self.svc.storage.transaction() as repo:
            caseworker = await repo.caseworker(caseworker_id)
            if caseworker is None or not caseworker.active:
                return None
            channel = await repo.active_channel(caseworker.id)
        if channel is not None:
            return caseworker, channel.chat_id
        if caseworker.telegram_user_id is not None:
            return caseworker, caseworker.telegram_user_id
        return None

    async def _no_destination(self, caseworker_id: int) -> Undeliverable:
        """Why a post that must reach its caseworker cannot go: a failure `fitbot status` counts
        (outcome 'no destination: ...'), not something done."""
        async with self.svc.storage.transaction() as repo:
            caseworker = await repo.caseworker(caseworker_id)
        if caseworker is None:
            return Undeliverable("no destination: caseworker unknown")
        if not caseworker.active:
            return Undeliverable("no destination: caseworker disabled")
        return Undeliverable("no destination: caseworker has no chat")

    async def _summary_parts(self, qid: int) -> tuple[Case, RespondentTrend, list[Alert]] | None:
        async with self.svc.storage.transaction() as repo:
            q = await repo.questionnaire(qid)
            respondent = await repo.respondent(q.respondent_id) if q else None
            case = await repo.case(respondent.case_id) if respondent else None
            if q is None or respondent is None or case is None:
                return None
            history = [h for h in await repo.history_of_respondents([respondent.id]) if h.status == "completed"]
            findings = [a for a in await repo.alerts_of_case(case.id) if a.questionnaire_id == qid]
        # The course up to and including this questionnaire (a later one may already be answered).
        ids = [h.questionnaire_id for h in history]
        upto = history[: ids.index(qid) + 1] if qid in ids else history
        ms = [questionnaire.measurement(h) for h in upto]
        trend = RespondentTrend(
            respondent,
            tuple(m.ors_total for m in ms),
            tuple(m.srs_total for m in ms),
            tuple(m.meeting_at for m in ms),
            "completed",
        )
        return case, trend, findings

    async def summary(self, row: OutboxRow) -> Done:
        """One answered questionnaire; or, when several are due for one chat (row.siblings), all of
        them combined into as few posts as fit. Each goes to the case's caseworker as it is *now*: a
        case handed over since the answer goes to its new caseworker, never to the old one."""
        rows = [row, *row.siblings]
        queued_for = int(row.payload["caseworker_id"])
        destination = await self._destination(queued_for)
        # Fresh rows (due when they were made) may be held back once; rows already held back go now.
        fresh = all(r.created_at is None or r.due_at - r.created_at < timedelta(seconds=1) for r in rows)
        if destination is not None:
            chat_id = destination[1]
            if chat_id < 0 and fresh and self.limiter.recent_posts(chat_id) >= COALESCE_WHEN_RECENT:
                # A busy channel: gather the summaries of the next half minute into one post.
                raise Coalesce(COALESCE_SECONDS - self.svc.now().timestamp() % COALESCE_SECONDS)
        by_owner: dict[int, list[tuple[Case, RespondentTrend, list[Alert]]]] = {}
        for r in rows:
            if (p := await self._summary_parts(int(r.payload["questionnaire_id"]))) is not None:
                by_owner.setdefault(p[0].caseworker_id, []).append(p)
        if not by_owner:
            return Done("nothing to summarise")
        sent = 0
        for owner, parts in by_owner.items():
            to = destination if owner == queued_for else await self._destination(owner)
            if to is None:
                continue
            for post in await self._summary_posts(to[0], parts):
                await sender.send(self.bot, to[1], post, bulk=True)
            await self._audit_posted(to[0], "summary_posted", [case for case, _t, _f in parts])
            sent += len(parts)
        if not sent:
            raise await self._no_destination(next(iter(by_owner)))
        moved = sum(len(parts) for owner, parts in by_owner.items() if owner != queued_for)
        outcome = "sent" if len(rows) == 1 else f"combined {len(rows)}"
        return Done(outcome + (f", {moved} to the new caseworker" if moved else ""))

    async def _summary_posts(
        self, caseworker: Caseworker, parts: list[tuple[Case, RespondentTrend, list[Alert]]]
    ) -> list[Out]:
        policy = self.svc.policy
        if len(parts) == 1:
            case, trend, findings = parts[0]
            return await off_loop(
                lambda: _in_language(
                    caseworker.language,
                    lambda: cw_views.summary(case, trend, findings, policy.thresholds, policy.timezone),
                )
            )
        with use_language(caseworker.language):
            return cw_views.combined_summaries(parts, policy.thresholds)

    async def _audit_posted(self, caseworker: Caseworker, action: str, shown: list[Case]) -> None:
        """Case data posted to a caseworker is a read of it too: one audit row per case."""
        async with self.svc.storage.transaction() as repo:
            for case in shown:
                await repo.audit(f"caseworker:{caseworker.id}", action, self.svc.now(), case_id=case.id)

    async def alert(self, row: OutboxRow) -> Done:
        """An alert post, to the case's caseworker as it is now (after a handover: the new one)."""
        async with self.svc.storage.transaction() as repo:
            alerts = [a for i in row.payload["alert_ids"] if (a := await repo.alert(int(i))) is not None]
            case = await repo.case(alerts[0].case_id) if alerts else None
            respondent = await repo.respondent(alerts[0].respondent_id) if alerts and alerts[0].respondent_id else None
        if not alerts or case is None:
            return Done("gone")
        destination = await self._destination(case.caseworker_id)
        if destination is None:
            raise await self._no_destination(case.caseworker_id)
        caseworker, chat_id = destination
        with use_language(caseworker.language):
            out = cw_views.alert_post(alerts, case, respondent.role if respondent else None, self.svc.policy.timezone)
            await sender.send(self.bot, chat_id, out, bulk=True)
        await self._audit_posted(caseworker, "alert_posted", [case])
        moved = case.caseworker_id != int(row.payload["caseworker_id"])
        return Done("sent to the new caseworker" if moved else "sent")

    async def digest(self, row: OutboxRow) -> Done:
        destination = await self._destination(int(row.payload["caseworker_id"]))
        if destination is None:
            return Done("no destination")
        caseworker, chat_id = destination
        result = await reports.digest(self.svc, caseworker)
        if not result.cases:
            return Done("no open cases")
        with use_language(caseworker.language):
            posts = cw_views.digest(result, self.svc.policy.thresholds, self.svc.policy.timezone, row.due_at)
            for out in posts:
                await sender.send(self.bot, chat_id, out, bulk=True)
        return Done() if len(posts) == 1 else Done(f"{len(posts)} posts")

    async def team_report(self, row: OutboxRow) -> Done:
        destination = await self._destination(int(row.payload["caseworker_id"]))
        if destination is None:
            return Done("no destination")
        leader, chat_id = destination
        # The week up to when the report was due, even when it goes out late (after downtime).
        report = await reports.team_report(self.svc, leader, until=min(row.due_at, self.svc.now()))
        with use_language(leader.language):
            for out in cw_views.team_report(report, self.svc.policy.timezone):
                await sender.send(self.bot, chat_id, out, bulk=True)
        return Done()

    # --- unreachable chats ------------------------------------------------------------------------

    async def on_unreachable(self, row: OutboxRow, chat_id: int) -> bool:
        """403: a family member blocked the bot (tell their caseworker once), or a channel is gone
        (unlink it and retry the row in the caseworker's private chat)."""
        if chat_id > 0 and row.kind in ("prompt", "reminder", "expire"):
            await questionnaire.mark_unreachable(self.svc, chat_id)
            if row.kind == "prompt":
                # Never sent and never will be: not left 'scheduled' for ever.
                await questionnaire.cancel_unsent(self.svc, int(row.payload["questionnaire_id"]))
            return False
        async with self.svc.storage.transaction() as repo:
            channel = await repo.unlink_chat(chat_id, self.svc.now())
            if channel is not None:
                await repo.audit(f"caseworker:{channel.caseworker_id}", "channel_lost", self.svc.now())
        return channel is not None

    async def on_migrated(self, row: OutboxRow, chat_id: int, new_chat_id: int) -> bool:
        """A caseworker's group became a supergroup: the link (and what is queued for it) moves to the
        new chat id, and the row is sent there."""
        async with self.svc.storage.transaction() as repo:
            channel = await repo.move_chat(chat_id, new_chat_id)
            if channel is not None:
                await repo.audit(f"caseworker:{channel.caseworker_id}", "channel_migrated", self.svc.now())
        return channel is not None

    async def on_failed(self, row: OutboxRow) -> None:
        """A prompt given up on for good (a 400, say) closes its questionnaire: never left 'scheduled'."""
        if row.kind == "prompt":
            await questionnaire.cancel_unsent(self.svc, int(row.payload["questionnaire_id"]))


def _in_language(language: str, fn: Callable[[], T]) -> T:
    # The chart thread has its own context: bind the language there too.
    with use_language(language):
        return fn()
