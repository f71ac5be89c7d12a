"""Telegram-like misbehaviour of the emulator, both off by default: flood limits and injected faults."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Fault", "Faults", "FloodLimits", "counts_as_message"]

_NOT_MESSAGES = frozenset({"sendChatAction"})


def counts_as_message(method: str) -> bool:
    """Whether a (canonical) method sends or edits a message and so counts against flood limits."""
    return method not in _NOT_MESSAGES and method.startswith(("send", "edit", "copyMessage", "forwardMessage"))


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class FloodLimits:
    """Token buckets like Telegram's limits: about 30 messages a second overall, one a second in a private
    chat after a short burst, 20 a minute in a group or channel.  ``clock`` is a monotonic clock in
    seconds; inject one to make tests deterministic.  Only message-sending and -editing methods count."""

    per_second: float = 30.0
    burst: int = 30
    private_per_second: float = 1.0
    private_burst: int = 4
    group_per_minute: float = 20.0
    group_burst: int = 20
    clock: Callable[[], float] = time.monotonic
    served_429: int = field(default=0, init=False)
    _buckets: dict[int | None, _Bucket] = field(default_factory=dict, init=False, repr=False)

    def _wait(self, key: int | None, rate: float, capacity: int, now: float) -> float:
        """Seconds until one token is available in the bucket ``key`` (0 if one is there)."""
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(float(capacity), now)
        else:
            b.tokens = min(float(capacity), b.tokens + (now - b.stamp) * rate)
            b.stamp = now
        return 0.0 if b.tokens >= 1.0 else (1.0 - b.tokens) / rate

    def check(self, chat_id: int | None) -> int | None:
        """Take one message from the overall and the chat's budget; or, without taking anything,
        return the whole seconds to wait (Telegram's ``retry_after``)."""
        now = self.clock()
        wait = self._wait(None, self.per_second, self.burst, now)
        if chat_id is not None:
            if chat_id > 0:
                chat_wait = self._wait(chat_id, self.private_per_second, self.private_burst, now)
            else:
                chat_wait = self._wait(chat_id, self.group_per_minute / 60.0, self.group_burst, now)
            wait = max(wait, chat_wait)
        if wait > 0:
            self.served_429 += 1
            return max(1, math.ceil(wait))
        self._buckets[None].tokens -= 1.0
        if chat_id is not None:
            self._buckets[chat_id].tokens -= 1.0
        return None


@dataclass
class Fault:
    """One injected fault, served to the next ``count`` matching requests (``None``: to all).

    Match: ``method`` ("*" for any; case-insensitive) and, when given, the request's ``chat_id``.
    Effect, in this order: wait ``delay`` seconds; then either close the connection without answering
    (``drop``), or answer ``status`` with ``description`` (and ``retry_after`` for 429); with neither,
    answer normally.  With ``after_processing`` the request is carried out first (a message is sent)
    and only its answer is delayed, dropped or replaced: the lost-answer case."""

    method: str = "*"
    status: int | None = None
    description: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    after_processing: bool = False
    chat_id: int | None = None
    count: int | None = 1

    def matches(self, method: str, chat_id: object) -> bool:
        if self.method != "*" and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)

    def describe(self) -> str:
        parts = []
        if self.delay:
            parts.append(f"delay {self.delay:g}s")
        if self.drop:
            parts.append("drop")
        if self.status is not None:
            parts.append(str(self.status))
        if self.after_processing:
            parts.append("after processing")
        return " ".join(parts) or "none"

    def error_payload(self) -> dict[str, object]:
        assert self.status is not None
        status = self.status
        default = {
            400: "Bad Request",
            403: "Forbidden: bot was blocked by the user",
            429: f"Too Many Requests: retry after {self.retry_after or 1}",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }.get(status, "Error")
        body: dict[str, object] = {
            "ok": False,
            "error_code": status,
            "description": self.description or default,
        }
        if status == 429:
            body["parameters"] = {"retry_after": self.retry_after or 1}
        return body


class Faults:
    """The queue of fault rules; the first matching rule with count left wins."""

    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self.served: list[tuple[str, Fault]] = []

    def __bool__(self) -> bool:
        return bool(self.rules)

    def add(self, fault: Fault) -> Fault:
        self.rules.append(fault)
        return fault

    def clear(self) -> None:
        self.rules.clear()

    def error(
        self,
        method: str,
        status: int = 502,
        description: str | None = None,
        *,
        chat_id: int | None = None,
        count: int | None = 1,
    ) -> Fault:
        """Answer ``status`` (403, 5xx, ...) instead of carrying the request out."""
        return self.add(Fault(method, status=status, description=description, chat_id=chat_id, count=count))

    def retry_after(self, method: str, seconds: int, *, chat_id: int | None = None, count: int | None = 1) -> Fault:
        """Answer 429 Too Many Requests with ``retry_after``."""
        return self.add(Fault(method, status=429, retry_after=seconds, chat_id=chat_id, count=count))

    def delay(
        self,
        method: str,
        seconds: float,
        *,
        chat_id: int | None = None,
        count: int | None = 1,
        after_processing: bool = False,
    ) -> Fault:
        """Wait ``seconds`` before answering (to provoke client time-outs)."""
        return self.add(Fault(method, delay=seconds, chat_id=chat_id, count=count, after_processing=after_processing))

    def drop(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        count: int | None = 1,
        after_processing: bool = False,
    ) -> Fault:
        """Close the connection without an answer."""
        return self.add(Fault(method, drop=True, chat_id=chat_id, count=count, after_processing=after_processing))

    def take(self, method: str, chat_id: object) -> Fault | None:
        """The fault to serve to this request, if any (its count is used up by one)."""
        for rule in self.rules:
            if rule.matches(method, chat_id):
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                self.served.append((method, rule))
                return rule
        return None
