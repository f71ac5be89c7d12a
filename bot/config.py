"""Validated settings: a TOML file, overridden by FITBOT_<SECTION>_<KEY> environment variables.

Every setting is declared once in SETTINGS with its type, default and check, so the example file,
the environment override and the error message ("schedule.quiet_start: ...") cannot drift apart.
A value in the file must have the right TOML type (`cutoff_adult = 25`, not `"25"`); a value from the
environment is text, so only there is it converted. A FITBOT_ variable that is neither a setting nor one
of NON_SETTING_VARIABLES is refused, so a misspelt name (TOKNE for TOKEN) cannot go unnoticed.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.instruments import NO_OVERRIDES, WordingOverrides, wording_overrides_from
from bot.domain.interpretation import Thresholds
from bot.domain.scores import points_to_tenths
from bot.i18n import available_languages

ENV_PREFIX = "FITBOT_"
# FITBOT_ variables that are not settings: where the config file is, where the Bot API specification is
# (the emulator), the durability test's knobs, and anything starting FITBOT_TEST_ (the test suite's own).
NON_SETTING_VARIABLES = frozenset({"FITBOT_CONFIG", "FITBOT_BOTAPI_SPEC", "FITBOT_KILL_ROUNDS", "FITBOT_KILL_SEED"})
NON_SETTING_PREFIXES = ("FITBOT_TEST_",)
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"


class ConfigError(Exception):
    """A setting that cannot be used. str() is the one line the CLI prints."""

    def __init__(self, key: str, problem: str) -> None:
        problem = " ".join(problem.splitlines())  # one line, whatever the cause said
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


# --- value parsers: each takes the TOML value (or an environment variable's text already converted by the
# setting's `text`) and returns the typed value or raises ValueError. None of them converts a string into
# a number: in the file, `"25"` is text and a wrong type.


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_describe(value)}")
    return value


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_describe(value)}")
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _points(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number of points, got {_describe(value)}")
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g} points, got {value:g}")
        return float(value)

    return parse


# --- environment text -> the TOML value it stands for (only for variables; the file has real types)


def _whole_text(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise ValueError(f"expected a whole number, got {text!r}")
    return int(text)


def _number_text(text: str) -> float:
    if not re.fullmatch(r"[+-]?\d+([.,]\d+)?", text.strip()):
        raise ValueError(f"expected a number of points, got {text!r}")
    return float(text.strip().replace(",", "."))


def _same(text: str) -> str:
    return text


def _time(value: Any) -> time:
    text = _str(value).strip()
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f'expected a time like "21:00", got {text!r}')
    return time(int(match[1]), int(match[2]))


def _timezone(value: Any) -> ZoneInfo:
    text = _str(value)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {text!r} (use an IANA name like Europe/Copenhagen)") from None


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _str(value).strip()
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}; got {text!r}")
        return text

    return parse


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays(value: Any) -> tuple[int, ...]:
    """ "mon-fri" or "mon,wed,fri" -> (0, 1, 2, 3, 4) as datetime.weekday() numbers."""
    text = _str(value).strip().lower()
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in WEEKDAYS for e in ends):
            raise ValueError(f'expected weekdays like "mon-fri" or "mon,thu", got {text!r}')
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if last < first:
            raise ValueError(f"a range must run forwards within a week, got {part!r}")
        days.update(range(first, last + 1))
    if not days:
        raise ValueError("name at least one weekday")
    return tuple(sorted(days))


def _language(value: Any) -> str:
    """A language FIT-bot has a catalogue for (bot/i18n/locales): adding one is a translation job only."""
    return _choice(*available_languages())(value)


def _url(value: Any) -> str:
    text = _str(value).strip()
    if not re.fullmatch(r"https?://\S+", text):
        raise ValueError(f"expected an http(s) URL, got {text!r}")
    return text


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


@dataclass(frozen=True)
class Setting:
    parse: Callable[[Any], Any]
    default: Any
    secret: bool = False
    text: Callable[[str], Any] = _same  # how an environment variable's text becomes the TOML value


def _whole(lo: int, hi: int, default: int) -> Setting:
    return Setting(_int(lo, hi), default, text=_whole_text)


def _pts(lo: float, hi: float, default: float) -> Setting:
    return Setting(_points(lo, hi), default, text=_number_text)


# section -> key -> Setting. Defaults suit a Danish municipality; config.example.toml documents each.
SETTINGS: dict[str, dict[str, Setting]] = {
    "telegram": {
        "token": Setting(_str, "", secret=True),
        "base_url": Setting(_url, DEFAULT_BASE_URL),
        "base_file_url": Setting(_url, DEFAULT_BASE_FILE_URL),
    },
    "general": {
        "timezone": Setting(_timezone, "Europe/Copenhagen"),
        "language": Setting(_language, "da"),
        "log_level": Setting(_choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
    },
    "database": {
        "path": Setting(_str, "fitbot.sqlite3"),
        "postgres_dsn": Setting(_str, "", secret=True),
    },
    "schedule": {
        "prompt_delay_minutes": _whole(0, 24 * 60, 30),
        "quiet_start": Setting(_time, "21:00"),
        "quiet_end": Setting(_time, "08:00"),
        "reminder_after_hours": _whole(1, 24 * 7, 24),
        "expire_after_hours": _whole(2, 24 * 14, 72),
        "digest_time": Setting(_time, "08:00"),
        "digest_weekdays": Setting(_weekdays, "mon-fri"),
        "team_report_weekday": Setting(_choice(*WEEKDAYS), "mon"),
        "team_report_time": Setting(_time, "09:00"),
    },
    "invitations": {
        "family_expiry_days": _whole(1, 90, 14),
        "caseworker_expiry_days": _whole(1, 90, 7),
    },
    "thresholds": {
        "cutoff_adult": _pts(0.1, 39.9, 25.0),
        "cutoff_youth": _pts(0.1, 39.9, 28.0),
        "cutoff_child": _pts(0.1, 39.9, 32.0),
        "reliable_change": _pts(0.1, 40, 5.0),
        "srs_total": _pts(0.1, 40, 36.0),
        "srs_item": _pts(0.1, 10, 9.0),
        "srs_drop": _pts(0.1, 40, 1.0),
        "low_item": _pts(0, 10, 2.0),
        "not_on_track_meetings": _whole(2, 52, 4),
    },
    "privacy": {
        # What /stop keeps: "keep_answers" keeps answers for the caseworker's record (the Telegram link is
        # always removed); "delete_answers" deletes the person's answers too.
        "on_withdrawal": Setting(_choice("keep_answers", "delete_answers"), "keep_answers"),
    },
    "delivery": {
        "global_per_second": _whole(1, 1000, 30),
        "private_per_second": _whole(1, 100, 1),
        "group_per_minute": _whole(1, 1000, 20),
    },
    "wording": {
        "override_file": Setting(_str, ""),
    },
}


@dataclass(frozen=True)
class Config:
    telegram_token: str
    base_url: str
    base_file_url: str
    timezone: ZoneInfo
    language: str
    log_level: str
    database_path: Path
    postgres_dsn: str
    prompt_delay: timedelta
    quiet_start: time
    quiet_end: time
    reminder_after: timedelta
    expire_after: timedelta
    digest_time: time
    digest_weekdays: tuple[int, ...]
    team_report_weekday: int
    team_report_time: time
    family_invite_ttl: timedelta
    caseworker_invite_ttl: timedelta
    thresholds: Thresholds
    on_withdrawal: str
    global_per_second: int
    private_per_second: int
    group_per_minute: int
    wording_override_file: Path | None
    # The licensed texts from that file, read and checked here so a mistake is a configuration error.
    wording_overrides: WordingOverrides = field(default_factory=lambda: NO_OVERRIDES, hash=False)
    source: Path | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # never print the token or a DSN with a password
        token = "set" if self.telegram_token else "unset"
        return f"Config(source={self.source}, database={self.database_path}, token={token})"

    __str__ = __repr__


def load(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the file (if any), apply environment overrides, validate everything, or raise ConfigError."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("config", f"file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    values = _resolve(raw, env)
    return _build(values, env, path, base=path.parent if path else Path.cwd())


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides `section.key`: FITBOT_<SECTION>_<KEY>."""
    return f"{ENV_PREFIX}{section}_{key}".upper()


def _check_environment(env: Mapping[str, str]) -> None:
    """Refuse a FITBOT_ variable that is no setting (a typo would otherwise be silently ignored)."""
    known = [env_name(section, key) for section, settings in SETTINGS.items() for key in settings]
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in known or name in NON_SETTING_VARIABLES:
            continue
        if name.startswith(NON_SETTING_PREFIXES):
            continue
        close = difflib.get_close_matches(name, [*known, *NON_SETTING_VARIABLES], n=1)
        hint = f"; did you mean {close[0]}?" if close else " (settings are FITBOT_<SECTION>_<KEY>)"
        raise ConfigError(name, f"unknown environment variable{hint}")


def _resolve(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    for section, table in raw.items():
        if section not in SETTINGS:
            raise ConfigError(section, f"unknown section (known: {', '.join(SETTINGS)})")
        if not isinstance(table, dict):
            raise ConfigError(section, "expected a [section] table")
        for key in table:
            if key not in SETTINGS[section]:
                raise ConfigError(f"{section}.{key}", "unknown setting")
    _check_environment(env)
    values: dict[str, dict[str, Any]] = {}
    for section, settings in SETTINGS.items():
        values[section] = {}
        for key, setting in settings.items():
            name = env_name(section, key)
            from_env = name in env
            value = env[name] if from_env else raw.get(section, {}).get(key, setting.default)
            try:
                values[section][key] = setting.parse(setting.text(value) if from_env else value)
            except ValueError as exc:
                where = f"{section}.{key}" + (f" (from {name})" if from_env else "")
                hint = "" if from_env else _quoted_hint(setting, value)
                raise ConfigError(where, f"{exc}{hint}") from None
    return values


def _quoted_hint(setting: Setting, value: Any) -> str:
    """A number written in quotes in the file: say how to write it."""
    if isinstance(value, str) and setting.text is not _same:
        try:
            setting.text(value)
        except ValueError:
            return ""
        return " (write the number without quotes)"
    return ""


def _build(v: dict[str, dict[str, Any]], env: Mapping[str, str], source: Path | None, base: Path) -> Config:
    if v["schedule"]["reminder_after_hours"] >= v["schedule"]["expire_after_hours"]:
        raise ConfigError("schedule.reminder_after_hours", "must be shorter than expire_after_hours")
    t = v["thresholds"]
    try:
        thresholds = Thresholds(
            cutoff_adult=points_to_tenths(t["cutoff_adult"]),
            cutoff_youth=points_to_tenths(t["cutoff_youth"]),
            cutoff_child=points_to_tenths(t["cutoff_child"]),
            reliable_change=points_to_tenths(t["reliable_change"]),
            srs_total=points_to_tenths(t["srs_total"]),
            srs_item=points_to_tenths(t["srs_item"]),
            srs_drop=points_to_tenths(t["srs_drop"]),
            low_item=points_to_tenths(t["low_item"]),
            not_on_track_meetings=t["not_on_track_meetings"],
        )
    except ValueError as exc:
        name, _, problem = str(exc).partition(": ")
        raise ConfigError(f"thresholds.{name}", problem or str(exc)) from None
    db_path = Path(v["database"]["path"]).expanduser()
    override_file = _resolve_path(v["wording"]["override_file"], base)
    return Config(
        telegram_token=v["telegram"]["token"].strip(),
        base_url=v["telegram"]["base_url"],
        base_file_url=v["telegram"]["base_file_url"],
        timezone=v["general"]["timezone"],
        language=v["general"]["language"],
        log_level=v["general"]["log_level"],
        database_path=db_path if db_path.is_absolute() else base / db_path,
        postgres_dsn=v["database"]["postgres_dsn"],
        prompt_delay=timedelta(minutes=v["schedule"]["prompt_delay_minutes"]),
        quiet_start=v["schedule"]["quiet_start"],
        quiet_end=v["schedule"]["quiet_end"],
        reminder_after=timedelta(hours=v["schedule"]["reminder_after_hours"]),
        expire_after=timedelta(hours=v["schedule"]["expire_after_hours"]),
        digest_time=v["schedule"]["digest_time"],
        digest_weekdays=v["schedule"]["digest_weekdays"],
        team_report_weekday=WEEKDAYS.index(v["schedule"]["team_report_weekday"]),
        team_report_time=v["schedule"]["team_report_time"],
        family_invite_ttl=timedelta(days=v["invitations"]["family_expiry_days"]),
        caseworker_invite_ttl=timedelta(days=v["invitations"]["caseworker_expiry_days"]),
        thresholds=thresholds,
        on_withdrawal=v["privacy"]["on_withdrawal"],
        global_per_second=v["delivery"]["global_per_second"],
        private_per_second=v["delivery"]["private_per_second"],
        group_per_minute=v["delivery"]["group_per_minute"],
        wording_override_file=override_file,
        wording_overrides=_wording(override_file, from_env=env_name("wording", "override_file") in env),
        source=source,
    )


def _resolve_path(text: str, base: Path) -> Path | None:
    if not text.strip():
        return None
    path = Path(text.strip()).expanduser()
    return path if path.is_absolute() else base / path


def _wording(path: Path | None, *, from_env: bool) -> WordingOverrides:
    """Read the licensed wording file now: a typo in it stops FIT-bot at start-up with exit code 2."""
    if path is None:
        return NO_OVERRIDES
    key = "wording.override_file" + (f" (from {env_name('wording', 'override_file')})" if from_env else "")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(key, f"file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(key, f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(key, f"{path} is not valid TOML: {exc}") from None
    try:
        return wording_overrides_from(data, available_languages())
    except ValueError as exc:
        raise ConfigError(key, f"{path}: {exc}") from None


def find_config_file(explicit: Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """--config, else $FITBOT_CONFIG, else ./config.toml when it exists, else none (defaults only)."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit
    if env.get("FITBOT_CONFIG"):
        return Path(env["FITBOT_CONFIG"])
    local = Path("config.toml")
    return local if local.exists() else None
