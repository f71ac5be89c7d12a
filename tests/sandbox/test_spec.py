"""The validation rules: which spec is used, the built-in fallback, text parsing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.emulator import Emulator
from bot.sandbox.spec import ApiError, Spec, load_spec, parse_text, spec_path, utf16_len
from bot.sandbox.world import auto_entities


def _file_spec() -> Spec | None:
    spec = load_spec()
    return spec if spec.source == "file" else None


def test_spec_file_used() -> None:
    if not os.environ.get("CI"):
        pytest.skip("only CI promises the shared spec file beside the repository (CI=1)")
    spec = load_spec()
    assert spec.source == "file", f"expected the spec at {spec_path()}"
    assert spec.version == "Bot API 10.1"


def test_spec_path_is_outside_the_repository(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.delenv("FITBOT_BOTAPI_SPEC", raising=False)
    assert spec_path() == repo.parent / "shared" / "telegram-bot-api-spec" / "api.min.json"
    monkeypatch.setenv("FITBOT_BOTAPI_SPEC", str(tmp_path / "api.json"))
    assert spec_path() == tmp_path / "api.json"
    project = [d for d in repo.iterdir() if d.is_dir() and not d.name.startswith(".")]
    copies = [p for d in project for p in d.rglob("api.min.json")]
    assert not copies, "the spec must never be copied into the project"


def test_missing_file_falls_back_to_builtin_rules(tmp_path: Path) -> None:
    spec = load_spec(tmp_path / "missing.json")
    assert spec.source == "builtin"
    assert spec.version == "Bot API 10.1"
    with pytest.raises(ApiError) as info:
        spec.validate("sendMessage", {"chat_id": "1", "text": "x" * 4097})
    assert info.value.description == "Bad Request: message is too long"


def test_a_given_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "api.json"
    method = {"name": "getMe", "fields": []}
    path.write_text(json.dumps({"version": "Bot API 99", "methods": {"getMe": method}, "types": {}}))
    spec = load_spec(path)
    assert (spec.source, spec.version, spec.has_method("getme"), spec.has_method("sendMessage")) == (
        "file",
        "Bot API 99",
        True,
        False,
    )


def test_builtin_rules_cover_every_implemented_method() -> None:
    builtin = Spec.builtin()
    missing = Emulator.implemented_methods() - set(builtin.methods)
    assert not missing, f"no built-in rules for {sorted(missing)}"


def _rule(f: Any) -> tuple[Any, ...]:
    return (f.types, f.required, f.limit)


def test_builtin_rules_agree_with_the_file() -> None:
    spec = _file_spec()
    if spec is None:
        pytest.skip("the Bot API spec file is not present")
    builtin = Spec.builtin()
    assert builtin.version == spec.version
    assert Emulator.implemented_methods() <= set(spec.methods), "the emulator implements a method Telegram lacks"
    problems = []
    for method, fields in builtin.methods.items():
        real = spec.methods.get(method)
        if real is None:
            problems.append(f"{method}: not in the file")
            continue
        required = {n for n, f in real.items() if f.required}
        if missing := required - set(fields):
            problems.append(f"{method}: required {sorted(missing)} missing from the built-in rules")
        for name, f in fields.items():
            other = real.get(name)
            if other is None:
                problems.append(f"{method}.{name}: not in the file")
            elif _rule(f) != _rule(other):
                problems.append(f"{method}.{name}: {_rule(f)} != {_rule(other)}")
    from bot.sandbox.spec import _builtin_tables

    for type_name, raw in _builtin_tables()[1].items():
        if "subtypes" in raw:
            continue
        real_fields = spec.type_fields(type_name)
        if not real_fields:
            problems.append(f"{type_name}: not in the file")
        for name, f in builtin.type_fields(type_name).items():
            other = real_fields.get(name)
            if other is None:
                problems.append(f"{type_name}.{name}: not in the file")
            elif _rule(f) != _rule(other):
                problems.append(f"{type_name}.{name}: {_rule(f)} != {_rule(other)}")
        real_required = {n for n, f in real_fields.items() if f.required}
        if missing := real_required - set(builtin.type_fields(type_name)):
            problems.append(f"{type_name}: required {sorted(missing)} missing from the built-in rules")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", ["file", "builtin"])
def test_rules_behave_alike(source: str) -> None:
    spec = _file_spec() if source == "file" else Spec.builtin()
    if spec is None:
        pytest.skip("the Bot API spec file is not present")
    markup = json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "x" * 65}]]})
    cases = {
        "BUTTON_DATA_INVALID": {"chat_id": "1", "text": "x", "reply_markup": markup},
        "message text is empty": {"chat_id": "1"},
        'field "message_thread_id" must be an Integer': {
            "chat_id": "1",
            "text": "x",
            "message_thread_id": "x",
        },
    }
    for reason, params in cases.items():
        with pytest.raises(ApiError) as info:
            spec.validate("sendMessage", params)
        assert info.value.description == f"Bad Request: {reason}"
    ok = spec.validate("sendMessage", {"chat_id": "-100123", "text": " hi ", "disable_notification": "true"})
    assert ok["chat_id"] == -100123
    assert ok["disable_notification"] is True
    assert ok["_text_parsed"].text == "hi"
    scope = spec.validate("getMyCommands", {"scope": '{"type": "chat_member", "chat_id": 5, "user_id": 7}'})
    assert scope["scope"] == {"type": "chat_member", "chat_id": 5, "user_id": 7}
    with pytest.raises(ApiError, match="user_id"):
        spec.validate("getMyCommands", {"scope": '{"type": "chat_member", "chat_id": 5}'})


def test_html_entities_and_offsets() -> None:
    parsed = parse_text(
        "😀 <b>fed <i>og</i></b> &quot;x&quot; &#248; <tg-spoiler>s</tg-spoiler> "
        '<pre><code class="language-py">p</code></pre>',
        "HTML",
    )
    assert parsed.text == '😀 fed og "x" ø s p'
    assert parsed.entities == [
        {"offset": 3, "length": 6, "type": "bold"},
        {"offset": 7, "length": 2, "type": "italic"},
        {"offset": 16, "length": 1, "type": "spoiler"},
        {"offset": 18, "length": 1, "type": "pre", "language": "py"},
    ]
    assert utf16_len("😀") == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('<span class="x">a</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b>a", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>a</b", "Unclosed end tag at byte offset 4"),
        ("<a href='x'>a", 'Can\'t find end tag corresponding to start tag "a"'),
        ("æ <x>", 'Unsupported start tag "x" at byte offset 3'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
def test_html_errors(text: str, reason: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_text(text, "HTML")
    assert info.value.description == f"Bad Request: can't parse entities: {reason}"


def test_unknown_named_entities_and_ampersands_are_kept() -> None:
    assert parse_text("R&D &nbsp; &amp;", "HTML").text == "R&D &nbsp; &"


def test_auto_entities_in_utf16() -> None:
    assert auto_entities("💬 /svar_7@fitbot_sandbox_bot") == [{"type": "bot_command", "offset": 3, "length": 26}]
    assert auto_entities("a/b /c") == [{"type": "bot_command", "offset": 4, "length": 2}]
