"""Configuration: defaults, the example file, environment overrides, and one clear line per mistake."""

from __future__ import annotations

import re
import subprocess
import tomllib
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.config import NON_SETTING_PREFIXES, NON_SETTING_VARIABLES, SETTINGS, ConfigError, env_name, load
from bot.i18n import available_languages
from bot.i18n import core as i18n_core
from tests.test_cli import fitbot

THIS = Path(__file__).resolve()
ROOT = THIS.parents[1]
EXAMPLE = ROOT / "config.example.toml"
WORDING_SAMPLE = ROOT / "tests" / "domain" / "wording_override_sample.toml"


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


# --- through the command line: a bad configuration is one line and exit code 2 -------------------------


def _one_config_error(result: subprocess.CompletedProcess[str], key: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"fitbot: configuration error: {key}"), lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("wording", "words"),
    [
        ('[orz.individually]\nda = {question="q", low="l", high="h"}\n', "unknown instrument 'orz'"),
        ('[ors.individualy]\nda = {question="q", low="l", high="h"}\n', "unknown item 'individualy'"),
        ('[ors.individually]\nfr = {question="q", low="l", high="h"}\n', "unknown language 'fr'"),
        ("[ors.individually\n", "not valid TOML"),
        (None, "file not found"),
    ],
    ids=["instrument", "item", "language", "toml", "missing"],
)
def test_a_bad_wording_file_exits_2_naming_the_setting(tmp_path: Path, wording: str | None, words: str) -> None:
    if wording is not None:
        (tmp_path / "wording.toml").write_text(wording, encoding="utf-8")
    (tmp_path / "config.toml").write_text('[wording]\noverride_file = "wording.toml"\n', encoding="utf-8")
    line = _one_config_error(fitbot("status", cwd=tmp_path), "wording.override_file:")
    assert words in line
    assert "wording.toml" in line
    assert "Traceback" not in line


def test_a_bad_wording_file_from_the_environment_says_so(tmp_path: Path) -> None:
    result = fitbot("run", cwd=tmp_path, env={"FITBOT_WORDING_OVERRIDE_FILE": str(tmp_path / "nope.toml")})
    line = _one_config_error(result, "wording.override_file (from FITBOT_WORDING_OVERRIDE_FILE):")
    assert "file not found" in line


def test_a_misspelt_environment_variable_exits_2_naming_it(tmp_path: Path) -> None:
    result = fitbot("run", cwd=tmp_path, env={"FITBOT_TELEGRAM_TOKNE": "123:abc"})
    line = _one_config_error(result, "FITBOT_TELEGRAM_TOKNE:")
    assert "did you mean FITBOT_TELEGRAM_TOKEN?" in line
    assert "123:abc" not in line


def test_a_quoted_number_in_the_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[thresholds]\ncutoff_adult = "25"\n', encoding="utf-8")
    line = _one_config_error(fitbot("status", cwd=tmp_path), "thresholds.cutoff_adult:")
    assert "without quotes" in line


# --- the licensed wording is read with the configuration ------------------------------------------------


def test_the_wording_file_is_read_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "wording.toml").write_text(WORDING_SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "etc" / "config.toml"
    path.write_text('[wording]\noverride_file = "wording.toml"\n', encoding="utf-8")
    config = load(path, env={})
    assert config.wording_override_file == tmp_path / "etc" / "wording.toml"
    assert config.wording_overrides[("ors", "individually", "en")].low == "Low"
    assert len(config.wording_overrides) == 4


def test_no_wording_file_means_our_own_words() -> None:
    config = load(None, env={})
    assert config.wording_override_file is None
    assert len(config.wording_overrides) == 0


def test_the_wording_file_accepts_only_languages_with_a_catalogue(tmp_path: Path) -> None:
    wording = tmp_path / "wording.toml"
    wording.write_text('[srs.goals]\npt_BR = {question="q", low="l", high="h"}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(None, env={"FITBOT_WORDING_OVERRIDE_FILE": str(wording)})
    assert caught.value.key == "wording.override_file (from FITBOT_WORDING_OVERRIDE_FILE)"
    assert "srs.goals.pt_BR: unknown language" in str(caught.value)


def test_a_wording_file_that_is_not_text_is_an_error(tmp_path: Path) -> None:
    wording = tmp_path / "wording.toml"
    wording.write_bytes(b"\xff\xfe[ors]")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load(None, env={"FITBOT_WORDING_OVERRIDE_FILE": str(wording)})


def test_a_wording_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^wording.override_file \(from FITBOT_WORDING_OVERRIDE_FILE\): cannot"):
        load(None, env={"FITBOT_WORDING_OVERRIDE_FILE": str(tmp_path)})


# --- types: the file must have the right TOML type; only environment text is converted -----------------


@pytest.mark.parametrize(
    ("toml", "key", "words"),
    [
        ('[thresholds]\ncutoff_adult = "25"\n', "thresholds.cutoff_adult", "got str '25' (write the number"),
        ('[schedule]\nreminder_after_hours = "12"\n', "schedule.reminder_after_hours", "got str '12' (write"),
        ("[schedule]\nreminder_after_hours = 12.0\n", "schedule.reminder_after_hours", "whole number, got float"),
        ("[invitations]\nfamily_expiry_days = true\n", "invitations.family_expiry_days", "whole number, got bool"),
        ("[thresholds]\nsrs_item = false\n", "thresholds.srs_item", "number of points, got bool"),
        ("[delivery]\ngroup_per_minute = [20]\n", "delivery.group_per_minute", "whole number, got list"),
        ("[schedule]\nquiet_start = 21\n", "schedule.quiet_start", "expected text, got int"),
        ("[telegram]\ntoken = 123456\n", "telegram.token", "expected text, got int"),
        ("[wording]\noverride_file = false\n", "wording.override_file", "expected text, got bool"),
    ],
)
def test_a_wrong_type_in_the_file_names_its_key(tmp_path: Path, toml: str, key: str, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path, env={})
    assert caught.value.key == key
    assert words in str(caught.value)


def test_whole_and_decimal_numbers_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[thresholds]\ncutoff_adult = 26\nsrs_total = 35.5\n", encoding="utf-8")
    config = load(path, env={})
    assert (config.thresholds.cutoff_adult, config.thresholds.srs_total) == (260, 355)


@pytest.mark.parametrize(
    ("name", "text", "attribute", "expected"),
    [
        ("FITBOT_SCHEDULE_REMINDER_AFTER_HOURS", " 12 ", "reminder_after", timedelta(hours=12)),
        ("FITBOT_INVITATIONS_FAMILY_EXPIRY_DAYS", "+3", "family_invite_ttl", timedelta(days=3)),
        ("FITBOT_DELIVERY_GROUP_PER_MINUTE", "10", "group_per_minute", 10),
    ],
)
def test_environment_text_becomes_a_number(name: str, text: str, attribute: str, expected: object) -> None:
    assert getattr(load(None, env={name: text}), attribute) == expected


@pytest.mark.parametrize(("text", "tenths"), [("25", 250), ("25.5", 255), ("25,5", 255)])
def test_environment_points_take_a_decimal_point_or_comma(text: str, tenths: int) -> None:
    assert load(None, env={"FITBOT_THRESHOLDS_CUTOFF_ADULT": text}).thresholds.cutoff_adult == tenths


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("FITBOT_SCHEDULE_REMINDER_AFTER_HOURS", "12.5", "whole number, got '12.5'"),
        ("FITBOT_SCHEDULE_REMINDER_AFTER_HOURS", "", "whole number, got ''"),
        ("FITBOT_THRESHOLDS_CUTOFF_ADULT", "nan", "number of points, got 'nan'"),
        ("FITBOT_THRESHOLDS_CUTOFF_ADULT", "1e1", "number of points, got '1e1'"),
        ("FITBOT_THRESHOLDS_CUTOFF_ADULT", "45", "between"),
    ],
)
def test_bad_environment_text_names_the_variable(name: str, text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(None, env={name: text})
    assert caught.value.key.endswith(f"(from {name})")
    assert words in str(caught.value)


def test_every_default_written_as_environment_text_gives_the_default() -> None:
    """Guards `Setting.text`: a numeric setting without it would refuse its own default from the environment."""
    defaults = load(None, env={})
    for section, settings in SETTINGS.items():
        for key, setting in settings.items():
            env = {env_name(section, key): str(setting.default)}
            assert load(None, env=env) == defaults, env


# --- environment variables: FITBOT_<SECTION>_<KEY> or one of the few others -----------------------------


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("FITBOT_TELEGRAM_TOKNE", "did you mean FITBOT_TELEGRAM_TOKEN?"),
        ("FITBOT_SCHEDULE_QUIET_STRAT", "did you mean FITBOT_SCHEDULE_QUIET_START?"),
        ("FITBOT_CONFIG_FILE", "did you mean FITBOT_CONFIG?"),
        ("FITBOT_TOKEN", "did you mean FITBOT_TELEGRAM_TOKEN?"),
        ("FITBOT_XYZZY", "FITBOT_<SECTION>_<KEY>"),
    ],
)
def test_an_unknown_fitbot_variable_is_refused(name: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(None, env={name: "x"})
    assert caught.value.key == name
    assert "unknown environment variable" in str(caught.value)
    assert hint in str(caught.value)


def test_variables_that_are_not_settings_are_allowed() -> None:
    env = {
        "FITBOT_CONFIG": "/etc/fitbot/config.toml",
        "FITBOT_BOTAPI_SPEC": "/tmp/api.json",
        "FITBOT_TEST_POSTGRES_DSN": "postgresql://x",
        "FITBOT_KILL_ROUNDS": "3",
        "FITBOT_KILL_SEED": "1",
        "FITBENCH_BOT_ARGV": "python -m x",  # not FITBOT_: none of our business
        "fitbot_telegram_tokne": "x",
    }
    assert load(None, env=env) == load(None, env={})


FITBOT_NAME = re.compile(r"\bFITBOT_[A-Z][A-Z0-9_]*")


def test_every_fitbot_variable_the_project_uses_is_known() -> None:
    """A new non-setting variable in bot/, tests/, bench/ or .ci/ must be added to NON_SETTING_VARIABLES."""
    known = {env_name(section, key) for section, settings in SETTINGS.items() for key in settings}
    used: dict[str, Path] = {}
    for folder in ("bot", "tests", "bench", ".ci"):
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or path.suffix not in (".py", ".md", ".toml", ".sh", "") or path == THIS:
                continue
            for name in FITBOT_NAME.findall(path.read_text(encoding="utf-8", errors="replace")):
                used.setdefault(name, path)
    assert "FITBOT_KILL_ROUNDS" in used  # the scan does find them
    assert "FITBOT_TELEGRAM_TOKEN" in used
    for name, path in used.items():
        allowed = name in known or name in NON_SETTING_VARIABLES or name.startswith(NON_SETTING_PREFIXES)
        assert allowed, f"{name} (in {path.relative_to(ROOT)}) is neither a setting nor in NON_SETTING_VARIABLES"


# --- languages: whatever has a catalogue -----------------------------------------------------------------


def test_the_language_setting_offers_every_catalogue() -> None:
    for language in available_languages():
        assert load(None, env={"FITBOT_GENERAL_LANGUAGE": language}).language == language


def test_a_new_catalogue_is_a_new_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for language in ("da", "en", "uk"):
        po = tmp_path / language / "LC_MESSAGES" / "fitbot.po"
        po.parent.mkdir(parents=True)
        po.write_text("", encoding="utf-8")
    monkeypatch.setattr(i18n_core, "LOCALES_DIR", tmp_path)
    available_languages.cache_clear()
    try:
        assert load(None, env={"FITBOT_GENERAL_LANGUAGE": "uk"}).language == "uk"
        with pytest.raises(ConfigError, match=r"general.language.*one of da, en, uk; got 'fr'"):
            load(None, env={"FITBOT_GENERAL_LANGUAGE": "fr"})
    finally:
        monkeypatch.undo()
        available_languages.cache_clear()
