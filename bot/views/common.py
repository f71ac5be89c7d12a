"""The plain shape of an outgoing message, independent of Telegram's classes."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True)
class Button:
    text: str
    data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ValueError("a button has exactly one of data and url")
        if self.data is not None and not 1 <= len(self.data.encode()) <= MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data must be 1-{MAX_CALLBACK_BYTES} bytes: {self.data!r}")


@dataclass(frozen=True)
class Out:
    """A message: HTML text, optional inline buttons (rows), optional photo or document."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    photo: bytes | None = None
    photo_name: str = "chart.png"
    document: bytes | None = None
    document_name: str = ""
    silent: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def rows(buttons: Iterable[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    items = list(buttons)
    return tuple(tuple(items[i : i + per_row]) for i in range(0, len(items), per_row))


def esc(text: object) -> str:
    """Escape anything that did not come from our catalogues (labels, names) for HTML."""
    return html.escape(str(text), quote=False)


def lines(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p is not None)


def join_words(words: Sequence[str], and_word: str) -> str:
    """ "a, b og c"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {and_word} {words[-1]}"
