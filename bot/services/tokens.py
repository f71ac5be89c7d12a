"""Deep-link tokens: 128 random bits, shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

TOKEN_BYTES = 16  # 128 bits
# What Telegram allows in a ?start= parameter: 1-64 of A-Z a-z 0-9 _ -
_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token(random_bytes: Callable[[int], bytes]) -> str:
    return base64.urlsafe_b64encode(random_bytes(TOKEN_BYTES)).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def plausible(token: str) -> bool:
    return bool(_SHAPE.fullmatch(token))
