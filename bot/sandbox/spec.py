"""Request validation for the Bot API emulator, driven by the Bot API specification.

The specification (``api.min.json``, Bot API 10.1) lives outside the project, in
``<repo>/../shared/telegram-bot-api-spec/`` (or wherever ``FITBOT_BOTAPI_SPEC`` points).  It is read,
never copied.  Where it is missing (a user's clone) a compact built-in rule set takes over that covers
exactly the methods the emulator implements; :attr:`Spec.source` tells which one is in use.

Everything is compiled once when the spec is loaded: validating a request is dictionary look-ups and
a walk over the parameters that were actually sent.

Lengths of texts are counted as Python ``len()`` (Unicode code points) of the text after entity
parsing and stripping of surrounding whitespace; Telegram counts in a similar way for ordinary
text, but not byte-for-byte identically for astral characters (emoji outside the BMP).
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "ApiError",
    "ParsedText",
    "Spec",
    "UploadedFile",
    "load_spec",
    "parse_text",
    "spec_path",
    "utf16_len",
]

SPEC_ENV = "FITBOT_BOTAPI_SPEC"


# --------------------------------------------------------------------------------------------------
# Errors and uploaded files


class ApiError(Exception):
    """A Bot API error answer: HTTP status plus Telegram's description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body

    @classmethod
    def bad_request(cls, reason: str) -> ApiError:
        return cls(400, f"Bad Request: {reason}")

    @classmethod
    def forbidden(cls, reason: str) -> ApiError:
        return cls(403, f"Forbidden: {reason}")


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One multipart file part as received."""

    data: bytes
    filename: str | None
    content_type: str | None


# --------------------------------------------------------------------------------------------------
# Text: UTF-16 lengths, HTML and MarkdownV2 parsing


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as Telegram counts entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class ParsedText:
    """The text a user sees and its formatting entities (UTF-16 offsets)."""

    text: str
    entities: list[dict[str, Any]]


class _TextBuilder:
    """Collects plain text and keeps the UTF-16 position of its end."""

    __slots__ = ("parts", "pos")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def add(self, s: str) -> None:
        if s:
            self.parts.append(s)
            self.pos += utf16_len(s)

    def text(self) -> str:
        return "".join(self.parts)


_HTML_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR = re.compile(r"""\s*([A-Za-z-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _parse_html(source: str) -> ParsedText:
    """Parse Telegram's HTML subset; raise ``ValueError`` with Telegram's reason when it is invalid."""
    out = _TextBuilder()
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, Any]]] = []  # (tag, start position, entity fields)
    i, n = 0, len(source)
    while i < n:
        lt = source.find("<", i)
        amp = source.find("&", i)
        nxt = min(x for x in (lt, amp, n) if x >= 0)
        if nxt > i:
            out.add(source[i:nxt])
            i = nxt
            continue
        if source[i] == "&":
            m = _ENTITY.match(source, i)
            if m is None:
                out.add("&")
                i += 1
                continue
            if m.group(3) is not None:
                if m.group(3) not in _NAMED_ENTITIES:  # unknown named entities stay as they are
                    out.add(m.group(0))
                else:
                    out.add(_NAMED_ENTITIES[m.group(3)])
            else:
                code = int(m.group(1)) if m.group(1) is not None else int(m.group(2), 16)
                if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000:
                    out.add(chr(code))
            i = m.end()
            continue
        # a tag
        offset = _byte_offset(source, i)
        if source.startswith("</", i):
            end = source.find(">", i)
            if end < 0:
                raise ValueError(f"Unclosed end tag at byte offset {offset}")
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise ValueError(f"Unexpected end tag at byte offset {offset}")
            tag, start, fields = stack.pop()
            if name != tag:
                raise ValueError(f'Unmatched end tag at byte offset {offset}, expected "</{tag}>", found "</{name}>"')
            if fields and out.pos > start:
                entities.append({"offset": start, "length": out.pos - start, **fields})
            i = end + 1
            continue
        m = _TAG_NAME.match(source, i + 1)
        if m is None:
            raise ValueError(f'Unsupported start tag "" at byte offset {offset}')
        tag = m.group(0).lower()
        if tag not in _HTML_TAGS:
            raise ValueError(f'Unsupported start tag "{tag}" at byte offset {offset}')
        j = m.end()
        attrs: dict[str, str] = {}
        while True:
            while j < n and source[j].isspace():
                j += 1
            if j >= n:
                raise ValueError(f"Unclosed start tag at byte offset {offset}")
            if source[j] == ">":
                break
            if source[j] == "/" and source.startswith("/>", j):
                raise ValueError(f'Unsupported self-closing tag "{tag}" at byte offset {offset}')
            am = _ATTR.match(source, j)
            if am is None or am.end() == j:
                raise ValueError(f'Empty attribute name in the tag "{tag}" at byte offset {offset}')
            value = next((g for g in am.groups()[1:] if g is not None), "")
            attrs[am.group(1).lower()] = html.unescape(value)
            j = am.end()
        i = j + 1
        fields = _html_entity_fields(tag, attrs, stack)
        stack.append((tag, out.pos, fields))
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText(out.text(), entities)


def _html_entity_fields(
    tag: str, attrs: dict[str, str], stack: list[tuple[str, int, dict[str, Any]]]
) -> dict[str, Any]:
    kind = _HTML_TAGS[tag]
    if tag == "span":
        if attrs.get("class") != "tg-spoiler":
            raise ValueError('Tag "span" must have class "tg-spoiler"')
        return {"type": "spoiler"}
    if tag == "a":
        href = attrs.get("href", "")
        m = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if m:
            return {
                "type": "text_mention",
                "user": {"id": int(m.group(1)), "is_bot": False, "first_name": ""},
            }
        return {"type": "text_link", "url": href} if href else {}
    if tag == "code":
        if stack and stack[-1][0] == "pre" and attrs.get("class", "").startswith("language-"):
            stack[-1][2]["language"] = attrs["class"][len("language-") :]
            return {}
        return {"type": "code"}
    if tag == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    if tag == "tg-emoji":
        if "emoji-id" not in attrs:
            raise ValueError('Tag "tg-emoji" must have attribute "emoji-id"')
        return {"type": "custom_emoji", "custom_emoji_id": attrs["emoji-id"]}
    if tag == "tg-time":
        if not attrs.get("unix", "").isdigit():
            raise ValueError('Tag "tg-time" must have attribute "unix"')
        fields: dict[str, Any] = {"type": "date_time", "unix_time": int(attrs["unix"])}
        if "format" in attrs:
            fields["date_time_format"] = attrs["format"]
        return fields
    return {"type": kind}


_MDV2_SPECIAL = set("_*[]()~`>#+-=|{}.!\\")
_MDV2_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "`": "Code",
    "```": "Pre",
    "[": "TextUrl",
}
_MDV2_TYPES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
    "`": "code",
    "```": "pre",
}


def _parse_markdown_v2(source: str) -> ParsedText:
    """Parse MarkdownV2 the way Telegram does for the checks that matter: reserved characters must be
    escaped, entities must be closed.  Block quotations (``>`` at a line start) are accepted."""
    out = _TextBuilder()
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, int]] = []  # (marker, start position, byte offset)
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        in_code = bool(stack) and stack[-1][0] in ("`", "```")
        if c == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
            out.add(source[i + 1])
            i += 2
            continue
        if in_code:
            marker = stack[-1][0]
            if source.startswith(marker, i):
                _, start, _ = stack.pop()
                if out.pos > start:
                    entities.append({"type": _MDV2_TYPES[marker], "offset": start, "length": out.pos - start})
                i += len(marker)
                continue
            if c == "`" or c == "\\":
                raise ValueError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
            out.add(c)
            i += 1
            continue
        if c not in _MDV2_SPECIAL:
            out.add(c)
            i += 1
            continue
        if c == ">" and (i == 0 or source[i - 1] == "\n"):
            i += 1
            continue
        if source.startswith("```", i):
            stack.append(("```", out.pos, _byte_offset(source, i)))
            language = re.match(r"[\w+#-]*\n", source[i + 3 :])
            i += 3 + (language.end() if language else 0)  # skip the language line
            continue
        marker = (
            "__" if source.startswith("__", i) else "||" if source.startswith("||", i) else c if c in "*_~`[" else ""
        )
        if marker:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                if out.pos > start:
                    entities.append({"type": _MDV2_TYPES[marker], "offset": start, "length": out.pos - start})
            else:
                stack.append((marker, out.pos, _byte_offset(source, i)))
            i += len(marker)
            continue
        if c == "]" and stack and stack[-1][0] == "[":
            _, start, _ = stack.pop()
            i += 1
            url = ""
            if i < n and source[i] == "(":
                close = i + 1
                while close < n and source[close] != ")":
                    close += 2 if source[close] == "\\" else 1
                if close >= n:
                    raise ValueError(f"Can't find end of a URL at byte offset {_byte_offset(source, i)}")
                url = re.sub(r"\\(.)", r"\1", source[i + 1 : close])
                i = close + 1
            if url and out.pos > start:
                entities.append({"type": "text_link", "offset": start, "length": out.pos - start, "url": url})
            continue
        raise ValueError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
    if stack:
        marker, _, offset = stack[-1]
        raise ValueError(f"Can't find end of {_MDV2_NAMES[marker]} entity at byte offset {offset}")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText(out.text(), entities)


def _parse_markdown_legacy(source: str) -> ParsedText:
    out: list[str] = []
    open_marker = ""
    for c in source:
        if c in "*_`" and (not open_marker or open_marker == c):
            open_marker = "" if open_marker else c
            continue
        out.append(c)
    if open_marker:
        raise ValueError("Can't find end of the entity starting at byte offset 0")
    return ParsedText("".join(out), [])


def parse_text(text: str, parse_mode: str | None) -> ParsedText:
    """Turn ``text`` as sent by a bot into what a user sees.  Raises :class:`ApiError` (400) when the
    markup is invalid, with Telegram's ``can't parse entities`` reason."""
    if not parse_mode:
        return ParsedText(text, [])
    mode = parse_mode.lower()
    try:
        if mode == "html":
            return _parse_html(text)
        if mode == "markdownv2":
            return _parse_markdown_v2(text)
        if mode == "markdown":
            return _parse_markdown_legacy(text)
    except ValueError as exc:
        raise ApiError.bad_request(f"can't parse entities: {exc}") from None
    raise ApiError.bad_request(f'unsupported parse_mode "{parse_mode}"')


def strip_entities(parsed: ParsedText) -> ParsedText:
    """Strip surrounding whitespace like Telegram does, moving entity offsets along."""
    text = parsed.text
    stripped = text.strip()
    if stripped == text:
        return parsed
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    entities = []
    for e in parsed.entities:
        start = max(e["offset"] - lead, 0)
        end = min(e["offset"] + e["length"] - lead, total)
        if end > start:
            entities.append({**e, "offset": start, "length": end - start})
    return ParsedText(stripped, entities)


# --------------------------------------------------------------------------------------------------
# Type expressions


class _Mismatch(Exception):
    """A value that does not fit a type; ``depth`` says how far inside it the failure was."""

    def __init__(self, reason: str, depth: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.depth = depth


Coercer = Callable[[Any, bool, str, Mapping[str, UploadedFile]], Any]
# (value, top_level, path, files) -> coerced value; raises _Mismatch


def _coerce_integer(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        s = value.strip()
        if re.fullmatch(r"[+-]?\d{1,19}", s):
            return int(s)
    raise _Mismatch(f'field "{path}" must be an Integer')


def _coerce_float(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _Mismatch(f'field "{path}" must be a Float')


def _coerce_boolean(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        s = value.strip().lower()
        if s in ("true", "1"):
            return True
        if s in ("false", "0"):
            return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _Mismatch(f'field "{path}" must be a Boolean')


def _coerce_string(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> str:
    if isinstance(value, str):
        return value
    if top and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Mismatch(f'field "{path}" must be a String')


def _coerce_input_file(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> UploadedFile:
    if isinstance(value, UploadedFile):
        return value
    if isinstance(value, str) and value.startswith("attach://"):
        part = files.get(value[len("attach://") :])
        if part is not None:
            return part
        raise _Mismatch(f'file part "{value}" of field "{path}" was not uploaded', 1)
    raise _Mismatch(f'field "{path}" must be an uploaded file')


_PRIMITIVES: dict[str, Coercer] = {
    "Integer": _coerce_integer,
    "Int": _coerce_integer,
    "Float": _coerce_float,
    "Boolean": _coerce_boolean,
    "True": _coerce_boolean,
    "String": _coerce_string,
    "InputFile": _coerce_input_file,
}


def _json_value(value: Any, top: bool, path: str, kind: type) -> Any:
    if top and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Mismatch(f'can\'t parse field "{path}" as JSON') from None
    if not isinstance(value, kind):
        raise _Mismatch(f'field "{path}" must be {"an Array" if kind is list else "an Object"}')
    return value


@dataclass(slots=True)
class _Field:
    name: str
    types: tuple[str, ...]
    required: bool
    coerce: Coercer
    limit: tuple[int, int, str] | None  # (min, max, "characters" | "bytes")


_LIMIT = re.compile(r"(\d+)-(\d+) (characters|bytes)")
_DISCRIMINATOR = re.compile(r"(?:must be|always)\s+[\"“]?([a-z_]+)")
# Inline keyboard buttons: every field other than these is an action and exactly one must be set.
_BUTTON_LOOKS = frozenset({"text", "icon_custom_emoji_id", "style"})
_COMMAND = re.compile(r"[a-z0-9_]+")
_TEXT_FIELDS = frozenset({"text", "caption"})


class Spec:
    """Compiled validation rules for every Bot API method (from the file) or for the emulator's
    methods (built in)."""

    def __init__(
        self,
        methods: Mapping[str, Mapping[str, Any]],
        types: Mapping[str, Mapping[str, Any]],
        *,
        source: Literal["file", "builtin"],
        version: str,
        path: Path | None = None,
    ) -> None:
        self.source: Literal["file", "builtin"] = source
        self.version = version
        self.path = path
        self._raw_types = types
        self._type_coercers: dict[str, Coercer] = {}
        self._type_fields: dict[str, dict[str, _Field]] = {}
        self.methods: dict[str, dict[str, _Field]] = {}
        self._canonical: dict[str, str] = {}
        for name, m in methods.items():
            self.methods[name] = {f["name"]: self._field(f) for f in m.get("fields", ())}
            self._canonical[name.lower()] = name
        # Unknown parameters can only be told apart when every parameter is known.
        self.knows_all_parameters = source == "file"

    # ---- loading

    @classmethod
    def from_file(cls, path: Path) -> Spec:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["methods"], data["types"], source="file", version=data["version"], path=path)

    @classmethod
    def builtin(cls) -> Spec:
        methods, types = _builtin_tables()
        return cls(methods, types, source="builtin", version=BUILTIN_VERSION)

    # ---- compilation

    def _field(self, f: Mapping[str, Any]) -> _Field:
        types = tuple(f["types"])
        limit = None
        if types == ("String",):
            m = _LIMIT.search(f.get("description", ""))
            if m:
                limit = (int(m.group(1)), int(m.group(2)), m.group(3))
        return _Field(f["name"], types, bool(f.get("required")), self._union(types), limit)

    def _union(self, alternatives: tuple[str, ...]) -> Coercer:
        coercers = [self._expr(t) for t in alternatives]
        if len(coercers) == 1:
            return coercers[0]

        def coerce_union(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> Any:
            best: _Mismatch | None = None
            for c in coercers:
                try:
                    return c(value, top, path, files)
                except _Mismatch as exc:
                    if best is None or exc.depth > best.depth:
                        best = exc
            assert best is not None
            raise best

        return coerce_union

    def _expr(self, expr: str) -> Coercer:
        if expr.startswith("Array of "):
            inner = self._expr(expr[len("Array of ") :])

            def coerce_array(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> Any:
                items = _json_value(value, top, path, list)
                try:
                    return [inner(v, False, f"{path}[{k}]", files) for k, v in enumerate(items)]
                except _Mismatch as exc:
                    raise _Mismatch(exc.reason, exc.depth + 1) from None

            return coerce_array
        if expr in _PRIMITIVES:
            return _PRIMITIVES[expr]
        return self._object(expr)

    def _object(self, name: str) -> Coercer:
        """A coercer for a named object type, compiled lazily (types refer to each other)."""
        cached = self._type_coercers.get(name)
        if cached is not None:
            return cached
        compiled: list[Coercer] = []

        def coerce_object(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> Any:
            if not compiled:
                compiled.append(self._compile_object(name))
            return compiled[0](value, top, path, files)

        self._type_coercers[name] = coerce_object
        return coerce_object

    def _compile_object(self, name: str) -> Coercer:
        raw = self._raw_types.get(name)
        if raw is None:  # a type the rule set does not describe: any JSON object
            return lambda value, top, path, files: _json_value(value, top, path, dict)
        if "subtypes" in raw:
            return self._compile_abstract(name, raw["subtypes"])
        fields = self.type_fields(name)
        required = [f for f in fields.values() if f.required]
        post = _TYPE_CHECKS.get(name)

        def coerce_fields(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> Any:
            obj = _json_value(value, top, path, dict)
            for f in required:
                if f.name not in obj:
                    raise _Mismatch(f'field "{f.name}" of {name} in "{path}" is required', 1)
            result = dict(obj)
            for key, v in obj.items():
                f = fields.get(key)
                if f is None:
                    continue
                try:
                    result[key] = f.coerce(v, False, f"{path}.{key}", files)
                except _Mismatch as exc:
                    raise _Mismatch(exc.reason, exc.depth + 2) from None
                if f.limit is not None:
                    _check_limit(f, result[key], name)
            if post is not None:
                post(result, fields)
            return result

        return coerce_fields

    def _compile_abstract(self, name: str, subtypes: list[str]) -> Coercer:
        by_tag: dict[str, tuple[str, Coercer]] = {}
        others: list[str] = []
        for sub in subtypes:
            raw = self._raw_types.get(sub)
            first = raw.get("fields", [None])[0] if raw else None
            m = _DISCRIMINATOR.search(first["description"]) if first else None
            if first and m and first["name"] in ("type", "source", "status"):
                by_tag[m.group(1)] = (first["name"], self._object(sub))
            else:
                others.append(sub)
        keys = {k for k, _ in by_tag.values()}
        fallback = self._union(tuple(others)) if others else None

        def coerce_abstract(value: Any, top: bool, path: str, files: Mapping[str, UploadedFile]) -> Any:
            if fallback is not None and not isinstance(value, dict | str):
                return fallback(value, top, path, files)
            obj = _json_value(value, top, path, dict) if by_tag else value
            for key in keys:
                if key in obj:
                    hit = by_tag.get(obj[key])
                    if hit is not None and hit[0] == key:
                        return hit[1](obj, False, path, files)
                    raise _Mismatch(f'unsupported {name} {key} "{obj[key]}" in "{path}"', 1)
            if fallback is not None:
                return fallback(value, top, path, files)
            raise _Mismatch(f'field "{path}" must be a {name} with a "{next(iter(keys), "type")}"', 1)

        return coerce_abstract

    # ---- use

    def canonical(self, method: str) -> str | None:
        """The method's proper name (Telegram matches method names case-insensitively)."""
        return self._canonical.get(method.lower())

    def has_method(self, method: str) -> bool:
        return method.lower() in self._canonical

    def fields(self, method: str) -> dict[str, _Field]:
        return self.methods[self._canonical[method.lower()]]

    def type_fields(self, name: str) -> dict[str, _Field]:
        """The compiled fields of an object type (empty if the rule set does not describe it)."""
        if name not in self._type_fields:
            raw = self._raw_types.get(name)
            if raw is None or "subtypes" in raw:
                return {}
            self._type_fields[name] = {f["name"]: self._field(f) for f in raw.get("fields", ())}
        return self._type_fields[name]

    def validate(
        self,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, UploadedFile] | None = None,
        *,
        strict: bool = False,
    ) -> dict[str, Any]:
        """Check one request and return its parameters converted to Python values.

        ``params`` holds the values as received (strings from a form, or JSON values); uploaded file
        parts are in ``files`` (a part named like a parameter is that parameter's value).  Raises
        :class:`ApiError`: 404 for an unknown method, 400 for anything Telegram would refuse.  With
        ``strict`` unknown parameters are refused too (Telegram ignores them)."""
        name = self._canonical.get(method.lower())
        if name is None:
            raise ApiError(404, "Not Found")
        fields = self.methods[name]
        formatted = "parse_mode" in fields  # text/caption are message texts with entities
        files = files or {}
        merged: dict[str, Any] = dict(params)
        for key, part in files.items():
            if key in fields and key not in merged:
                merged[key] = part
        result: dict[str, Any] = {}
        for key, value in merged.items():
            f = fields.get(key)
            if f is None:
                if strict and self.knows_all_parameters:
                    raise ApiError.bad_request(f'unknown parameter "{key}" for method {name}')
                continue
            if value is None:
                continue
            try:
                result[key] = f.coerce(value, True, key, files)
            except _Mismatch as exc:
                raise ApiError.bad_request(_type_reason(key, exc.reason)) from None
            if f.limit is not None and not (key in _TEXT_FIELDS and formatted):
                _check_limit(f, result[key], name)
        for f in fields.values():
            if f.required and f.name not in result:
                raise ApiError.bad_request(_missing_reason(f.name))
        if formatted:
            for key in _TEXT_FIELDS:
                if key in result:
                    result[f"_{key}_parsed"] = self._parse_text_field(result, key, fields[key])
        return result

    @staticmethod
    def _parse_text_field(params: dict[str, Any], key: str, f: _Field) -> ParsedText:
        entities_key = "entities" if key == "text" else "caption_entities"
        raw = params[key]
        if entities_key in params:
            parsed = ParsedText(raw, list(params[entities_key]))
        else:
            parsed = parse_text(raw, params.get("parse_mode"))
        parsed = strip_entities(parsed)
        if f.limit is not None:
            lo, hi, _unit = f.limit
            size = len(parsed.text)
            if size < lo:
                raise ApiError.bad_request("message text is empty" if key == "text" else f"{key} is empty")
            if size > hi:
                raise ApiError.bad_request("message is too long" if key == "text" else "message caption is too long")
        return parsed


def _type_reason(key: str, reason: str) -> str:
    if key == "chat_id":
        return "chat not found"
    if key == "reply_markup" and "JSON" in reason:
        return "can't parse reply keyboard markup JSON object"
    return reason


def _missing_reason(field: str) -> str:
    return {
        "text": "message text is empty",
        "chat_id": "chat_id is empty",
        "callback_query_id": "query is too old and response timeout expired or query ID is invalid",
        "message_id": "message identifier is not specified",
    }.get(field, f'parameter "{field}" is required')


_LIMIT_REASONS: dict[tuple[str, str], str] = {
    ("InlineKeyboardButton", "callback_data"): "BUTTON_DATA_INVALID",
    ("BotCommand", "command"): "BOT_COMMAND_INVALID",
    ("BotCommand", "description"): "BOT_COMMAND_DESCRIPTION_INVALID",
    ("answerCallbackQuery", "text"): "MESSAGE_TOO_LONG",
}


def _check_limit(f: _Field, value: Any, owner: str) -> None:
    assert f.limit is not None
    lo, hi, unit = f.limit
    size = len(value.encode("utf-8")) if unit == "bytes" else len(value)
    if lo <= size <= hi:
        return
    raise ApiError.bad_request(_LIMIT_REASONS.get((owner, f.name), f"{f.name} must be {lo}-{hi} {unit} long"))


def _check_button(button: dict[str, Any], fields: Mapping[str, _Field]) -> None:
    actions = [k for k in button if k not in _BUTTON_LOOKS and (k in fields or not fields)]
    if not actions:
        raise _Mismatch("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard", 9)
    if len(actions) > 1:
        raise _Mismatch(
            f"can't parse inline keyboard button: exactly one of {', '.join(sorted(actions))} must be used", 9
        )
    if not button["text"]:
        raise _Mismatch("can't parse inline keyboard button: button text is empty", 9)


def _check_command(command: dict[str, Any], fields: Mapping[str, _Field]) -> None:
    if not _COMMAND.fullmatch(command["command"]):
        raise ApiError.bad_request("BOT_COMMAND_INVALID")


_TYPE_CHECKS: dict[str, Callable[[dict[str, Any], Mapping[str, _Field]], None]] = {
    "InlineKeyboardButton": _check_button,
    "BotCommand": _check_command,
}


# --------------------------------------------------------------------------------------------------
# Built-in rules: the methods the emulator implements, with the fields it reads.  Notation:
# "*name" = required, "A|B" = one of, "[X]" = Array of X, "{lo-hi}" characters / "{lo-hib}" bytes.
# A test checks that these agree with the specification file wherever it is present.

BUILTIN_VERSION = "Bot API 10.1"
_MARKUP = "InlineKeyboardMarkup|ReplyKeyboardMarkup|ReplyKeyboardRemove|ForceReply"
_SEND = (
    "disable_notification:Boolean protect_content:Boolean message_thread_id:Integer "
    f"reply_parameters:ReplyParameters reply_markup:{_MARKUP}"
)
_EDIT = "chat_id:Integer|String message_id:Integer inline_message_id:String reply_markup:InlineKeyboardMarkup"
_CAPTION = "caption:String{0-1024} parse_mode:String caption_entities:[MessageEntity]"
_SCOPE = "scope:BotCommandScope language_code:String"

_BUILTIN_METHODS: dict[str, str] = {
    "getMe": "",
    "logOut": "",
    "close": "",
    "getUpdates": "offset:Integer limit:Integer timeout:Integer allowed_updates:[String]",
    "deleteWebhook": "drop_pending_updates:Boolean",
    "getWebhookInfo": "",
    "sendMessage": "*chat_id:Integer|String *text:String{1-4096} parse_mode:String entities:[MessageEntity] "
    f"link_preview_options:LinkPreviewOptions {_SEND}",
    "sendPhoto": f"*chat_id:Integer|String *photo:InputFile|String {_CAPTION} has_spoiler:Boolean {_SEND}",
    "sendDocument": f"*chat_id:Integer|String *document:InputFile|String {_CAPTION} {_SEND}",
    "getFile": "*file_id:String",
    "editMessageText": f"text:String{{1-4096}} parse_mode:String entities:[MessageEntity] "
    f"link_preview_options:LinkPreviewOptions {_EDIT}",
    "editMessageCaption": f"{_CAPTION} {_EDIT}",
    "editMessageReplyMarkup": _EDIT,
    "deleteMessage": "*chat_id:Integer|String *message_id:Integer",
    "deleteMessages": "*chat_id:Integer|String *message_ids:[Integer]",
    "answerCallbackQuery": "*callback_query_id:String text:String{0-200} show_alert:Boolean url:String "
    "cache_time:Integer",
    "setMyCommands": f"*commands:[BotCommand] {_SCOPE}",
    "getMyCommands": _SCOPE,
    "deleteMyCommands": _SCOPE,
    "setMyDescription": "description:String{0-512} language_code:String",
    "getMyDescription": "language_code:String",
    "setMyShortDescription": "short_description:String{0-120} language_code:String",
    "getMyShortDescription": "language_code:String",
    "setMyName": "name:String{0-64} language_code:String",
    "getMyName": "language_code:String",
    "setChatMenuButton": "chat_id:Integer menu_button:MenuButton",
    "getChatMenuButton": "chat_id:Integer",
    "getChat": "*chat_id:Integer|String",
    "getChatMember": "*chat_id:Integer|String *user_id:Integer",
    "getChatAdministrators": "*chat_id:Integer|String",
    "getChatMemberCount": "*chat_id:Integer|String",
    "leaveChat": "*chat_id:Integer|String",
    "sendChatAction": "*chat_id:Integer|String *action:String message_thread_id:Integer",
    "pinChatMessage": "*chat_id:Integer|String *message_id:Integer disable_notification:Boolean",
    "unpinChatMessage": "*chat_id:Integer|String message_id:Integer",
    "unpinAllChatMessages": "*chat_id:Integer|String",
}

_BUILTIN_TYPES: dict[str, str] = {
    "InlineKeyboardMarkup": "*inline_keyboard:[[InlineKeyboardButton]]",
    "InlineKeyboardButton": "*text:String icon_custom_emoji_id:String style:String url:String "
    "callback_data:String{1-64b} web_app:WebAppInfo login_url:LoginUrl switch_inline_query:String "
    "switch_inline_query_current_chat:String switch_inline_query_chosen_chat:SwitchInlineQueryChosenChat "
    "copy_text:CopyTextButton callback_game:CallbackGame pay:Boolean",
    "ReplyKeyboardMarkup": "*keyboard:[[KeyboardButton]] is_persistent:Boolean resize_keyboard:Boolean "
    "one_time_keyboard:Boolean input_field_placeholder:String{1-64} selective:Boolean",
    "KeyboardButton": "*text:String request_contact:Boolean request_location:Boolean",
    "ReplyKeyboardRemove": "*remove_keyboard:Boolean selective:Boolean",
    "ForceReply": "*force_reply:Boolean input_field_placeholder:String{1-64} selective:Boolean",
    "MessageEntity": "*type:String *offset:Integer *length:Integer url:String user:User language:String "
    "custom_emoji_id:String",
    "ReplyParameters": "*message_id:Integer chat_id:Integer|String allow_sending_without_reply:Boolean "
    "quote:String{0-1024}",
    "LinkPreviewOptions": "is_disabled:Boolean url:String prefer_small_media:Boolean "
    "prefer_large_media:Boolean show_above_text:Boolean",
    "BotCommand": "*command:String{1-32} *description:String{1-256}",
    "WebAppInfo": "*url:String",
    "BotCommandScopeDefault": "*type:String=default",
    "BotCommandScopeAllPrivateChats": "*type:String=all_private_chats",
    "BotCommandScopeAllGroupChats": "*type:String=all_group_chats",
    "BotCommandScopeAllChatAdministrators": "*type:String=all_chat_administrators",
    "BotCommandScopeChat": "*type:String=chat *chat_id:Integer|String",
    "BotCommandScopeChatAdministrators": "*type:String=chat_administrators *chat_id:Integer|String",
    "BotCommandScopeChatMember": "*type:String=chat_member *chat_id:Integer|String *user_id:Integer",
    "MenuButtonCommands": "*type:String=commands",
    "MenuButtonWebApp": "*type:String=web_app *text:String *web_app:WebAppInfo",
    "MenuButtonDefault": "*type:String=default",
}
_BUILTIN_ABSTRACT: dict[str, list[str]] = {
    "BotCommandScope": [k for k in _BUILTIN_TYPES if k.startswith("BotCommandScope")],
    "MenuButton": ["MenuButtonCommands", "MenuButtonWebApp", "MenuButtonDefault"],
}
_BUILTIN_FIELD = re.compile(r"(\*?)(\w+):([^\s{=]+)(?:\{(\d+)-(\d+)(b)?\})?(?:=(\w+))?")


def _builtin_type_expr(token: str) -> str:
    depth = 0
    while token.startswith("[") and token.endswith("]"):
        token, depth = token[1:-1], depth + 1
    return "Array of " * depth + token


def _builtin_fields(rule: str) -> list[dict[str, Any]]:
    fields = []
    for token in rule.split():
        m = _BUILTIN_FIELD.fullmatch(token)
        if m is None:
            raise ValueError(f"bad built-in rule {token!r}")
        required, name, types, lo, hi, in_bytes, tag = m.groups()
        description = ""
        if lo is not None:
            description = f"{lo}-{hi} {'bytes' if in_bytes else 'characters'}"
        if tag is not None:
            description = f"must be {tag}"
        fields.append(
            {
                "name": name,
                "types": [_builtin_type_expr(t) for t in types.split("|")],
                "required": bool(required),
                "description": description,
            }
        )
    return fields


@functools.cache
def _builtin_tables() -> tuple[dict[str, Any], dict[str, Any]]:
    methods = {name: {"name": name, "fields": _builtin_fields(rule)} for name, rule in _BUILTIN_METHODS.items()}
    types: dict[str, Any] = {
        name: {"name": name, "fields": _builtin_fields(rule)} for name, rule in _BUILTIN_TYPES.items()
    }
    for name, subs in _BUILTIN_ABSTRACT.items():
        types[name] = {"name": name, "subtypes": subs}
    return methods, types


# --------------------------------------------------------------------------------------------------
# Locating and loading


def spec_path() -> Path:
    """Where the specification file is expected: ``$FITBOT_BOTAPI_SPEC`` or
    ``<repo>/../shared/telegram-bot-api-spec/api.min.json``."""
    override = os.environ.get(SPEC_ENV)
    if override:
        return Path(override)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "telegram-bot-api-spec" / "api.min.json"


@functools.cache
def _load(path: Path | None) -> Spec:
    if path is not None and path.is_file():
        return Spec.from_file(path)
    return Spec.builtin()


def load_spec(path: Path | None = None) -> Spec:
    """The specification from ``path`` (default :func:`spec_path`), or the built-in rules where there is
    no such file.  Loaded once per path and shared: a :class:`Spec` is read-only after loading."""
    return _load((path or spec_path()).resolve())
