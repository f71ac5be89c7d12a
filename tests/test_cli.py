"""The `fitbot` command as an operator meets it: real processes, real files, exit codes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fitbot(
    *args: str, env: dict[str, str] | None = None, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FITBOT_")}
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        check=False,
    )


def test_version_and_help(tmp_path: Path) -> None:
    assert fitbot("--version", cwd=tmp_path).stdout.startswith("fitbot ")
    out = fitbot("--help", cwd=tmp_path).stdout
    for command in ("run", "sandbox", "caseworker", "backup", "restore", "status"):
        assert command in out


def test_run_without_a_token_exits_2_and_says_what_to_do(tmp_path: Path) -> None:
    result = fitbot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "telegram.token" in result.stderr
    assert "FITBOT_TELEGRAM_TOKEN" in result.stderr
    assert "fitbot sandbox" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_configuration_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[schedule]\nquiet_start = "late"\n', encoding="utf-8")
    result = fitbot("status", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("fitbot: configuration error: schedule.quiet_start:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_caseworker_add_list_disable_and_token_stored_hashed(tmp_path: Path) -> None:
    env = {"FITBOT_DATABASE_PATH": str(tmp_path / "db.sqlite3")}
    added = fitbot("caseworker", "add", "Rikke Holm", "--team", "Nord", cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stderr
    link = next(line for line in added.stdout.splitlines() if "?start=" in line)
    token = link.split("?start=")[1]
    assert len(token) >= 22  # 128 bits in base64url
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        stored = [row[0] for row in db.execute("SELECT token_hash FROM invitations")]
    assert token not in stored
    assert len(stored[0]) == 64
    listed = fitbot("caseworker", "list", cwd=tmp_path, env=env)
    assert "Rikke Holm" in listed.stdout
    assert "not linked yet" in listed.stdout
    assert fitbot("caseworker", "disable", "1", cwd=tmp_path, env=env).returncode == 0
    assert "disabled" in fitbot("caseworker", "list", cwd=tmp_path, env=env).stdout
    assert fitbot("caseworker", "disable", "1", cwd=tmp_path, env=env).returncode == 1


def test_status_backup_and_restore(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    env = {"FITBOT_DATABASE_PATH": str(db)}
    fitbot("caseworker", "add", "Rikke", cwd=tmp_path, env=env)
    status = fitbot("status", cwd=tmp_path, env=env)
    assert "schema version:" in status.stdout
    assert "pending sends:" in status.stdout
    assert status.returncode == 0, status.stdout
    backup = tmp_path / "backup.sqlite3"
    assert fitbot("backup", str(backup), cwd=tmp_path, env=env).returncode == 0
    fitbot("caseworker", "add", "Someone Later", cwd=tmp_path, env=env)
    restored = fitbot("restore", str(backup), cwd=tmp_path, env=env)
    assert restored.returncode == 0, restored.stderr
    listed = fitbot("caseworker", "list", cwd=tmp_path, env=env).stdout
    assert "Rikke" in listed
    assert "Someone Later" not in listed
    assert Path(f"{db}.before-restore").exists()


def test_restore_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    result = fitbot("restore", str(junk), cwd=tmp_path, env={"FITBOT_DATABASE_PATH": str(tmp_path / "db.sqlite3")})
    assert result.returncode == 1
    assert "not a FIT-bot database" in result.stderr


def test_restore_refuses_while_a_bot_holds_the_database(tmp_path: Path) -> None:
    from bot.storage.sqlite import instance_lock

    db = tmp_path / "db.sqlite3"
    env = {"FITBOT_DATABASE_PATH": str(db)}
    fitbot("caseworker", "add", "Rikke", cwd=tmp_path, env=env)
    backup = tmp_path / "backup.sqlite3"
    fitbot("backup", str(backup), cwd=tmp_path, env=env)
    with instance_lock(db) as mine:
        assert mine
        result = fitbot("restore", str(backup), cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "in use" in result.stderr


def test_sandbox_round_trip_from_a_script(tmp_path: Path) -> None:
    script = "/nysag A12 6-12\n/inviter A12 forælder\n:quit\n"
    result = fitbot("sandbox", cwd=tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Sag A12 er oprettet" in result.stdout
    assert "?start=" in result.stdout
