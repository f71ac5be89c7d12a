"""Validated settings: a TOML file, overridden by FITBOT_<SECTION>_<KEY> environment variables.

Every setting is declared once in SETTINGS with its type, default and check, so the example file,
the environment override and the error message ("schedule.quiet_start: ...") cannot drift apart.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.interpretation import Thresholds
from bot.domain.scores import points_to_tenths

ENV_PREFIX = "FITBOT_"
LANGUAGES = ("da", "en")
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"


class ConfigError(Exception):
    """A setting that cannot be used. str() is the one line the CLI prints."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


# --- value parsers: each takes the raw TOML/env value and returns the typed value or raises ValueError


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {_describe(value)}")
    return value


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_describe(value)}")
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def _points(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value.strip().replace(",", "."))
            except ValueError:
                raise ValueError(f"expected a number of points, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number of points, got {_describe(value)}")
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g} points, got {value:g}")
        return float(value)

    return parse


def _bool(value: Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "0", "false", "no"):
        return value.strip().lower() in ("1", "true", "yes")
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_describe(value)}")
    return value


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


# section -> key -> Setting. Defaults suit a Danish municipality; config.example.toml documents each.
SETTINGS: dict[str, dict[str, Setting]] = {
    "telegram": {
        "token": Setting(_str, "", secret=True),
        "base_url": Setting(_url, DEFAULT_BASE_URL),
        "base_file_url": Setting(_url, DEFAULT_BASE_FILE_URL),
    },
    "general": {
        "timezone": Setting(_timezone, "Europe/Copenhagen"),
        "language": Setting(_choice(*LANGUAGES), "da"),
        "log_level": Setting(_choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
    },
    "database": {
        "path": Setting(_str, "fitbot.sqlite3"),
        "postgres_dsn": Setting(_str, "", secret=True),
    },
    "schedule": {
        "prompt_delay_minutes": Setting(_int(0, 24 * 60), 30),
        "quiet_start": Setting(_time, "21:00"),
        "quiet_end": Setting(_time, "08:00"),
        "reminder_after_hours": Setting(_int(1, 24 * 7), 24),
        "expire_after_hours": Setting(_int(2, 24 * 14), 72),
        "digest_time": Setting(_time, "08:00"),
        "digest_weekdays": Setting(_weekdays, "mon-fri"),
        "team_report_weekday": Setting(_choice(*WEEKDAYS), "mon"),
        "team_report_time": Setting(_time, "09:00"),
    },
    "invitations": {
        "family_expiry_days": Setting(_int(1, 90), 14),
        "caseworker_expiry_days": Setting(_int(1, 90), 7),
    },
    "thresholds": {
        "cutoff_adult": Setting(_points(0.1, 39.9), 25.0),
        "cutoff_youth": Setting(_points(0.1, 39.9), 28.0),
        "cutoff_child": Setting(_points(0.1, 39.9), 32.0),
        "reliable_change": Setting(_points(0.1, 40), 5.0),
        "srs_total": Setting(_points(0.1, 40), 36.0),
        "srs_item": Setting(_points(0.1, 10), 9.0),
        "srs_drop": Setting(_points(0.1, 40), 1.0),
        "low_item": Setting(_points(0, 10), 2.0),
        "not_on_track_meetings": Setting(_int(2, 52), 4),
    },
    "privacy": {
        # What /stop keeps: "keep_answers" keeps answers for the caseworker's record (the Telegram link is
        # always removed); "delete_answers" deletes the person's answers too.
        "on_withdrawal": Setting(_choice("keep_answers", "delete_answers"), "keep_answers"),
    },
    "delivery": {
        "global_per_second": Setting(_int(1, 1000), 30),
        "private_per_second": Setting(_int(1, 100), 1),
        "group_per_minute": Setting(_int(1, 1000), 20),
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
    return _build(values, path, base=path.parent if path else Path.cwd())


def _resolve(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    for section, table in raw.items():
        if section not in SETTINGS:
            raise ConfigError(section, f"unknown section (known: {', '.join(SETTINGS)})")
        if not isinstance(table, dict):
            raise ConfigError(section, "expected a [section] table")
        for key in table:
            if key not in SETTINGS[section]:
                raise ConfigError(f"{section}.{key}", "unknown setting")
    values: dict[str, dict[str, Any]] = {}
    for section, settings in SETTINGS.items():
        values[section] = {}
        for key, setting in settings.items():
            env_name = f"{ENV_PREFIX}{section}_{key}".upper()
            value = env.get(env_name, raw.get(section, {}).get(key, setting.default))
            try:
                values[section][key] = setting.parse(value)
            except ValueError as exc:
                where = f"{section}.{key}" + (f" (from {env_name})" if env_name in env else "")
                raise ConfigError(where, str(exc)) from None
    return values


def _build(v: dict[str, dict[str, Any]], source: Path | None, base: Path) -> Config:
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
    override = v["wording"]["override_file"]
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
        wording_override_file=(Path(override) if Path(override).is_absolute() else base / override)
        if override
        else None,
        source=source,
    )


def find_config_file(explicit: Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """--config, else $FITBOT_CONFIG, else ./config.toml when it exists, else none (defaults only)."""
    env = os.environ if env is None else env
    if explicit is not None:
        return explicit
    if env.get("FITBOT_CONFIG"):
        return Path(env["FITBOT_CONFIG"])
    local = Path("config.toml")
    return local if local.exists() else None
