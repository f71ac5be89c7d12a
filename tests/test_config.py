"""Configuration: defaults, the example file, environment overrides, and one clear line per mistake."""

from __future__ import annotations

import tomllib
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.config import SETTINGS, ConfigError, load

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"


def test_defaults_suit_a_danish_municipality() -> None:
    config = load(None, env={})
    assert str(config.timezone) == "Europe/Copenhagen"
    assert config.language == "da"
    assert (config.quiet_start, config.quiet_end) == (time(21), time(8))
    assert config.reminder_after == timedelta(hours=24)
    assert config.expire_after == timedelta(hours=72)
    assert config.family_invite_ttl == timedelta(days=14)
    assert config.thresholds.cutoff_adult == 250
    assert config.thresholds.reliable_change == 50
    assert config.telegram_token == ""


def test_example_file_documents_every_setting_with_its_default() -> None:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(example) == set(SETTINGS)
    for section, settings in SETTINGS.items():
        assert set(example[section]) == set(settings), section
        for key, setting in settings.items():
            assert example[section][key] == setting.default, f"{section}.{key}"
    assert load(EXAMPLE, env={}) == load(None, env={})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[schedule]\nquiet_start = "22:00"\n[telegram]\ntoken = "from-file"\n', encoding="utf-8")
    config = load(path, env={"FITBOT_TELEGRAM_TOKEN": "123:from-env", "FITBOT_SCHEDULE_REMINDER_AFTER_HOURS": "12"})
    assert config.telegram_token == "123:from-env"
    assert config.quiet_start == time(22)
    assert config.reminder_after == timedelta(hours=12)


def test_the_token_is_never_in_the_repr() -> None:
    config = load(None, env={"FITBOT_TELEGRAM_TOKEN": "123456:SECRET-TOKEN"})
    assert "SECRET" not in repr(config)
    assert "SECRET" not in str(config)


@pytest.mark.parametrize(
    ("toml", "env", "key", "words"),
    [
        ("[general]\ncolour = 'blue'\n", {}, "general.colour", "unknown setting"),
        ("[nonsense]\nx = 1\n", {}, "nonsense", "unknown section"),
        ("[schedule]\nreminder_after_hours = 'soon'\n", {}, "schedule.reminder_after_hours", "whole number"),
        ("[schedule]\nquiet_start = '25:00'\n", {}, "schedule.quiet_start", "time like"),
        ("[general]\ntimezone = 'Europe/Kobenhavn'\n", {}, "general.timezone", "unknown timezone"),
        ("[thresholds]\nreliable_change = 50\n", {}, "thresholds.reliable_change", "between"),
        ("[thresholds]\nsrs_item = -1\n", {}, "thresholds.srs_item", "between"),
        ("[thresholds]\nnot_on_track_meetings = 1\n", {}, "thresholds.not_on_track_meetings", "between"),
        ("", {"FITBOT_SCHEDULE_EXPIRE_AFTER_HOURS": "x"}, "schedule.expire_after_hours", "FITBOT_SCHEDULE"),
        ("[general]\nlanguage = 'fr'\n", {}, "general.language", "one of"),
        ("[schedule]\ndigest_weekdays = 'fri-mon'\n", {}, "schedule.digest_weekdays", "forwards"),
        ("[schedule]\nreminder_after_hours = 80\n", {}, "schedule.reminder_after_hours", "shorter than"),
        ("[telegram]\nbase_url = 'ftp://x'\n", {}, "telegram.base_url", "URL"),
        ("not toml at all [", {}, "config", "not valid TOML"),
    ],
)
def test_a_bad_setting_names_its_key(tmp_path: Path, toml: str, env: dict[str, str], key: str, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path, env=env)
    assert caught.value.key.startswith(key)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.toml", env={})


def test_relative_database_path_is_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "config.toml"
    path.parent.mkdir()
    path.write_text('[database]\npath = "data/fitbot.sqlite3"\n', encoding="utf-8")
    assert load(path, env={}).database_path == tmp_path / "etc" / "data" / "fitbot.sqlite3"
